"""What every table of timings shares (`a2d.lut/1` op tables, `a2d.widthlut/1` width tables):
its timings and correction, the settings it was timed with, where it was timed, and the one
drift recalibration, whose measurement is injected (a table never imports the profiler)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from a2d_edge.errors import A2DError
from a2d_edge.nets.arch import Arch
from a2d_edge.runtime.pacing import Pacing
from a2d_edge.utils.fingerprint import Fingerprint, differences, same_kind, this_host
from a2d_edge.utils.io import read_json

# warm: calls back to back; in-loop: an env step before each call; controller: an env step and
# the wait of `a2d run` at a control rate before each call (the table's "controller" record).
MODES = ("warm", "in-loop", "controller")


@dataclass(frozen=True)
class Timing:
    """Median and 90th percentile (microseconds) of n timed runs."""

    p50_us: float
    p90_us: float
    n: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Timing:
        return cls(float(d["p50_us"]), float(d["p90_us"]), int(d["n"]))


@dataclass
class Correction:
    """predicted = scale * (fixed + sum_b op_scale[op_b] * t_b) + per_op_us * n_ops + offset_us,
    fitted on measured whole architectures; n_ops counts the blocks that run an op (all but
    identity skips). The per-op term absorbs what each separately timed op pays at its
    boundaries (layout reorders, Q/DQ pairs, a core's wake-up) and a fused graph does not;
    `op_scale` (empty: 1 for every op) what one kind of op costs inside a graph against alone
    (a depthwise conv fused with its neighbours, a dense conv that is not)."""

    scale: float = 1.0
    offset_us: float = 0.0
    per_op_us: float = 0.0
    op_scale: dict[str, float] = field(default_factory=dict)

    def apply(self, weighted_us: float, n_ops: float = 0.0) -> float:
        """From the op-scaled sum of the parts (the plain sum when `op_scale` is empty)."""
        return self.scale * weighted_us + self.per_op_us * n_ops + self.offset_us

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Correction:
        scales = d.get("op_scale") or {}
        if not isinstance(scales, dict):
            raise A2DError("correction.op_scale must be an object")
        return cls(float(d["scale"]), float(d["offset_us"]), float(d.get("per_op_us", 0.0)),
                   {str(k): float(v) for k, v in scales.items()})  # fmt: skip

    def scaled(self, k: float, shift_us: float = 0.0) -> Correction:
        """The same correction with its prediction mapped to k * prediction + shift_us (a drift
        recalibration)."""
        return Correction(self.scale * k, self.offset_us * k + shift_us, self.per_op_us * k,
                          dict(self.op_scale))  # fmt: skip


def check_settings(data: dict[str, Any], fields: tuple[str, ...]) -> None:
    """The fields every table of timings carries (`fields` beside them), its timing mode and
    controller record and its device: a one-line error for what is missing or malformed."""
    missing = [k for k in (*fields, "mode", "threads", "backend", "precision", "device")
               if k not in data]  # fmt: skip
    if missing:
        raise A2DError(f"missing field(s): {', '.join(missing)}")
    if data["mode"] not in MODES:
        raise A2DError(f"mode must be one of {MODES}, got {data['mode']!r}")
    ctl = data.get("controller")
    if data["mode"] == "controller" and not (
        isinstance(ctl, dict) and isinstance(ctl.get("hz"), int | float) and ctl["hz"] > 0
    ):
        raise A2DError("a controller-mode table needs a 'controller' record with hz > 0")
    if not isinstance(data["device"], dict):
        raise A2DError("'device' must be an object")


_T = TypeVar("_T", bound="TableBase")


class TableBase:
    """What a table says of how and where it was timed, read from its `meta` (a latency table
    of ops, or a width table of whole archs)."""

    meta: dict[str, Any]
    path: str
    KIND: ClassVar[str] = "latency table"

    @classmethod
    def from_dict(cls: type[_T], data: Any) -> _T:
        raise NotImplementedError

    @classmethod
    def load(cls: type[_T], path: str | Path) -> _T:
        """The table at `path`, or a one-line error that names it."""
        data = read_json(path, cls.KIND)
        try:
            table = cls.from_dict(data)
        except A2DError as e:
            raise A2DError(f"{cls.KIND} {path}: {e}") from None
        table.path = str(path)
        return table

    @property
    def mode(self) -> str:
        return str(self.meta.get("mode", "warm"))

    @property
    def pacing(self) -> Pacing:
        """The controller's rate and wait policy (controller mode), else free-running."""
        return Pacing.from_dict(self.meta.get("controller") or {})

    def describe_mode(self) -> str:
        if self.mode != "controller":
            return self.mode
        p = self.pacing
        extra = f", spin {p.spin_ms:g} ms" if p.spin_ms else ""
        return f"controller at {p.hz:g} Hz{extra}{', prewarm' if p.prewarm else ''}"

    @property
    def device(self) -> dict[str, Any]:
        return dict(self.meta.get("device") or {})

    def host_match(self, here: Fingerprint | None = None) -> str:
        """`same`: profiled on this machine (by the fingerprint); `lookalike`: on a machine of
        the same CPU name and cores whose ISA, caches or model differ (or an old table with no
        ISA): its numbers are not this host's; `other`: another device (a search *for* it)."""
        here = here or this_host()
        if not differences(self.device, here):
            return "same"
        return "lookalike" if same_kind(self.device, here) else "other"

    # ----- what each kind of table implements -----
    def predict(self, arch: Arch) -> float:
        raise NotImplementedError

    def drift_archs(self, n: int, seed: int) -> list[Arch]:
        raise NotImplementedError

    def rescale(self, k: float, shift_us: float = 0.0) -> None:
        raise NotImplementedError

    def recalibrate(
        self,
        measure: Callable[[list[Arch]], np.ndarray],
        n: int = 12,
        seed: int = 1,
        device: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Time n `drift_archs` with `measure` (whole nets, us) and map the table's prediction
        onto today's device by the drift (`drift_fit`: measured ~ a * predicted + b), in
        place; the record is returned and kept in `meta["recalibration"]`.

        A table's op timings hold their ratios from one sitting to the next, but the whole
        device drifts (clock, thermal state, neighbours on a shared host): measured here, the
        same table was 3-13% off on fresh archs in a later sitting while 1.2% off in its own,
        and a controller-mode table 25% off after an hour. The drift needs ~12 whole-network
        timings (seconds), not a re-profile. `device`: where it was timed (the record's).
        """
        if n < 3:
            raise A2DError("recalibration needs at least 3 architectures")
        archs = self.drift_archs(n, seed)
        measured = measure(archs)
        before = np.array([self.predict(a) * 1000 for a in archs])
        k = drift_factor(measured, before)
        a, b = drift_fit(measured, before)
        self.rescale(a, b)
        after = np.array([self.predict(a) * 1000 for a in archs])
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "archs": n,
            "seed": seed,
            "drift_factor": k,
            "drift_fit": {"scale": a, "offset_us": b},
            "before": error_stats(measured, before),
            "after_in_sample": error_stats(measured, after),
            "device": device,
        }
        self.meta["recalibration"] = record
        return record


def error_stats(measured: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAPE (%) and the share of predictions within 5% and 10% of the measurement (pure)."""
    rel = np.abs(predicted - measured) / measured
    return {
        "mape_pct": float(100 * rel.mean()),
        "within_5pct": float((rel <= 0.05).mean()),
        "within_10pct": float((rel <= 0.10).mean()),
        "n": int(measured.size),
    }


def drift_factor(measured: np.ndarray, predicted: np.ndarray) -> float:
    """The median ratio measured / predicted (pure): one robust number for how much slower
    (> 1) or faster the device runs now than when its table was measured."""
    return float(np.median(measured / predicted))


def drift_fit(measured: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """measured ~ a * predicted + b (pure): least squares, refitted once without the points
    whose residual exceeds 3x the median absolute one. A clock moves every arch in proportion
    (b = 0); the wake-up of a core that slept between control ticks moves a cheap arch less
    than a costly one, which a single ratio cannot follow. Archs spanning under 20% of their
    mean, or a fit that would predict <= 0, give the median ratio alone (a, 0)."""
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    ratio = drift_factor(measured, predicted)
    if len(predicted) < 4 or np.ptp(predicted) < 0.2 * predicted.mean():
        return ratio, 0.0
    keep = np.ones(len(predicted), bool)
    for _ in range(2):
        a, b = np.polyfit(predicted[keep], measured[keep], 1)
        resid = np.abs(measured - (a * predicted + b))
        keep = resid <= 3 * max(float(np.median(resid)), 1e-9)
    if a <= 0 or a * predicted.min() + b <= 0:
        return ratio, 0.0
    return float(a), float(b)
