"""Hardware cost: FLOPs (fvcore-verified) and measured latency tables.

`a2d_edge.hw.LatencyTable` is the documented entry point (`LatencyTable.load(path).predict(arch)`
-> ms at batch 1), imported on first use. The tables, the profiler and its timing need torch
(they build each op as a torch module); what a device needs to run an agent is in `runtime/`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from a2d_edge.hw.lut import LatencyTable

__all__ = ["LatencyTable"]


def __getattr__(name: str) -> Any:
    if name == "LatencyTable":
        from a2d_edge.hw.lut import LatencyTable

        return LatencyTable
    raise AttributeError(f"module 'a2d_edge.hw' has no attribute {name!r}")
