"""What machine this is, torch-free (shared by the profiler, the runtime and the benchmarks)."""

from __future__ import annotations

import platform
from typing import Any


def describe_host() -> dict[str, Any]:
    """This machine's fingerprint (utils.fingerprint: CPU model, ISA, caches, GPU) and its OS."""
    from a2d_edge.utils.fingerprint import this_host

    return {**this_host().to_dict(), "os": f"{platform.system()} {platform.release()}"}
