"""a2d-edge: small, fast deep-RL agents for edge devices (A2D: actor-critic distillation + DNAS)."""

__version__ = "0.1.0"
