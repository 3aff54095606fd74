"""Training configuration: :class:`TrainConfig`, built from layers and stored in a run folder.

A config is resolved in layers, each merged over the one before: the defaults of
:class:`TrainConfig` (or a given base), then config files in order, then dotted ``KEY=VALUE``
overrides (``loss.onset_weight=0``, ``model.analyzer.channels=16``, ``render_kits=[a,b]``).
OmegaConf merges them and checks every key and value against the dataclasses, so every field,
nested ones included, can be set from a file or an override, and a wrong key, value or file is a
one-line :class:`~drummernet.errors.ConfigError`. Config files are JSON or YAML; top-level keys
starting with ``_`` are notes and are ignored.

:meth:`TrainConfig.fingerprint` names a resolved config, so that a run folder can be named after
what it trains; a run is stored with its config as ``config.json`` (:data:`RUN_CONFIG_FILE`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from drummernet.errors import ConfigError
from drummernet.model.network import ModelConfig
from drummernet.training.losses import LossConfig
from drummernet.training.stems import DEFAULT_ACCOMPANIMENT_DB, check_accompaniment

#: Kits that render synthetic training audio by default: deliberately not the synthesizer's own
#: default kit, so that the analyzer learns to map across timbres.
DEFAULT_RENDER_KITS: tuple[str, ...] = ()  # empty: every built-in kit not used by the synthesizer

#: The file in a run folder that holds the run's resolved config.
RUN_CONFIG_FILE = "config.json"

#: Hex digits of :meth:`TrainConfig.fingerprint`.
FINGERPRINT_LENGTH = 10

#: Keys that may differ when a run is resumed: the length of the run, and the data-loader
#: processes, which do not change the examples drawn.
RESUMABLE_KEYS: tuple[str, ...] = ("steps", "num_workers")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (stored as ``config.json`` in the run directory).

    Attributes:
        model: the model to train.
        loss: the reconstruction loss.
        steps: optimisation steps in all.
        batch_size: global batch size (split across distributed ranks).
        clip_seconds: length of each training crop.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        warmup_steps: linear learning-rate warm-up, followed by cosine decay to 5% of ``lr``.
        grad_clip: maximum gradient norm.
        alpha_start: entmax alpha at step 0, annealed linearly to 2 (sparsemax) over
            ``alpha_steps`` steps; keeps every component receiving gradient early on.
        alpha_steps: length of the annealing (0 disables it).
        shot_warmup_steps: one-shot warm-up: the synthesizer's one-shots are cut to
            ``shot_start_seconds`` at step 0 and grow linearly to full length over this many
            steps (0 disables it), so that every drum places its onsets before it has to
            account for its tail.
        shot_start_seconds: one-shot length at step 0 of the warm-up.
        random_kits: draw a random synthesizer kit per example and component each step (needs
            several kits in ``model.kits``).
        synthetic_fraction: share of examples drawn from synthetic stems when user audio is
            also given.
        render_kits: kits that render synthetic stems (empty: the built-ins the synthesizer does
            not use, or all of them if it uses every one).
        augment: augment synthetic stems (reverb, EQ, compression, noise, per-hit variation).
        clean_target: denoising reconstruction: a synthetic crop's target is its dry mix (the
            one-shots as placed, before room, EQ, compression and noise), not the augmented
            input, so that a production effect is not rebuilt with extra strokes. The target
            is still audio, never a label; unlabeled audio stays its own target.
        stem_eq: synthetic stems also get a random EQ per drum (best with ``clean_target``).
        natural_balance: synthetic stems play their drums at levels between the one-shots' own
            (every one-shot peak-normalised: a hat as loud as the snare) and kit makers'
            balance (:data:`~drummernet.training.render.NATURAL_BALANCE_DB`, hats 10-12 dB
            under the snare), drawn uniformly per crop.
        accompaniment: probability that a synthetic crop's input is a full mix: a procedural
            band on the drums' beat grid is added to it, while its target stays the drums alone
            (the dry mix with ``clean_target``; see
            :class:`~drummernet.training.stems.SyntheticStems`). Unlabeled audio is never mixed.
        accompaniment_db: ``[low, high]``: the band's level above the drums, in dB of RMS,
            drawn uniformly per crop.
        render_voices: play MIDI notes that have a voice of their own (side stick, splash, China,
            see :data:`~drummernet.constants.VOICES`) with that one-shot where the render kit
            has it; off, every note of a component sounds its main one-shot.
        seed: seed of the model initialisation and of the data stream.
        num_workers: data-loader worker processes per rank.
        log_every: steps between metric log lines.
        val_every: steps between validations (0: never).
        val_examples: size of the fixed validation set (drawn from the stream with another seed).
        checkpoint_every: steps between checkpoints.
        keep_checkpoints: how many step checkpoints to keep.
        init_from: a model file whose analyzer weights start the run (fine-tuning).
        revive_every: every this many steps, components whose activations stayed below
            ``revive_below`` over the batch get freshly initialised output heads (0: never).
            Sparse normalisers give a silent component no gradient, so it cannot recover alone.
        revive_below: activation level under which a component counts as silent.
        teacher_steps: for this many first steps, add ``teacher_weight`` times
            :func:`~drummernet.training.losses.onset_loss` between the activations and the targets of an
            :class:`~drummernet.training.teacher.NMFTeacher` built from the synthesizer's kits (0: never).
            A reference point (a warm start from an unsupervised teacher), not the method.
        teacher_weight: weight of that teacher loss.
        trainable: names of the analyzer parameters to train, by prefix (e.g.
            ``["component_scores", "time_scores", "gain"]``: the per-component output heads
            alone); empty trains them all. With ``init_from``, fine-tunes part of a model and
            keeps the rest as it was.
        trainable_components: with it, the output heads learn only these components' rows
            (e.g. the cymbals'): every other component's activations stay exactly as
            ``init_from`` made them (set ``weight_decay`` to 0 for that). Empty: every row.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    steps: int = 4000
    batch_size: int = 8
    clip_seconds: float = 2.0
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    grad_clip: float = 1.0
    alpha_start: float = 1.5
    alpha_steps: int = 1000
    shot_warmup_steps: int = 0
    shot_start_seconds: float = 0.05
    random_kits: bool = True
    synthetic_fraction: float = 0.7
    render_kits: tuple[str, ...] = DEFAULT_RENDER_KITS
    augment: bool = True
    clean_target: bool = False
    stem_eq: bool = False
    natural_balance: bool = False
    accompaniment: float = 0.0
    accompaniment_db: tuple[float, float] = DEFAULT_ACCOMPANIMENT_DB
    render_voices: bool = False
    seed: int = 0
    num_workers: int = 1
    log_every: int = 10
    val_every: int = 500
    val_examples: int = 32
    checkpoint_every: int = 250
    keep_checkpoints: int = 3
    init_from: str | None = None
    revive_every: int = 0
    revive_below: float = 1e-3
    teacher_steps: int = 0
    teacher_weight: float = 1.0
    trainable: tuple[str, ...] = ()
    trainable_components: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_accompaniment(self.accompaniment, self.accompaniment_db)

    def to_dict(self) -> dict[str, Any]:
        """The config as a nested dictionary of JSON-serialisable values (tuples stay tuples)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from a (possibly partial) nested dictionary, merged over the defaults.

        Raises:
            ConfigError: an unknown key or a value of the wrong type or out of range.
        """
        return _merge_layers(_schema(cls()), [("config", OmegaConf.create(dict(data)))])

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with top-level fields changed."""
        return dataclasses.replace(self, **changes)

    def fingerprint(self) -> str:
        """A short stable name of this config: the first :data:`FINGERPRINT_LENGTH` hex digits
        of the SHA-256 of its canonical JSON (keys sorted, values in their declared types, so
        ``1`` and ``1.0`` in a float field are the same). Any changed value changes it."""
        canonical = TrainConfig.from_dict(self.to_dict()).to_dict()
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_LENGTH]


def resolve_config(
    files: Sequence[str | os.PathLike[str]] = (),
    overrides: Sequence[str] = (),
    base: TrainConfig | None = None,
) -> TrainConfig:
    """Merge config files, then dotted overrides, over ``base`` (default: :class:`TrainConfig()`).

    Args:
        files: JSON or YAML config files, merged in order (a later file wins). Each holds a
            nested mapping of any subset of the fields; top-level keys starting with ``_`` are
            notes and are ignored.
        overrides: ``KEY=VALUE`` strings applied after the files, in order; ``KEY`` is dotted
            (``model.analyzer.channels``) and ``VALUE`` is read as a YAML scalar or list
            (``0``, ``1e-4``, ``true``, ``null``, ``[KD,SD]``).
        base: the config the layers are merged over.

    Raises:
        ConfigError: an unreadable file, a malformed override, an unknown key, or a value of the
            wrong type or out of range; the message is one line that names the layer.
    """
    layers = [(str(path), _read_file(path)) for path in files]
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. loss.onset_weight=0")
        layers.append((f"--set {item}", OmegaConf.from_dotlist([item])))
    return _merge_layers(_schema(base or TrainConfig()), layers)


def config_differences(a: TrainConfig, b: TrainConfig) -> list[str]:
    """The dotted keys (``model.analyzer.channels``) whose values differ between ``a`` and
    ``b``, sorted."""
    flat_a, flat_b = _flatten(a.to_dict()), _flatten(b.to_dict())
    missing = object()  # a mapping's key that one side has and the other lacks
    return sorted(
        key
        for key in flat_a.keys() | flat_b.keys()
        if flat_a.get(key, missing) != flat_b.get(key, missing)
    )


def resume_config(saved: TrainConfig, requested: TrainConfig | None) -> TrainConfig:
    """The config to resume a run with: ``saved`` (the run's own) when nothing is requested,
    else ``requested``, which may differ from ``saved`` only in :data:`RESUMABLE_KEYS`.

    Raises:
        ConfigError: ``requested`` differs from ``saved`` in another key (the message names
            them): resuming would silently continue a run trained with something else.
    """
    if requested is None:
        return saved
    changed = [k for k in config_differences(saved, requested) if k not in RESUMABLE_KEYS]
    if changed:
        raise ConfigError(
            f"cannot resume: the run's config differs in {', '.join(changed)} (only "
            f"{', '.join(RESUMABLE_KEYS)} may change); pass the same config or train into a "
            "new folder"
        )
    return requested


def run_config_path(run_dir: str | os.PathLike[str]) -> Path:
    """Where a run folder keeps its config (:data:`RUN_CONFIG_FILE`)."""
    return Path(run_dir) / RUN_CONFIG_FILE


def _schema(base: TrainConfig) -> DictConfig:
    """``base`` as a typed, writable OmegaConf config: merges into it are checked against the
    dataclasses' fields and types."""
    schema = OmegaConf.structured(base)
    _make_writable(schema)
    return schema


def _make_writable(node: DictConfig | ListConfig) -> None:
    # Frozen dataclasses give read-only nodes, and the flag is set on every nested node.
    OmegaConf.set_readonly(node, False)
    if isinstance(node, DictConfig):
        for value in node.values():
            if isinstance(value, (DictConfig, ListConfig)):
                _make_writable(value)


def _read_file(path: str | os.PathLike[str]) -> DictConfig:
    """A config file as an OmegaConf mapping, its ``_`` notes left out. JSON files are read as
    JSON (stricter than reading them as YAML); anything else as YAML."""
    try:
        if Path(path).suffix.lower() == ".json":
            with open(path) as handle:
                layer = OmegaConf.create(json.load(handle))
        else:
            layer = OmegaConf.load(Path(path))
    except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException) as error:
        raise ConfigError(f"cannot read config {path}: {_one_line(error)}") from error
    if not isinstance(layer, DictConfig):
        raise ConfigError(f"config {path} must hold a mapping of keys to values")
    notes = [key for key in layer if str(key).startswith("_")]
    for key in notes:
        del layer[key]
    return layer


def _merge_layers(schema: DictConfig, layers: Sequence[tuple[str, DictConfig]]) -> TrainConfig:
    """Merge ``layers`` (``(source, mapping)`` pairs) into ``schema`` in place, in order, and
    build the config."""
    for source, layer in layers:
        try:
            schema.merge_with(layer)
        except OmegaConfBaseException as error:
            key = getattr(error, "full_key", None)
            where = f"{source}: {key}" if key else source
            raise ConfigError(f"{where}: {_one_line(error)}") from error
    try:
        data = OmegaConf.to_container(schema, resolve=True)
    except OmegaConfBaseException as error:
        raise ConfigError(f"config: {_one_line(error)}") from error
    assert isinstance(data, dict)  # a DictConfig always gives a dict
    try:
        return _build({str(key): value for key, value in data.items()})
    except (TypeError, ValueError) as error:
        raise ConfigError(f"config: {_one_line(error)}") from error


def _build(data: dict[str, Any]) -> TrainConfig:
    """A :class:`TrainConfig` from a complete nested dictionary (lists become tuples)."""
    data = dict(data)
    model = ModelConfig.from_dict(data.pop("model"))
    loss = LossConfig(**data.pop("loss"))
    data["render_kits"] = tuple(data["render_kits"])
    data["trainable"] = tuple(data["trainable"])
    data["trainable_components"] = tuple(data["trainable_components"])
    data["accompaniment_db"] = tuple(data["accompaniment_db"])
    return TrainConfig(model=model, loss=loss, **data)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _one_line(error: BaseException) -> str:
    """The first line of an error's message (OmegaConf appends ``full_key`` / ``object_type``
    lines)."""
    mark = getattr(error, "problem_mark", None)
    if isinstance(error, yaml.MarkedYAMLError) and mark is not None:
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
