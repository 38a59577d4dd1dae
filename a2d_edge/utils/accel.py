"""Where the network runs: device choice, host-to-device frames, autocast, RNG state.

The envs always step on the CPU; on a GPU the frames go through pinned memory with
non-blocking copies, and only the sampled actions come back.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch

from a2d_edge.errors import A2DError


def resolve_device(spec: str = "auto", local_rank: int | None = None) -> torch.device:
    """`auto`: CUDA when torch sees a GPU, else CPU; `cuda` picks the rank's own GPU."""
    spec = spec.strip().lower()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if not spec.startswith("cuda"):
        raise A2DError(f"unknown device {spec!r} (choose auto, cpu, cuda or cuda:N)")
    if not torch.cuda.is_available():
        raise A2DError(f"device {spec} asked for, but torch sees no CUDA GPU here (use cpu)")
    if spec == "cuda":
        rank = int(os.environ.get("LOCAL_RANK", "0")) if local_rank is None else local_rank
        index = rank % torch.cuda.device_count()
    else:
        try:
            index = int(spec.split(":", 1)[1])
        except ValueError:
            raise A2DError(f"bad device {spec!r} (cuda:N with N an integer)") from None
        if not 0 <= index < torch.cuda.device_count():
            raise A2DError(f"{spec}: only {torch.cuda.device_count()} CUDA device(s) here")
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on `device`: pinned, non-blocking copy to a GPU; unchanged on the CPU."""
    if device.type == "cpu":
        return x
    return x.pin_memory().to(device, non_blocking=True)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on the device's own backend (a no-op context when disabled)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def module_device(module: torch.nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
