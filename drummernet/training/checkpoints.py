"""Training checkpoints: written atomically every few steps, the newest few kept, read back to
resume a run exactly or to rebuild its model.

A checkpoint is ``<run>/checkpoints/step-<step:08d>.pt``: a dict with the step, the analyzer's,
optimizer's and scheduler's state dicts and the model config (the synthesizer is fixed, so the
analyzer is the whole trained state).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from drummernet.audio import atomic_write
from drummernet.errors import ModelLoadError
from drummernet.model.network import DrummerNet, ModelConfig

#: ``format`` field of every training checkpoint.
CHECKPOINT_FORMAT = "drummernet-train"
#: ``version`` field of checkpoints written now.
CHECKPOINT_VERSION = 1


def checkpoint_paths(run_dir: Path) -> list[Path]:
    """The step checkpoints of a run, oldest first."""
    return sorted(run_dir.glob("checkpoints/step-*.pt"), key=lambda p: int(p.stem.split("-")[1]))


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest step checkpoint in ``run_dir``, or None."""
    paths = checkpoint_paths(Path(run_dir))
    return paths[-1] if paths else None


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: DrummerNet,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    keep: int,
) -> Path:
    """Write the checkpoint of ``step`` atomically, then delete all but the newest ``keep``.

    Returns:
        the checkpoint's path.
    """
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
    for old in checkpoint_paths(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a training checkpoint (tensors on the CPU).

    Raises:
        ModelLoadError: the file is unreadable or not a drummernet training checkpoint.
    """
    import zipfile

    try:
        # torch.save writes a zip archive; anything else is damaged, and torch's own message
        # for it (its weights_only unpickler's) would advise loading it unsafely.
        if not zipfile.is_zipfile(path):
            raise ModelLoadError(f"{path}: not a readable training checkpoint (damaged)")
        state = torch.load(path, map_location="cpu", weights_only=True)
    except ModelLoadError:
        raise
    except Exception as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise ModelLoadError(
            f"{path}: not a readable training checkpoint ({reason or type(error).__name__})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelLoadError(f"{path}: not a drummernet training checkpoint")
    return state


def model_from_checkpoint(
    path: str | os.PathLike, kits: Sequence | torch.Tensor | None = None
) -> DrummerNet:
    """Rebuild the model of a training checkpoint (e.g. to evaluate or export it mid-run).

    Args:
        path: a step checkpoint.
        kits: the synthesizer's kits (default: the model config's).

    Returns:
        the model, in eval mode.
    """
    state = load_checkpoint(Path(path))
    model = DrummerNet(ModelConfig.from_dict(json.loads(state["model_config"])), kits=kits)
    model.analyzer.load_state_dict(state["analyzer"])
    return model.eval()
