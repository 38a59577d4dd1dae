"""`a2d sweep` of the distillation pipeline: `runs:` groups of several commands, `{run:NAME}`
references, budgets pinned to one teacher timing, and a toy search -> select -> baseline sweep
run, skipped when done, and reported."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from a2d_edge.cli import main
from a2d_edge.errors import A2DError
from a2d_edge.experiments.commands import TeacherTimes, derived_keys
from a2d_edge.experiments.spec import read_experiment
from a2d_edge.experiments.sweep import expand
from a2d_edge.search.config import SearchConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

GROUPS = """\
games: [ALE/Pong-v5]
teacher: zoo:pong
runs:
  search: {command: search, budget_of_teacher: 0.5}
  select: {command: search, supernet: "{run:search}", grid: {budget_of_teacher: [0.333, 0.2]}}
  baselines: {command: distill, grid: {arch: [nature-thin, nature-quarter]}}
"""


def _file(tmp_path, text, name="exp.yaml"):
    f = tmp_path / name
    f.write_text(text)
    return f


def test_groups_expand_in_file_order_with_references_resolved(tmp_path):
    exp = read_experiment(_file(tmp_path, GROUPS))
    assert [(g.name, g.command) for g in exp.groups] == [
        ("search", "search"), ("select", "search"), ("baselines", "distill")]  # fmt: skip
    runs = expand(exp, out=tmp_path / "out")
    assert [r.name for r in runs] == [
        "Pong/search/s0",
        "Pong/select/budget_of_teacher=0.333-s0",
        "Pong/select/budget_of_teacher=0.2-s0",
        "Pong/baselines/arch=nature-thin-s0",
        "Pong/baselines/arch=nature-quarter-s0",
    ]
    select = runs[1]
    assert select.config["supernet"] == str(tmp_path / "out" / "Pong/search/s0")
    assert select.needs == ("Pong/search/s0",) and runs[0].needs == ()
    assert [r.command for r in runs] == ["search"] * 3 + ["distill"] * 2
    assert runs[3].config["arch"] == "nature-thin" and runs[3].config["teacher"] == "zoo:pong"
    # the budget a run takes when it starts is not part of its planned settings
    assert derived_keys(runs[0].config) == {"latency_budget_ms", "budget_teacher_ms"}
    assert derived_keys(runs[3].config) == set()


def test_a_reference_path_and_seeds(tmp_path):
    text = GROUPS.replace('"{run:search}"', '"{run:search}/supernet.pt"') + "seeds: [0, 1]\n"
    runs = expand(read_experiment(_file(tmp_path, text)), out="o")
    by_name = {r.name: r for r in runs}
    assert by_name["Pong/select/budget_of_teacher=0.2-s1"].config["supernet"] == (
        str(Path("o/Pong/search/s1/supernet.pt"))
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (GROUPS.replace("{run:search}", "{run:later}"), "names no earlier group"),
        (GROUPS.replace("runs:", "grid: {lr: [0.1]}\nruns:"), "no top-level grid"),
        (GROUPS.replace("command: distill", "command: deploy"), "command must be one of"),
        (GROUPS.replace("teacher: zoo:pong", 'teacher: "{run:search}"'), "belongs in a group"),
        (GROUPS.replace("  search: {", "  bad/name: {"), "a group name is"),
        (GROUPS.replace("[nature-thin, nature-quarter]", '["{run:search}"]'), "not a grid value"),
        (
            GROUPS.replace("budget_of_teacher: 0.5}", "budget_of_teacher: 0.5, seeds: [1]}"),
            "cannot be set in a group",
        ),
    ],
)
def test_bad_groups_are_refused_in_one_line(tmp_path, text, message):
    with pytest.raises(A2DError, match=message):
        read_experiment(_file(tmp_path, text))


def test_a_reference_to_a_group_of_several_runs_is_refused(tmp_path):
    bad = GROUPS.replace("runs:\n", "runs:\n  base: {command: distill, grid: {arch: [nature, "
                         "nature-thin]}}\n").replace("{run:search}", "{run:base}")  # fmt: skip
    with pytest.raises(A2DError, match="names 2 runs of Pong seed 0"):
        expand(read_experiment(_file(tmp_path, bad)))


def test_a_grid_value_of_the_wrong_command_is_refused(tmp_path):
    text = GROUPS.replace("budget_of_teacher: [0.333, 0.2]", "budget_of_teacher: [2.0]")
    with pytest.raises(A2DError, match="runs: select: grid: budget_of_teacher"):
        expand(read_experiment(_file(tmp_path, text)))


def test_a_groups_file_is_a_sweeps_not_a_single_runs(tmp_path, capsys):
    f = _file(tmp_path, GROUPS)
    assert main(["search", "--config", str(f), "--out", str(tmp_path / "r")]) != 0
    assert "a2d sweep" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", ["distill-pong.yaml", "distill-roadrunner.yaml"])
def test_the_distillation_series_files_pass_a_dry_run(name, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(CONFIGS / name), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "a2d search (group search)" in text and "a2d distill (group baselines)" in text
    assert "pending" in text and "nature-thin" in text
    assert not out.exists()  # a dry run writes nothing


def test_teacher_times_pin_one_timing_per_table_and_teacher(tmp_path, monkeypatch, capsys):
    timed = []

    def fake_latency(table, teacher):
        timed.append(teacher)
        return 0.3, "fastest of 5 rounds"

    table = SimpleNamespace(describe_mode=lambda: "warm")
    monkeypatch.setattr("a2d_edge.search.start.resolve_lut", lambda cfg, say: table)
    monkeypatch.setattr("a2d_edge.search.start.teacher_latency", fake_latency)
    said = []
    times = TeacherTimes([], said.append)
    cfg = SearchConfig(teacher="zoo:pong", lut="t.json", budget_of_teacher=0.333)
    a = times.budget(cfg)
    b = times.budget(SearchConfig(teacher="zoo:pong", lut="t.json", budget_of_teacher=0.2))
    assert timed == ["zoo:pong"] and len(said) == 1  # timed once for the whole sweep
    assert "0.333 x the teacher's 0.300 ms" in capsys.readouterr().out  # resolve_budget's line
    assert (a.latency_budget_ms, a.budget_teacher_ms) == (0.0999, 0.3)  # round(0.333 x 0.3, 4)
    assert b.latency_budget_ms == pytest.approx(0.06) and b.budget_teacher_ms == 0.3
    given = SearchConfig(teacher="zoo:pong", lut="t.json", latency_budget_ms=0.2)
    assert times.budget(given) is given  # an explicit budget stays
    sweep_json = tmp_path / "sweep.json"
    sweep_json.write_text(json.dumps({"teachers": times.pinned}))
    again = TeacherTimes.read(sweep_json)
    assert again.get("t.json", "zoo:pong") == 0.3 and again.get("t.json", "zoo:breakout") is None
    with pytest.raises(A2DError, match="needs --lut"):
        times.budget(SearchConfig(teacher="zoo:pong", budget_of_teacher=0.5))


TOY = """\
games: [ALE/Pong-v5]
teacher: {teacher}
num_envs: 4
finish_steps: 48
frames_per_update: 8
batch_size: 16
replay_size: 256
holdout_size: 256
final_episodes: 0
eval_every: 0
progress: false
runs:
  search:
    command: search
    preset: fast
    supernet_steps: 96
    supernet_frames_per_update: 8
    judge_frames: 64
    bn_frames: 64
    population: 3
    generations: 2
  select:
    command: search
    preset: fast
    supernet: "{{run:search}}"
    judge_frames: 64
    bn_frames: 64
    population: 3
    generations: 2
  baselines:
    command: distill
    grid: {{arch: [nature-thin]}}
"""


def test_a_distillation_sweep_runs_skips_and_reports(tmp_path, tiny_agent_ckpt, capsys):
    f = _file(tmp_path, TOY.format(teacher=tiny_agent_ckpt))
    out = tmp_path / "sweep"
    assert main(["sweep", str(f), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ("Pong/search/s0", "Pong/select/s0", "Pong/baselines/arch=nature-thin-s0"):
        assert (out / name / "result.json").is_file() and (out / name / "agent.pt").is_file()
        assert f"{name}: done: " in text
    select = json.loads((out / "Pong/select/s0/config.json").read_text())
    assert select["config"]["supernet"] == str(out / "Pong/search/s0")
    result = json.loads((out / "Pong/select/s0/result.json").read_text())
    assert result["steps"]["supernet"] == 0  # selected from the first run's supernet
    assert result["steps"]["finish"] == 48
    status = json.loads((out / "sweep.json").read_text())
    assert [r["status"] for r in status["runs"]] == ["done"] * 3
    assert [r["command"] for r in status["runs"]] == ["search", "search", "distill"]
    assert main(["sweep", str(f), "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("skipped") == 3
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "nature-thin" in report or "arch=nature-thin" in report


def test_a_run_waits_for_the_run_it_names(tmp_path, monkeypatch, capsys):
    f = _file(tmp_path, GROUPS)
    ran = []

    def fake_run(command, cfg, run_dir, *, new, resume):
        ran.append(str(run_dir))
        raise A2DError("stop here")

    monkeypatch.setattr("a2d_edge.experiments.sweep.run_command", fake_run)
    code = main(["sweep", str(f), "--out", str(tmp_path / "o"), "--shard", "1/2"])
    text = capsys.readouterr()
    assert code != 0
    # shard 1/2 takes the first select run, whose search (shard 0) is not done: it waits
    assert "waits for Pong/search/s0" in text.out + text.err
    assert not any("select/budget_of_teacher=0.333" in r for r in ran)


def test_an_unfinished_distillation_run_reports_its_latest_phase(tmp_path):
    import torch

    from a2d_edge.experiments.commands import phase_step

    assert phase_step(tmp_path) == 0  # killed before its first checkpoint
    torch.save({"step": 96}, tmp_path / "supernet.pt")
    assert phase_step(tmp_path) == 96
    torch.save({"step": 16}, tmp_path / "finish.pt")
    assert phase_step(tmp_path) == 16  # the finish, once it has begun
