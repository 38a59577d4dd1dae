"""Where the network runs: device choice, host-to-device frames, autocast, RNG state.

The envs always step on the CPU; on a GPU the frames go through pinned memory with
non-blocking copies, and only the sampled actions come back.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
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
AUTO_BF16_MAX = 0.9  # `auto` trains in native bf16 only where it measured <= this x fp32's time
PRECISION_FILE = "precision.json"  # a run's resolved precision: a resume keeps it


def choose_precision(
    requested: str,
    device_type: str,
    isa: tuple[str, ...] | list[str],
    cuda_bf16: bool = False,
    bf16_ratio: float | None = None,
) -> tuple[str, bool]:
    """(precision, emulated) for `requested` (pure). `auto` is fp32 where bf16 math is not
    native (a CPU without AVX512_BF16 / AMX-BF16 / ARM BF16, a GPU without bf16); where it is
    native, bf16, except on a CPU whose measured `bf16_ratio` (bf16 time / fp32 time of the
    net's forward + backward) is above AUTO_BF16_MAX: native bf16 is not faster on every such
    CPU (an Intel Xeon with AVX512_BF16 measured 1.32x). `emulated` says an explicit bf16 will
    run emulated (slower than fp32)."""
    from a2d_edge.utils.fingerprint import native_bf16

    if requested not in PRECISIONS:
        raise A2DError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    native = cuda_bf16 if device_type == "cuda" else native_bf16(isa)
    if requested == "auto":
        slow = device_type == "cpu" and bf16_ratio is not None and bf16_ratio > AUTO_BF16_MAX
        return ("bf16" if native and not slow else "fp32"), False
    return requested, requested == "bf16" and not native


def median_ratio(pairs: list[tuple[float, float]]) -> float:
    """The median of b / a over (a, b) pairs timed side by side (pure)."""
    import statistics

    return float(statistics.median(b / a for a, b in pairs))


def bf16_time_ratio(
    model: torch.nn.Module,
    obs_shape: tuple[int, ...],
    batch: int = 16,
    rounds: int = 3,
    warmup: int = 1,
) -> float:
    """How many times as long one forward + backward of `model` takes under bf16 autocast as
    in fp32 on the CPU: `warmup` steps of each (oneDNN builds its bf16 kernels on the first
    calls), then `rounds` of one step each, side by side in alternating order so a drift of
    the machine falls on both; the median of the rounds' ratios. The run's own RNG stream
    and weights stay untouched (a copy of the model on its own generator). A model with a
    `timing_forward(obs)` (a supernet, which needs its path weights) is timed through it."""
    import copy
    import time

    probe = copy.deepcopy(model).cpu().train()
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (batch, *obs_shape), dtype=torch.uint8, generator=gen)
    forward = getattr(probe, "timing_forward", probe)  # a supernet: one path

    def step(bf16: bool) -> float:
        t0 = time.perf_counter()
        with autocast(torch.device("cpu"), bf16):
            out = forward(x)
        loss = sum(o.float().sum() for o in (out if isinstance(out, tuple) else (out,)))
        loss.backward()  # type: ignore[union-attr]
        probe.zero_grad(set_to_none=True)
        return time.perf_counter() - t0

    for _ in range(warmup):
        step(False)
        step(True)
    pairs = []
    for r in range(rounds):
        if r % 2:
            b = step(True)
            a = step(False)
        else:
            a = step(False)
            b = step(True)
        pairs.append((a, b))
    return median_ratio(pairs)


def read_precision(run_dir: Path | None, slug: str) -> dict[str, Any] | None:
    """The precision a run resolved at its start on this host (None: none recorded, or
    recorded on another host, where it is decided again)."""
    import json

    path = run_dir / PRECISION_FILE if run_dir is not None else None
    if path is None or not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("precision") not in ("fp32", "bf16"):
        return None
    return rec if rec.get("host") == slug else None


def resolve_precision(
    requested: str,
    device: torch.device,
    model: torch.nn.Module,
    obs_shape: tuple[int, ...],
    say: bool = True,
    *,
    batch: int = 80,
    run_dir: Path | None = None,
) -> str:
    """The precision to train in, said in one line: what `auto` chose and why, or a warning
    with the measured slowdown when an explicit bf16 is emulated on this CPU. On a CPU with
    native bf16, `auto` times the net both ways (a few seconds, at the update's `batch`) and
    records its choice in `run_dir`, so a resumed run on this host keeps it; the other ranks
    of a torchrun (`say` False) do not measure: they take rank 0's choice (`broadcast_choice`)."""
    import sys

    from a2d_edge.utils.fingerprint import native_bf16, this_host

    here = this_host()
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    where = "this GPU" if device.type == "cuda" else f"this CPU ({here.slug})"
    if requested == "auto" and device.type == "cpu" and native_bf16(here.isa) and say:
        kept = read_precision(run_dir, here.slug)
        if kept is not None:
            if say:
                print(f"precision: auto -> {kept['precision']} (kept from this run's start)")
            return str(kept["precision"])
        ratio = bf16_time_ratio(model, obs_shape, batch=batch, rounds=7, warmup=2)
        precision, _ = choose_precision(requested, "cpu", here.isa, bf16_ratio=ratio)
        if run_dir is not None:
            record_precision(run_dir, precision, ratio, here.slug)
        print(
            f"precision: auto -> {precision} ({where}: native bf16, measured at "
            f"{ratio:.2f}x fp32's time for this net; bf16 where <= {AUTO_BF16_MAX:g}x)"
        )
        return precision
    precision, emulated = choose_precision(requested, device.type, here.isa, cuda_bf16)
    if not say:
        return precision
    if requested == "auto":
        why = "native bf16" if precision == "bf16" else "no native bf16 (AVX512_BF16 / AMX)"
        print(f"precision: auto -> {precision} ({where}: {why})")
    elif emulated:
        slow = bf16_time_ratio(model, obs_shape)
        print(
            f"warning: --precision bf16 runs emulated on {where}, which has no AVX512_BF16 / "
            f"AMX-BF16: a forward + backward of this net took {slow:.1f}x as long as in fp32 "
            "here (--precision auto picks fp32 on this host)",
            file=sys.stderr,
        )
    return precision


def record_precision(run_dir: Path, precision: str, ratio: float, slug: str) -> None:
    from a2d_edge.utils.io import write_json

    rec = {"requested": "auto", "precision": precision, "bf16_ratio": round(ratio, 4)}
    write_json(run_dir / PRECISION_FILE, {**rec, "host": slug})


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
