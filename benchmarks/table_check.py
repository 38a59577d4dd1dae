"""Shipped tables that pass their own check: every table in latency_tables/ whose fingerprint is
this host's, recalibrated to this sitting as `a2d search --lut` and `a2d run --lut` do
(`hw.drift`), then judged on archs it was neither profiled nor recalibrated on: each arch timed
whole with the table's own backend, precision, threads and timing mode, against the table's
prediction. Per table: the held-out MAPE and count within ±10%, as shipped and recalibrated,
and Kendall's τ (the order a search needs).

    python -m benchmarks.table_check                       # every table of this host
    python -m benchmarks.table_check --archs 20 --only fast
    python -m benchmarks.table_check --list                # latency_tables/README.md's table

`--list` prints each shipped table's own validation figures (its `validation` record: the
corrected prediction's held-out error for an op table, the re-timing's for a width table) and
the date of its last commit, as latency_tables/README.md lists them. Tables of other hosts are
listed but never timed here: their numbers are not this machine's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import machine, table

TABLES = Path(__file__).resolve().parents[1] / "latency_tables"
RECALIBRATION_SEED = 1  # hw.profile.recalibrate's: the held-out archs use another
HELD_OUT_SEED = 1001


@dataclass(frozen=True)
class Error:
    """A prediction's held-out error: MAPE (%), how many of n within ±10%."""

    mape_pct: float
    within_10: int
    n: int

    def __str__(self) -> str:
        return f"{self.mape_pct:.1f}% ({self.within_10}/{self.n} within ±10%)"


def held_out_error(predicted: Any, measured: Any) -> Error:
    """The error of `predicted` against `measured` (same units, pure)."""
    p, m = np.asarray(predicted, dtype=np.float64), np.asarray(measured, dtype=np.float64)
    if p.shape != m.shape or m.size == 0:
        raise ValueError("one prediction per measurement, at least one")
    rel = np.abs(p - m) / m
    return Error(float(100 * rel.mean()), int((rel <= 0.10 + 1e-12).sum()), int(m.size))


def validation_figures(data: dict[str, Any]) -> str:
    """A table file's own validation record in words (pure): the corrected prediction's
    held-out error (op table) or the second sitting's (width table)."""
    v = data.get("validation") or {}
    e = v.get("corrected") or v.get("retimed")
    if not e:
        return "no validation record"
    kind = "corrected, held out" if "corrected" in v else "re-timed whole"
    n = int(e.get("n", 0))
    within = round(float(e.get("within_10pct", 0.0)) * n)
    return f"MAPE {float(e['mape_pct']):.1f}%, {within}/{n} within ±10% ({kind})"


def readme_row(name: str, data: dict[str, Any], date: str) -> str:
    """One row of latency_tables/README.md's table of shipped tables (pure)."""
    mode = data.get("mode", "warm")
    hz = (data.get("controller") or {}).get("hz")
    mode = f"controller {hz:g} Hz" if mode == "controller" and hz else mode
    return f"| `{name}` | {mode} | {validation_figures(data)} | {date} |"


def last_commit_date(path: Path) -> str:
    out = subprocess.run(["git", "log", "-1", "--format=%cs", "--", str(path)],
                         capture_output=True, text=True, cwd=path.parent)  # fmt: skip
    return out.stdout.strip() or "uncommitted"


def check(path: Path, archs: int, n_recal: int) -> list[object]:
    """One table: recalibrated on `n_recal` archs, judged on `archs` others."""
    from a2d_edge.hw.drift import repeats_for
    from a2d_edge.hw.profile import measure_archs, recalibrate, settings_for
    from a2d_edge.hw.table import load_table
    from a2d_edge.utils.stats import kendall_tau_b

    t = load_table(path)
    repeats = repeats_for(t.pacing.hz)
    held = t.drift_archs(archs, HELD_OUT_SEED)
    shipped = [t.predict(a) * 1000 for a in held]
    rec = recalibrate(t, n_recal, settings_for(t, repeats, 10), RECALIBRATION_SEED)
    measured = measure_archs(t.space, held, settings_for(t, repeats, 10))
    now = [t.predict(a) * 1000 for a in held]
    fit = rec["drift_fit"]
    return [
        path.name,
        t.describe_mode(),
        f"{fit['scale']:.3f} x {fit['offset_us']:+.0f} us",
        str(held_out_error(shipped, measured)),
        str(held_out_error(now, measured)),
        f"{kendall_tau_b(list(now), measured.tolist()):.2f}",
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--archs", type=int, default=10, help="held-out archs timed per table")
    p.add_argument("--recalibrate", type=int, default=12, help="archs the drift is fitted on")
    p.add_argument("--only", default="", help="only tables whose file name holds this")
    p.add_argument("--list", action="store_true", help="the README's rows; nothing is timed")
    p.add_argument("--dir", default=str(TABLES), help="where the tables are")
    args = p.parse_args()
    from a2d_edge.errors import A2DError
    from a2d_edge.hw.lut import host_mismatch
    from a2d_edge.hw.table import load_table
    from a2d_edge.utils.io import read_json

    paths = [q for q in sorted(Path(args.dir).glob("*.json")) if args.only in q.name]
    if args.list:
        print("| table | mode | its own validation | date (its last commit) |")
        print("|---|---|---|---|")
        for q in paths:
            print(readme_row(q.name, read_json(q, "latency table"), last_commit_date(q)))
        return 0
    if args.archs < 2 or args.recalibrate < 3:
        print("table_check: error: --archs >= 2 and --recalibrate >= 3", file=sys.stderr)
        return 2
    mine, lookalikes = [], []
    for q in paths:
        try:
            t = load_table(q)
        except A2DError as e:
            print(f"table_check: error: {e}", file=sys.stderr)
            return 2
        match = t.host_match()
        mine += [q] if match == "same" else []
        lookalikes += [host_mismatch(q.name, t)] if match == "lookalike" else []
    print(machine())
    if lookalikes:  # same name and cores, other kernels or caches: never judged as this host's
        print(f"{len(lookalikes)} table(s) of a look-alike host, not checked here, e.g. "
              f"{lookalikes[0]}")  # fmt: skip
    if not mine:
        print("no shipped table is this host's (a2d-profile makes one)")
        return 0
    rows = [check(q, args.archs, args.recalibrate) for q in mine]
    print(
        f"\n{len(mine)} table(s) of this host; each recalibrated on {args.recalibrate} archs, "
        f"then judged on {args.archs} others (seed {HELD_OUT_SEED})\n"
    )
    headers = ["table", "mode", "drift", "held-out, as shipped", "held-out, recalibrated", "tau"]
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
