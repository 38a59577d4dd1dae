"""`a2d report` on run folders written by hand: the numbers against hand-computed ones."""

import json
import math
from pathlib import Path

import pytest

from a2d_edge.cli import main
from a2d_edge.config import to_dict
from a2d_edge.experiments.report import stats
from a2d_edge.hw.flops import count_params, fvcore_flops
from a2d_edge.nets import build_agent, load_arch
from a2d_edge.rl.config import TrainConfig
from a2d_edge.search.config import SearchConfig
from a2d_edge.zoo import ZOO_DIR


def _run(root, name, cfg, evals, last_step=None, kind="train", search=None):
    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"kind": kind, "config": to_dict(cfg)}))
    lines = [{"step": s, "kind": "eval", "score_mean": v, "score_std": 1.0} for s, v in evals]
    if last_step is not None:
        lines.append({"step": last_step, "kind": "train", "loss/total": 0.5})
    (d / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if search is not None:
        (d / "search.json").write_text(json.dumps(search))
    return d


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    pong = dict(env="ALE/Pong-v5", steps=300)
    # nature on Pong, 2 seeds: best -10 and -12 (mean -11, std 1); last -15 and -12
    _run(root, "Pong/arch=nature-s0", TrainConfig(arch="nature", seed=0, **pong),
         [(100, -21), (200, -10), (300, -15)])  # fmt: skip
    _run(
        root,
        "Pong/arch=nature-s1",
        TrainConfig(arch="nature", seed=1, threads=2, **pong),
        [(100, -20), (200, -18), (300, -12)],
    )  # fmt: skip  (threads: speed only, same group)
    # resnet14 on Pong: seed 0 stopped at step 200 (of 300); seed 1 has no eval yet
    _run(root, "Pong/arch=resnet14-s0", TrainConfig(arch="resnet14", seed=0, **pong),
         [(100, 3), (200, 5)])  # fmt: skip
    _run(root, "Pong/arch=resnet14-s1", TrainConfig(arch="resnet14", seed=1, **pong), [], 100)
    # Breakout: one nature run without any eval
    _run(root, "Breakout/arch=nature-s0",
         TrainConfig(env="ALE/Breakout-v5", arch="nature", steps=300), [], 200)  # fmt: skip
    # one search on Pong, recorded latency
    search = {"step": 300, "derived_flops": 5_000_000,
              "latency": {"predicted_ms": 1.5, "measured_ms": 1.75}}  # fmt: skip
    _run(tmp_path / "search", "Pong/s0", SearchConfig(steps=300, **{"env": "ALE/Pong-v5"}),
         [(150, -19), (300, -17)], kind="search", search=search)  # fmt: skip
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"not": "a run"}')  # ignored
    return tmp_path


def _group(report, kind, game, label):
    hits = [
        g for g in report["groups"] if (g["kind"], g["game"], g["label"]) == (kind, game, label)
    ]
    assert len(hits) == 1, [(g["kind"], g["game"], g["label"]) for g in report["groups"]]
    return hits[0]


def test_stats_are_mean_and_population_std():
    assert stats([]) is None
    s = stats([1.0, 2.0, 6.0])
    assert s["mean"] == 3.0 and s["n"] == 3
    assert s["std"] == pytest.approx(math.sqrt((4 + 1 + 9) / 3))


def test_report_numbers_tables_and_figures(runs, capsys):
    out = runs / "report"
    roots = [str(runs / "runs"), str(runs / "search"), str(runs / "other")]
    assert main(["report", *roots, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert len(report["runs"]) == 6 and len(report["groups"]) == 4

    nature = _group(report, "train", "Pong", "nature")
    assert nature["best"] == {"mean": -11.0, "std": 1.0, "n": 2}
    assert nature["final"] == {"mean": -13.5, "std": 1.5, "n": 2}
    assert nature["seeds"] == [0, 1] and nature["complete"] is True
    assert nature["curve"]["steps"] == [100, 200, 300]
    assert nature["curve"]["mean"] == [-20.5, -14.0, -13.5]
    assert nature["curve"]["min"] == [-21, -18, -15] and nature["curve"]["max"] == [-20, -10, -12]
    model = build_agent(load_arch("nature"), 6)
    assert nature["params"] == count_params(model)
    assert nature["flops"]["mean"] == fvcore_flops(model, batchnorm=False)

    resnet = _group(report, "train", "Pong", "resnet14")
    assert resnet["best"] == {"mean": 5.0, "std": 0.0, "n": 1} and resnet["complete"] is False
    r14 = build_agent(load_arch("resnet14"), 6)
    assert resnet["flops"]["mean"] == fvcore_flops(r14, batchnorm=False) < fvcore_flops(r14)

    breakout = _group(report, "train", "Breakout", "nature")
    assert breakout["best"] is None and breakout["final"] is None
    assert breakout["params"] == count_params(build_agent(load_arch("nature"), 4))

    search = _group(report, "search", "Pong", "A2D")
    assert search["flops"]["mean"] == 5e6 and search["best"]["mean"] == -17.0
    assert search["predicted_ms"]["mean"] == 1.5 and search["measured_ms"]["mean"] == 1.75

    md = (out / "report.md").read_text()
    assert md in printed
    assert "| game | nature | resnet14 |" in md
    assert "| Pong | -11.0 ± 1.0 (2) | 5.0 ± 0.0 (1) † |" in md  # best
    assert "| Pong | -13.5 ± 1.5 (2) | 5.0 ± 0.0 (1) † |" in md  # last
    assert "| Breakout | n/a |  |" in md
    assert "| Pong | 1 | 5.00 ± 0.00 (1) | 1.500 ± 0.000 (1) | 1.750 ± 0.000 (1) |" in md
    assert "Pong/arch=resnet14-s1 (train, step 100 of 300)" in md
    assert "Breakout/arch=nature-s0 (train, step 200 of 300)" in md
    for name in ("curves-Pong.png", "tradeoff.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert not (out / "curves-Breakout.png").exists()  # nothing to draw
    assert sorted(report["figures"]) == ["curves-Pong.png", "tradeoff.png"]


def test_columns_are_the_settings_that_vary(tmp_path):
    root = tmp_path / "runs"
    for distill in ("none", "actor"):
        for arch in ("nature", "resnet14"):
            cfg = TrainConfig(arch=arch, distill=distill, teacher="zoo:pong", steps=100)
            _run(root, f"Pong/{arch}-{distill}", cfg, [(100, 1.0)])
    assert main(["report", str(root), "--out", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "report.md").read_text()
    assert "columns: arch, distill" in md
    assert (
        "| game | arch=nature, distill=actor | arch=nature, distill=none | "
        "arch=resnet14, distill=actor | arch=resnet14, distill=none |"
    ) in md


def test_an_arch_file_is_named_by_its_file_or_search_folder(tmp_path):
    root = tmp_path / "runs"
    found = tmp_path / "kept" / "Pong" / "distill=actor-critic-s0"
    found.mkdir(parents=True)
    (found / "arch.json").write_text(json.dumps(load_arch("nature")))
    (tmp_path / "a2d-pong.json").write_text(json.dumps(load_arch("nature")))
    archs = ("nature", str(found / "arch.json"), str(tmp_path / "a2d-pong.json"))
    for i, arch in enumerate(archs):
        _run(root, f"Pong/{i}", TrainConfig(arch=arch, teacher="zoo:pong", steps=100), [(100, 1)])
    assert main(["report", str(root), "--out", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| game | nature | distill=actor-critic-s0 | a2d-pong |" in md


def test_no_runs_is_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no a2d run folders (config.json) under" in err and len(err.splitlines()) == 1


def test_log_axis_labels_only_minor_ticks_that_cannot_collide():
    from a2d_edge.experiments.plots import _plain, _plain_minor

    assert [_plain(x) for x in (1.0, 10.0, 0.1)] == ["1", "10", "0.1"]
    labelled = [x for x in (0.8, 0.9, 2.0, 3.0, 4.0, 5.0, 30.0, 0.3, 40.0) if _plain_minor(x)]
    assert labelled == [2.0, 3.0, 5.0, 30.0, 0.3]


def _final(d, env_id, mean, std, episodes, measured_ms, budget_ms=None, mflops=1.0):
    (d / "result.json").write_text(
        json.dumps(
            {
                "env_id": env_id,
                "score": {"mean": mean, "std": std, "episodes": episodes},
                "latency": {"budget_ms": budget_ms, "measured_ms": measured_ms},
                "mflops": mflops,
                "teacher": "zoo:pong",
            }
        )
    )


def test_finally_evaluated_agents_by_measured_latency_per_game(tmp_path, capsys):
    pong, breakout = tmp_path / "pong-series", tmp_path / "breakout"
    cfg = TrainConfig(arch="nature-thin", steps=100)
    search = _run(pong, "search-0.333", cfg, [], kind="search", search={"step": 100})
    base = _run(pong, "base-nature-thin", cfg, [], kind="distill")
    _final(search, "ALE/Pong-v5", 17.9, 2.2, 30, 0.110, budget_ms=0.113, mflops=2.23)
    _final(base, "ALE/Pong-v5", 18.3, 2.5, 30, 0.090)
    # the series re-timed both beside its teacher (0.4 ms) in its last sitting
    rows = [
        {"run": "search-0.333", "env_id": "ALE/Pong-v5", "measured_now_ms": 0.1},
        {"run": "base-nature-thin", "env_id": "ALE/Pong-v5", "measured_now_ms": 0.08},
    ]
    summary = {"teacher": "zoo:pong", "teacher_ms": 0.4, "teacher_score": 18.4, "rows": rows}
    (pong / "summary.json").write_text(json.dumps(summary))
    lone = _run(breakout, "base-nature", TrainConfig(env="ALE/Breakout-v5", steps=100), [],
                kind="distill")  # fmt: skip
    _final(lone, "ALE/Breakout-v5", 30.0, 5.0, 10, 0.3)
    out = tmp_path / "r"
    assert main(["report", str(pong), str(breakout), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    agents = {a["name"]: a for a in report["agents"]}
    search, lone = agents["pong-series/search-0.333"], agents["breakout/base-nature"]
    assert search["measured_ms"] == 0.1  # the series' sitting, not the run's
    assert search["series"] == "pong-series" and lone["series"] is None  # lone: its own timing
    assert lone["measured_ms"] == 0.3 and lone["game"] == "Breakout"
    assert agents["pong-series/base-nature-thin"]["score"] == {"mean": 18.3, "std": 2.5, "n": 30}
    assert report["teachers"] == [
        {"game": "Pong", "spec": "zoo:pong", "measured_ms": 0.4, "score": 18.4,
         "series": "pong-series", "budget_teacher_ms": 0.4}  # none recorded: its sitting's
    ]  # fmt: skip
    md = (out / "report.md").read_text()
    row = "| Pong | pong-series/search-0.333 | search | 17.9 ± 2.2 (30) | 0.100 | 0.25 | 0.113 |"
    assert row in md
    row = "| Pong | pong-series/base-nature-thin | distill | 18.3 ± 2.5 (30) | 0.080 | 0.20 | - |"
    assert row in md
    assert "| Breakout | breakout/base-nature | distill | 30.0 ± 5.0 (10) | 0.300 | n/a | - |" in md
    assert "| Pong | pong-series: teacher zoo:pong | teacher | 18.4 | 0.400 | 1.00 |" in md
    assert "without an evaluation" not in md  # a final evaluation counts
    assert "pareto.png" in report["figures"]
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_a_result_without_a_score_is_one_line_error(tmp_path, capsys):
    d = _run(tmp_path / "runs", "x", TrainConfig(steps=100), [], kind="distill")
    (d / "result.json").write_text('{"env_id": "ALE/Pong-v5", "score": null}')  # no final eval
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "ok")]) == 0
    assert json.loads((tmp_path / "ok" / "report.json").read_text())["agents"] == []
    capsys.readouterr()
    (d / "result.json").write_text('{"env_id": "ALE/Pong-v5", "score": {"std": 1.0}}')
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not an a2d run result (no score)" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_time_with_times_every_agent_and_teacher_here_in_one_sitting(tmp_path, monkeypatch, capsys):
    import a2d_edge.search.prepare as search_prepare
    from a2d_edge.sources.checkpoint import load_checkpoint

    thin, quarter = load_arch("nature-thin"), load_arch("nature-quarter")
    teachers = {g: load_checkpoint(f"zoo:{g}")["arch"] for g in ("pong", "breakout")}
    pong, breakout = tmp_path / "pong-series", tmp_path / "breakout"
    cfg = TrainConfig(arch="nature-thin", steps=100)
    for root, env, name, arch in [
        (pong, "ALE/Pong-v5", "base-nature-thin", thin),
        (breakout, "ALE/Breakout-v5", "thin-a", thin),
        (breakout, "ALE/Breakout-v5", "thin-b", thin),  # the same net: timed once
        (breakout, "ALE/Breakout-v5", "quarter", quarter),
        (breakout, "ALE/Breakout-v5", "no-arch", None),  # an old result without its arch
    ]:
        d = _run(root, name, cfg, [], kind="distill")
        _final(d, env, 10.0, 1.0, 30, 9.9)  # its own host's figure: replaced
        result = json.loads((d / "result.json").read_text())
        result["teacher"] = f"zoo:{root.name.split('-')[0]}"
        result["arch"] = arch
        (d / "result.json").write_text(json.dumps(result))
    rows = [{"run": "base-nature-thin", "env_id": "ALE/Pong-v5", "measured_now_ms": 0.08}]
    summary = {"teacher": "zoo:pong", "teacher_ms": 0.4, "teacher_score": 18.4, "rows": rows,
               "budget_teacher_ms": 0.36}  # fmt: skip
    (pong / "summary.json").write_text(json.dumps(summary))
    for d, budget in [(pong / "base-nature-thin", 0.09), (breakout / "quarter", 0.05)]:
        result = json.loads((d / "result.json").read_text())
        result["latency"]["budget_ms"] = budget  # Pong's: 1/4 of its series' teacher
        (d / "result.json").write_text(json.dumps(result))

    base = {json.dumps(thin): 0.05, json.dumps(quarter): 0.03}
    base |= {json.dumps(a): 0.3 for a in teachers.values()}
    calls: list[tuple[str, int | None]] = []
    slow = [9.0, 1.2, 1.0, 1.1]  # a settle round, then round by round: the fastest counts

    def fake(table, arch, n_actions=None):
        key = json.dumps(arch)
        calls.append((key, n_actions))
        return base[key] * slow[calls.count((key, n_actions)) - 1]

    monkeypatch.setattr(search_prepare, "measure_here", fake)
    table = json.loads(
        Path("latency_tables/amd-epyc-2c-avx2-onnxruntime-fp32-fast.json").read_text()
    )
    table["device"] |= {"cpu": "Some Other CPU", "slug": "some-other-2c"}  # never this host
    lut = str(tmp_path / "some-other-2c-onnxruntime-fp32-fast.json")
    Path(lut).write_text(json.dumps(table))
    out = tmp_path / "r"
    args = ["report", str(pong), str(breakout), "--out", str(out), "--time-with", lut]
    assert main([*args, "--timing-rounds", "3"]) == 0
    err = capsys.readouterr().err
    # a table of another host lends its settings; it says so in one line
    from a2d_edge.utils.fingerprint import this_host

    warning = [line for line in err.splitlines() if line.startswith("a2d report: warning:")]
    assert len(warning) == 1 and "some-other-2c, not here" in warning[0]
    # 5 distinct nets (thin on Pong, thin and quarter on Breakout, 2 teachers) x (1 + 3 rounds)
    assert len(calls) == 5 * (1 + 3)
    assert sorted({n for _, n in calls}) == [4, 6]  # each game's own action count
    report = json.loads((out / "report.json").read_text())
    agents = {a["name"]: a for a in report["agents"]}
    assert agents["breakout/thin-a"]["measured_ms"] == pytest.approx(0.05)
    assert agents["breakout/thin-b"]["measured_ms"] == pytest.approx(0.05)
    assert agents["breakout/thin-a"]["measured_median_ms"] == pytest.approx(0.055)
    assert agents["breakout/thin-a"]["measured_spread"] == pytest.approx(0.2)  # 1.2 / 1.0 - 1
    # the same slowdown met agent and teacher in every round: the ratio is exact, spread 0
    assert agents["breakout/quarter"]["ratio_to_teacher"] == pytest.approx(0.1)
    assert agents["breakout/quarter"]["ratio_spread"] == pytest.approx(0.0)
    assert agents["breakout/quarter"]["measured_ms"] == pytest.approx(0.03)
    assert agents["pong-series/base-nature-thin"]["measured_ms"] == pytest.approx(0.05)
    assert agents["breakout/no-arch"]["measured_ms"] is None  # not placed by another host's
    # a series' budget: the same fraction of the teacher timed here (1/4 of 0.3); a lone
    # run's budget is its own host's and is not drawn
    assert agents["pong-series/base-nature-thin"]["budget_ms"] == pytest.approx(0.075)
    assert agents["breakout/quarter"]["budget_ms"] is None
    sitting = f"timed here ({this_host().slug})"
    cards = {g: json.loads((ZOO_DIR / f"{g}.json").read_text())["eval"]["mean"]
             for g in ("pong", "breakout")}  # fmt: skip
    assert report["teachers"] == [
        {"game": "Breakout", "spec": "zoo:breakout", "measured_ms": pytest.approx(0.3),
         "measured_median_ms": pytest.approx(0.33), "measured_spread": pytest.approx(0.2),
         "score": cards["breakout"], "series": sitting},
        {"game": "Pong", "spec": "zoo:pong", "measured_ms": pytest.approx(0.3),
         "measured_median_ms": pytest.approx(0.33), "measured_spread": pytest.approx(0.2),
         "score": cards["pong"], "series": sitting},
    ]  # fmt: skip
    assert report["timing"]["table"] == lut and report["timing"]["rounds"] == 3
    assert report["timing"]["settle_rounds"] == 1
    md = (out / "report.md").read_text()
    assert "| Breakout | breakout/quarter | distill | 10.0 ± 1.0 (30) | 0.030 | 0.10 | - |" in md
    row = "| Pong | pong-series/base-nature-thin | distill | 10.0 ± 1.0 (30) | 0.050 | 0.17 |"
    assert f"{row} 0.075 |" in md
    assert f"timed in this report's sitting on {this_host().slug}" in md


def test_time_with_a_malformed_table_is_one_line_error(tmp_path, capsys):
    d = _run(tmp_path / "runs", "x", TrainConfig(steps=100), [], kind="distill")
    _final(d, "ALE/Pong-v5", 1.0, 1.0, 3, 0.1)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "a2d.lut/1", "entries": 3}')
    out = tmp_path / "r"
    assert main(["report", str(tmp_path / "runs"), "--out", str(out), "--time-with", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.json" in err
    assert not out.exists()  # nothing half-written
    d2 = tmp_path / "r2"
    assert main(["report", str(tmp_path / "runs"), "--out", str(d2), "--timing-rounds", "0"]) == 2
    assert "--timing-rounds must be at least 1" in capsys.readouterr().err
    assert not d2.exists()


def test_budget_fractions_are_of_the_series_teacher_that_set_them():
    from a2d_edge.experiments.report import budget_fractions

    data = {
        "teachers": [
            {"series": "s9", "budget_teacher_ms": 0.339, "measured_ms": 0.5},  # later: slower
            {"series": "old", "measured_ms": 0.4},  # a series from before budget_teacher_ms
        ],
        "agents": [
            {"series": "s9", "budget_ms": 0.113},
            {"series": "s9", "budget_ms": None},  # a baseline: no budget
            {"series": "old", "budget_ms": 0.1},
            {"series": None, "budget_ms": 0.2},  # a lone run: its own host's budget
            {"series": None, "budget_ms": 0.127, "budget_teacher_ms": 0.381},  # a sweep's run
            {"series": "s9", "budget_ms": 0.113, "budget_teacher_ms": 0.5},  # the series' wins
        ],
    }
    got = budget_fractions(data)
    assert got[0] == pytest.approx(0.113 / 0.339) and got[1] is None
    assert got[2] is None and got[3] is None
    assert got[4] == pytest.approx(0.127 / 0.381) and got[5] == pytest.approx(0.113 / 0.339)


def test_agents_of_one_latency_are_dodged_apart():
    from a2d_edge.experiments.plots import dodged

    assert dodged([0.065, 0.05, 0.0651, 0.065], step=0.01) == pytest.approx(
        [0.065, 0.05, 0.0651 * 1.01, 0.065 * 1.01**2]
    )


def test_a_distill_searchs_measured_latency_is_read_from_its_result(tmp_path):
    """A distillation search times its agent at the end (result.json), not at selection
    (search.json): the search group's measured column reads the result."""
    from a2d_edge.experiments.report import build_report

    root = tmp_path / "runs"
    search = {"derived_flops": 2e6, "latency": {"predicted_ms": 0.07}}
    d = _run(root, "s", SearchConfig(steps=100), [(100, 1.0)], kind="search", search=search)
    _final(d, "ALE/Pong-v5", 1.0, 0.0, 3, 0.071)
    group = build_report([root])["groups"][0]
    assert group["predicted_ms"]["mean"] == pytest.approx(0.07)
    assert group["measured_ms"]["mean"] == pytest.approx(0.071)
