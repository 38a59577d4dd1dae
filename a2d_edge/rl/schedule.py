"""The paper's learning-rate schedule: constant, then linear decay to the final value."""


def lr_at(step: int, total_steps: int, lr: float, lr_final: float, constant_steps: int) -> float:
    """`lr` until `constant_steps`, then linear to `lr_final` at `total_steps`."""
    if step <= constant_steps or total_steps <= constant_steps:
        return lr
    frac = min(1.0, (step - constant_steps) / (total_steps - constant_steps))
    return lr + (lr_final - lr) * frac
