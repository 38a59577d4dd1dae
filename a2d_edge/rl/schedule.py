"""Learning-rate schedules: the paper's (constant, then linear decay to the final value) and the
distillation finish's (constant, or annealed to 0 over the phase)."""

import math

SHAPES = ("constant", "linear", "cosine")
"""The finish's schedules (`--finish-lr-schedule`)."""


def lr_at(step: int, total_steps: int, lr: float, lr_final: float, constant_steps: int) -> float:
    """`lr` until `constant_steps`, then linear to `lr_final` at `total_steps`."""
    if step <= constant_steps or total_steps <= constant_steps:
        return lr
    frac = min(1.0, (step - constant_steps) / (total_steps - constant_steps))
    return lr + (lr_final - lr) * frac


def annealed_lr(step: int, total_steps: int, lr: float, shape: str) -> float:
    """`lr` throughout (constant), or from `lr` at step 0 down to 0 at `total_steps`: linearly
    (the paper's schedule with no constant part and a final lr of 0) or along a half cosine."""
    if shape == "constant" or total_steps <= 0:
        return lr
    if shape == "linear":
        return lr_at(step, total_steps, lr, 0.0, 0)
    if shape == "cosine":
        done = min(max(step / total_steps, 0.0), 1.0)
        return lr * 0.5 * (1.0 + math.cos(math.pi * done))
    raise ValueError(f"unknown lr schedule {shape!r} (one of {', '.join(SHAPES)})")
