"""Latency lookup tables (`a2d.lut/1`): load, validate, predict, and expected latency.

A table holds, for one device / backend / precision / thread count / timing mode, the measured
batch-1 latency of every candidate op at every block shape of one search space (keys are
`OpKey`s), of the fixed parts (stem, head) and of one inference's overhead. The plain
prediction of an architecture is the sum of its parts; `correction` (a linear map fitted on
measured whole architectures) absorbs what a sum of separately timed ops misses (fusion,
layout reorders, per-op overhead).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch

from a2d_edge.errors import A2DError
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.space import BlockShape, SearchSpace, varied_archs
from a2d_edge.runtime.pacing import Pacing
from a2d_edge.utils.fingerprint import Fingerprint, differences, same_kind, this_host
from a2d_edge.utils.io import read_json, write_json

SCHEMA = "a2d.lut/1"
FIXED_PARTS = ("stem", "head", "overhead")
# warm: calls back to back; in-loop: an env step before each call; controller: an env step and
# the wait of `a2d run` at a control rate before each call (the table's "controller" record).
MODES = ("warm", "in-loop", "controller")
MODE_SUFFIX = re.compile(r"(-inloop|-ctl[\d.]+hz(-spin[\d.]+ms)?(-prewarm)?)$")


@dataclass(frozen=True, order=True)
class OpKey:
    """One candidate op at one block shape (batch 1, NCHW input [1, c_in, h, w])."""

    op: str
    c_in: int
    c_out: int
    stride: int
    h: int
    w: int

    @classmethod
    def of(cls, op: str, block: BlockShape) -> OpKey:
        return cls(op, block.c_in, block.c_out, block.stride, block.h, block.w)

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "input": [1, self.c_in, self.h, self.w], "c_out": self.c_out,
                "stride": self.stride}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpKey:
        _, c_in, h, w = d["input"]
        return cls(str(d["op"]), int(c_in), int(d["c_out"]), int(d["stride"]), int(h), int(w))


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


_T = TypeVar("_T", bound="TimedOn")


class TimedOn:
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


@dataclass
class LatencyTable(TimedOn):
    space: SearchSpace
    entries: dict[OpKey, Timing]
    fixed: dict[str, Timing]
    meta: dict[str, Any] = field(default_factory=dict)
    correction: Correction | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    input_hw: tuple[int, int] = (84, 84)
    path: str = ""  # where it was loaded from (not saved)

    # ----- reading and writing -----

    @classmethod
    def from_dict(cls, data: Any) -> LatencyTable:
        if not isinstance(data, dict):
            raise A2DError("not a JSON object")
        if data.get("schema") != SCHEMA:
            raise A2DError(f"schema must be {SCHEMA!r}, got {data.get('schema')!r}")
        check_settings(data, ("space", "entries", "fixed"))
        space = SearchSpace.from_dict(data["space"])
        try:
            entries = {OpKey.from_dict(e): Timing.from_dict(e) for e in data["entries"]}
            fixed = {k: Timing.from_dict(v) for k, v in data["fixed"].items()}
            corr = data.get("correction")
            corr = Correction.from_dict(corr) if corr else None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise A2DError(f"malformed entry ({type(e).__name__}: {e})") from None
        lacking = [p for p in FIXED_PARTS if p not in fixed]
        if lacking:
            raise A2DError(f"fixed part(s) missing: {', '.join(lacking)}")
        meta = {
            k: v
            for k, v in data.items()
            if k not in ("schema", "space", "entries", "fixed", "correction", "validation")
        }
        return cls(
            space=space,
            entries=entries,
            fixed=fixed,
            meta=meta,
            correction=corr,
            validation=dict(data.get("validation", {})),
            input_hw=tuple(data.get("input_hw", (84, 84))),  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            **self.meta,
            "input_hw": list(self.input_hw),
            "space": self.space.to_dict(),
            "entries": [{**k.to_dict(), **asdict(t)} for k, t in sorted(self.entries.items())],
            "fixed": {k: asdict(t) for k, t in self.fixed.items()},
            "correction": asdict(self.correction) if self.correction else None,
            "validation": self.validation,
        }

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    # ----- prediction -----
    def required_keys(self) -> list[list[OpKey]]:
        return [
            [OpKey.of(op, b) for op in self.space.ops] for b in self.space.blocks(self.input_hw)
        ]

    def missing_keys(self) -> list[OpKey]:
        keys = dict.fromkeys(k for row in self.required_keys() for k in row)
        return [k for k in keys if k not in self.entries]

    def matrix_us(self) -> torch.Tensor:
        """p50 latency of every op in every block, [n_blocks, n_ops] (microseconds)."""
        missing = self.missing_keys()
        if missing:
            raise A2DError(
                f"latency table lacks {len(missing)} op entr{'y' if len(missing) == 1 else 'ies'}, "
                f"e.g. {missing[0]}; re-profile the space with a2d-profile"
            )
        return torch.tensor(
            [[self.entries[k].p50_us for k in row] for row in self.required_keys()],
            dtype=torch.float64,
        )

    def op_scales(self) -> list[float]:
        """The correction's factor of each candidate op (1 without a per-op-type fit)."""
        scales = self.correction.op_scale if self.correction else {}
        return [float(scales.get(op, 1.0)) for op in self.space.ops]

    def scaled_matrix_us(self) -> torch.Tensor:
        """`matrix_us` with each op's column times its correction factor: what a block's op
        costs inside a whole network, by the fit (before the global scale and per-op term)."""
        return self.matrix_us() * torch.tensor(self.op_scales(), dtype=torch.float64)

    def block_costs_us(self) -> torch.Tensor:
        """What choosing each op in each block adds to the (corrected) prediction, us
        [n_blocks, n_ops]: the prediction is their sum over the chosen ops plus a constant."""
        m = self.scaled_matrix_us()
        if self.correction is None:
            return m
        return self.correction.scale * m + self.correction.per_op_us * self.op_mask()

    def fixed_us(self) -> float:
        return sum(self.fixed[p].p50_us for p in FIXED_PARTS)

    def _check_arch(self, arch: Arch) -> list[str]:
        if arch.get("family") != "searched":
            raise A2DError("latency tables predict searched archs (family 'searched') only")
        if SearchSpace.from_dict(arch["space"]) != self.space:
            raise A2DError(
                f"arch is from space {arch['space'].get('name')!r}, the table from "
                f"{self.space.name!r} (different blocks or ops): profile that space"
            )
        return list(arch["ops"])

    def predict_plain(self, arch: Arch) -> float:
        """Sum of the parts, milliseconds."""
        ops = self._check_arch(arch)
        total = self.fixed_us()
        for op, block in zip(ops, self.space.blocks(self.input_hw), strict=True):
            key = OpKey.of(op, block)
            if key not in self.entries:
                raise A2DError(f"latency table has no entry for {key}")
            total += self.entries[key].p50_us
        return total / 1000.0

    def op_mask(self) -> torch.Tensor:
        """1 where a block's candidate runs an op, 0 for an identity skip: [n_blocks, n_ops]."""
        return torch.tensor(
            [[0.0 if op == "skip" and b.c_in == b.c_out and b.stride == 1 else 1.0
              for op in self.space.ops] for b in self.space.blocks(self.input_hw)],
            dtype=torch.float64,
        )  # fmt: skip

    def n_ops(self, arch: Arch) -> float:
        ops = self._check_arch(arch)
        index = {op: i for i, op in enumerate(self.space.ops)}
        mask = self.op_mask()
        return float(sum(mask[b, index[op]] for b, op in enumerate(ops)))

    def weighted_us(self, arch: Arch) -> float:
        """The sum of the parts with every op's time times its correction factor (us)."""
        ops = self._check_arch(arch)
        scale = dict(zip(self.space.ops, self.op_scales(), strict=True))
        plain = self.predict_plain(arch) * 1000.0  # also checks every entry is there
        blocks = self.space.blocks(self.input_hw)
        extra = sum((scale[op] - 1.0) * self.entries[OpKey.of(op, b)].p50_us
                    for op, b in zip(ops, blocks, strict=True))  # fmt: skip
        return plain + extra

    def predict(self, arch: Arch) -> float:
        """Predicted batch-1 latency in milliseconds (corrected when the table has a fit)."""
        if self.correction is None:
            return self.predict_plain(arch)
        return self.correction.apply(self.weighted_us(arch), self.n_ops(arch)) / 1000.0

    def expected(self, weights: torch.Tensor) -> torch.Tensor:
        """E[latency] in ms under block weights / probabilities [n_blocks, n_ops], differentiable.

        For one-hot weights it equals `predict` of that architecture.
        """
        per_op = self.scaled_matrix_us().to(weights)
        plain = (weights * per_op).sum() + self.fixed_us()
        if self.correction is not None:
            c = self.correction
            n_ops = (weights * self.op_mask().to(weights)).sum()
            plain = c.scale * plain + c.per_op_us * n_ops + c.offset_us
        return plain / 1000.0

    def rescale(self, k: float, shift_us: float = 0.0) -> None:
        """Map every prediction to k * prediction + shift_us (a drift recalibration)."""
        self.correction = (self.correction or Correction()).scaled(k, shift_us)

    def drift_archs(self, n: int, seed: int) -> list[dict[str, Any]]:
        """n archs spread over the space's cost range, to time a drift on."""
        return varied_archs(self.space, n, seed)

    def minimum_ms(self) -> tuple[float, list[str]]:
        """The fastest architecture of the space by this table, and its ops."""
        m = self.block_costs_us()
        ops = [self.space.ops[i] for i in m.argmin(dim=1).tolist()]
        one_hot = torch.zeros_like(m).scatter_(1, m.argmin(dim=1, keepdim=True), 1.0)
        return float(self.expected(one_hot)), ops


def host_mismatch(name: str | Path, table: TimedOn, here: Fingerprint | None = None) -> str:
    """One line: the table `name` was profiled on another machine than this one, and how."""
    from a2d_edge.utils.fingerprint import mismatch_message

    return mismatch_message(f"latency table {name}", table.device, here or this_host())


def variant_path(path: str | Path, suffix: str) -> Path:
    """The table of the same device / backend / precision / space in another timing mode:
    `suffix` '' (warm), '-inloop' or a `Pacing.suffix()`."""
    p = Path(path)
    return p.with_name(MODE_SUFFIX.sub("", p.stem) + suffix + p.suffix)


def resolve_for_run(path: str | Path, pacing: Pacing | None = None) -> Path:
    """The table that predicts an agent run at `pacing` (a2d run's rate and wait policy): the
    controller-mode table of that pacing beside `path` when there is one; else `path` itself
    when it is timed in a loop (in-loop or another controller table); else its in-loop twin
    (`-inloop`) when there is one; else `path`."""
    p = Path(path)
    if pacing is not None and pacing.hz > 0 and variant_path(p, pacing.suffix()).is_file():
        return variant_path(p, pacing.suffix())
    if MODE_SUFFIX.search(p.stem):
        return p
    twin = variant_path(p, "-inloop")
    return twin if twin.is_file() else p
