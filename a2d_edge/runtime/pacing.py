"""How a fixed-rate loop waits for its next tick (torch-free; shared by `a2d run` and the
profiler's controller mode, so a table times an inference the way the controller runs it).

A core that sleeps between ticks loses its caches and clock, and the next inference runs
slower than back to back (measured: 2.7x at 60 Hz). The wait is a sleep until `spin_ms` before
the tick, then, with `prewarm`, one discarded inference, then a busy-wait to the tick.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from a2d_edge.errors import A2DError


@dataclass(frozen=True)
class Pacing:
    hz: float = 0.0  # 0: free-running (back to back)
    spin_ms: float = 0.0  # busy-wait this long before each tick instead of sleeping
    prewarm: bool = False  # one discarded inference at the start of the spin window

    def check(self) -> Pacing:
        if self.hz < 0:
            raise A2DError("the control rate (--hz) must be >= 0")
        if self.spin_ms < 0 or (self.prewarm and self.spin_ms <= 0):
            raise A2DError("--spin-ms must be >= 0, and --prewarm needs a --spin-ms window (> 0)")
        if self.hz > 0 and self.spin_ms * 1e-3 >= 1.0 / self.hz:
            raise A2DError(
                f"--spin-ms {self.spin_ms:g} fills the whole {1e3 / self.hz:g} ms period"
            )
        return self

    @property
    def period_ns(self) -> int:
        return int(1e9 / self.hz) if self.hz > 0 else 0

    def describe(self) -> dict[str, Any]:
        return {"hz": self.hz, "spin_ms": self.spin_ms, "prewarm": self.prewarm}

    def suffix(self) -> str:
        """The table-name suffix of this pacing: -ctl60hz[-spin2ms][-prewarm]."""
        spin = f"-spin{self.spin_ms:g}ms" if self.spin_ms else ""
        return f"-ctl{self.hz:g}hz{spin}{'-prewarm' if self.prewarm else ''}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pacing:
        return cls(float(d.get("hz", 0.0)), float(d.get("spin_ms", 0.0)), bool(d.get("prewarm")))


def wait_for_tick(
    tick_ns: int,
    spin_ns: int,
    prewarm: Callable[[], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Wait for `tick_ns` (perf_counter_ns): sleep until `spin_ns` before it, run `prewarm`
    there, busy-wait the rest. Returns the time the wait ended (the tick or later)."""
    now = time.perf_counter_ns()
    if now >= tick_ns:
        return now
    if tick_ns - now > spin_ns:
        sleep((tick_ns - now - spin_ns) / 1e9)
    if prewarm is not None:
        prewarm()  # caches, branch predictors and clocks warm before the tick
    while (now := time.perf_counter_ns()) < tick_ns:
        pass
    return now
