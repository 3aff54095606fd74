"""Training configuration: :class:`TrainConfig`, stored as ``config.json`` in a run folder."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field

from drummernet.model.network import ModelConfig
from drummernet.training.losses import LossConfig

#: Kits that render synthetic training audio by default: deliberately not the synthesizer's own
#: default kit, so that the analyzer learns to map across timbres.
DEFAULT_RENDER_KITS: tuple[str, ...] = ()  # empty: every built-in kit not used by the synthesizer


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
            steps (0 disables it). Played whole from the start, a long one-shot (a 1 s crash,
            a room voice) fired in every 40 ms window at initialisation buries the recording,
            its loss gradient spans a second of audio, and the first steps switch it off for
            good; the closed hi-hat then paints every wash. Short at first, every drum learns
            where its onsets are before it has to account for its tail.
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
            input. Without it, the analyzer is rewarded for rebuilding a production effect with
            extra strokes (a bright snare's top end with a hi-hat); with it, only the drums
            count. Still no label: the target is audio. Unlabeled audio stays its own target.
        stem_eq: synthetic stems also get a random EQ per drum (best with ``clean_target``).
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
            :func:`~drummernet.losses.onset_loss` between the activations and the targets of an
            :class:`~drummernet.teacher.NMFTeacher` built from the synthesizer's kits (0: never).
            A reference point (a warm start from an unsupervised teacher), not the method.
        teacher_weight: weight of that teacher loss.
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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Build from a (possibly partial) nested dictionary, e.g. a JSON config file."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training config keys: {sorted(unknown)}")
        data = dict(data)
        model = ModelConfig.from_dict(data.pop("model", {}))
        loss = dict(data.pop("loss", {}))
        if "fft_sizes" in loss:
            loss["fft_sizes"] = tuple(loss["fft_sizes"])
        if "render_kits" in data:
            data["render_kits"] = tuple(data["render_kits"])
        return cls(model=model, loss=LossConfig(**loss), **data)

    def replace(self, **changes) -> TrainConfig:
        """A copy with top-level fields changed."""
        return dataclasses.replace(self, **changes)


def merge_config(base: dict, override: dict) -> dict:
    """Recursively merge ``override`` into ``base`` (both nested dicts); returns a new dict."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def load_config_file(path: str | os.PathLike, base: TrainConfig | None = None) -> TrainConfig:
    """Read a JSON training config, merged over ``base`` (default: :class:`TrainConfig()`)."""
    with open(path) as handle:
        data = json.load(handle)
    return TrainConfig.from_dict(merge_config((base or TrainConfig()).to_dict(), data))
