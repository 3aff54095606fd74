"""What changes with the training step: the learning rate, the entmax alpha and the one-shot
length of the synthesizer's warm-up."""

from __future__ import annotations

import math
from collections.abc import Callable

from drummernet.training.config import TrainConfig

#: Share of the peak learning rate that the cosine decay ends at.
FINAL_LR_FRACTION = 0.05


def lr_lambda(config: TrainConfig) -> Callable[[int], float]:
    """The learning-rate factor of each step, for ``torch.optim.lr_scheduler.LambdaLR``: a linear
    warm-up over ``warmup_steps``, then a cosine decay to :data:`FINAL_LR_FRACTION` at
    ``steps``."""

    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (
            1 + math.cos(math.pi * min(1.0, progress))
        )

    return factor


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
