"""`a2d-profile`: measure every candidate op of a search space on this device into a table.

Parts measured (batch 1): every distinct (op, c_in, c_out, stride, input h x w) the space can
produce, the stem (uint8 frames in, scaling and the stem conv), the head (pooling, fc, actor and
critic), and the backend's per-inference overhead (a trivial graph). Each op is timed as its
own graph, so each measurement includes one call's overhead: it is subtracted from the op
entries, and counted once in `fixed.overhead`. `validate` then times whole random
architectures, fits `measured ~ scale * plain_sum + offset` on half of them and reports the
error of both predictions on the other half.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from a2d_edge.envs.atari import OBS_SHAPE
from a2d_edge.errors import A2DError
from a2d_edge.hw.backends import Backend
from a2d_edge.hw.lut import SCHEMA, LatencyTable, OpKey
from a2d_edge.hw.table import Table
from a2d_edge.hw.tablebase import (
    MODES,
    Correction,
    Timing,
    error_stats,
)
from a2d_edge.hw.timing import Runner, control_loop_work, parse_samples, time_interleaved
from a2d_edge.hw.widthtable import WidthTable
from a2d_edge.nets import build_agent, searched_arch
from a2d_edge.nets.ops import OPS, ConvBNReLU
from a2d_edge.nets.space import SearchSpace, head_features, random_archs, varied_archs
from a2d_edge.nets.spaces import Space
from a2d_edge.nets.widths import WidthSpace
from a2d_edge.runtime.pacing import Pacing
from a2d_edge.utils.device import describe_host


class Scale(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() * (1.0 / 255.0)


class Head(nn.Module):
    def __init__(self, space: SearchSpace, input_hw: tuple[int, int], n_actions: int) -> None:
        super().__init__()
        self.fc = nn.Linear(space.fc_in(input_hw), space.feature_dim)
        self.flatten = space.head == "flatten"
        self.actor = nn.Linear(space.feature_dim, n_actions)
        self.critic = nn.Linear(space.feature_dim, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = head_features(x, self.fc, self.flatten)
        return self.actor(h), self.critic(h)


@dataclass(frozen=True)
class Part:
    """A module to time and the example input it takes."""

    module: nn.Module
    example: torch.Tensor


def op_parts(space: SearchSpace, input_hw: tuple[int, int]) -> dict[OpKey, Part]:
    """Every distinct op at every block shape of the space."""
    parts: dict[OpKey, Part] = {}
    for block in space.blocks(input_hw):
        for op in space.ops:
            key = OpKey.of(op, block)
            if key not in parts:
                module = OPS[op].build(block.c_in, block.c_out, block.stride)
                parts[key] = Part(module, torch.rand(1, block.c_in, block.h, block.w))
    return parts


def fixed_parts(space: SearchSpace, input_hw: tuple[int, int], n_actions: int) -> dict[str, Part]:
    frames = torch.randint(0, 256, (1, space.in_channels, *input_hw), dtype=torch.uint8)
    stem = nn.Sequential(
        Scale(),
        ConvBNReLU(space.in_channels, space.stem_channels, space.stem_kernel, space.stem_stride),
    )
    return {
        "stem": Part(stem, frames),
        "head": Part(Head(space, input_hw, n_actions), torch.rand(1, *space.head_shape(input_hw))),
        "overhead": Part(Scale(), frames),
    }


def describe_device(threads: int) -> dict[str, Any]:
    """This machine's fingerprint (utils.fingerprint: CPU, ISA, caches, GPU) and the threads."""
    return {
        **describe_host(),
        "threads": threads,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


GPU_BACKENDS = ("tensorrt",)


def device_slug(device: dict[str, Any], backend: str = "onnxruntime") -> str:
    """The name part of a table: the CPU's fingerprint slug (`amd-epyc-2c-avx2`), or the GPU's
    (`nvidia-h200-sm90`) for a GPU backend; older records: CPU name and cores."""
    if backend in GPU_BACKENDS and device.get("gpu_slug"):
        return str(device["gpu_slug"])
    if device.get("slug"):
        return str(device["slug"])
    name = device.get("cuda") or device.get("cpu") or "device"
    slug = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")
    return f"{slug}-{device.get('cores')}c"


def default_recipe(backend: str) -> str:
    """The INT8 recipe the export uses for this host (tables time what ships)."""
    from a2d_edge.compile.quantize import recipe_for

    return "tensorrt" if backend == "tensorrt" else recipe_for("host").name


WARM_BURST = 4  # warm mode's calls per turn: 4 times a small net as back-to-back calls do (1.00x)


@dataclass
class ProfileSettings:
    backend: Backend
    precision: str
    threads: int = 1
    mode: str = "warm"
    repeats: int = 200
    warmup: int = 20
    n_actions: int = 6  # the head's actions (Pong's 6; a2d-profile --actions)
    input_hw: tuple[int, int] = (OBS_SHAPE[1], OBS_SHAPE[2])  # the env's frames
    int8_recipe: str = ""  # "": the export's recipe for this host (int8 only)
    pacing: Pacing = field(default_factory=Pacing)  # controller mode: a2d run's rate and wait
    burst: int = 0  # calls per turn, the last timed (time_interleaved); 0: 4 warm, else 1

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise A2DError(f"timing mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if (self.mode == "controller") != (self.pacing.hz > 0):
            raise A2DError("--mode controller needs --hz F > 0 (and --hz is for that mode only)")
        self.pacing.check()
        if self.burst < 0:
            raise A2DError("--burst must be >= 0 (0: 4 calls per turn warm, 1 otherwise)")
        if self.burst == 0:
            self.burst = WARM_BURST if self.mode == "warm" else 1
        if self.burst > 1 and self.mode != "warm":
            raise A2DError(f"--burst is for warm timing: {self.mode} mode times each call as "
                           "the control loop makes it, after other work")  # fmt: skip
        if self.precision == "int8" and not self.int8_recipe:
            self.int8_recipe = default_recipe(self.backend.name)


def _between(settings: ProfileSettings) -> Runner | None:
    return control_loop_work() if settings.mode in ("in-loop", "controller") else None


def measure(parts: dict[Any, Part], s: ProfileSettings) -> dict[Any, Timing]:
    runners = {
        k: s.backend.load(p.module, p.example, s.precision, s.threads, s.int8_recipe)
        for k, p in parts.items()
    }
    pacing = s.pacing if s.mode == "controller" else None
    samples = time_interleaved(runners, s.repeats, s.warmup, _between(s), pacing, s.burst)
    return {k: parse_samples(v) for k, v in samples.items()}


def profile_space(
    space: SearchSpace,
    s: ProfileSettings,
    partial: dict[OpKey, Timing] | None = None,
    on_chunk: Callable[[dict[OpKey, Timing], dict[str, Timing]], None] | None = None,
    progress: bool = True,
) -> LatencyTable:
    """Measure the whole space; `partial` entries (from an interrupted run) are kept."""
    fixed = measure(fixed_parts(space, s.input_hw, s.n_actions), s)
    overhead = fixed["overhead"].p50_us
    ops = op_parts(space, s.input_hw)
    done: dict[OpKey, Timing] = dict(partial or {})
    shapes = sorted({(k.c_in, k.c_out, k.stride, k.h, k.w) for k in ops})
    chunks = [[k for k in ops if (k.c_in, k.c_out, k.stride, k.h, k.w) == sh] for sh in shapes]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(ops), initial=sum(k in done for k in ops), desc="profile", unit="op")
    for chunk in chunks:
        todo = [k for k in chunk if k not in done]
        if not todo:
            continue
        measured = measure({k: ops[k] for k in todo}, s)
        for k, t in measured.items():  # one call's overhead is counted once, in `fixed`
            done[k] = Timing(max(t.p50_us - overhead, 0.0), max(t.p90_us - overhead, 0.0), t.n)
        if on_chunk is not None:
            on_chunk(done, fixed)
        if bar is not None:
            bar.update(len(todo))
    if bar is not None:
        bar.close()
    return LatencyTable(
        space=space,
        entries=done,
        fixed=fixed,
        meta=table_meta(s),
        input_hw=s.input_hw,
    )


def table_meta(s: ProfileSettings) -> dict[str, Any]:
    return {
        "device": describe_device(s.threads),
        "backend": s.backend.name,
        "backend_version": s.backend.versions(),
        "precision": s.precision,
        "threads": s.threads,
        "batch": 1,
        "mode": s.mode,
        "n_actions": s.n_actions,
        "int8_recipe": s.int8_recipe or None,
        "controller": s.pacing.describe() if s.mode == "controller" else None,
        "timing": {
            "repeats": s.repeats,
            "warmup": s.warmup,
            "interleaved": True,
            "burst": s.burst,
            "statistic": "p50 of per-call wall time (perf_counter_ns)",
            "entries": "op alone minus one call's overhead (fixed.overhead)",
            "in_loop_work": "one ALE Pong step + observation copy before each call"
            if s.mode in ("in-loop", "controller")
            else None,
            "pacing": "each call on a tick of the controller's rate, waited for as `a2d run` "
            "waits (sleep, spin, prewarm)"
            if s.mode == "controller"
            else None,
        },
    }


TARGETS = {"kendall_tau": 0.9, "within_10pct": 0.95, "mape_over_floor": 1.5}


def judge(prediction: dict[str, float], floor: dict[str, float], tau: float) -> dict[str, Any]:
    """A table's prediction against the targets (TARGETS), its MAPE against the machine's own
    repeatability (`floor`: the same archs re-measured, scored as a prediction) (pure)."""
    ratio = prediction["mape_pct"] / floor["mape_pct"] if floor["mape_pct"] > 0 else float("inf")
    checks = {
        "kendall_tau": tau >= TARGETS["kendall_tau"],
        "within_10pct": prediction["within_10pct"] >= TARGETS["within_10pct"],
        "mape_over_floor": ratio <= TARGETS["mape_over_floor"],
    }
    return {"tau": tau, "mape_over_floor": ratio, "checks": checks, "meets": all(checks.values())}


def fit_correction(
    plain: np.ndarray, measured: np.ndarray, n_ops: np.ndarray | None = None
) -> Correction:
    """Least squares measured ~ scale * plain + per_op * n_ops + offset (pure); without
    `n_ops`, or when n_ops does not vary, the two-term fit."""
    if n_ops is None or np.ptp(n_ops) == 0:
        a = np.stack([plain, np.ones_like(plain)], axis=1)
        (scale, offset), *_ = np.linalg.lstsq(a, measured, rcond=None)
        return Correction(float(scale), float(offset))
    a = np.stack([plain, n_ops, np.ones_like(plain)], axis=1)
    (scale, per_op, offset), *_ = np.linalg.lstsq(a, measured, rcond=None)
    return Correction(float(scale), float(offset), float(per_op))


def measure_archs(space: Space, archs: list[dict[str, Any]], s: ProfileSettings) -> np.ndarray:
    """Whole-network p50 latency (us) of each arch, interleaved."""
    timings = measure(arch_parts(space.in_channels, dict(enumerate(archs)), s), s)
    return np.array([timings[i].p50_us for i in range(len(archs))])


def arch_parts(
    in_channels: int, archs: dict[Any, dict[str, Any]], s: ProfileSettings
) -> dict[Any, Part]:
    """Each arch as a whole agent (the settings' action count) on one uint8 frame stack."""
    example = torch.randint(0, 256, (1, in_channels, *s.input_hw), dtype=torch.uint8)
    return {
        k: Part(build_agent(a, s.n_actions, in_channels).eval(), example) for k, a in archs.items()
    }


def validate(table: LatencyTable, n: int, s: ProfileSettings, seed: int = 0) -> None:
    """Time n archs spread over the space's cost range (`varied_archs`); fit the correction on
    the first half and judge it on the other (`fit_samples`)."""
    archs = varied_archs(table.space, n, seed)
    measured = measure_archs(table.space, archs, s)
    samples = [{"ops": a["ops"], "p50_us": round(float(m), 3)}
               for a, m in zip(archs, measured, strict=True)]  # fmt: skip
    table.validation = {
        "sample": "varied_archs: op drawn ~ exp(beta * cost rank), beta in [-8, 8]",
        "archs": n,
        "seed": seed,
    }
    fit_samples(table, samples, n // 2)


def op_type_sums(table: LatencyTable, archs: list[dict[str, Any]]) -> np.ndarray:
    """Per arch, the table's time of its blocks summed by candidate op [n_archs, n_ops] (us)."""
    index = {op: i for i, op in enumerate(table.space.ops)}
    blocks = table.space.blocks(table.input_hw)
    out = np.zeros((len(archs), len(index)))
    for i, a in enumerate(archs):
        for op, b in zip(a["ops"], blocks, strict=True):
            out[i, index[op]] += table.entries[OpKey.of(op, b)].p50_us
    return out


def fit_correction_by_op(
    type_sums: np.ndarray,
    n_ops: np.ndarray,
    measured_minus_fixed: np.ndarray,
    ops: tuple[str, ...],
    ridge: float = 1e-3,
) -> Correction:
    """Least squares measured - fixed ~ sum_t s_t * T_t + per_op * n_ops + offset, one factor
    s_t per candidate op, pulled toward 1 by a ridge of `ridge` x the mean T_t^2 (so an op that
    few fitted archs use keeps its own timing) (pure)."""
    a = np.column_stack([type_sums, n_ops, np.ones(len(n_ops))])
    k = type_sums.shape[1]
    reg = np.zeros(k + 2)
    reg[:k] = ridge * float(np.mean(type_sums**2)) * len(n_ops)
    prior = np.r_[np.ones(k), 0.0, 0.0]
    # lstsq, not solve: with few fitted archs (a2d-profile --validate 2) n_ops and the offset
    # can be collinear; the minimum-norm solution is a fit where solve has none
    lhs, rhs = a.T @ a + np.diag(reg), a.T @ measured_minus_fixed + reg * prior
    w = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    scales = {op: float(v) for op, v in zip(ops, w[:k], strict=True)}
    return Correction(1.0, float(w[k + 1]), float(w[k]), scales)


def fit_samples(table: LatencyTable, samples: list[dict[str, Any]], fit_on: int) -> None:
    """Fit both corrections (global scale, and one factor per op type) on the first `fit_on`
    timed archs, keep the one with the lower MAPE on the rest, record both (in place)."""
    archs = [searched_arch(table.space, list(x["ops"])) for x in samples]
    measured = np.array([float(x["p50_us"]) for x in samples])
    plain = np.array([table.predict_plain(a) * 1000 for a in archs])
    n_ops = np.array([table.n_ops(a) for a in archs])
    types = op_type_sums(table, archs)
    fit, held = slice(0, fit_on), slice(fit_on, None)
    fixed = table.fixed_us()
    candidates = {
        "scale": fit_correction(plain[fit], measured[fit], n_ops[fit]),
        "per-op-type": fit_correction_by_op(
            types[fit], n_ops[fit], measured[fit] - fixed, table.space.ops
        ),
    }
    judged = {}
    for name, c in candidates.items():
        table.correction = c
        judged[name] = error_stats(measured[held], np.array([table.predict(a) * 1000
                                                             for a in archs[held]]))  # fmt: skip
    best = min(judged, key=lambda k: judged[k]["mape_pct"])
    table.correction = candidates[best]
    table.validation.update({
        "fit_on": fit_on,
        "plain_sum": error_stats(measured[held], plain[held]),
        "corrected": judged[best],
        "correction_model": best,
        "candidates": judged,
        "measured_p50_us": {"min": float(measured.min()), "max": float(measured.max())},
        "samples": samples,  # every timed arch (the first `fit_on` fitted)
    })  # fmt: skip


def settings_for(table: Table, repeats: int = 200, warmup: int = 20) -> ProfileSettings:
    """The settings a table was measured with (backend, precision, threads, mode, input)."""
    from a2d_edge.hw.backends import get_backend

    m = table.meta
    recipe = m.get("int8_recipe") or ("u8s8" if m["precision"] == "int8" else "")  # older tables
    return ProfileSettings(
        get_backend(str(m["backend"]), str(m["precision"])), str(m["precision"]),
        int(m.get("threads", 1)), table.mode, repeats, warmup, int(m.get("n_actions", 6)),
        table.input_hw, str(recipe), table.pacing,
        int((m.get("timing") or {}).get("burst", 1)),  # tables before bursts: one call per turn
    )  # fmt: skip


def recalibrate(table: Table, n: int, s: ProfileSettings, seed: int = 1) -> dict[str, Any]:
    """`table.recalibrate` with n archs timed whole here with settings `s` (`measure_archs`):
    the table's prediction mapped onto today's device by the drift (`drift_fit`)."""
    return table.recalibrate(
        lambda archs: measure_archs(table.space, archs, s), n, seed, describe_device(s.threads)
    )


__all__ = [
    "SCHEMA",
    "ProfileSettings",
    "profile_space",
    "random_archs",
    "recalibrate",
    "settings_for",
    "validate",
]


def profile_widths(space: WidthSpace, s: Any, progress: bool = True) -> WidthTable:
    """Every arch of `space` timed whole with settings `s` (`ProfileSettings`), interleaved."""
    widths = [space.widths(p) for p in space.paths()]
    if progress:
        print(f"profile: {len(widths)} archs of {space.name}, timed whole and interleaved")
    timings = measure(arch_parts(space.in_channels, {w: space.arch(w) for w in widths}, s), s)
    meta = table_meta(s)
    meta["timing"]["entries"] = "each arch whole, one call (its overhead included)"
    return WidthTable(space, dict(timings), meta, input_hw=s.input_hw)


def validate_widths(table: WidthTable, n: int, s: Any, seed: int = 0) -> dict[str, Any]:
    """Re-time n archs drawn from the table in a second sitting: the error of its prediction
    (the first sitting's measurement) against the second (the device's repeatability)."""
    rng = np.random.default_rng(seed)
    keys = sorted(table.entries)
    drawn = [keys[int(i)] for i in rng.choice(len(keys), min(n, len(keys)), replace=False)]
    measured = measure_archs(table.space, [table.space.arch(w) for w in drawn], s)
    predicted = np.array([table.entries[w].p50_us for w in drawn])
    table.validation = {
        "sample": "archs drawn uniformly from the table, re-timed after the profile",
        "archs": len(drawn),
        "seed": seed,
        "retimed": error_stats(measured, predicted),
        "samples": [
            {"widths": list(w), "p50_us": round(float(m), 3)}
            for w, m in zip(drawn, measured, strict=True)
        ],
    }
    return table.validation
