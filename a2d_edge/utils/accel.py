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


PRECISIONS = ("auto", "fp32", "bf16")


def choose_precision(
    requested: str, device_type: str, isa: tuple[str, ...] | list[str], cuda_bf16: bool = False
) -> tuple[str, bool]:
    """(precision, emulated) for `requested` (pure): `auto` is bf16 only where bf16 math is
    native (a CUDA GPU that has it; a CPU with AVX512_BF16 / AMX-BF16 / ARM BF16), fp32
    elsewhere; `emulated` says an explicit bf16 will run emulated (slower than fp32)."""
    from a2d_edge.utils.fingerprint import native_bf16

    if requested not in PRECISIONS:
        raise A2DError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    native = cuda_bf16 if device_type == "cuda" else native_bf16(isa)
    if requested == "auto":
        return ("bf16" if native else "fp32"), False
    return requested, requested == "bf16" and not native


def bf16_slowdown(model: torch.nn.Module, obs_shape: tuple[int, ...], batch: int = 16) -> float:
    """How many times longer one forward + backward of `model` takes under bf16 autocast than
    in fp32 on the CPU (median of 3 after a warm-up): the measured cost of emulated bf16."""
    import copy
    import time

    probe = copy.deepcopy(model).cpu().train()
    gen = torch.Generator().manual_seed(0)  # the run's own random stream stays untouched
    x = torch.randint(0, 256, (batch, *obs_shape), dtype=torch.uint8, generator=gen)

    def step(bf16: bool) -> float:
        t0 = time.perf_counter()
        with autocast(torch.device("cpu"), bf16):
            out = probe(x)
        loss = sum(o.float().sum() for o in (out if isinstance(out, tuple) else (out,)))
        loss.backward()  # type: ignore[union-attr]
        return time.perf_counter() - t0

    times = {}
    for bf16 in (False, True):
        step(bf16)
        times[bf16] = sorted(step(bf16) for _ in range(3))[1]
    return times[True] / times[False]


def resolve_precision(requested: str, device: torch.device, model: torch.nn.Module,
                      obs_shape: tuple[int, ...], say: bool = True) -> str:  # fmt: skip
    """The precision to train in, said in one line: what `auto` chose and why, or a warning
    with the measured slowdown when an explicit bf16 is emulated on this CPU."""
    import sys

    from a2d_edge.utils.fingerprint import this_host

    here = this_host()
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    precision, emulated = choose_precision(requested, device.type, here.isa, cuda_bf16)
    where = "this GPU" if device.type == "cuda" else f"this CPU ({here.slug})"
    if not say:
        return precision
    if requested == "auto":
        why = "native bf16" if precision == "bf16" else "no native bf16 (AVX512_BF16 / AMX)"
        print(f"precision: auto -> {precision} ({where}: {why})")
    elif emulated:
        slow = bf16_slowdown(model, obs_shape)
        print(
            f"warning: --precision bf16 runs emulated on {where}, which has no AVX512_BF16 / "
            f"AMX-BF16: a forward + backward of this net took {slow:.1f}x as long as in fp32 "
            "here (--precision auto picks fp32 on this host)",
            file=sys.stderr,
        )
    return precision


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
