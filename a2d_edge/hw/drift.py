"""A table of this host, rescaled to this sitting before it predicts or judges here.

A table's timings keep their ratios from one sitting to the next, but the whole device drifts
(clock, thermal state, neighbours on a shared host): a shipped controller-mode table predicted
554 us for an arch that ran at 405 us in the loop. `a2d search --lut`, `a2d distill --lut`,
`--budget-of-teacher` and `a2d run --lut` therefore recalibrate a table whose fingerprint is
this host's (`hw.profile.recalibrate`: a dozen whole archs timed the table's way, seconds), in
memory, once per table file and process; `--no-recalibrate` keeps the table as it is. A table of
another device is a search *for* that device: never rescaled here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.hw.lut import host_mismatch, resolve_for_run
from a2d_edge.hw.table import Table, load_table
from a2d_edge.nets.arch import Arch
from a2d_edge.runtime.pacing import Pacing

ARCHS = 12
SECONDS = 12.0  # a controller-mode sample costs 1/hz: fewer repeats at a slow rate
_DONE: dict[tuple[str, int, int], tuple[float, float, dict[str, Any]]] = {}


def repeats_for(hz: float, archs: int = ARCHS, seconds: float = SECONDS) -> int:
    """Timed calls per arch (pure): 60, or at a controller's rate `hz` as many as fit
    `seconds` of ticks over `archs` archs, at least 15."""
    if hz <= 0:
        return 60
    return max(15, min(60, int(seconds * hz / archs)))


def _key(table: Table) -> tuple[str, int, int] | None:
    if not table.path or not Path(table.path).is_file():
        return None
    st = Path(table.path).stat()
    return str(Path(table.path).resolve()), st.st_mtime_ns, st.st_size


def to_this_sitting(table: Table, say: bool = True) -> dict[str, Any] | None:
    """Rescale `table` in place to this sitting's drift when it is this host's (its record,
    also in `table.meta["recalibration"]`), else leave it (None). The first call for a table
    file times the archs; later ones in the process reuse its fit."""
    from a2d_edge.hw.profile import recalibrate, settings_for

    if table.host_match() != "same":
        return None
    key = _key(table)
    if key is not None and key in _DONE:
        scale, offset, record = _DONE[key]
        table.rescale(scale, offset)
        table.meta["recalibration"] = record
        return record
    t = time.perf_counter()
    settings = settings_for(table, repeats_for(table.pacing.hz), 10)
    record = recalibrate(table, ARCHS, settings)
    record["seconds"] = round(time.perf_counter() - t, 1)
    record["automatic"] = True
    fit = record["drift_fit"]
    if key is not None:
        _DONE[key] = (float(fit["scale"]), float(fit["offset_us"]), record)
    if say:
        print(describe(table.path, record), flush=True)
    return record


def describe(name: str, record: dict[str, Any]) -> str:
    """One line of a recalibration record (pure)."""
    fit, b, a = record["drift_fit"], record["before"], record["after_in_sample"]
    took = f" in {record['seconds']:g} s" if "seconds" in record else ""
    return (
        f"latency table {name} recalibrated to this sitting{took}: drift {fit['scale']:.3f} x "
        f"prediction {fit['offset_us']:+.1f} us from {record['archs']} archs, MAPE "
        f"{b['mape_pct']:.1f}% before, {a['mape_pct']:.1f}% after (--no-recalibrate: as shipped)"
    )


def run_prediction(
    path: str | Path, arch: Arch, pacing: Pacing, runs: str, recalibrate: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """`a2d run --lut`: the table beside `path` timed as the run waits (`resolve_for_run`),
    rescaled to this sitting when it is this host's and `recalibrate` (`to_this_sitting`), its
    prediction for the bundle's `arch`, and the warnings to print: a table of another host,
    or of another precision than the model that runs (`runs`: the manifest's models key)."""
    table_path = resolve_for_run(path, pacing)
    table = load_table(table_path)  # an op table or a width table
    recalibration = to_this_sitting(table) if recalibrate else None
    warnings = []
    if table.meta.get("precision") != runs.removeprefix("tensorrt-"):
        warnings.append(f"table {table_path} times {table.meta.get('precision')}, this run "
                        f"runs the {runs} model")  # fmt: skip
    match = table.host_match()
    if match != "same":
        warnings.append(f"{host_mismatch(table_path, table)}: its prediction is not of this host")
    prediction = {
        "table": str(table_path),
        "mode": table.describe_mode(),
        "precision": table.meta.get("precision"),
        "predicted_ms": table.predict(arch),
        "table_host": match,
        "recalibration": recalibration,
    }
    return prediction, warnings


def recalibrate_file(
    path: str | Path,
    out: str | Path | None = None,
    archs: int = ARCHS,
    repeats: int = 200,
    warmup: int = 20,
    seed: int = 1,
    force: bool = False,
) -> dict[str, Any]:
    """`a2d-profile --recalibrate`: the table `path` (an op table or a width table) rescaled to
    this sitting's drift (`archs` whole archs timed its way) and written to `out` (default: over
    itself); refused under an emulator, for another host's table and over another existing file
    (unless `force`). Says the fit in one line; returns its record."""
    from a2d_edge.hw.profile import recalibrate, settings_for
    from a2d_edge.hw.profiling import refuse_emulation

    refuse_emulation()
    table = load_table(path)
    if table.host_match() != "same" and not force:
        raise A2DError(
            f"{host_mismatch(path, table)}: a recalibration rescales one machine's "
            "drift, not another machine's table; profile this host instead (--force to go on)"
        )
    target = Path(out or path)
    if target.exists() and target != Path(path) and not force:
        raise A2DError(f"{target} exists; pass --force to replace it")
    rec = recalibrate(table, archs, settings_for(table, repeats, warmup), seed=seed)
    table.save(target)
    b, a = rec["before"], rec["after_in_sample"]
    fit = rec["drift_fit"]
    print(
        f"wrote {target}: drift {fit['scale']:.3f} x prediction {fit['offset_us']:+.1f} us "
        f"(median ratio {rec['drift_factor']:.3f}) from {rec['archs']} archs; "
        f"MAPE {b['mape_pct']:.2f}% before, {a['mape_pct']:.2f}% after (in sample)"
    )
    return rec


def bundle_prediction(
    path: str | Path, bundle_dir: str | Path, pacing: Pacing, spec: Any, recalibrate: bool = True
) -> dict[str, Any]:
    """`a2d run --lut`'s prediction for a bundle run with `spec` (`runtime.policy.PolicySpec`)
    at `pacing` (`run_prediction`), its warnings printed to stderr."""
    import sys

    from a2d_edge.runtime.bundle import load_bundle
    from a2d_edge.runtime.policy import model_key

    bundle = load_bundle(bundle_dir)
    prediction, warnings = run_prediction(
        path, bundle.manifest["arch"], pacing, model_key(bundle, spec), recalibrate
    )
    for warning in warnings:
        print(f"a2d run: warning: {warning}", file=sys.stderr)
    return prediction
