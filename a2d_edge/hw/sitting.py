"""One honest timing: an agent and its teacher (or any N nets) timed in one sitting.

A single timing of a net on a shared machine is not a measurement: right after training, the
same arch read 0.102 ms once and 0.071 ms in each of five later timings. So every measured
latency the product reports is taken the same way:

    settle    each net timed once, untimed (the caches, the clock and the allocator settle)
    rounds    every net timed once per round, the order rotating each round, so a drift of
              the machine's speed meets every net alike
    report    per net the fastest round (noise on a shared machine only adds: timeit's rule)
              and the median round; the spread of its rounds; the ratio of each net to the
              reference (the teacher) as the median of the per-round ratios, which a drift
              common to both cancels

`judge_budget` says what a measured latency above its budget means: beyond the sitting's
spread it is a miss (a one-line warning naming both), within it noise.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from a2d_edge.errors import A2DError

Net = TypeVar("Net")
ROUNDS = 5
SETTLE = 1
STATISTIC = (
    "per net: the fastest and the median of its rounds (one round: the p50 of the table's "
    "timing of it), spread = (slowest - fastest) / fastest; ratio: the median of the "
    "per-round ratios to the reference"
)


def spread_of(values: Sequence[float]) -> float:
    """(largest - smallest) / smallest (pure): how far apart the rounds of one sitting lie."""
    if not values:
        raise A2DError("no timings to take a spread of")
    low = min(values)
    return (max(values) - low) / low if low > 0 else 0.0


@dataclass(frozen=True)
class NetTiming:
    """One net's rounds (ms) in a sitting."""

    rounds_ms: tuple[float, ...]

    @property
    def fastest_ms(self) -> float:
        return min(self.rounds_ms)

    @property
    def median_ms(self) -> float:
        return float(statistics.median(self.rounds_ms))

    @property
    def spread(self) -> float:
        return spread_of(self.rounds_ms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fastest_ms": self.fastest_ms,
            "median_ms": self.median_ms,
            "spread": self.spread,
            "rounds_ms": list(self.rounds_ms),
        }


@dataclass(frozen=True)
class Ratio:
    """A net's latency over the reference's, round by round (drift-free)."""

    rounds: tuple[float, ...]

    @property
    def median(self) -> float:
        return float(statistics.median(self.rounds))

    @property
    def spread(self) -> float:
        return spread_of(self.rounds)

    def to_dict(self) -> dict[str, Any]:
        return {"median": self.median, "spread": self.spread, "rounds": list(self.rounds)}


@dataclass(frozen=True)
class Sitting:
    """Every round's timing of every net (None: the net could not be timed in that round)."""

    rounds: tuple[dict[str, float | None], ...]
    settle: int = SETTLE

    def names(self) -> list[str]:
        return list(self.rounds[0]) if self.rounds else []

    def timed(self, name: str) -> NetTiming | None:
        """The net's timing, or None where no round timed it."""
        ms = [r[name] for r in self.rounds if r.get(name) is not None]
        return NetTiming(tuple(float(m) for m in ms if m is not None)) if ms else None

    def ratio(self, name: str, reference: str) -> Ratio | None:
        """`name` over `reference` in each round that timed both; None where none did."""
        pairs = [(r.get(name), r.get(reference)) for r in self.rounds]
        ratios = tuple(float(a) / float(b) for a, b in pairs if a is not None and b)
        return Ratio(ratios) if ratios else None

    def record(self, name: str, reference: str | None = None) -> dict[str, Any]:
        """What a result keeps of `name` (and of the reference beside it): its fastest and
        median round, spread and rounds, the reference's, and the ratio."""
        out: dict[str, Any] = {"rounds": len(self.rounds), "settle_rounds": self.settle}
        t = self.timed(name)
        out["agent"] = t.to_dict() if t else None
        if reference is not None:
            ref = self.timed(reference)
            ratio = self.ratio(name, reference)
            out["teacher"] = ref.to_dict() if ref else None
            out["ratio"] = ratio.median if ratio else None
            out["ratio_spread"] = ratio.spread if ratio else None
            out["ratio_rounds"] = list(ratio.rounds) if ratio else []
        out["statistic"] = STATISTIC
        return out


def time_sitting(
    measure: Callable[[Net], float | None],
    nets: Mapping[str, Net],
    rounds: int = ROUNDS,
    settle: int = SETTLE,
) -> Sitting:
    """`settle` untimed rounds, then `rounds` rounds in which every net is timed once by
    `measure` (ms, or None where it cannot time the net), the order rotating by one each
    round. `measure` is the clock: a test passes a fake one."""
    if rounds < 1:
        raise A2DError(f"a sitting needs at least 1 round, not {rounds}")
    if settle < 0:
        raise A2DError(f"settle rounds must be >= 0, not {settle}")
    names = list(nets)
    for _ in range(settle):
        for name in names:
            measure(nets[name])
    out = []
    for r in range(rounds):
        k = r % len(names) if names else 0
        got: dict[str, float | None] = {}
        for name in names[k:] + names[:k]:
            got[name] = measure(nets[name])
        out.append({name: got[name] for name in names})
    return Sitting(tuple(out), settle)


@dataclass(frozen=True)
class Verdict:
    """A measured latency against its budget: `within budget`, `within noise` (above it by
    no more than the sitting's spread) or `over budget`, and the line that says so."""

    status: str
    line: str

    @property
    def warns(self) -> bool:
        return self.status == "over budget"

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "line": self.line}


def judge_budget(
    measured_ms: float, budget_ms: float, spread: float, what: str = "agent"
) -> Verdict:
    """`measured_ms` (the fastest round) against `budget_ms`, given the sitting's `spread`
    (pure): above the budget by more than the spread is a miss, by less is noise."""
    if budget_ms <= 0:
        raise A2DError(f"a budget must be > 0 ms, not {budget_ms:g}")
    over = measured_ms / budget_ms - 1.0
    said = f"{what} measured {measured_ms:.3f} ms here against its {budget_ms:.3f} ms budget"
    if over <= 0:
        return Verdict("within budget", f"{said}: within budget")
    if over <= spread:
        return Verdict(
            "within noise",
            f"{said}: {100 * over:.1f}% above, within noise (this sitting's spread "
            f"{100 * spread:.1f}%)",
        )
    return Verdict(
        "over budget",
        f"warning: {said}: {100 * over:.1f}% above, beyond this sitting's spread of "
        f"{100 * spread:.1f}%",
    )
