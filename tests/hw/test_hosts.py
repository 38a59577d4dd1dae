"""Tables know their host (fingerprint) and their timing mode (warm, in-loop, controller)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest

from a2d_edge.cli import main as a2d
from a2d_edge.errors import A2DError
from a2d_edge.hw.cli import main as profile_main
from a2d_edge.hw.lut import LatencyTable, resolve_for_run, variant_path
from a2d_edge.hw.timing import time_interleaved
from a2d_edge.runtime.pacing import Pacing
from a2d_edge.utils.fingerprint import fingerprint_from, isa_words, this_host

DATA = Path(__file__).parents[1] / "utils" / "data"
TINY = ["--backend", "torch", "--preset", "edge", "--repeats", "2", "--warmup", "1", "--quiet"]


@pytest.fixture(scope="module")
def table_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lut") / "here-torch-fp32-edge.json"
    assert profile_main([*TINY, "--validate", "4", "--out", str(out)]) == 0
    return out


def _as_if_from(path: Path, device: dict, dst: Path) -> Path:
    data = json.loads(path.read_text())
    data["device"] = device
    dst.write_text(json.dumps(data))
    return dst


def lookalike(feature: str) -> dict:
    """This host's record with one ISA feature more (one it lacks): a machine of the same name
    and cores."""
    d = this_host().to_dict()
    return {**d, "isa": [*d["isa"], feature], "slug": "lookalike-2c-amx"}


def jetson() -> dict:
    return fingerprint_from(
        (DATA / "cpuinfo-jetson-orin.txt").read_text(), (DATA / "lscpu-jetson-orin.txt").read_text()
    ).to_dict()


def test_a_table_records_this_host_and_matches_it(table_path):
    t = LatencyTable.load(table_path)
    assert t.device["slug"] == this_host().slug and t.device["isa"] == list(this_host().isa)
    assert t.host_match() == "same"


def test_default_table_names_carry_the_isa(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert profile_main([*TINY, "--repeats", "1"]) == 0
    (made,) = (tmp_path / "latency_tables").iterdir()
    assert made.name == f"{this_host().slug}-torch-fp32-edge.json"


def test_lookalike_old_and_foreign_tables(table_path, tmp_path, missing_feature):
    look = LatencyTable.load(
        _as_if_from(table_path, lookalike(missing_feature), tmp_path / "a.json")
    )
    assert look.host_match() == "lookalike"
    old = {k: v for k, v in this_host().to_dict().items() if k in ("cpu", "cores", "machine")}
    assert LatencyTable.load(_as_if_from(table_path, old, tmp_path / "b.json")).host_match() == (
        "lookalike"
    )
    assert LatencyTable.load(
        _as_if_from(table_path, jetson(), tmp_path / "c.json")
    ).host_match() == ("other")


def test_recalibrating_another_hosts_table_is_refused_and_writes_nothing(
    table_path, tmp_path, capsys, missing_feature
):
    foreign = _as_if_from(table_path, lookalike(missing_feature), tmp_path / "foreign.json")
    before = foreign.read_bytes()
    assert profile_main(["--recalibrate", str(foreign), "--archs", "3", "--repeats", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lookalike-2c-amx" in err and this_host().slug in err
    said = isa_words([missing_feature])  # as the message names it (asimd: neon)
    assert f"adds {said}" not in err and f"lacks {said}" in err
    assert foreign.read_bytes() == before


def _search(lut: Path, out: Path) -> list[str]:
    return ["search-rl",
            "--preset", "edge", "--lut", str(lut), "--out", str(out), "--steps", "20",
            "--num-envs", "4", "--mode", "hard", "--eval-every", "0", "--no-progress"]  # fmt: skip


def test_a_search_with_a_lookalike_table_warns_and_times_nothing(
    table_path, tmp_path, capsys, missing_feature
):
    foreign = _as_if_from(table_path, lookalike(missing_feature), tmp_path / "foreign.json")
    assert a2d(_search(foreign, tmp_path / "s")) == 0
    out = capsys.readouterr().out
    warnings = [ln for ln in out.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "lookalike-2c-amx" in warnings[0]
    assert "measured_ms" not in json.loads((tmp_path / "s" / "search.json").read_text())["latency"]


def test_a_search_for_another_device_is_silent(table_path, tmp_path, capsys):
    orin = _as_if_from(table_path, jetson(), tmp_path / "orin.json")
    assert a2d(_search(orin, tmp_path / "s")) == 0
    assert "warning" not in capsys.readouterr().out
    lat = json.loads((tmp_path / "s" / "search.json").read_text())["latency"]
    assert "measured_ms" not in lat and lat["table_device"]["cpu"] == "Cortex-A78AE"


def test_paced_timing_starts_every_call_on_its_own_tick(monkeypatch):
    """Each timed call starts at or after its tick, and the ticks are a period apart. (Gaps
    between calls are not asserted: a call woken late by the OS is followed by one on time.)"""
    import a2d_edge.hw.timing as timing

    ticks: list[int] = []
    calls: list[int] = []
    real_wait = timing.wait_for_tick

    def recording_wait(tick_ns: int, spin_ns: int, prewarm=None) -> int:  # type: ignore[no-untyped-def]
        ticks.append(tick_ns)
        return real_wait(tick_ns, spin_ns, prewarm)

    def run() -> None:
        calls.append(time.perf_counter_ns())

    monkeypatch.setattr(timing, "wait_for_tick", recording_wait)
    samples = time_interleaved({"a": run, "b": run}, 3, warmup=0, pacing=Pacing(hz=100))
    assert [len(v) for v in samples.values()] == [3, 3]
    assert len(ticks) == len(calls) == 6
    assert all(c >= t for c, t in zip(calls, ticks, strict=True))
    assert all(b - a >= 10_000_000 for a, b in itertools.pairwise(ticks))


def test_a_controller_table_round_trips_and_is_named_by_its_pacing(tmp_path):
    out = tmp_path / "t.json"
    argv = [*TINY, "--repeats", "1", "--mode", "controller", "--hz", "400", "--spin-ms", "0.5",
            "--prewarm", "--out", str(out)]  # fmt: skip
    assert profile_main(argv) == 0
    t = LatencyTable.load(out)
    assert t.mode == "controller" and t.pacing == Pacing(400.0, 0.5, True)
    assert t.describe_mode() == "controller at 400 Hz, spin 0.5 ms, prewarm"
    again = LatencyTable.load(_resave(t, tmp_path / "again.json"))
    assert again.pacing == t.pacing and again.meta["controller"] == t.meta["controller"]
    assert (
        Pacing(60).suffix() == "-ctl60hz"
        and Pacing(15, 2, True).suffix() == "-ctl15hz-spin2ms-prewarm"
    )


def _resave(table: LatencyTable, path: Path) -> Path:
    table.save(path)
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mode", "controller"], "needs --hz"),
        (["--hz", "60"], "--hz is for --mode controller"),
        (["--mode", "controller", "--hz", "60", "--prewarm"], "--prewarm needs a --spin-ms"),
        (["--mode", "controller", "--hz", "100", "--spin-ms", "10"], "fills the whole"),
        (["--int8-recipe", "u8s8"], "is for --precision int8"),
    ],
)
def test_bad_controller_settings_are_one_line(argv, message, tmp_path, capsys):
    out = tmp_path / "t.json"
    assert profile_main([*TINY, *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and not out.exists()


def test_a_controller_table_without_its_record_is_refused(table_path, tmp_path):
    data = json.loads(table_path.read_text())
    data["mode"] = "controller"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(A2DError, match="needs a 'controller' record"):
        LatencyTable.load(bad)


def test_the_table_timed_as_the_agent_runs_is_preferred(tmp_path):
    warm = tmp_path / "dev-onnxruntime-int8-edge.json"
    for suffix in ("", "-inloop", "-ctl60hz", "-ctl15hz-spin2ms-prewarm"):
        variant_path(warm, suffix).write_text("{}")
    assert resolve_for_run(warm, Pacing(60)).name == "dev-onnxruntime-int8-edge-ctl60hz.json"
    assert resolve_for_run(warm, Pacing(15, 2, True)).stem.endswith("-ctl15hz-spin2ms-prewarm")
    assert resolve_for_run(warm, Pacing(30)).stem.endswith("-inloop")  # no 30 Hz table
    assert resolve_for_run(warm, None).stem.endswith("-inloop")
    ctl60 = variant_path(warm, "-ctl60hz")
    assert resolve_for_run(ctl60, Pacing(30)) == ctl60  # a loop-timed table the user chose stays
    assert resolve_for_run(ctl60, Pacing(15, 2, True)).stem.endswith("-prewarm")
    variant_path(warm, "-inloop").unlink()
    assert resolve_for_run(warm, Pacing(30)) == warm


def test_search_takes_the_controller_table_of_its_run_rate(table_path, tmp_path, capsys):
    warm = tmp_path / "dev-torch-fp32-edge.json"
    warm.write_bytes(table_path.read_bytes())
    ctl = variant_path(warm, "-ctl30hz")
    argv = [*TINY, "--repeats", "1", "--mode", "controller", "--hz", "400", "--out", str(ctl)]
    assert profile_main(argv) == 0
    capsys.readouterr()
    assert a2d([*_search(warm, tmp_path / "s"), "--run-hz", "30"]) == 0
    assert f"latency table: {ctl}" in capsys.readouterr().out
    lat = json.loads((tmp_path / "s" / "search.json").read_text())["latency"]
    assert lat["table"] == str(ctl) and lat["table_mode"] == "controller"
