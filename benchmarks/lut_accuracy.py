"""Latency-table accuracy: measured vs predicted latency of fresh random architectures.

For a table and `--archs` random architectures of its space (drawn with `--seed`, so not the
ones the table's correction was fitted on), each is measured end to end with the table's own
backend, precision, threads and mode, and compared with the plain sum of its parts and with the
corrected prediction: MAPE and the share within ±5% / ±10%.

    python benchmarks/lut_accuracy.py latency_tables/TABLE.json --archs 40 --seed 123
    python benchmarks/lut_accuracy.py latency_tables/TABLE.json --recalibrate 12 --floor

`--floor` measures the same archs a second time and scores that second measurement as if it
were a prediction of the first: the machine's own repeatability, below which no table can go.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.common import machine, table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("tables", nargs="+")
    p.add_argument("--archs", type=int, default=40)
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument(
        "--recalibrate",
        type=int,
        default=0,
        metavar="K",
        help="also judge the table after a K-arch drift recalibration (a2d-profile "
        "--recalibrate) made in this run, on the same fresh archs",
    )
    p.add_argument("--floor", action="store_true", help="also score a re-measurement")
    args = p.parse_args()
    from a2d_edge.hw.lut import LatencyTable
    from a2d_edge.hw.profile import (
        error_stats,
        measure_archs,
        random_archs,
        recalibrate,
        settings_for,
    )

    rows = []
    for path in args.tables:
        t = LatencyTable.load(path)
        s = settings_for(t, args.repeats)
        archs = random_archs(t.space, args.archs, args.seed)
        measured = measure_archs(t.space, archs, s)
        plain = np.array([t.predict_plain(a) * 1000 for a in archs])
        corrected = np.array([t.predict(a) * 1000 for a in archs])
        preds = [("plain sum", plain), ("corrected", corrected)]
        if args.recalibrate:
            rec = recalibrate(t, args.recalibrate, s, seed=args.seed + 7)
            name = f"recalibrated ({args.recalibrate} archs, x{rec['drift_factor']:.3f})"
            preds.append((name, np.array([t.predict(a) * 1000 for a in archs])))
        if args.floor:
            preds.append(("re-measurement (noise floor)", measure_archs(t.space, archs, s)))
        for name, pred in preds:
            e = error_stats(measured, pred)
            within5, within10 = f"{100 * e['within_5pct']:.0f}%", f"{100 * e['within_10pct']:.0f}%"
            rows.append([Path(path).name, name, f"{e['mape_pct']:.2f}%", within5, within10])
        print(f"  {path}: measured {measured.min():.0f}-{measured.max():.0f} us", file=sys.stderr)
    print(
        f"\n{args.archs} fresh random archs per table (seed {args.seed}), {args.repeats} "
        f"interleaved calls each; {machine()}\n"
    )
    print(table(["table", "prediction", "MAPE", "within ±5%", "within ±10%"], rows))


if __name__ == "__main__":
    main()
