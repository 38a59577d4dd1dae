"""benchmarks/distill_search.py's bookkeeping: a resumed series keeps its budgets."""

import json
from pathlib import Path

import pytest

from benchmarks.distill_search import fraction_budget, series_teacher_ms


def test_a_series_keeps_the_teacher_latency_it_started_with(tmp_path):
    lut = "latency_tables/x.json"
    assert series_teacher_ms(tmp_path, lut, "zoo:pong", lambda: 0.338) == 0.338
    assert json.loads((tmp_path / "series.json").read_text())["budget_teacher_ms"] == 0.338

    def slower() -> float:  # a later sitting: the series' budgets do not time the teacher again
        raise AssertionError("timed")

    assert series_teacher_ms(tmp_path, lut, "zoo:pong", slower) == 0.338
    # another table or teacher is another series
    other = tmp_path / "other"
    other.mkdir()
    (other / "series.json").write_text((tmp_path / "series.json").read_text())
    assert series_teacher_ms(other, "latency_tables/y.json", "zoo:pong", lambda: 0.2) == 0.2


def test_a_folder_from_before_series_files_uses_its_summary(tmp_path):
    summary = {"table": "t.json", "teacher": "zoo:pong", "teacher_ms": 0.338, "rows": []}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert series_teacher_ms(tmp_path, "t.json", "zoo:pong", lambda: 0.4) == 0.338


def test_random_baselines_fit_their_budget_and_are_the_same_on_a_rerun():
    from a2d_edge.hw.lut import LatencyTable
    from benchmarks.distill_search import fitting_randoms

    lut = LatencyTable.load("latency_tables/amd-epyc-2c-avx2-onnxruntime-fp32-fast.json")
    fastest, _ = lut.fastest()
    budget = fastest * 1.4
    drawn = fitting_randoms(lut.space, lut, budget, 5, seed=7)
    assert len(drawn) == 5 and all(lut.predict(a) <= budget for a in drawn)
    assert len({json.dumps(a, sort_keys=True) for a in drawn}) > 1  # drawn, not one arch
    assert drawn == fitting_randoms(lut.space, lut, budget, 5, seed=7)  # a resumed series


def test_random_baselines_stop_at_the_draws_and_never_repeat():
    from a2d_edge.nets import get_space
    from benchmarks.distill_search import fitting_randoms

    class FirstBlockCosts:  # a table where only archs that skip their first block fit 0 ms
        def predict(self, arch):
            return 0.0 if arch["ops"][0] == "skip" else 1.0

    space = get_space("fast")
    few = fitting_randoms(space, FirstBlockCosts(), 0.0, 5, seed=7, draws=14)
    assert len(few) < 5 and all(a["ops"][0] == "skip" for a in few)  # 14 draws: ~2 fit
    many = fitting_randoms(space, FirstBlockCosts(), 0.0, 5, seed=7)
    assert len(many) == 5 and all(a["ops"][0] == "skip" for a in many)
    assert len({json.dumps(a, sort_keys=True) for a in many}) == 5  # distinct
    assert many[: len(few)] == few  # the same draws in the same order


def test_a_table_of_another_device_is_refused_before_anything_trains(tmp_path, monkeypatch):
    from pathlib import Path

    import pytest

    from benchmarks import distill_search

    shipped = json.loads(
        Path("latency_tables/amd-epyc-2c-avx2-onnxruntime-fp32-fast.json").read_text()
    )
    jetson_cpu = {"machine": "aarch64", "cpu": "ARMv8 Processor rev 1 (v8l)", "vendor": ""}
    shipped["device"] |= jetson_cpu | {"isa": ["neon", "asimddp"], "slug": "cortex-a78ae-12c"}
    jetson = tmp_path / "jetson.json"
    jetson.write_text(json.dumps(shipped))
    out = tmp_path / "series"
    argv = ["distill_search.py", "--lut", str(jetson), "--out", str(out)]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as e:
        distill_search.main()
    assert "is not this host's table" in str(e.value) and "\n" not in str(e.value)
    assert not out.exists()  # refused before any run folder


def test_a_budget_is_the_fraction_unless_the_space_is_slower():
    assert fraction_budget(0.5, 0.3383, 0.0699) == (0.1692, False)  # 0.16915 up to 0.1 µs
    assert fraction_budget(0.2, 0.3383, 0.0699) == (0.0699, True)  # 0.0677: below the floor
    assert fraction_budget(0.2, 0.3495, 0.0699) == (0.0699, False)  # exactly the floor fits


def test_random_baselines_of_a_width_space_come_from_its_table():
    from a2d_edge.hw.table import load_table
    from benchmarks.distill_search import fitting_randoms

    table = load_table("latency_tables/intel-xeon-2c-amx-onnxruntime-fp32-nature-widths.json")
    budget = 0.333 * table.predict(table.space.arch(table.space.widest))
    fits = {json.dumps(a, sort_keys=True) for a in table.within(budget)}
    drawn = fitting_randoms(table.space, table, budget, 5, seed=7)
    assert len(drawn) == 5 and all(json.dumps(a, sort_keys=True) in fits for a in drawn)
    assert len({json.dumps(a, sort_keys=True) for a in drawn}) == 5  # distinct archs
    assert all(a["family"] == "nature" for a in drawn)  # plain nets `a2d distill` trains
    assert drawn == fitting_randoms(table.space, table, budget, 5, seed=7)  # a resumed series


def test_an_op_space_draws_its_random_archs_as_random_arch_does():
    import random

    from a2d_edge.nets.space import get_space, random_arch

    space = get_space("fast")  # a resumed series must draw the archs its start drew
    a, b = random.Random(11), random.Random(11)
    assert [space.random_arch(a) for _ in range(5)] == [random_arch(space, rng=b) for _ in range(5)]


def test_the_benchmarks_take_an_arch_by_its_widths_a_name_or_a_file(tmp_path):
    from a2d_edge.nets import load_arch
    from benchmarks.common import arch_of

    arch = arch_of("16,16,48,128")
    card = json.loads(Path("a2d_edge/zoo/breakout-small.json").read_text())
    assert arch == card["arch"]  # the shipped agent's 16-16-48 / fc 128
    assert arch_of("nature-thin") == load_arch("nature-thin")
    path = tmp_path / "a.json"
    path.write_text(json.dumps(arch))
    assert arch_of(str(path)) == arch


def test_a_series_whose_run_folders_are_gone_keeps_its_budgets_from_the_kept_summaries(tmp_path):
    out, kept = tmp_path / "runs", tmp_path / "kept"
    kept.mkdir()
    series = {"table": "t.json", "teacher": "zoo:pong", "budget_teacher_ms": 0.338}
    (kept / "series.json").write_text(json.dumps(series))

    def timed() -> float:  # another host resumes the series: the budgets are not re-timed
        raise AssertionError("timed")

    assert series_teacher_ms(out, "t.json", "zoo:pong", timed, kept) == 0.338
    assert series_teacher_ms(out, "u.json", "zoo:pong", lambda: 0.2, kept) == 0.2  # another


def test_a_kept_run_is_not_trained_again_and_a_finished_run_is_kept_at_once(tmp_path, monkeypatch):
    from benchmarks import distill_search

    out, kept = tmp_path / "runs", tmp_path / "kept"
    (kept / "base-a").mkdir(parents=True)
    (kept / "base-a" / "result.json").write_text(json.dumps({"score": {"mean": 18.0}}))
    trained = []

    def fake_run(argv):  # `a2d distill ... --out DIR` that finishes
        trained.append(argv)
        folder = Path(argv[-1])
        (folder / "finish").mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "finish" / "metrics.jsonl").write_text("{}\n")
        (folder / "agent.pt").write_bytes(b"weights")
        (folder / "result.json").write_text(json.dumps({"score": {"mean": 17.0}}))

    monkeypatch.setattr(distill_search, "run", fake_run)
    once = distill_search.once
    assert once(out / "base-a", ["distill"], kept / "base-a")["score"]["mean"] == 18.0
    assert trained == []  # another sitting's finished run: its kept result
    assert once(out / "base-b", ["distill"], kept / "base-b")["score"]["mean"] == 17.0
    assert len(trained) == 1
    assert json.loads((kept / "base-b" / "result.json").read_text())["score"]["mean"] == 17.0
    assert (kept / "base-b" / "finish" / "metrics.jsonl").exists()
    assert not (kept / "base-b" / "agent.pt").exists()  # summaries, no weights


def test_a_kept_rl_search_that_reached_its_steps_is_not_run_again(tmp_path, monkeypatch):
    from benchmarks import distill_search

    kept = tmp_path / "kept" / "rl-0.333"
    kept.mkdir(parents=True)
    (kept / "arch.json").write_text("{}")
    (kept / "search.json").write_text(json.dumps({"step": 250_000}))
    monkeypatch.setattr(distill_search, "run", lambda argv: pytest.fail("ran"))
    out = tmp_path / "runs" / "rl-0.333"
    assert distill_search.rl_search(out, ["search"], 250_000, kept) == kept / "arch.json"
    ran = []
    monkeypatch.setattr(distill_search, "run", ran.append)
    distill_search.rl_search(out, ["search"], 500_000, kept)  # asked for more steps: it runs
    assert ran == [["search", "--out", str(out)]]


def test_another_devices_table_needs_a_series_started_there(tmp_path, monkeypatch):
    from benchmarks import distill_search

    here = "latency_tables/amd-epyc-2c-avx2-onnxruntime-fp32-tiny.json"
    target = "latency_tables/amd-epyc-2c-avx2-onnxruntime-fp32-fast.json"

    def local(table):  # `here` plays this host's table on any host that runs the tests
        return table is not None and str(table.path).endswith("fp32-tiny.json")

    monkeypatch.setattr("a2d_edge.search.prepare.latency_is_local", local)
    out, kept = tmp_path / "runs", tmp_path / "kept"
    argv = ["distill_search.py", "--lut", target, "--time-with", here]
    argv += ["--out", str(out), "--keep", str(kept)]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as e:
        distill_search.main()
    assert "another host's table" in str(e.value) and "\n" not in str(e.value)
    assert not out.exists()  # refused before any run folder
    monkeypatch.setattr("sys.argv", [*argv[:3], "--time-with", target, *argv[5:]])
    with pytest.raises(SystemExit) as e:  # the closing timing must be this host's
        distill_search.main()
    assert f"{target} is not this host's table" in str(e.value) and not out.exists()
