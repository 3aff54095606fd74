"""Where a training run executes: its device, its distributed ranks, and the signals that stop it.

Under ``torchrun`` every process trains one rank (gloo on CPU, nccl on GPU); alone, a process is
rank 0 of 1. SIGINT and SIGTERM do not kill the trainer: they set a flag that it checks between
steps, so that it saves a checkpoint before it exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Dist:
    """This process's place in a distributed run: ``rank`` of ``world`` processes."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes files and logs."""
        return self.rank == 0


def init_distributed(device: torch.device) -> Dist:
    """Join the process group when ``WORLD_SIZE`` (set by ``torchrun``) is above 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size())


def default_device() -> torch.device:
    """cuda when available (the local rank's GPU under torchrun), otherwise cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


class StopRequested:
    """Turns SIGINT/SIGTERM into a flag checked between steps, so a checkpoint gets saved.

    A context manager: the previous handlers come back on exit. Outside the main thread the
    handlers are left alone.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequested:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not in the main thread: leave handlers alone
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def leave_signals_to_the_trainer(worker_id: int) -> None:
    """Data workers ignore SIGINT and SIGTERM: Ctrl-C and schedulers signal the whole process
    group, and a worker dying first would crash the trainer before it could save a checkpoint.
    The trainer saves, then shuts its workers down itself. (A DataLoader ``worker_init_fn``.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
