"""Where a training run executes: its device, its distributed ranks, and the signals that stop it.

Under ``torchrun`` every process trains one rank (gloo on CPU, nccl on GPU); alone, a process is
rank 0 of 1. SIGINT and SIGTERM do not kill the trainer: they set a flag that it checks between
steps, so that it saves a checkpoint before it exits. Its data workers ignore both, so the trainer
stops them itself, whichever way it leaves (:func:`loader_batches`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterator
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


@contextlib.contextmanager
def loader_batches(loader: torch.utils.data.DataLoader) -> Iterator[Iterator[Any]]:
    """Iterate ``loader``; on the way out, however it is taken, stop its worker processes.

    The workers ignore SIGTERM (:func:`leave_signals_to_the_trainer`), so they must be stopped
    from here: left to garbage collection, the iterator of a run that failed can outlive the
    trainer, and the interpreter's exit then waits forever for workers that ignore the SIGTERM
    it sends them. They are asked to finish (the DataLoader's own shutdown, which waits a few
    seconds); one that is still running after that is killed. Workers only read data, so killing
    one loses nothing.

    An error raised in a worker comes out as the same exception type, with the worker's own
    message instead of the DataLoader's "Caught ... in DataLoader worker process 0".
    """
    iterator = iter(loader)
    try:
        yield _with_worker_messages(iterator)
    finally:
        shutdown = getattr(iterator, "_shutdown_workers", None)  # multi-process iterators only
        if shutdown is not None:
            shutdown()
        for worker in getattr(iterator, "_workers", ()):
            if worker.is_alive():
                worker.kill()
                worker.join(timeout=5)


def _with_worker_messages(iterator: Iterator[Any]) -> Iterator[Any]:
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except Exception as error:
            raise worker_error(error) from None
        yield batch


def worker_error(error: Exception) -> Exception:
    """``error`` re-raised from a DataLoader worker, as the same type with the worker's own
    one-line message and the worker named; any other error as it is."""
    text = str(error)
    found = re.match(r"Caught \w+ in (DataLoader worker process \d+)\.", text)
    lines = [line for line in text.splitlines() if line.strip()]
    if found is None or len(lines) < 2:
        return error
    # The traceback's last line is "module.Type: message".
    message = re.sub(r"^[\w.]+: ", "", lines[-1].strip(), count=1)
    try:
        return type(error)(f"{message} (in {found.group(1).lower()})")
    except Exception:  # a type that takes other arguments: keep the DataLoader's own
        return error
