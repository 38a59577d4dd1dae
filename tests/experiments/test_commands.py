"""`start_command` / `resume_command`: a command run through the library with the settings its
flags would give (what the demo and the benchmark scripts call instead of argv lists)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import a2d_edge.experiments.commands as commands
from a2d_edge.errors import A2DError


@pytest.fixture
def runs(monkeypatch) -> list[tuple[str, Any, Path, dict[str, bool]]]:
    calls: list[tuple[str, Any, Path, dict[str, bool]]] = []
    monkeypatch.setattr(
        commands,
        "run_command",
        lambda command, cfg, run_dir, **kw: (
            calls.append((command, cfg, run_dir, kw)) or commands.Outcome(0, "ok")
        ),
    )
    return calls


def test_a_new_run_has_the_settings_of_its_flags(runs, tmp_path):
    from a2d_edge.cli import _parser

    settings = {"env": "ALE/Breakout-v5", "arch": "nature", "num_envs": 8, "progress": False,
                "finish_steps": 500, "teacher": "zoo:breakout"}  # fmt: skip
    assert commands.start_command("distill", settings, str(tmp_path / "r")).said == "ok"
    argv = ["distill", "--env", "ALE/Breakout-v5", "--arch", "nature", "--num-envs", "8",
            "--no-progress", "--finish-steps", "500", "--teacher", "zoo:breakout",
            "--out", str(tmp_path / "r")]  # fmt: skip
    from a2d_edge.search.settings import DistillArchConfig

    want = commands.resolve_settings(_parser().parse_args(argv), DistillArchConfig, "distill")
    assert runs == [("distill", want, tmp_path / "r", {"new": True, "resume": False})]


def test_a_resumed_run_keeps_its_own_settings(runs, tmp_path, monkeypatch):
    saved = object()
    monkeypatch.setattr(commands, "load_run", lambda run_dir, kind: saved)
    commands.resume_command("train", tmp_path)
    assert runs == [("train", saved, tmp_path, {"new": False, "resume": True})]


def test_an_unknown_command_or_setting_is_refused_in_one_line(runs, tmp_path):
    with pytest.raises(A2DError, match="unknown command 'serch'"):
        commands.start_command("serch", {}, tmp_path)
    with pytest.raises(A2DError, match="unknown setting 'tau'"):
        commands.start_command("search", {"tau": 1.0}, tmp_path)  # search-rl's
    assert runs == []


def test_a_share_of_the_teacher_becomes_a_budget_timed_here(runs, tmp_path, monkeypatch):
    from types import SimpleNamespace

    table = SimpleNamespace(describe_mode=lambda: "warm")
    monkeypatch.setattr("a2d_edge.search.start.resolve_lut", lambda cfg, say: table)
    monkeypatch.setattr("a2d_edge.search.start.teacher_latency", lambda t, spec: (0.3, "timed"))
    settings = {"teacher": "zoo:pong", "lut": "t.json", "budget_of_teacher": 0.5}
    commands.start_command("search", settings, tmp_path / "r")
    ((_, cfg, _, _),) = runs
    assert (cfg.latency_budget_ms, cfg.budget_teacher_ms) == (0.15, 0.3)  # as `a2d search`


def test_describe_result_names_a_budget_only_where_the_run_had_one():
    from a2d_edge.experiments.commands import describe_result

    score = {"mean": 13000.0, "std": 1500.0, "episodes": 30}
    base = {"mflops": 2.19, "score": score, "latency": {"predicted_ms": 0.0629}}
    line = describe_result(base, "runs/x/agent.pt")
    assert "0.063 ms by the table," in line and "budget" not in line
    searched = base | {"latency": {"predicted_ms": 0.0793, "budget_ms": 0.0806}}
    assert "0.079 ms by the table (budget 0.0806)" in describe_result(searched, "a")
    assert line.endswith("score 13000.0 +- 1500.0 over 30; agent runs/x/agent.pt")
