"""Unsupervised training: reconstruction loss only, on unlabeled audio and/or synthetic stems.

The analyzer learns by making the fixed synthesizer's rendering of its activations match the input
(Choi & Cho, ISMIR 2019). No label enters the loss. The trainer is built to never lose progress:
checkpoints are written atomically every ``checkpoint_every`` steps (the last ``keep_checkpoints``
are kept), SIGINT/SIGTERM save one before exiting, and ``resume=True`` continues exactly: same
step, optimizer and scheduler state, and the same data, because example ``i`` of the stream is a
pure function of ``(seed, i)`` (see :mod:`drummernet.data`).

The same code runs under ``torchrun --nproc_per_node=N`` with DistributedDataParallel (gloo on CPU,
nccl on GPU); each rank draws its own share of every global batch.

Two options exist only as reference points for the experiments, never as defaults: onset
supervision with the synthetic stems' own labels (``loss.onset_supervision``, the supervised upper
bound) and a warm start from an NMF teacher (``teacher_steps``, see :mod:`drummernet.teacher`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from drummernet.audio import atomic_write
from drummernet.model.network import DrummerNet, ModelConfig
from drummernet.training.config import TrainConfig
from drummernet.training.losses import SpectralLoss, onset_loss

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "drummernet-train"
CHECKPOINT_VERSION = 1
# --------------------------------------------------------------------------------- distributed


@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size())


def default_device() -> torch.device:
    """cuda when available (the local rank's GPU under torchrun), otherwise cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


# --------------------------------------------------------------------------------- checkpoints


def _checkpoint_paths(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("checkpoints/step-*.pt"), key=lambda p: int(p.stem.split("-")[1]))


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest step checkpoint in ``run_dir``, or None."""
    paths = _checkpoint_paths(Path(run_dir))
    return paths[-1] if paths else None


def _save_checkpoint(run_dir: Path, step: int, model, optimizer, scheduler, keep: int) -> Path:
    state = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "step": step,
        "analyzer": model.analyzer.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "model_config": json.dumps(model.config.to_dict()),
    }
    path = atomic_write(
        run_dir / "checkpoints" / f"step-{step:08d}.pt", lambda tmp: torch.save(state, tmp)
    )
    for old in _checkpoint_paths(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def _load_checkpoint(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable training checkpoint ({error})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a drummernet training checkpoint")
    return state


# ------------------------------------------------------------------------------------ training


class _StopRequested:
    """Turns SIGINT/SIGTERM into a flag checked between steps, so a checkpoint gets saved."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _StopRequested:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not in the main thread: leave handlers alone
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class TrainingInterrupted(RuntimeError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint."""

    def __init__(self, signum: int, checkpoint: Path | None) -> None:
        super().__init__(f"stopped by signal {signum}; checkpoint saved to {checkpoint}")
        self.signum = signum
        self.checkpoint = checkpoint


def build_dataset(
    config: TrainConfig,
    audio: Sequence[str | os.PathLike] = (),
    synthetic: bool = True,
    synthetic_midi: Sequence[str | os.PathLike] | None = None,
):
    """The training stream: user audio and/or synthetic stems, mixed by ``synthetic_fraction``.

    With ``config.loss.onset_supervision > 0`` (the supervised reference point) the stream holds
    synthetic stems only, and its items are ``(audio, onset targets)`` pairs.

    Args:
        config: the run's config.
        audio: unlabeled audio files or folders.
        synthetic: include synthetic stems.
        synthetic_midi: drum MIDI files or folders to perform; None for procedural grooves.
    """
    from drummernet.model.kits import list_kits
    from drummernet.training.synthetic import SyntheticStems
    from drummernet.training.unlabeled import TrainingClips, UnlabeledAudio

    sr = config.model.analyzer.sample_rate
    supervised = config.loss.onset_supervision > 0
    if supervised and config.clean_target:
        raise ValueError("onset supervision and clean_target cannot be combined")
    if supervised and (audio or not synthetic):
        raise ValueError(
            "onset supervision trains on labelled synthetic stems only: give no unlabeled audio "
            "(synthetic_fraction 1.0 in the experiments)"
        )
    sources, weights = [], []
    if audio:
        sources.append(UnlabeledAudio(audio, config.clip_seconds, sr, seed=config.seed))
        weights.append(1.0 - config.synthetic_fraction if synthetic else 1.0)
    if synthetic:
        kits = (
            list(config.render_kits)
            or [k for k in list_kits() if k not in config.model.kits]
            or list_kits()
        )
        midi = _expand_midi(synthetic_midi) if synthetic_midi else None
        stems = SyntheticStems(
            kits=kits,
            midi_files=midi,
            clip_seconds=config.clip_seconds,
            sr=sr,
            augment=config.augment,
            seed=config.seed,
            voices=config.render_voices,
            clean_target=config.clean_target,
            stem_eq=config.stem_eq,
        )
        if supervised:
            from drummernet.training.synthetic import LabelledStems

            analyzer = config.model.analyzer
            stems = LabelledStems(stems, analyzer.components, analyzer.hop_length)
        sources.append(stems)
        weights.append(config.synthetic_fraction if audio else 1.0)
    return TrainingClips(sources, weights, seed=config.seed)


def _expand_midi(paths: Sequence[str | os.PathLike]) -> list[Path]:
    from drummernet.training.unlabeled import NoAudioError

    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir() and (item / "info.csv").is_file():
            from drummernet.training.synthetic import groove_midi_files

            files.extend(groove_midi_files(item, split="train"))
        elif item.is_dir():
            files.extend(
                sorted(p for p in item.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
            )
        elif item.is_file():
            files.append(item)
    if not files:
        raise NoAudioError(f"no MIDI files found in {', '.join(map(str, paths))}")
    return files


class _IndexSampler(torch.utils.data.Sampler):
    """Global example indices for one rank, starting at a given step (for exact resume)."""

    def __init__(self, start_step: int, steps: int, batch: int, dist: _Dist) -> None:
        self.start, self.steps, self.batch, self.dist = start_step, steps, batch, dist

    def __iter__(self):
        per_rank = self.batch // self.dist.world
        for step in range(self.start, self.steps):
            base = step * self.batch + self.dist.rank * per_rank
            yield from range(base, base + per_rank)

    def __len__(self) -> int:
        return (self.steps - self.start) * (self.batch // self.dist.world)


def _lr_lambda(config: TrainConfig):
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


@torch.no_grad()
def revive_silent_components(analyzer, optimizer, activations: torch.Tensor, below: float) -> list:
    """Re-initialise the output heads of components that were silent over a batch.

    Args:
        analyzer: the :class:`~drummernet.analyzer.Analyzer` being trained.
        optimizer: its optimizer (the revived rows' moment estimates are reset).
        activations: ``(batch, n_components, frames)`` of the last step.
        below: a component whose largest activation is under this is silent.

    Returns:
        indices of the revived components. Under DDP every rank sees its own batch, so this is
        meant for single-process runs; ranks could otherwise diverge.
    """
    silent = (activations.amax(dim=(0, 2)) < below).nonzero().flatten().tolist()
    for head in (analyzer.component_scores, analyzer.time_scores, analyzer.gain):
        for c in silent:
            head.weight[c].normal_(0.0, 0.01)
            head.bias[c] = -1.0 if head is analyzer.gain else 0.0
            for param in (head.weight, head.bias):
                for moment in optimizer.state.get(param, {}).values():
                    if torch.is_tensor(moment) and moment.shape == param.shape:
                        moment[c] = 0.0
    return silent


def alpha_at(config: TrainConfig, step: int) -> float | None:
    """The entmax alpha used at ``step`` (None once annealing has reached sparsemax)."""
    if config.alpha_steps <= 0 or step >= config.alpha_steps:
        return None
    return config.alpha_start + (2.0 - config.alpha_start) * step / config.alpha_steps


def shot_length_at(config: TrainConfig, step: int, sample_rate: int) -> int | None:
    """The synthesizer's one-shot length in samples at ``step`` (None: whole, warm-up over)."""
    if config.shot_warmup_steps <= 0 or step >= config.shot_warmup_steps:
        return None
    full = config.model.one_shot_seconds
    seconds = config.shot_start_seconds + (full - config.shot_start_seconds) * (
        step / config.shot_warmup_steps
    )
    return max(1, int(seconds * sample_rate))


def train(
    out_dir: str | os.PathLike,
    audio: Sequence[str | os.PathLike] = (),
    config: TrainConfig | None = None,
    synthetic: bool | None = None,
    synthetic_midi: Sequence[str | os.PathLike] | None = None,
    resume: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    validate_on: str | os.PathLike | None = None,
    dataset=None,
) -> Path:
    """Train a DrummerNet on unlabeled audio by reconstruction alone.

    Args:
        out_dir: run directory: ``config.json``, ``checkpoints/``, ``metrics.jsonl`` and the
            exported ``model.safetensors``.
        audio: unlabeled audio files or folders.
        config: hyper-parameters (default :class:`TrainConfig()`; on resume, the run's own).
        synthetic: add synthetic stems (default: only when no audio is given, or when
            ``synthetic_midi`` is given).
        synthetic_midi: drum MIDI files or folders (a Groove MIDI Dataset root uses its train
            split); None uses the procedural groove generator.
        resume: continue from the newest checkpoint in ``out_dir``.
        device: torch device (default: cuda when available, else cpu).
        progress: show a tqdm bar.
        validate_on: a labelled dataset folder for periodic onset-F1 validation.
        dataset: a ready map-style dataset (overrides the data arguments; used by tests).

    Returns:
        path of the exported model file.

    Raises:
        TrainingInterrupted: on SIGINT/SIGTERM, after saving a checkpoint.
    """
    from tqdm import tqdm

    run_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    dist = _init_distributed(device)
    config_path = run_dir / "config.json"
    checkpoint = latest_checkpoint(run_dir) if resume else None
    if resume and config_path.is_file():
        saved = TrainConfig.from_dict(json.loads(config_path.read_text()))
        if config is not None and config.replace(steps=saved.steps) != saved:
            log.warning("resuming with the run's saved config; only --steps may change")
        config = saved.replace(steps=config.steps) if config is not None else saved
    config = config or TrainConfig()
    if config.batch_size % dist.world:
        raise ValueError(f"batch size {config.batch_size} is not divisible by {dist.world} ranks")
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(
            config_path, lambda tmp: Path(tmp).write_text(json.dumps(config.to_dict(), indent=2))
        )

    torch.manual_seed(config.seed)
    model = DrummerNet(config.model).to(device)
    if config.init_from and checkpoint is None:
        model.analyzer.load_state_dict(DrummerNet.load(config.init_from).analyzer.state_dict())
    optimizer = torch.optim.AdamW(
        model.analyzer.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config))
    start = 0
    if checkpoint is not None:
        state = _load_checkpoint(checkpoint)
        model.analyzer.load_state_dict(state["analyzer"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = int(state["step"])
        if dist.main:
            log.info("resumed from %s at step %d", checkpoint, start)
    elif resume and dist.main:
        log.info("no checkpoint in %s: starting from scratch", run_dir)

    if dataset is None:
        use_synth = synthetic if synthetic is not None else (not audio or bool(synthetic_midi))
        dataset = build_dataset(config, audio, use_synth, synthetic_midi)
    per_rank = config.batch_size // dist.world
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=per_rank,
        sampler=_IndexSampler(start, config.steps, config.batch_size, dist),
        num_workers=config.num_workers,
        persistent_workers=False,
        prefetch_factor=4 if config.num_workers else None,
        worker_init_fn=_leave_signals_to_the_trainer,
    )
    net = model
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False,
        )
    loss_fn = SpectralLoss(config.loss, model.sample_rate).to(device)
    teacher = None
    if config.teacher_steps > start:
        from drummernet.training.teacher import NMFTeacher

        teacher = NMFTeacher.from_model(model)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )
    val_set = _validation_set(dataset, config) if dist.main and config.val_every else None
    metrics = _MetricsLog(run_dir / "metrics.jsonl", enabled=dist.main)
    kit_gen = torch.Generator()
    bar = tqdm(
        total=config.steps,
        initial=start,
        disable=not (progress and dist.main),
        unit="step",
        dynamic_ncols=True,
    )
    step = start
    saved_at: Path | None = None
    window = _Throughput()
    model.train()
    with _StopRequested() as stop:
        for batch in loader:
            targets = None
            if isinstance(batch, (list, tuple)):  # (audio, onset targets): supervised reference
                batch, targets = batch
                targets = targets.to(device, non_blocking=True)
            audio_batch, target_batch = _input_and_target(batch.to(device, non_blocking=True))
            kit_gen.manual_seed(config.seed * 1_000_003 + step * 16 + dist.rank)
            kit_index = (
                model.synthesizer.random_kit_index(audio_batch.shape[0], kit_gen)
                if config.random_kits and model.synthesizer.n_kits > 1
                else None
            )
            with autocast:
                recon, activations = net(
                    audio_batch,
                    kit_index=kit_index,
                    alpha=alpha_at(config, step),
                    shot_length=shot_length_at(config, step, model.sample_rate),
                )
            loss = loss_fn(recon.float(), target_batch)
            guided = teacher is not None and step < config.teacher_steps
            terms = {}  # the loss's parts, logged when it has more than one
            if config.loss.onset_supervision > 0 or guided:
                terms["reconstruction"] = loss.item()
            if config.loss.sparsity > 0:
                loss = loss + config.loss.sparsity * activations.float().mean()
            if config.loss.onset_supervision > 0:
                if targets is None:
                    raise ValueError("onset supervision needs a dataset of (audio, targets) pairs")
                onset = onset_loss(activations.float(), targets)
                loss = loss + config.loss.onset_supervision * onset
                terms["onset_loss"] = onset.item()
            if guided:
                guide = onset_loss(activations.float(), teacher(audio_batch))
                loss = loss + config.teacher_weight * guide
                terms["teacher_loss"] = guide.item()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(
                model.analyzer.parameters(), config.grad_clip
            )
            optimizer.step()
            scheduler.step()
            step += 1
            if config.revive_every and step % config.revive_every == 0:
                revived = revive_silent_components(
                    model.analyzer, optimizer, activations.detach(), config.revive_below
                )
                if revived and dist.main:
                    metrics.write(step=step, revived=[model.components[c] for c in revived])
            seconds = audio_batch.shape[0] * audio_batch.shape[1] / model.sample_rate * dist.world
            speed = window.add(seconds)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}", audio_s_per_s=f"{speed:.1f}")
            if step % config.log_every == 0 or step == config.steps:
                metrics.write(
                    step=step,
                    loss=loss.item(),
                    grad_norm=float(grad_norm),
                    lr=scheduler.get_last_lr()[0],
                    audio_seconds_per_second=speed,
                    active_fraction=float((activations > 0).float().mean()),
                    **terms,
                )
            if val_set is not None and (step % config.val_every == 0 or step == config.steps):
                metrics.write(step=step, **_validate(model, loss_fn, val_set, validate_on, device))
                model.train()
            if dist.main and (step % config.checkpoint_every == 0 or step == config.steps):
                saved_at = _save_checkpoint(
                    run_dir, step, model, optimizer, scheduler, config.keep_checkpoints
                )
            if stop.signal is not None:
                if dist.main and (saved_at is None or not saved_at.stem.endswith(f"{step:08d}")):
                    saved_at = _save_checkpoint(
                        run_dir, step, model, optimizer, scheduler, config.keep_checkpoints
                    )
                bar.close()
                metrics.close()
                raise TrainingInterrupted(stop.signal, saved_at)
    bar.close()
    metrics.close()
    final = run_dir / "model.safetensors"
    if dist.main:
        model.save(final, extra={"steps": step, "train_config": config.to_dict()})
    if dist.world > 1:
        import torch.distributed as torch_dist

        torch_dist.barrier()
    return final


def _leave_signals_to_the_trainer(worker_id: int) -> None:
    """Data workers ignore SIGINT and SIGTERM: Ctrl-C and schedulers signal the whole process
    group, and a worker dying first would crash the trainer before it could save a checkpoint.
    The trainer saves, then shuts its workers down itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class _Throughput:
    """Audio-seconds trained per wall-second over a sliding window of recent steps."""

    def __init__(self, size: int = 20) -> None:
        self.items: list[tuple[float, float]] = []
        self.size = size

    def add(self, seconds: float) -> float:
        self.items.append((time.perf_counter(), seconds))
        self.items = self.items[-self.size :]
        if len(self.items) < 2:
            return 0.0
        elapsed = self.items[-1][0] - self.items[0][0]
        return sum(s for _, s in self.items[1:]) / max(elapsed, 1e-9)


class _MetricsLog:
    """JSON-lines metrics file, plus TensorBoard when it is installed."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.handle = open(path, "a") if enabled else None
        self.board = None
        if enabled:
            with contextlib.suppress(ImportError):
                from torch.utils.tensorboard import SummaryWriter

                self.board = SummaryWriter(str(path.parent / "tensorboard"))

    def write(self, step: int, **values) -> None:
        if not self.enabled:
            return
        self.handle.write(json.dumps({"step": step, "time": time.time(), **values}) + "\n")
        self.handle.flush()
        if self.board is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    self.board.add_scalar(key, value, step)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        if self.board is not None:
            self.board.close()


def _input_and_target(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(batch, samples)`` is its own target; ``(batch, 2, samples)`` holds input and target."""
    return (batch[:, 0], batch[:, 1]) if batch.ndim == 3 else (batch, batch)


def _validation_set(dataset, config: TrainConfig) -> torch.Tensor:
    # Indices far beyond any training step: a fixed set the model never trains on.
    base = 2**60
    items = (dataset[base + i] for i in range(config.val_examples))
    return torch.stack([item[0] if isinstance(item, tuple) else item for item in items])


@torch.no_grad()
def _validate(model, loss_fn, val_set, labelled_dir, device) -> dict:
    model.eval()
    losses = []
    for chunk in val_set.split(8):
        chunk, target = _input_and_target(chunk.to(device))
        losses.append(loss_fn(model(chunk)[0], target).item() * len(chunk))
    result = {"val_loss": sum(losses) / len(val_set)}
    if labelled_dir is not None:
        from drummernet.evaluation.scoring import evaluate, read_dataset
        from drummernet.transcription.inference import transcription_system

        scores = evaluate(transcription_system(model), read_dataset(labelled_dir), progress=False)
        result["val_mean_f1"] = scores.mean_f1
    return result


def model_from_checkpoint(path: str | os.PathLike, kits: Sequence | None = None) -> DrummerNet:
    """Rebuild the model of a training checkpoint (e.g. to evaluate or export it mid-run)."""
    state = _load_checkpoint(Path(path))
    model = DrummerNet(ModelConfig.from_dict(json.loads(state["model_config"])), kits=kits)
    model.analyzer.load_state_dict(state["analyzer"])
    return model.eval()
