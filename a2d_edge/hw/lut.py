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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.tablebase import (
    MODES,
    Correction,
    TableBase,
    Timing,
    check_settings,
)
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.space import BlockShape, SearchSpace, searched_arch, varied_archs
from a2d_edge.runtime.pacing import Pacing
from a2d_edge.utils.fingerprint import Fingerprint, this_host
from a2d_edge.utils.io import write_json

if TYPE_CHECKING:
    from a2d_edge.hw.table import Table

__all__ = ["MODES", "Correction", "LatencyTable", "OpKey", "Timing", "check_settings"]

SCHEMA = "a2d.lut/1"
FIXED_PARTS = ("stem", "head", "overhead")
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


@dataclass
class LatencyTable(TableBase):
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

    def check(self) -> None:
        """A one-line error unless every op of every block has its entry (`matrix_us`)."""
        self.matrix_us()

    def fastest(self) -> tuple[float, Arch]:
        """The fastest arch of the space by this table, and its prediction (ms)."""
        m = self.block_costs_us()
        ops = [self.space.ops[i] for i in m.argmin(dim=1).tolist()]
        one_hot = torch.zeros_like(m).scatter_(1, m.argmin(dim=1, keepdim=True), 1.0)
        return float(self.expected(one_hot)), searched_arch(self.space, ops)

    def repair(
        self, arch: Arch, limit_ms: float, preference: torch.Tensor | None = None
    ) -> tuple[Arch, list[dict[str, Any]]]:
        """`arch` moved into `limit_ms` by cheaper ops (`repair_to_budget`, by this table's
        corrected prediction), and the swaps made; each gives up the least `preference`
        [n_blocks, n_ops] (None: uniform) per microsecond saved."""
        space = self.space
        if preference is None:
            preference = torch.full((space.n_blocks, len(space.ops)), 1.0 / len(space.ops))
        try:
            ops, swaps = repair_to_budget(
                self._check_arch(arch),
                space.ops,
                preference,
                self.block_costs_us(),
                self.fixed_us(),
                limit_ms * 1000,
                lambda names: self.predict(searched_arch(space, names)) * 1000,
            )
        except ValueError as e:
            raise A2DError(f"{e} ({limit_ms:g} ms on this table)") from None
        return searched_arch(space, ops), swaps


def repair_to_budget(
    ops: list[str],
    candidates: tuple[str, ...],
    probs: torch.Tensor,
    latency_us: torch.Tensor,
    fixed_us: float,
    budget_us: float,
    predict_us: Callable[[list[str]], float] | None = None,
) -> tuple[list[str], list[dict[str, object]]]:
    """Swap blocks to cheaper ops until the arch meets the budget.

    Each swap is the one that gives up the least op probability per microsecond saved (so the
    least certain blocks go first). `latency_us` is [n_blocks, n_ops]; `predict_us` (the
    table's corrected prediction) decides when the budget is met, the plain sum otherwise.
    Returns the new ops and the swaps made. The all-cheapest arch must fit the budget.
    """
    index = {op: i for i, op in enumerate(candidates)}
    current = [index[op] for op in ops]

    def total(cur: list[int]) -> float:
        names = [candidates[i] for i in cur]
        if predict_us is not None:
            return predict_us(names)
        return fixed_us + float(sum(latency_us[b, i] for b, i in enumerate(cur)))

    swaps: list[dict[str, object]] = []
    while total(current) > budget_us:
        best: tuple[float, int, int] | None = None
        for b, c in enumerate(current):
            for o in range(len(candidates)):
                saved = float(latency_us[b, c] - latency_us[b, o])
                if saved <= 0:
                    continue
                cost = float(probs[b, c] - probs[b, o]) / saved
                if best is None or cost < best[0]:
                    best = (cost, b, o)
        if best is None:
            raise ValueError("budget unreachable even with the cheapest op in every block")
        _, b, o = best
        swaps.append({"block": b, "from": candidates[current[b]], "to": candidates[o]})
        current[b] = o
    return [candidates[i] for i in current], swaps


def host_mismatch(name: str | Path, table: Table, here: Fingerprint | None = None) -> str:
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
