"""Watching a run: its metrics file (and TensorBoard when installed) and its throughput."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any, TextIO

from drummernet.audio import atomic_write


class Throughput:
    """Audio-seconds trained per wall-second over a sliding window of recent steps.

    Args:
        size: steps in the window.
    """

    def __init__(self, size: int = 20) -> None:
        self.items: list[tuple[float, float]] = []
        self.size = size

    def add(self, seconds: float) -> float:
        """Record a step that trained ``seconds`` of audio; returns the current rate."""
        self.items.append((time.perf_counter(), seconds))
        self.items = self.items[-self.size :]
        if len(self.items) < 2:
            return 0.0
        elapsed = self.items[-1][0] - self.items[0][0]
        return sum(s for _, s in self.items[1:]) / max(elapsed, 1e-9)


class MetricsLog:
    """JSON-lines metrics file, plus TensorBoard when it is installed.

    Args:
        path: the ``metrics.jsonl`` file, appended to; TensorBoard writes beside it.
        enabled: write anything at all (only the main process of a distributed run does).
        start: the step training starts from. Lines of later steps, which a run stopped after
            its last checkpoint logged and a resumed run logs again, are dropped first, and so
            is a line cut short by a kill.
    """

    def __init__(self, path: Path, enabled: bool, start: int = 0) -> None:
        if enabled and path.is_file():
            _drop_lines_after(path, start)
        self.handle: TextIO | None = open(path, "a") if enabled else None
        self.board: Any = None
        if enabled:
            with contextlib.suppress(ImportError):
                from torch.utils.tensorboard import SummaryWriter

                self.board = SummaryWriter(str(path.parent / "tensorboard"))

    def write(self, step: int, **values: Any) -> None:
        """One line: the step, the time and ``values``; numbers also go to TensorBoard."""
        if self.handle is None:
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


def _drop_lines_after(path: Path, step: int) -> None:
    """Rewrite the metrics file ``path`` (atomically) without the lines of steps after ``step``
    and without unreadable lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("step"), int) and entry["step"] <= step:
            kept.append(line)
    if kept != lines:
        text = "".join(f"{line}\n" for line in kept)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
