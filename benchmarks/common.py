"""Helpers shared by the benchmark scripts: machine description, medians, tables."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence


def machine() -> str:
    """The benchmark header's host: CPU, cores, the ISA that decides kernels, its slug."""
    from a2d_edge.utils.fingerprint import this_host

    h = this_host()
    return (
        f"{h.cpu}, {h.cores} cores, ISA {h.describe_isa()} ({h.slug}), "
        f"Python {platform.python_version()}"
    )


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def run_worker(argv: Sequence[str], env: dict[str, str] | None = None) -> str:
    """Run `python argv...` in a fresh process (own thread settings) and return its stdout."""
    proc = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {argv} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def result(stdout: str) -> float:
    """The value a worker printed on its `RESULT <json>` line (libraries print banners too)."""
    import json

    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"worker printed no RESULT line:\n{stdout[-2000:]}")
    return float(json.loads(lines[-1][len("RESULT ") :]))


def arch_of(spec: str) -> dict[str, object]:
    """A preset name, an arch.json path, or `c1,c2,c3,hidden`: the plain Nature-family net of
    those widths (an arch of the `nature-widths` space, or any other widths)."""
    from a2d_edge.nets import load_arch
    from a2d_edge.nets.widths import get_width_space

    parts = spec.split(",")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return get_width_space("nature-widths").arch([int(p) for p in parts])
    return load_arch(spec)
