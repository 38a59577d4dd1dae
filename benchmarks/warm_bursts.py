"""Warm timing: one call per turn, or a burst? Whole archs timed three ways beside tables.

A net called back to back (warm mode) finds its own weights and activations in the caches; a
timing that interleaves many parts one call at a time (for fairness against drift) makes each
call follow another part's, which evicts them. For each arch (the given arch.json files, the
space's all-skip and all-conv_k5 nets, and `--varied` archs spread over the cost range), this
prints its p50 timed alone (100 calls back to back, the better of two such timings, before and
after the rest: the truth of warm mode) and interleaved with the others in turns of `--bursts`
calls (the last one timed; 1: one call per turn), beside each table's prediction.

    python -m benchmarks.warm_bursts latency_tables/HOST-onnxruntime-fp32-fast.json \\
        OLD_TABLE.json --arch runs/demo/search/arch.json --varied 5

Every table must be of the same space, backend and precision (the first one's settings time).
Target: the burst timing within ±5% of the alone timing on every arch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common import machine, median, table


def main() -> None:
    from dataclasses import replace

    from a2d_edge.hw.lut import LatencyTable
    from a2d_edge.hw.profile import measure_archs, settings_for
    from a2d_edge.nets.arch import load_arch
    from a2d_edge.nets.space import searched_arch, varied_archs

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("tables", nargs="+", help="tables whose predictions are printed")
    p.add_argument("--arch", action="append", default=[], help="an arch.json (repeatable)")
    p.add_argument("--varied", type=int, default=5, help="archs spread over the cost range")
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--teacher", default="", help="also time this agent alone (CKPT|zoo:NAME)")
    p.add_argument("--bursts", type=int, nargs="+", default=[1, 2, 4], help="ways interleaved")
    args = p.parse_args()
    tables = [LatencyTable.load(t) for t in args.tables]
    if any(t.mode != "warm" for t in tables) or min(args.bursts) < 1:
        raise SystemExit("warm_bursts: warm tables only (in-loop / controller timing is one call "
                         "per turn by design), and --bursts >= 1")  # fmt: skip
    space = tables[0].space
    archs = [load_arch(a) for a in args.arch]
    archs += [searched_arch(space, [op] * space.n_blocks) for op in ("skip", "conv_k5")]
    archs += varied_archs(space, args.varied, args.seed)
    base = settings_for(tables[0], repeats=args.repeats, warmup=10)
    single = replace(base, burst=1)
    alone = [float(measure_archs(space, [a], single)[0]) for a in archs]
    ways = {b: measure_archs(space, archs, replace(base, burst=b)) for b in args.bursts}
    again = [float(measure_archs(space, [a], single)[0]) for a in archs]  # drift over the run
    alone = [min(x, y) for x, y in zip(alone, again, strict=True)]
    print(f"{machine()}; {base.backend.name} {base.precision}, {base.threads} thread(s), "
          f"{args.repeats} calls per arch per way\n")  # fmt: skip
    if args.teacher:
        from a2d_edge.search.start import teacher_latency_ms

        ms = teacher_latency_ms(tables[0], args.teacher)
        print(f"teacher {args.teacher} alone: {ms:.3f} ms; the space's fastest arch by the "
              f"first table {tables[0].fastest()[0]:.3f} ms\n")  # fmt: skip
    names = [f"{Path(path).name}, burst {t.meta['timing'].get('burst', 1)}"
             for path, t in zip(args.tables, tables, strict=True)]  # fmt: skip
    rows = []
    for i, a in enumerate(archs):
        us = [t.predict(a) * 1000 for t in tables]
        preds = [f"{x:.1f} ({x / alone[i]:.2f}×)" for x in us]
        timed = [f"{ways[b][i]:.1f}" for b in args.bursts]
        rows.append([", ".join(a["ops"]), f"{alone[i]:.1f}", *timed, *preds])
    heads = [f"interleaved, burst {b}" for b in args.bursts]
    print(table(["arch", "alone µs (best of 2)", *heads, *names], rows))
    for b in args.bursts:
        r = [t / x for t, x in zip(ways[b], alone, strict=True)]
        within = sum(abs(x - 1) <= 0.05 for x in r)
        print(f"burst {b}: median timed / alone {median(r):.2f}×, within ±5% on {within} of "
              f"{len(archs)}")  # fmt: skip


if __name__ == "__main__":
    main()
