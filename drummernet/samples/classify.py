"""Name one-shots: audio files -> kick, snare, hihat, tom, cymbal or other, and a component.

Five small networks (two hidden layers each, numpy at run time; their probabilities averaged)
read :mod:`drummernet.samples.features` and score the 11 drum components and "not a drum". They
were trained only on the built-in kits'
one-shots (labelled by their file names), heavily augmented, and on synthetic non-drum sounds,
by ``python -m experiments.sample_classifier train`` (the comparison with the other methods tried,
leave-one-kit-out, is in the README). Two rules come first: a file longer than
:data:`~drummernet.constants.MAX_ONE_SHOT_SECONDS`, or whose excerpt holds more than one attack,
is ``other`` with a reason, never forced into a drum class.
"""

from __future__ import annotations

import functools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drummernet.constants import (
    COMPONENTS,
    MAX_ONE_SHOT_SECONDS,
    SAMPLE_CLASS_OF,
    SAMPLE_CLASSES,
    SAMPLE_EXCERPT_SECONDS,
    component_class,
)
from drummernet.errors import AudioError, ModelLoadError
from drummernet.samples.features import N_FEATURES, Excerpt, features, read_excerpt

#: The shipped weights (``experiments/sample_classifier.py`` writes them).
WEIGHTS_PATH: Path = Path(__file__).resolve().parent / "classifier.npz"

#: The network's outputs: the 11 components, then "" (not a drum).
OUTPUTS: tuple[str, ...] = (*COMPONENTS, "")

#: Files decoded ahead of the one being classified, per worker thread.
PREFETCH = 8


@dataclass(frozen=True)
class SampleRecord:
    """What one file is.

    Attributes:
        file: the file, as given.
        sample_class: one of :data:`~drummernet.constants.SAMPLE_CLASSES`.
        component: the drum component it sounds like most (``"HH_OHH"``, ``"OT_TMB"``), or
            ``""`` for a sound that is no drum component (or not one hit).
        confidence: the network's probability of ``sample_class`` (1.0 when a rule decided).
        reason: why a file is ``other`` without being judged as a one-shot (several hits, too
            long, silent); ``""`` otherwise.
        scores: ``(12,)`` probabilities of :data:`OUTPUTS` (all zeros when a rule decided).
    """

    file: Path
    sample_class: str
    component: str
    confidence: float
    reason: str
    scores: np.ndarray

    @property
    def one_shot(self) -> bool:
        """Whether the file was judged as one hit (no rule set it aside)."""
        return not self.reason


#: One network: its ``(weights (inputs, outputs), bias (outputs,))`` layers, first to last.
Layers = Sequence[tuple[np.ndarray, np.ndarray]]


class OneShotClassifier:
    """Networks that vote: standardised features -> ReLU layers -> softmax over
    :data:`OUTPUTS`, the members' probabilities averaged."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, networks: Sequence[Layers]):
        if not networks:
            raise ValueError("a classifier needs at least one network")
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        self.networks = [
            [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in layers]
            for layers in networks
        ]

    @classmethod
    def load(cls, path: str | os.PathLike = WEIGHTS_PATH) -> OneShotClassifier:
        """Read weights written by :meth:`save`.

        Raises:
            ModelLoadError: a missing file, or one made for other features or outputs.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"{path}: not a sample-classifier file ({error})") from None
        outputs = tuple(str(x) for x in arrays.get("outputs", ()))
        if outputs != OUTPUTS or arrays["mean"].shape != (N_FEATURES,):
            raise ModelLoadError(f"{path}: made for other features or outputs; retrain it")
        networks: list[list[tuple[np.ndarray, np.ndarray]]] = []
        while any(key.startswith(f"n{len(networks)}_") for key in arrays):
            k = len(networks)
            depth = sum(1 for key in arrays if key.startswith(f"n{k}_w"))
            networks.append([(arrays[f"n{k}_w{i}"], arrays[f"n{k}_b{i}"]) for i in range(depth)])
        if not networks:
            raise ModelLoadError(f"{path}: holds no network; retrain it")
        return cls(arrays["mean"], arrays["scale"], networks)

    def save(self, path: str | os.PathLike) -> None:
        """Write the weights as an ``.npz`` (read without pickle): the layers as float16, which
        halves the file and moves no probability by more than a rounding error."""
        arrays: dict[str, Any] = {"mean": self.mean, "scale": self.scale}
        arrays["outputs"] = np.array(OUTPUTS)
        for k, layers in enumerate(self.networks):
            for i, (w, b) in enumerate(layers):
                arrays[f"n{k}_w{i}"] = w.astype(np.float16)
                arrays[f"n{k}_b{i}"] = b.astype(np.float16)
        np.savez_compressed(path, **arrays)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities of :data:`OUTPUTS`.

        Args:
            x: ``(batch, N_FEATURES)`` from :func:`~drummernet.samples.features.features`.

        Returns:
            ``(batch, len(OUTPUTS))``, rows summing to 1.
        """
        z = (np.asarray(x, np.float32) - self.mean) / self.scale
        total = np.zeros((len(z), len(OUTPUTS)), dtype=np.float32)
        for layers in self.networks:
            h = z
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                if i < len(layers) - 1:
                    h = np.maximum(h, 0.0)
            h = np.exp(h - h.max(axis=1, keepdims=True))
            total += h / h.sum(axis=1, keepdims=True)
        return total / len(self.networks)


@functools.lru_cache(maxsize=1)
def default_classifier() -> OneShotClassifier:
    """The shipped classifier, read on first use."""
    return OneShotClassifier.load(WEIGHTS_PATH)


#: For each output, the index of its sample class in SAMPLE_CLASSES.
_CLASS_INDEX = np.array(
    [SAMPLE_CLASSES.index(SAMPLE_CLASS_OF[component_class(c)]) if c else 5 for c in OUTPUTS]
)


def decide(file: Path, scores: np.ndarray) -> SampleRecord:
    """A record from the network's ``(len(OUTPUTS),)`` probabilities: the most probable class
    (summing its components), and its most probable component."""
    by_class = np.bincount(_CLASS_INDEX, weights=scores, minlength=len(SAMPLE_CLASSES))
    index = int(np.argmax(by_class))
    members = np.flatnonzero(_CLASS_INDEX == index)
    component = OUTPUTS[int(members[np.argmax(scores[members])])]
    return SampleRecord(file, SAMPLE_CLASSES[index], component, float(by_class[index]), "", scores)


def judge(
    file: Path, excerpt: Excerpt, classifier: OneShotClassifier | None = None
) -> SampleRecord:
    """Classify one decoded excerpt: the rules (length, silence, several hits), then the network."""
    empty = np.zeros(len(OUTPUTS), dtype=np.float32)
    if excerpt.duration > MAX_ONE_SHOT_SECONDS:
        reason = f"{excerpt.duration:.0f} s long: not a one-shot"
        return SampleRecord(file, "other", "", 1.0, reason, empty)
    vector, attacks = features(excerpt)
    if attacks == 0:
        return SampleRecord(file, "other", "", 1.0, "silent", empty)
    if attacks > 1:
        return SampleRecord(file, "other", "", 1.0, f"{attacks} hits: not one hit", empty)
    scores = (classifier or default_classifier()).predict(vector[None])[0]
    return decide(file, scores)


def iter_classify(
    paths: Iterable[str | os.PathLike],
    *,
    classifier: OneShotClassifier | None = None,
    excerpt_seconds: float = SAMPLE_EXCERPT_SECONDS,
    workers: int = 2,
    on_error: Callable[[Path, AudioError], None] | None = None,
) -> Iterator[SampleRecord]:
    """Classify files one after another, in order, decoding ahead in ``workers`` threads.

    Only a bounded excerpt of each file is decoded, and only a few files are in flight at once,
    so any number of files of any length streams through in bounded memory.

    Args:
        paths: audio files (wav, flac, ogg, mp3, aiff; any rate and channel count).
        classifier: the network (default: the shipped one).
        excerpt_seconds: seconds decoded from the start of each file.
        workers: decoding threads (1: none).
        on_error: called with a file that cannot be read and its error, which is then skipped;
            without it the error is raised.

    Yields:
        one :class:`SampleRecord` per readable file, in the order given.

    Raises:
        AudioError: an unreadable file, when ``on_error`` is ``None``.
    """
    net = classifier or default_classifier()

    def work(path: Path) -> SampleRecord | AudioError:
        try:
            return judge(path, read_excerpt(path, excerpt_seconds), net)
        except AudioError as error:
            return error

    def handle(path: Path, result: SampleRecord | AudioError) -> Iterator[SampleRecord]:
        if isinstance(result, AudioError):
            if on_error is None:
                raise result
            on_error(path, result)
        else:
            yield result

    from threadpoolctl import threadpool_limits

    files = (Path(p) for p in paths)
    # The matrices are small: BLAS threads would only contend with the file threads (and make
    # each product hundreds of times slower on a busy machine).
    with threadpool_limits(1, user_api="blas"):
        if workers <= 1:
            for path in files:
                yield from handle(path, work(path))
            return
        with ThreadPoolExecutor(workers) as pool:
            pending: deque[tuple[Path, Future]] = deque()
            for path in files:
                pending.append((path, pool.submit(work, path)))
                if len(pending) >= PREFETCH * workers:
                    first, future = pending.popleft()
                    yield from handle(first, future.result())
            for path, future in pending:
                yield from handle(path, future.result())


def classify_samples(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    classifier: OneShotClassifier | None = None,
    excerpt_seconds: float = SAMPLE_EXCERPT_SECONDS,
    workers: int = 2,
) -> list[SampleRecord]:
    """Name every one-shot among files and folders.

    >>> for r in drummernet.classify_samples("samples/"):
    ...     print(r.file, r.sample_class, r.component, f"{r.confidence:.2f}", r.reason)

    Args:
        paths: audio files and folders (searched recursively), or one of them.
        classifier, excerpt_seconds, workers: see :func:`iter_classify`.

    Returns:
        one record per file, in order (folders' files sorted).

    Raises:
        AudioError: a file that cannot be read (the CLI reports it and goes on instead).
    """
    from drummernet.audio import find_audio_files

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = find_audio_files(list(paths))
    return list(
        iter_classify(
            files, classifier=classifier, excerpt_seconds=excerpt_seconds, workers=workers
        )
    )
