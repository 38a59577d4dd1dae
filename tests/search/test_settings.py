"""Settings by composition (issue 41): each command shows only its
groups' settings, accepts its hidden ones, refuses another command's in one line, and reads
every run folder's flat config.json as before."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from a2d_edge import cli
from a2d_edge.config import as_flat, build_config, flat_fields, hidden_names, to_dict
from a2d_edge.errors import A2DError
from a2d_edge.experiments.spec import read_experiment
from a2d_edge.rl.config import TrainConfig
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.settings import (
    COMMAND_SETTINGS,
    DistillArchConfig,
    DistillSearchConfig,
    RLSearchConfig,
    load_flat_config,
    load_run_settings,
    run_command,
)

ROOT = Path(__file__).resolve().parents[2]
KEPT = sorted((ROOT / "results").rglob("config.json"))
METHOD = {"search": "distill", "search-rl": "rl", "distill": "distill"}


def _help(capsys: pytest.CaptureFixture[str], command: str) -> str:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    return capsys.readouterr().out


def _options(text: str) -> set[str]:
    """The option strings `--help` shows (its option lines; the epilog is not one)."""
    head, _, _ = text.partition("also accepted")
    return set(re.findall(r"^  (?:-h, )?(--[a-z0-9-]+)", head, re.M))


def test_search_help_shows_at_most_45_options_and_only_its_groups(capsys):
    text = _help(capsys, "search")
    shown = _options(text)
    assert "--help" in shown and len(shown) <= 45, len(shown)
    for rl_only in ("--method", "--steps", "--tau", "--mode", "--optimization",
                    "--flops-weight", "--alpha-warmup", "--arch", "--update", "--init", "--gamma",
                    "--lr"):  # fmt: skip
        assert rl_only not in shown
    for own in ("--population", "--select", "--supernet", "--finish-steps", "--preset", "--lut"):
        assert own in shown
    hidden = text.partition("also accepted")[2]
    assert "--finish-a2c-steps" in hidden and "--gamma" in hidden and "--select-tau" in hidden


@pytest.mark.parametrize(("command", "most"), [("search-rl", 50), ("distill", 31)])
def test_each_command_shows_only_its_settings(capsys, command, most):
    text = _help(capsys, command)
    shown = _options(text)
    cls = COMMAND_SETTINGS[command]
    visible = {"--" + n.replace("_", "-") for n in flat_fields(cls)} - {
        "--" + n.replace("_", "-") for n in hidden_names(cls)
    }
    assert shown - {"--help", "--out", "--resume", "--config"} == visible - {"--budget-teacher-ms"}
    assert len(shown) <= most
    epilog = text.partition("also accepted")[2].partition(":")[2]
    named = re.findall(r"--[a-z0-9-]+", epilog)
    assert len(named) == len(set(named))  # each hidden setting named once, in the epilog
    assert set(named) == {"--" + n.replace("_", "-") for n in hidden_names(cls)}


@pytest.mark.parametrize("command", list(COMMAND_SETTINGS))
def test_names_are_unique_and_defaults_are_todays(command):
    cls = COMMAND_SETTINGS[command]
    names = flat_fields(cls)  # raises on a name in two groups
    flat = as_flat(cls())
    assert isinstance(flat, SearchConfig)
    assert to_dict(flat) == to_dict(SearchConfig(method=METHOD[command]))
    old = {f.name: f for f in dataclasses.fields(SearchConfig)}
    for name, f in names.items():
        if name == "preset":
            continue  # each search says which spaces it takes
        assert f.default == old[name].default and f.metadata["help"] == old[name].metadata["help"]


@pytest.mark.parametrize("command", list(COMMAND_SETTINGS))
def test_each_command_accepts_its_hidden_flags(command):
    parser = cli._parser()
    cls = COMMAND_SETTINGS[command]
    fields = flat_fields(cls)
    argv = [command]
    for name in sorted(hidden_names(cls)):
        f = fields[name]
        flag = "--" + name.replace("_", "-")
        argv += [flag] if isinstance(f.default, bool) else [flag, str(f.default)]
    args = parser.parse_args(argv)
    for name in hidden_names(cls):
        assert getattr(args, name) is not None, name


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["search", "--method", "rl"], "the RL-driven search is `a2d search-rl`"),
        (["search", "--tau", "3", "--mode", "hard"], "--mode, --tau are for a2d search-rl"),
        (["search-rl", "--method", "distill"], "--method distill is for `a2d search`"),
        (["search-rl", "--population", "3"], "--population is for a2d search,"),
        (["search-rl", "--preset", "nature-widths"], "invalid choice: 'nature-widths'"),
        (["distill", "--reward-clip", "--select", "gradient"], "is for a2d search"),
        (["search", "--arch", "nature"], "unrecognized arguments: --arch nature"),
    ],
)  # fmt: skip
def test_another_commands_flag_is_one_line_and_nothing_runs(tmp_path, capsys, argv, says):
    out = tmp_path / "run"
    assert cli.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err, err
    assert not out.exists()


def test_a_config_files_method_answers_like_the_flag(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text("method: rl\nsteps: 40\n")
    assert cli.main(["search", "--config", str(f), "--out", str(tmp_path / "r")]) == 2
    assert "`a2d search-rl`" in capsys.readouterr().err


@pytest.mark.skipif(not KEPT, reason="no kept results")
@pytest.mark.parametrize("path", KEPT, ids=lambda p: str(p.relative_to(ROOT / "results")))
def test_every_kept_config_json_loads_into_its_commands_class(path):
    data = json.loads(path.read_text())
    settings = load_run_settings(path.parent)
    command = run_command(data)
    want = TrainConfig if command == "train" else COMMAND_SETTINGS[command]
    assert type(settings) is want
    if data.get("kind") == "search" and "method" not in data["config"]:
        assert command == "search-rl"  # searches from before the distillation one
    flat = to_dict(settings)
    saved = data["config"]
    if command == "train":
        saved = {"optimizer": "rmsprop", **saved}
    assert {k: v for k, v in flat.items() if k in saved} == {
        k: v for k, v in saved.items() if k in flat
    }
    if command != "train":  # and the library's flat config is the one the run was started with
        again = to_dict(load_flat_config(path.parent, command))
        assert {k: again[k] for k in saved if k != "method"} == {
            k: v for k, v in saved.items() if k != "method"
        }
        assert again["method"] == METHOD[command]


def _old_rl_run(tmp_path: Path) -> Path:
    old = [p for p in KEPT if "method" not in json.loads(p.read_text())["config"]
           and json.loads(p.read_text()).get("kind") == "search"]  # fmt: skip
    if not old:
        pytest.skip("no kept search run from before the distillation search")
    run = tmp_path / "old"
    run.mkdir()
    shutil.copy(old[0], run / "config.json")
    return run


def test_an_old_rl_run_resumes_by_either_search_command(tmp_path, monkeypatch):
    run = _old_rl_run(tmp_path)
    assert load_flat_config(run, "search-rl").method == "rl"
    seen = []
    monkeypatch.setattr(cli, "_cmd_search_rl", lambda args: seen.append(args.resume) or 0)
    assert cli.main(["search", "--resume", str(run)]) == 0
    assert seen == [str(run)]


def test_a_run_resumes_only_by_its_own_command(tmp_path, capsys):
    run = _old_rl_run(tmp_path)
    assert cli.main(["distill", "--resume", str(run)]) == 2
    assert "is an `a2d search-rl` run, not an `a2d distill` run" in capsys.readouterr().err
    distill = next(p for p in KEPT if json.loads(p.read_text()).get("kind") == "distill")
    with pytest.raises(A2DError, match="is an `a2d distill` run, not an `a2d search-rl` run"):
        load_flat_config(distill.parent, "search-rl")


def test_retired_keys_are_ignored_and_unknown_ones_refused():
    from a2d_edge.search.settings import settings_of_run

    data = {"kind": "search", "config": {"method": "distill", "tau": 3.0, "population": 5}}
    cfg = settings_of_run(data)
    assert isinstance(cfg, DistillSearchConfig) and cfg.select.population == 5
    with pytest.raises(A2DError, match="unknown setting 'tauu'"):
        settings_of_run({"kind": "search", "config": {"method": "distill", "tauu": 3.0}})
    rl = settings_of_run({"kind": "search", "config": {"tau": 3.0, "population": 5}})
    assert isinstance(rl, RLSearchConfig) and rl.rl.tau == 3.0
    assert isinstance(settings_of_run({"kind": "distill", "config": {}}), DistillArchConfig)


def test_build_and_to_dict_are_flat():
    cfg = build_config(DistillSearchConfig, {"population": 7, "gamma": 0.5, "env": "ALE/Qbert-v5"})
    assert (cfg.select.population, cfg.a2c.gamma, cfg.env.env) == (7, 0.5, "ALE/Qbert-v5")
    flat = to_dict(cfg)
    assert flat["population"] == 7 and flat["select"] == "evolution" and "a2c" not in flat
    assert build_config(DistillSearchConfig, flat) == cfg
    with pytest.raises(A2DError, match="unknown setting 'tau' for DistillSearchConfig"):
        build_config(DistillSearchConfig, {"tau": 3})


def test_old_search_experiment_files_read_as_search_rl(tmp_path):
    f = tmp_path / "e.yaml"
    f.write_text("command: search\nmethod: rl\ngames: [ALE/Pong-v5]\n")
    exp = read_experiment(f)
    assert exp.command == "search-rl" and exp.settings["method"] == "rl"
    f.write_text("command: search-rl\n")
    assert read_experiment(f).settings["method"] == "rl"
    f.write_text("command: search-rl\nmethod: distill\n")
    with pytest.raises(A2DError, match="command: search-rl is the RL-driven search"):
        read_experiment(f)


def test_parser_namespaces_hold_no_unknown_dests():
    """Every dest a search command's parser fills is a flat SearchConfig field or a CLI one."""
    parser = cli._parser()
    for command in COMMAND_SETTINGS:
        args = parser.parse_args([command])
        extra = set(vars(args)) - set(flat_fields(SearchConfig)) - {
            "out", "resume", "config", "handler", "command"
        }  # fmt: skip
        assert not extra, (command, extra)
        assert isinstance(args, argparse.Namespace)
