"""Width tables (`a2d.widthlut/1`): every arch of a width space, timed whole on one device.

An op table sums separately timed ops because its spaces hold 7^5 to 9^14 archs. A width
space holds a few hundred (`nature-widths`: 256), so its table times each of them as one graph,
interleaved: the prediction of an arch is its own measurement, with none of a sum's error
(fusion, layout, per-op overhead). `validate` re-times a sample of the archs in a second
sitting: its error is the device's own repeatability, the floor of any table's.

The device, backend, precision, threads and timing mode are recorded as in an op table, so a
table of another host, a lookalike host or another mode is told apart the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.tablebase import Correction, TableBase, Timing, check_settings
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.widths import WidthSpace
from a2d_edge.utils.io import write_json

SCHEMA = "a2d.widthlut/1"
Widths = tuple[int, ...]


@dataclass
class WidthTable(TableBase):
    space: WidthSpace
    entries: dict[Widths, Timing]
    meta: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    input_hw: tuple[int, int] = (84, 84)
    path: str = ""  # where it was loaded from (not saved)
    correction: Correction | None = None  # a drift recalibration: k * entry + shift_us
    KIND: ClassVar[str] = "width table"

    @classmethod
    def from_dict(cls, data: Any) -> WidthTable:
        if not isinstance(data, dict):
            raise A2DError("not a JSON object")
        if data.get("schema") != SCHEMA:
            raise A2DError(f"schema must be {SCHEMA!r}, got {data.get('schema')!r}")
        check_settings(data, ("space", "entries"))
        space = WidthSpace.from_dict(data["space"])
        try:
            entries = {
                tuple(int(w) for w in e["widths"]): Timing.from_dict(e) for e in data["entries"]
            }
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise A2DError(f"malformed entry ({type(e).__name__}: {e})") from None
        meta = {k: v for k, v in data.items()
                if k not in ("schema", "space", "entries", "validation", "correction")}  # fmt: skip
        table = cls(space, entries, meta, dict(data.get("validation", {})),
                    tuple(data.get("input_hw", (84, 84))))  # type: ignore[arg-type]  # fmt: skip
        if data.get("correction") is not None:
            try:
                table.correction = Correction.from_dict(data["correction"])
            except (KeyError, TypeError, ValueError) as e:
                raise A2DError(f"malformed correction ({type(e).__name__}: {e})") from None
        missing = table.missing()
        if missing:
            raise A2DError(
                f"lacks {len(missing)} of the space's {len(space.paths())} archs, e.g. "
                f"{list(missing[0])}; re-profile it with a2d-profile --preset {space.name}"
            )
        return table

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            **self.meta,
            "input_hw": list(self.input_hw),
            "space": self.space.to_dict(),
            "entries": [{"widths": list(w), **asdict(t)} for w, t in sorted(self.entries.items())],
            "validation": self.validation,
            **({"correction": asdict(self.correction)} if self.correction else {}),
        }

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    def missing(self) -> list[Widths]:
        return [w for w in map(self.space.widths, self.space.paths()) if w not in self.entries]

    # ----- prediction -----
    def predict(self, arch: Arch) -> float:
        """The arch's measured batch-1 latency in milliseconds (it must be of the space)."""
        widths = self.space.widths_of(arch)
        if widths not in self.entries:
            raise A2DError(f"width table has no entry for {list(widths)}")
        us = self.entries[widths].p50_us
        return (self.correction.apply(us) if self.correction else us) / 1000.0

    def check(self) -> None:
        """Nothing to check: `from_dict` refuses a table that lacks an arch of its space."""

    def fastest(self) -> tuple[float, Arch]:
        """The fastest arch of the space by this table, and its prediction (ms)."""
        widths = min(self.entries, key=lambda w: self.entries[w].p50_us)
        arch = self.space.arch(widths)
        return self.predict(arch), arch

    def repair(
        self, arch: Arch, limit_ms: float, preference: torch.Tensor | None = None
    ) -> tuple[Arch, list[dict[str, Any]]]:
        """`arch` narrowed into `limit_ms`, and the narrowings made. Each step narrows one
        dimension to the choice that gives up the least `preference` [dimensions, choices]
        (None: uniform; ties: the most ms saved) per ms saved, by `predict`; where no
        narrowing saves (the timings' noise), the fitting arch that gives up the least
        preference and changes the fewest dimensions. A2DError when even the fastest misses."""
        space = self.space
        genes = list(space.genes(arch))
        pref = preference if preference is not None else torch.zeros(len(genes), space.n_choices)

        def ms(g: list[int] | tuple[int, ...]) -> float:
            return self.predict(space.from_genes(tuple(g)))

        def moved(now: tuple[int, ...], p: tuple[int, ...]) -> tuple[float, int, float]:
            """Preference given up, dimensions changed, and -ms of going from now to p."""
            pairs = list(zip(now, p, strict=True))
            lost = sum(float(pref[d, a] - pref[d, b]) for d, (a, b) in enumerate(pairs))
            return lost, sum(a != b for a, b in pairs), -ms(p)

        start = tuple(genes)
        while ms(genes) > limit_ms:
            now = ms(genes)
            best: tuple[float, float, int, int] | None = None
            for d, g in enumerate(genes):
                for c in range(g):
                    saved = now - ms((*genes[:d], c, *genes[d + 1 :]))
                    if saved > 0:
                        key = (float(pref[d, g] - pref[d, c]) / saved, -saved, d, c)
                        best = key if best is None or key < best else best
            if best is not None:
                genes[best[2]] = best[3]
                continue
            fits = [p for p in space.paths() if ms(p) <= limit_ms]
            if not fits:
                raise A2DError(
                    f"no arch of {space.name!r} fits {limit_ms:g} ms on this table (the fastest "
                    f"takes {self.fastest()[0]:.3f} ms)"
                )
            now_genes = tuple(genes)
            genes = list(min(fits, key=lambda p: moved(now_genes, tuple(p))))
        steps = [{"dimension": d, "from": space.choices[d][a], "to": space.choices[d][b]}
                 for d, (a, b) in enumerate(zip(start, genes, strict=True)) if a != b]  # fmt: skip
        return space.from_genes(tuple(genes)), steps

    def expected(self, weights: torch.Tensor) -> torch.Tensor:
        """E[latency] in ms under per-dimension probabilities [dimensions, choices]: the
        latency tensor [choices, ...] contracted with each dimension's row (equals `predict`
        on one-hot rows), differentiable in `weights`."""
        n = self.space.n_choices
        grid = [self.predict(self.space.from_genes(p)) for p in self.space.paths()]
        lat = torch.tensor(grid, dtype=torch.float64).reshape((n,) * len(self.space.choices))
        letters = "abcdefgh"[: len(self.space.choices)]
        spec = ",".join(letters) + "," + letters + "->"
        return torch.einsum(spec, *weights.to(torch.float64), lat).to(weights.dtype)

    def rescale(self, k: float, shift_us: float = 0.0) -> None:
        """Map every prediction to k * prediction + shift_us (a drift recalibration)."""
        self.correction = (self.correction or Correction()).scaled(k, shift_us)

    def drift_archs(self, n: int, seed: int) -> list[Arch]:
        """n archs drawn uniformly from the table, to time a drift on."""
        rng = np.random.default_rng(seed)
        keys = sorted(self.entries)
        drawn = rng.choice(len(keys), min(n, len(keys)), replace=False)
        return [self.space.arch(keys[int(i)]) for i in drawn]

    def within(self, limit_ms: float) -> list[Arch]:
        """Every arch whose measurement is at most `limit_ms`, in the space's order."""
        return [a for a in self.space.archs() if self.predict(a) <= limit_ms]
