"""Latency-table accuracy: measured vs predicted latency of fresh random architectures, judged
against the machine's own repeatability.

For a table and `--archs` random architectures of its space (drawn with `--seed`, so not the
ones the table's correction was fitted on), each is measured end to end with the table's own
backend, precision, INT8 recipe, threads and mode (a controller-mode table: at its rate, with
its wait policy), and compared with the plain sum of its parts and with the corrected
prediction: MAPE, the share within ±5% / ±10%, and Kendall's τ between predicted and measured
(what a search needs of a table: the same order of archs).

The same archs are then measured a second time, later in the same run, and that second
measurement is scored as if it were a prediction of the first: the floor, the machine's own
repeatability, below which no table can go. Each table is judged by its corrected prediction:
τ ≥ 0.9, ≥ 95% within ±10%, MAPE ≤ 1.5× the floor's.

    python -m benchmarks.lut_accuracy latency_tables/TABLE.json --archs 40 --seed 123
    python -m benchmarks.lut_accuracy latency_tables/TABLE.json --recalibrate 12

A table of another machine than this one is said so on stderr and marked in the verdict: its
numbers were not made for this host.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import machine, table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("tables", nargs="+")
    p.add_argument("--archs", type=int, default=40)
    p.add_argument("--seed", type=int, default=123)
    p.add_argument(
        "--sample",
        choices=["random", "varied"],
        default="random",
        help="random: every op uniform (archs of middling cost); varied: spread from the "
        "cheapest to the costliest corner of the space, as a budgeted search ranges",
    )
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument(
        "--recalibrate",
        type=int,
        default=0,
        metavar="K",
        help="also judge the table after a K-arch drift recalibration (a2d-profile "
        "--recalibrate) made in this run, on the same fresh archs",
    )
    p.add_argument("--no-floor", action="store_true", help="skip the re-measurement (no verdict)")
    p.add_argument("--save", help="write every arch's ops and timings here (JSON), to study fits")
    args = p.parse_args()
    from a2d_edge.hw.lut import LatencyTable, host_mismatch
    from a2d_edge.hw.profile import (
        error_stats,
        judge,
        measure_archs,
        random_archs,
        recalibrate,
        settings_for,
    )
    from a2d_edge.nets.space import varied_archs
    from a2d_edge.utils.stats import kendall_tau_b

    rows, verdicts, saved = [], [], {}
    for path in args.tables:
        t = LatencyTable.load(path)
        name = Path(path).name
        host = t.host_match()
        if host != "same":
            print(f"  warning: {host_mismatch(path, t)}", file=sys.stderr)
        s = settings_for(t, args.repeats)
        draw = random_archs if args.sample == "random" else varied_archs
        archs = draw(t.space, args.archs, args.seed)
        measured = measure_archs(t.space, archs, s)
        plain = np.array([t.predict_plain(a) * 1000 for a in archs])
        corrected = np.array([t.predict(a) * 1000 for a in archs])
        preds = [("plain sum", plain), ("corrected", corrected)]
        if args.recalibrate:
            rec = recalibrate(t, args.recalibrate, s, seed=args.seed + 7)
            label = f"recalibrated ({args.recalibrate} archs, x{rec['drift_factor']:.3f})"
            preds.append((label, np.array([t.predict(a) * 1000 for a in archs])))
        floor = None if args.no_floor else measure_archs(t.space, archs, s)
        saved[name] = {"ops": [a["ops"] for a in archs], "measured_us": measured.tolist(),
                       "floor_us": None if floor is None else floor.tolist()}  # fmt: skip
        if floor is not None:
            preds.append(("re-measurement (noise floor)", floor))
        stats = {}
        for label, pred in preds:
            e = error_stats(measured, pred)
            stats[label] = e
            rows.append([name, label, f"{e['mape_pct']:.2f}%", f"{100 * e['within_5pct']:.0f}%",
                         f"{100 * e['within_10pct']:.0f}%",
                         f"{kendall_tau_b(measured.tolist(), pred.tolist()):.3f}"])  # fmt: skip
        if floor is not None:
            v = judge(stats["corrected"], stats["re-measurement (noise floor)"],
                      kendall_tau_b(measured.tolist(), corrected.tolist()))  # fmt: skip
            c = v["checks"]
            verdicts.append([
                name + ("" if host == "same" else f" ({host} host)"),
                f"{v['tau']:.3f} {'✓' if c['kendall_tau'] else '✗'}",
                f"{100 * stats['corrected']['within_10pct']:.0f}% "
                f"{'✓' if c['within_10pct'] else '✗'}",
                f"{v['mape_over_floor']:.2f}× {'✓' if c['mape_over_floor'] else '✗'}",
                "yes" if v["meets"] else "no",
            ])  # fmt: skip
        print(
            f"  {path}: {t.describe_mode()}, measured {measured.min():.0f}-{measured.max():.0f} us",
            file=sys.stderr,
        )
    if args.save:
        from a2d_edge.utils.io import write_json

        write_json(args.save, saved)
    print(
        f"\n{args.archs} fresh {args.sample} archs per table (seed {args.seed}), {args.repeats} "
        f"interleaved calls each; {machine()}\n"
    )
    print(table(["table", "prediction", "MAPE", "within ±5%", "within ±10%", "Kendall τ"], rows))
    if verdicts:
        print("\nthe corrected prediction against the targets (τ ≥ 0.9, ≥ 95% within ±10%, "
              "MAPE ≤ 1.5× the floor's):\n")  # fmt: skip
        print(table(["table", "Kendall τ", "within ±10%", "MAPE / floor MAPE", "meets all"],
                    verdicts))  # fmt: skip


if __name__ == "__main__":
    main()
