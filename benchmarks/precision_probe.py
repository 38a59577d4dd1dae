"""What `--precision auto` measures on this CPU: bf16-autocast time / fp32 time of one forward +
backward of a net (`bf16_time_ratio`: warm-up, then rounds side by side in alternating order,
the median of their ratios), called --calls times to show how steady one call's answer is, for
each --arch, at the update's --batch on --threads threads. `auto` trains in bf16 where the ratio
is at most AUTO_BF16_MAX (and only on a CPU with native bf16; elsewhere it does not measure).

    python -m benchmarks.precision_probe --arch nature --batch 80 --threads 1
    python -m benchmarks.precision_probe --arch nature ARCH.json --batch 256 --threads 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import arch_of, machine, median


def main() -> int:
    import torch

    from a2d_edge.nets import build_agent
    from a2d_edge.utils.accel import AUTO_BF16_MAX, bf16_time_ratio
    from a2d_edge.utils.fingerprint import native_bf16, this_host

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--arch", nargs="+", default=["nature"], help="names, arch.json files or c1,c2,c3,hidden"
    )
    p.add_argument("--batch", type=int, default=80, help="the update's batch (16 envs x 5)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--actions", type=int, default=6)
    p.add_argument("--rounds", type=int, default=7, help="as `auto` runs it")
    p.add_argument("--calls", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    here = this_host()
    print(machine())
    print(f"native bf16 here: {native_bf16(here.isa)}; auto takes bf16 where <= {AUTO_BF16_MAX}")
    print("| arch | batch | threads | ratio per call | median | one call, s | auto |")
    print("|---|---|---|---|---|---|---|")
    for name in args.arch:
        model = build_agent(arch_of(name), args.actions)
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        ratios, secs = [], []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            ratios.append(
                bf16_time_ratio(model, (4, 84, 84), batch=args.batch, rounds=args.rounds, warmup=2)
            )
            secs.append(time.perf_counter() - t0)
        mid = median(ratios)
        pick = "bf16" if mid <= AUTO_BF16_MAX else "fp32"
        shown = " / ".join(f"{r:.2f}" for r in ratios)
        print(
            f"| {Path(name).name} | {args.batch} | {args.threads} | {shown} | {mid:.2f} "
            f"| {median(secs):.1f} | {pick} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
