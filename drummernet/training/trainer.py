"""Unsupervised training: reconstruction loss only, on unlabeled audio and/or synthetic stems.

The analyzer learns by making the fixed synthesizer's rendering of its activations match the input
(Choi & Cho, ISMIR 2019). No label enters the loss. The trainer is built to never lose progress:
checkpoints are written atomically every ``checkpoint_every`` steps (the last ``keep_checkpoints``
are kept, see :mod:`drummernet.training.checkpoints`), SIGINT/SIGTERM save one before exiting, and
``resume=True`` continues exactly: same step, optimizer and scheduler state, and the same data,
because example ``i`` of the stream is a pure function of ``(seed, i)`` (see
:mod:`drummernet.training.datasets`).

The same code runs under ``torchrun --nproc_per_node=N`` with DistributedDataParallel (gloo on CPU,
nccl on GPU); each rank draws its own share of every global batch.

Two options exist only as reference points for the experiments, never as defaults: onset
supervision with the synthetic stems' own labels (``loss.onset_supervision``, the supervised upper
bound) and a warm start from an NMF teacher (``teacher_steps``, see
:mod:`drummernet.training.teacher`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from drummernet.audio import atomic_write
from drummernet.errors import ConfigError, ModelLoadError, OutputError
from drummernet.model.analyzer import Analyzer
from drummernet.model.network import DrummerNet
from drummernet.training.checkpoints import checkpoint_paths, load_checkpoint, save_checkpoint
from drummernet.training.config import (
    TrainConfig,
    resolve_config,
    resume_config,
    run_config_path,
)
from drummernet.training.datasets import (
    IndexSampler,
    build_dataset,
    input_and_target,
    validation_set,
)
from drummernet.training.losses import SpectralLoss, onset_loss, usage_loss
from drummernet.training.monitor import MetricsLog, Throughput
from drummernet.training.runtime import (
    Dist,
    StopRequested,
    default_device,
    init_distributed,
    leave_signals_to_the_trainer,
    loader_batches,
)
from drummernet.training.schedules import alpha_at, lr_lambda, shot_length_at
from drummernet.training.teacher import NMFTeacher

log = logging.getLogger(__name__)


class TrainingInterrupted(RuntimeError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint."""

    def __init__(self, signum: int, checkpoint: Path | None) -> None:
        super().__init__(f"stopped by signal {signum}; checkpoint saved to {checkpoint}")
        self.signum = signum
        self.checkpoint = checkpoint


# ------------------------------------------------------------------------------------ training


@torch.no_grad()
def revive_silent_components(
    analyzer: Analyzer, optimizer: torch.optim.Optimizer, activations: torch.Tensor, below: float
) -> list[int]:
    """Re-initialise the output heads of components that were silent over a batch.

    Args:
        analyzer: the :class:`~drummernet.model.analyzer.Analyzer` being trained.
        optimizer: its optimizer (the revived rows' moment estimates are reset).
        activations: ``(batch, n_components, frames)`` of the last step.
        below: a component whose largest activation is under this is silent.

    Returns:
        indices of the revived components. Under DDP every rank sees its own batch, so this is
        meant for single-process runs; ranks could otherwise diverge.
    """
    silent = (activations.amax(dim=(0, 2)) < below).nonzero().flatten().tolist()
    for head in (analyzer.component_scores, analyzer.time_scores, analyzer.gain):
        bias = head.bias
        assert bias is not None  # the heads are convolutions with a bias
        for c in silent:
            head.weight[c].normal_(0.0, 0.01)
            bias[c] = -1.0 if head is analyzer.gain else 0.0
            for param in (head.weight, bias):
                for moment in optimizer.state.get(param, {}).values():
                    if torch.is_tensor(moment) and moment.shape == param.shape:
                        moment[c] = 0.0
    return silent


@dataclass
class _Run:
    """What one training run holds from step to step."""

    config: TrainConfig
    run_dir: Path
    device: torch.device
    dist: Dist
    model: DrummerNet
    net: nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    loss_fn: SpectralLoss
    teacher: NMFTeacher | None
    autocast: contextlib.AbstractContextManager  # bfloat16 on cuda
    val_set: torch.Tensor | None
    validate_on: Path | None  # a labelled dataset for onset-F1 validation
    metrics: MetricsLog
    kit_gen: torch.Generator
    saved_at: Path | None = None

    def save(self, step: int) -> None:
        self.saved_at = save_checkpoint(
            self.run_dir,
            step,
            self.model,
            self.optimizer,
            self.scheduler,
            self.config.keep_checkpoints,
        )


@dataclass
class _Step:
    """The outcome of one optimisation step."""

    loss: torch.Tensor
    activations: torch.Tensor
    terms: dict[str, float]  # the loss's parts, logged when it has more than one
    grad_norm: torch.Tensor
    audio_seconds: float  # audio trained on, all ranks together


def _run_config(run_dir: Path, config: TrainConfig | None, resume: bool, dist: Dist) -> TrainConfig:
    """The config to train with (on resume, the run's own) written to the run folder."""
    config_path = run_config_path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputError(f"{run_dir}: run folder is a file")
    if resume and config_path.is_file():
        config = resume_config(resolve_config([config_path]), config)
    config = config or TrainConfig()
    if config.batch_size % dist.world:
        raise ValueError(f"batch size {config.batch_size} is not divisible by {dist.world} ranks")
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(config.to_dict(), indent=2)
        atomic_write(config_path, lambda tmp: Path(tmp).write_text(text))
    return config


def _model_and_optimizer(
    config: TrainConfig, device: torch.device, checkpoints: Sequence[Path]
) -> tuple[DrummerNet, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR, int, Path | None]:
    """The model, its optimizer and scheduler, from the newest readable of ``checkpoints``
    (oldest first) when there are any; the step to start at and the checkpoint used.

    Raises:
        ModelLoadError: there are checkpoints, but none can be read.
    """
    torch.manual_seed(config.seed)
    model = DrummerNet(config.model).to(device)
    if config.init_from and not checkpoints:
        model.analyzer.load_state_dict(DrummerNet.load(config.init_from).analyzer.state_dict())
    params = [
        p
        for name, p in model.analyzer.named_parameters()
        if not config.trainable or name.startswith(tuple(config.trainable))
    ]
    if not params:
        raise ConfigError(f"trainable {list(config.trainable)} names no analyzer parameter")
    for p in set(model.analyzer.parameters()) - set(params):
        p.requires_grad_(False)
    if config.trainable_components:
        _train_only_rows(model, config.trainable_components)
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config))
    problems = []
    for checkpoint in reversed(checkpoints):
        try:
            state = load_checkpoint(checkpoint)
            model.analyzer.load_state_dict(state["analyzer"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            step = int(state["step"])
        except (ModelLoadError, KeyError, RuntimeError, TypeError, ValueError) as error:
            # A strict load of an older checkpoint replaces whatever this one loaded.
            problem = str(error).splitlines()[0] if str(error) else type(error).__name__
            problems.append(problem if str(checkpoint) in problem else f"{checkpoint}: {problem}")
            log.warning("skipping unreadable checkpoint: %s", problems[-1])
            continue
        if problems:
            log.warning("resuming from the older checkpoint %s", checkpoint)
        return model, optimizer, scheduler, step, checkpoint
    if problems:
        raise ModelLoadError(f"no readable checkpoint to resume from; the newest: {problems[0]}")
    return model, optimizer, scheduler, 0, None


def _train_only_rows(model: DrummerNet, components: Sequence[str]) -> None:
    """Mask the output heads' gradients to the rows of ``components`` (the rest stay fixed)."""
    unknown = [c for c in components if c not in model.components]
    if unknown:
        raise ConfigError(f"trainable_components: {unknown} are not components of this model")
    keep = torch.zeros(len(model.components) + 1, dtype=torch.bool)  # + the "no hit" row
    keep[[model.components.index(c) for c in components]] = True
    analyzer = model.analyzer
    for head in (analyzer.component_scores, analyzer.time_scores, analyzer.gain):
        for param in (head.weight, head.bias):
            if param is not None and param.requires_grad:
                mask = keep[: param.shape[0]].to(param.device)
                mask = mask.view(-1, *([1] * (param.dim() - 1))).to(param.dtype)
                param.register_hook(lambda grad, mask=mask: grad * mask)


def _train_step(run: _Run, batch: Any, step: int) -> _Step:
    """Forward, loss and one optimizer and scheduler step on ``batch``."""
    config, model = run.config, run.model
    targets = None
    if isinstance(batch, (list, tuple)):  # (audio, onset targets): supervised reference
        batch, targets = batch
        targets = targets.to(run.device, non_blocking=True)
    audio_batch, target_batch = input_and_target(batch.to(run.device, non_blocking=True))
    run.kit_gen.manual_seed(config.seed * 1_000_003 + step * 16 + run.dist.rank)
    kit_index = (
        model.synthesizer.random_kit_index(audio_batch.shape[0], run.kit_gen)
        if config.random_kits and model.synthesizer.n_kits > 1
        else None
    )
    with run.autocast:
        recon, activations = run.net(
            audio_batch,
            kit_index=kit_index,
            alpha=alpha_at(config, step),
            shot_length=shot_length_at(config, step, model.sample_rate),
        )
    loss = run.loss_fn(recon.float(), target_batch)
    teacher = run.teacher if step < config.teacher_steps else None
    terms = {}
    if config.loss.onset_supervision > 0 or teacher is not None or config.loss.usage_floor > 0:
        terms["reconstruction"] = loss.item()
    if config.loss.sparsity > 0:
        loss = loss + config.loss.sparsity * activations.float().mean()
    if config.loss.usage_floor > 0:
        usage = usage_loss(activations.float(), config.loss.usage_floor)
        loss = loss + config.loss.usage_weight * usage
        terms["usage_loss"] = usage.item()
    if config.loss.onset_supervision > 0:
        if targets is None:
            raise ValueError("onset supervision needs a dataset of (audio, targets) pairs")
        onset = onset_loss(activations.float(), targets)
        loss = loss + config.loss.onset_supervision * onset
        terms["onset_loss"] = onset.item()
    if teacher is not None:
        guide = onset_loss(activations.float(), teacher(audio_batch))
        loss = loss + config.teacher_weight * guide
        terms["teacher_loss"] = guide.item()
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.analyzer.parameters(), config.grad_clip)
    run.optimizer.step()
    run.scheduler.step()
    seconds = audio_batch.shape[0] * audio_batch.shape[1] / model.sample_rate * run.dist.world
    return _Step(loss, activations, terms, grad_norm, seconds)


def _revive(run: _Run, step: int, result: _Step) -> None:
    """Revive silent components when due (``revive_every``), and log which."""
    config = run.config
    if config.revive_every and step % config.revive_every == 0:
        revived = revive_silent_components(
            run.model.analyzer, run.optimizer, result.activations.detach(), config.revive_below
        )
        if revived and run.dist.main:
            run.metrics.write(step=step, revived=[run.model.components[c] for c in revived])


def _log_step(run: _Run, step: int, result: _Step, speed: float) -> None:
    """Write the step's metrics when due (``log_every``, and the last step)."""
    config = run.config
    if step % config.log_every == 0 or step == config.steps:
        run.metrics.write(
            step=step,
            loss=result.loss.item(),
            grad_norm=float(result.grad_norm),
            lr=run.scheduler.get_last_lr()[0],
            audio_seconds_per_second=speed,
            active_fraction=float((result.activations > 0).float().mean()),
            **result.terms,
        )


def _keep_progress(run: _Run, step: int, start: int) -> None:
    """Save a checkpoint of ``step`` when a step was trained since the last one (on stopping)."""
    saved = run.saved_at
    if run.dist.main and step > start and (saved is None or saved.stem != f"step-{step:08d}"):
        run.save(step)


def _validate_and_save(run: _Run, step: int) -> None:
    """Validate and save a checkpoint, each when due."""
    config = run.config
    if run.val_set is not None and (step % config.val_every == 0 or step == config.steps):
        values = _validate(run.model, run.loss_fn, run.val_set, run.validate_on, run.device)
        run.metrics.write(step=step, **values)
        run.model.train()
    if run.dist.main and (step % config.checkpoint_every == 0 or step == config.steps):
        run.save(step)


@torch.no_grad()
def _validate(
    model: DrummerNet,
    loss_fn: nn.Module,
    val_set: torch.Tensor,
    labelled_dir: str | Path | None,
    device: torch.device,
) -> dict[str, float]:
    """Reconstruction loss on the validation set, and the mean onset F1 on ``labelled_dir``."""
    model.eval()
    losses = []
    for chunk in val_set.split(8):
        chunk, target = input_and_target(chunk.to(device))
        losses.append(loss_fn(model(chunk)[0], target).item() * len(chunk))
    result = {"val_loss": sum(losses) / len(val_set)}
    if labelled_dir is not None:
        from drummernet.evaluation.datasets import read_dataset
        from drummernet.evaluation.scoring import evaluate
        from drummernet.evaluation.systems import transcription_system

        scores = evaluate(transcription_system(model), read_dataset(labelled_dir), progress=False)
        result["val_mean_f1"] = scores.mean_f1
    return result


def _loader(
    dataset: torch.utils.data.Dataset, config: TrainConfig, start: int, dist: Dist
) -> torch.utils.data.DataLoader:
    """This rank's share of every global batch from step ``start`` on."""
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=config.batch_size // dist.world,
        sampler=IndexSampler(start, config.steps, config.batch_size, dist.rank, dist.world),
        num_workers=config.num_workers,
        persistent_workers=False,
        prefetch_factor=4 if config.num_workers else None,
        worker_init_fn=leave_signals_to_the_trainer,
    )


def _new_run(
    run_dir: Path,
    config: TrainConfig,
    device: torch.device,
    dist: Dist,
    model: DrummerNet,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    start: int,
    dataset: torch.utils.data.Dataset,
    validate_on: str | os.PathLike | None,
) -> _Run:
    """The run's state: the model (wrapped for DDP), its loss, the teacher while it guides, the
    validation set and the metrics log."""
    net: nn.Module = model
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False,
        )
    loss_fn = SpectralLoss(config.loss, model.sample_rate).to(device)
    teacher = NMFTeacher.from_model(model) if config.teacher_steps > start else None
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )
    val_set = (
        validation_set(dataset, config.val_examples) if dist.main and config.val_every else None
    )
    return _Run(
        config=config,
        run_dir=run_dir,
        device=device,
        dist=dist,
        model=model,
        net=net,
        optimizer=optimizer,
        scheduler=scheduler,
        loss_fn=loss_fn,
        teacher=teacher,
        autocast=autocast,
        val_set=val_set,
        validate_on=None if validate_on is None else Path(validate_on),
        metrics=MetricsLog(run_dir / "metrics.jsonl", enabled=dist.main, start=start),
        kit_gen=torch.Generator(),
    )


def _export(run: _Run, step: int) -> Path:
    """Write the trained model file (rank 0), wait for every rank, and return its path."""
    final = run.run_dir / "model.safetensors"
    if run.dist.main:
        run.model.save(final, extra={"steps": step, "train_config": run.config.to_dict()})
    if run.dist.world > 1:
        import torch.distributed as torch_dist

        torch_dist.barrier()
    return final


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
    dataset: torch.utils.data.Dataset | None = None,
) -> Path:
    """Train a DrummerNet on unlabeled audio by reconstruction alone.

    Args:
        out_dir: run directory: ``config.json``, ``checkpoints/``, ``metrics.jsonl`` and the
            exported ``model.safetensors``.
        audio: unlabeled audio files or folders.
        config: hyper-parameters (default :class:`TrainConfig()`; on resume, the run's own,
            and a given one may differ from it only in
            :data:`~drummernet.training.config.RESUMABLE_KEYS`).
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
        ConfigError: on resume, ``config`` differs from the run's own in another key.
        ModelLoadError: on resume, there are checkpoints but none can be read (an unreadable
            newest one is skipped with a warning, and the newest readable one used).
        NoAudioError: the data failed (e.g. every crop silent), in a data worker or not; a
            checkpoint of the last trained step is saved first. Any other error of the data is
            raised the same way.
        OutputError: the run folder is a file, or a checkpoint cannot be written (disk full).
    """
    from tqdm import tqdm

    run_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    dist = init_distributed(device)
    config = _run_config(run_dir, config, resume, dist)
    checkpoints = checkpoint_paths(run_dir) if resume else []
    model, optimizer, scheduler, start, checkpoint = _model_and_optimizer(
        config, device, checkpoints
    )
    if checkpoint is not None and dist.main:
        log.info("resumed from %s at step %d", checkpoint, start)
    elif resume and dist.main:
        log.info("no checkpoint in %s: starting from scratch", run_dir)

    if dataset is None:
        use_synth = synthetic if synthetic is not None else (not audio or bool(synthetic_midi))
        dataset = build_dataset(config, audio, use_synth, synthetic_midi)
    loader = _loader(dataset, config, start, dist)
    run = _new_run(
        run_dir, config, device, dist, model, optimizer, scheduler, start, dataset, validate_on
    )
    bar = tqdm(
        total=config.steps,
        initial=start,
        disable=not (progress and dist.main),
        unit="step",
        dynamic_ncols=True,
    )
    step = start
    window = Throughput()
    model.train()
    try:
        with StopRequested() as stop, loader_batches(loader) as batches:
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except Exception:
                    # The data failed, not a step: the model is exactly at `step`; keep it.
                    try:
                        _keep_progress(run, step, start)
                    except Exception as failure:
                        log.warning("could not save a checkpoint of step %d (%s)", step, failure)
                    raise
                result = _train_step(run, batch, step)
                step += 1
                _revive(run, step, result)
                speed = window.add(result.audio_seconds)
                bar.update(1)
                bar.set_postfix(loss=f"{result.loss.item():.4f}", audio_s_per_s=f"{speed:.1f}")
                _log_step(run, step, result, speed)
                _validate_and_save(run, step)
                if stop.signal is not None:
                    _keep_progress(run, step, start)
                    raise TrainingInterrupted(stop.signal, run.saved_at)
    finally:
        bar.close()
        run.metrics.close()
    return _export(run, step)
