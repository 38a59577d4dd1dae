"""Real-time settings for the control loop: CPU pinning, SCHED_FIFO priority, locked memory.

What an embedded Linux controller does to keep its period (on a Jetson as on a PC): pin the
loop to a core so the scheduler never migrates it (a migrated loop finds cold caches),
run it under SCHED_FIFO so ordinary processes cannot preempt it, and lock its pages in RAM so
no page fault lands inside a period. Each is applied for the duration of the loop and undone
after it; each failure is one line naming the fix. Linux only; torch-free.

`parse_cpus` is pure; `RealtimeSettings.apply()` is a context manager.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from a2d_edge.config import field as setting
from a2d_edge.errors import A2DError

MCL_CURRENT, MCL_FUTURE = 1, 2


def parse_cpus(spec: str) -> frozenset[int]:
    """'1', '0,2', '2-3' or '0,2-3' -> the set of CPU ids (the `taskset -c` syntax)."""
    cpus: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise A2DError(f"--cpus: {spec!r} is not a CPU list like 1, 0,2 or 2-3") from None
        if first < 0 or last < first:
            raise A2DError(f"--cpus: {part!r} is not a CPU range (ids count from 0, low-high)")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


@dataclass(frozen=True)
class RealtimeSettings:
    cpus: frozenset[int] = setting(
        frozenset(),
        "pin the loop (env and inference threads) to these CPUs, e.g. 3 or 2-3 (taskset "
        "syntax); a pinned loop is never migrated to a core with cold caches",
        parse=parse_cpus,
        metavar="LIST",
    )
    rt_priority: int = setting(
        0,
        "run the loop under SCHED_FIFO at priority P (1-99; needs root, CAP_SYS_NICE or "
        "ulimit -r P) so ordinary processes cannot preempt it; with --hz 0 it holds its core "
        "(the kernel's RT throttling leaves others 5%%); 0: the normal scheduler",
        low=0,
        high=99,
        metavar="P",
    )
    lock_memory: bool = setting(
        False,
        "mlockall: keep the loop's pages in RAM (no page fault inside a period); for the CPU "
        "backends (untested with CUDA/TensorRT, whose large mappings it would pin)",
    )

    @property
    def active(self) -> bool:
        return bool(self.cpus or self.rt_priority or self.lock_memory)

    def check(self) -> None:
        """Refuse what cannot work before anything is changed or started."""
        if self.rt_priority and not 1 <= self.rt_priority <= 99:
            raise A2DError(f"--rt-priority must be 1-99 (SCHED_FIFO), not {self.rt_priority}")
        if not self.active:
            return
        if not hasattr(os, "sched_setaffinity"):
            raise A2DError("--cpus, --rt-priority and --lock-memory need Linux")
        if self.cpus:
            allowed = os.sched_getaffinity(0)
            if not self.cpus <= allowed:
                missing = ",".join(str(c) for c in sorted(self.cpus - allowed))
                have = ",".join(str(c) for c in sorted(allowed))
                raise A2DError(f"--cpus: CPU {missing} is not available here (allowed: {have})")

    def describe(self) -> dict[str, Any]:
        return {
            "cpus": sorted(self.cpus) or None,
            "rt_priority": self.rt_priority or None,
            "lock_memory": self.lock_memory,
        }

    @contextmanager
    def apply(self) -> Iterator[None]:
        """Pin, raise the priority and lock memory for the body; restore all three after."""
        self.check()
        if not self.active:
            yield
            return
        old_cpus = os.sched_getaffinity(0)
        old_policy = os.sched_getscheduler(0)
        old_param = os.sched_getparam(0)
        locked = fifo = False
        try:
            if self.cpus:
                os.sched_setaffinity(0, self.cpus)
            if self.rt_priority:
                _set_fifo(self.rt_priority)
                fifo = True
            if self.lock_memory:
                _mlockall()
                locked = True
            yield
        finally:
            if locked:
                _libc().munlockall()
            if fifo:
                os.sched_setscheduler(0, old_policy, old_param)
            if self.cpus:
                os.sched_setaffinity(0, old_cpus)


def _set_fifo(priority: int) -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError:
        raise A2DError(
            f"--rt-priority {priority} needs root, CAP_SYS_NICE or a real-time limit of at "
            f"least {priority} (ulimit -r {priority}; LimitRTPRIO={priority} in a systemd unit)"
        ) from None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _mlockall() -> None:
    if _libc().mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
        err = ctypes.get_errno()
        raise A2DError(
            f"--lock-memory: mlockall failed ({os.strerror(err)}); raise the locked-memory "
            "limit (ulimit -l unlimited, or LimitMEMLOCK=infinity in the systemd unit)"
        )
