"""The flag-applicability rule: a flag the chosen method / mode does not use is one line and a
non-zero exit before anything runs; a flag it uses is accepted (each command, each mode)."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from a2d_edge import applies, cli
from a2d_edge.applies import MODES, Mode, check_applies, given_flags, misapplied
from a2d_edge.errors import A2DError
from a2d_edge.experiments import commands
from a2d_edge.hw import cli as profile_cli

REACHED = "every flag applies"


@pytest.fixture
def stop_after_check(monkeypatch):
    """Each command stops right after its check: a refusal is the check's line, an acceptance
    this marker (so no case trains, exports or profiles anything)."""
    real = applies.check_applies

    def check_then_stop(modes, settings, given):  # type: ignore[no-untyped-def]
        real(modes, settings, given)
        raise A2DError(REACHED)

    monkeypatch.setattr(applies, "check_applies", check_then_stop)
    monkeypatch.setattr(cli, "check_applies", check_then_stop)
    monkeypatch.setattr(commands, "check_applies", check_then_stop)  # train, search, distill


RUN_DIR = ["--out", "{tmp}/run"]
# (argv, refused flags (None: all accepted), the mode the message names)
A2D_CASES = [
    # a2d search: --method distill (default) / rl, --select evolution / gradient, --supernet, --lut
    (["search", "--preset", "edge", "--steps", "3000", "--flops-weight", "1000", *RUN_DIR],
     ["--flops-weight", "--steps"], "a2d search-rl"),
    (["search-rl", "--steps", "3000", "--flops-weight", "1000", "--tau", "3",
      "--mode", "hard", "--lr", "1e-3", "--latency-weight", "2", *RUN_DIR], None, ""),
    (["search-rl", "--finish-steps", "10", "--population", "3", *RUN_DIR],
     ["--finish-steps", "--population"], "a2d search"),
    (["search-rl", "--supernet", "x", "--select", "gradient", "--budget-of-teacher", "0.3",
      *RUN_DIR], ["--budget-of-teacher", "--select", "--supernet"], "a2d search"),
    (["search-rl", "--lut", "t.json", "--run-hz", "60", "--alpha-warmup", "5", "--gamma", "0.9",
      "--distill-actor-weight", "1", "--teacher", "zoo:pong", *RUN_DIR], None, ""),
    (["search", "--population", "3", "--finish-steps", "10", "--rerank-top", "2", *RUN_DIR],
     None, ""),
    (["search", "--select", "gradient", "--generations", "3", *RUN_DIR], ["--generations"],
     "--select evolution"),
    (["search", "--select", "gradient", "--select-tau", "2", "--latency-weight", "2", *RUN_DIR],
     None, ""),
    (["search", "--select-warmup", "0.2", *RUN_DIR], ["--select-warmup"], "--select gradient"),
    (["search", "--latency-weight", "2", *RUN_DIR], ["--latency-weight"], "--select gradient"),
    (["search", "--supernet", "x", "--supernet-steps", "10", "--paths", "uniform", *RUN_DIR],
     ["--paths", "--supernet-steps"], "without --supernet"),
    (["search", "--supernet-steps", "10", "--random-paths", "2", *RUN_DIR], None, ""),
    (["search", "--run-hz", "60", *RUN_DIR], ["--run-hz"], "--lut"),
    (["search", "--lut", "t.json", "--run-hz", "60", "--run-spin-ms", "1", *RUN_DIR], None, ""),
    (["search", "--no-recalibrate", *RUN_DIR], ["--recalibrate"], "--lut"),
    (["search", "--lut", "t.json", "--no-recalibrate", *RUN_DIR], None, ""),
    (["search", "--gamma", "0.9", "--ent-coef", "0.1", *RUN_DIR], ["--ent-coef", "--gamma"],
     "--finish-a2c-steps above 0"),
    (["search", "--finish-a2c-steps", "100", "--gamma", "0.9", *RUN_DIR], None, ""),
    # a2d distill: the finish alone
    (["distill", "--tau", "3", "--supernet-steps", "5", "--method", "rl", *RUN_DIR],
     ["--method", "--supernet-steps", "--tau"], "a2d search"),
    (["distill", "--finish-a2c-steps", "10", *RUN_DIR], ["--finish-a2c-steps"], "a2d search"),
    (["distill", "--finish-steps", "10", "--temperature", "2", "--teacher-share", "0.2",
      *RUN_DIR], None, ""),
    (["distill", "--lut", "t.json", "--run-hz", "60", *RUN_DIR], None, ""),
    # a2d train: the distillation weights need a teacher, --eval-episodes evaluations
    (["train", "--distill-actor-weight", "1", *RUN_DIR], ["--distill-actor-weight"],
     "--distill not none"),
    (["train", "--teacher", "zoo:pong", "--distill", "actor", "--distill-critic-weight", "0.1",
      *RUN_DIR], ["--distill-critic-weight"], "--distill actor-critic"),
    (["train", "--teacher", "zoo:pong", "--distill-actor-weight", "1",
      "--distill-critic-weight", "0.1", *RUN_DIR], None, ""),
    (["train", "--eval-every", "0", "--eval-episodes", "3", *RUN_DIR], ["--eval-episodes"],
     "--eval-every above 0"),
    (["train", "--eval-episodes", "3", "--lr", "1e-3", "--gamma", "0.9", *RUN_DIR], None, ""),
    # a2d export: the INT8 recipe and gate
    (["export", "zoo:pong", "--target", "arm64", "--int8-recipe", "u8u8", *RUN_DIR],
     ["--int8-recipe", "--target"], "--int8"),
    (["export", "zoo:pong", "--tensorrt", "fp16", "--min-agreement", "0.9", *RUN_DIR],
     ["--min-agreement"], "--tensorrt int8"),
    (["export", "zoo:pong", "--int8", "--target", "arm64", "--min-agreement", "0.9", *RUN_DIR],
     None, ""),
    (["export", "zoo:pong", "--tensorrt", "int8", "--tie-margin", "0.1", *RUN_DIR], None, ""),
    # a2d run: the wait of a paced loop, the ONNX Runtime session
    (["run", "{tmp}/bundle", "--hz", "0", "--spin-ms", "1", "--prewarm"],
     ["--prewarm", "--spin-ms"], "--hz above 0"),
    (["run", "{tmp}/bundle", "--spin-ms", "1", "--prewarm"], None, ""),
    (["run", "{tmp}/bundle", "--backend", "tensorrt", "--threads", "2"], ["--threads"],
     "ONNX Runtime"),
    (["run", "{tmp}/bundle", "--hz", "0", "--threads", "2", "--precision", "fp32"], None, ""),
]  # fmt: skip

PROFILE_CASES = [
    (["--hz", "60", "--spin-ms", "1"], ["--hz", "--spin-ms"], "--mode controller"),
    (["--mode", "controller", "--hz", "60", "--spin-ms", "1", "--prewarm"], None, ""),
    (["--int8-recipe", "u8s8"], ["--int8-recipe"], "--precision int8"),
    (["--precision", "int8", "--int8-recipe", "u8s8", "--threads", "2"], None, ""),
    (["--seed", "3"], ["--seed"], "--validate N"),
    (["--validate", "4", "--seed", "3", "--repeats", "2"], None, ""),
    (["--archs", "3"], ["--archs"], "--recalibrate"),
    (["--recalibrate", "t.json", "--threads", "2", "--preset", "fast"],
     ["--preset", "--threads"], "a profile"),
    (["--recalibrate", "t.json", "--archs", "3", "--repeats", "2", "--seed", "1"], None, ""),
    (["--refit", "t.json", "--repeats", "3"], ["--repeats"], "a profile or --recalibrate"),
    (["--refit", "t.json", "--force"], None, ""),
]  # fmt: skip


def _expect(err: str, refused: list[str] | None, mode: str) -> None:
    assert len(err.strip().splitlines()) == 1, err
    if refused is None:
        assert REACHED in err
        return
    assert REACHED not in err and mode in err and "nothing was run" in err
    assert all(flag in err for flag in refused)


@pytest.mark.parametrize(("argv", "refused", "mode"), A2D_CASES)
def test_a2d_commands_refuse_flags_their_mode_ignores(
    argv, refused, mode, tmp_path, capsys, stop_after_check
):
    assert cli.main([a.format(tmp=tmp_path) for a in argv]) == 2
    _expect(capsys.readouterr().err, refused, mode)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("argv", "refused", "mode"), PROFILE_CASES)
def test_a2d_profile_refuses_flags_its_mode_ignores(
    argv, refused, mode, tmp_path, capsys, stop_after_check
):
    out = tmp_path / "t.json"
    assert profile_cli.main([*argv, "--out", str(out)]) == 2
    _expect(capsys.readouterr().err, refused, mode)
    assert not out.exists()


@pytest.mark.parametrize(
    ("grid", "refused"), [("", ["--tau"]), ("grid:\n  distill: [none, actor]\n", None)]
)
def test_a_config_file_counts_as_given_unless_its_grid_shares_it(
    grid, refused, tmp_path, capsys, stop_after_check
):
    config = tmp_path / "c.yaml"
    config.write_text(f"tau: 3.0\n{grid}")
    argv = ["search", "--config", str(config), "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    _expect(capsys.readouterr().err, refused, "a2d search-rl")


def test_misapplied_names_each_unused_setting_and_the_modes_that_use_it():
    modes = (
        Mode("--a x", lambda s: s.a == "x", ("p", "q")),
        Mode("--b", lambda s: s.b, ("q", "r")),
    )
    settings = SimpleNamespace(a="y", b=False)
    assert misapplied(modes, settings, {"p", "q", "other"}) == {
        "p": ["--a x"],
        "q": ["--a x", "--b"],
    }
    assert misapplied(modes, SimpleNamespace(a="y", b=True), {"q", "r"}) == {}
    assert misapplied(modes, settings, set()) == {}
    with pytest.raises(A2DError, match=r"^--q is for --a x or --b, not what this run is"):
        check_applies(modes, settings, {"q"})


def test_every_table_names_settings_of_its_command():
    from a2d_edge.config import add_config_args
    from a2d_edge.export.settings import ExportSettings
    from a2d_edge.rl.config import TrainConfig
    from a2d_edge.runtime.loop import RunSettings
    from a2d_edge.runtime.policy import PolicySpec
    from a2d_edge.search.settings import DistillArchConfig, DistillSearchConfig, RLSearchConfig

    def dests(*classes: type) -> set[str]:
        p = argparse.ArgumentParser()
        for c in classes:
            add_config_args(p, c)
        return set(vars(p.parse_args([])))

    known = {
        "train": dests(TrainConfig),
        "search": dests(DistillSearchConfig),
        "search-rl": dests(RLSearchConfig),
        "distill": dests(DistillArchConfig),
        "export": dests(ExportSettings),
        "run": dests(RunSettings, PolicySpec),
        "a2d-profile": set(vars(profile_cli.parser().parse_args([]))),
    }
    for command, modes in MODES.items():
        named = {s for m in modes for s in m.settings}
        assert named <= known[command], (command, named - known[command])


def test_given_flags_tells_a_given_flag_from_its_default():
    p = argparse.ArgumentParser()
    p.add_argument("--hz", type=float, default=0.0)
    p.add_argument("--prewarm", action="store_true")
    p.add_argument("--mode", default="warm")
    assert given_flags(p, ["--hz", "0", "--prewarm"]) == {"hz", "prewarm"}
    assert given_flags(p, []) == frozenset()
