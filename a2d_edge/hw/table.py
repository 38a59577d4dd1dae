"""What the search needs of a latency table, whichever its kind, and the one loader.

`LatencyTable` (`a2d.lut/1`: an op space's ops timed one by one and summed) and `WidthTable`
(`a2d.widthlut/1`: every arch of a width space timed whole) implement `Table`; what they share
is `hw.tablebase.TableBase`. `load_table` reads either by its schema.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.lut import SCHEMA as LUT_SCHEMA
from a2d_edge.hw.lut import LatencyTable
from a2d_edge.hw.widthtable import SCHEMA as WIDTH_SCHEMA
from a2d_edge.hw.widthtable import WidthTable
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.spaces import Space
from a2d_edge.runtime.pacing import Pacing
from a2d_edge.utils.fingerprint import Fingerprint
from a2d_edge.utils.io import read_json


class Table(Protocol):
    """A device's latency for the archs of one space, with how and where it was timed.
    `KIND` ("latency table" | "width table") names it in messages."""

    path: str
    meta: dict[str, Any]
    input_hw: tuple[int, int]

    @property
    def space(self) -> Space: ...

    @property
    def KIND(self) -> str: ...

    @property
    def mode(self) -> str: ...  # warm | in-loop | controller

    @property
    def pacing(self) -> Pacing: ...

    @property
    def device(self) -> dict[str, Any]: ...

    def describe_mode(self) -> str: ...

    def host_match(self, here: Fingerprint | None = None) -> str:
        """same | lookalike | other (this host's fingerprint against the table's)."""
        ...

    def check(self) -> None:
        """A one-line A2DError unless every arch of its space can be predicted."""
        ...

    def predict(self, arch: Arch) -> float:
        """Batch-1 latency (ms) of an arch of its space, corrected and recalibrated."""
        ...

    def fastest(self) -> tuple[float, Arch]:
        """The fastest arch of the space by this table, and its prediction (ms)."""
        ...

    def repair(
        self, arch: Arch, limit_ms: float, preference: torch.Tensor | None = None
    ) -> tuple[Arch, list[dict[str, Any]]]:
        """`arch` moved into `limit_ms` by cheaper choices, and the swaps made (none when it
        fits). Each swap gives up the least `preference` (per position and choice, e.g.
        softmax(alpha); None: uniform) per ms saved. A2DError when even the fastest misses."""
        ...

    def expected(self, weights: torch.Tensor) -> torch.Tensor:
        """E[latency] in ms under [positions, choices] probabilities, differentiable; equals
        predict() on one-hot rows."""
        ...

    def drift_archs(self, n: int, seed: int) -> list[Arch]: ...

    def rescale(self, k: float, shift_us: float = 0.0) -> None: ...

    def recalibrate(
        self,
        measure: Callable[[list[Arch]], np.ndarray],
        n: int = 12,
        seed: int = 1,
        device: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Time n drift_archs with `measure` (us, whole nets), fit the drift, rescale, and
        return / store meta['recalibration'] (`TableBase.recalibrate`)."""
        ...

    def to_dict(self) -> dict[str, Any]: ...

    def save(self, path: str | Path) -> None: ...


TABLE_SCHEMAS: dict[str, type[LatencyTable] | type[WidthTable]] = {
    LUT_SCHEMA: LatencyTable,
    WIDTH_SCHEMA: WidthTable,
}


def load_table(path: str | Path) -> Table:
    """An op table or a width table, by its schema; a one-line error naming both otherwise."""
    data = read_json(path, "latency table")
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema not in TABLE_SCHEMAS:
        raise A2DError(
            f"latency table {path}: schema must be {LUT_SCHEMA!r} or {WIDTH_SCHEMA!r}, "
            f"got {schema!r}"
        )
    return TABLE_SCHEMAS[schema].load(path)
