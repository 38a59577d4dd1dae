"""Experiment files: the shipped paper configs, and `a2d train/search --config FILE` layering."""

from pathlib import Path

import pytest

from a2d_edge.cli import _parser, main
from a2d_edge.config import build_config, read_config_file
from a2d_edge.envs import list_env_ids, resolve_game
from a2d_edge.experiments.commands import resolve_settings
from a2d_edge.experiments.spec import read_experiment, validate
from a2d_edge.experiments.sweep import config_class, expand
from a2d_edge.rl.config import TrainConfig
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.settings import RLSearchConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# The paper's Table 1 (its 15 rows) and Table 3 (Appendix A: the same experiment on more games).
TABLE1 = ["Alien", "Amidar", "Assault", "Asterix", "Asteroids", "BankHeist", "BattleZone",
          "BeamRider", "Boxing", "ChopperCommand", "DemonAttack", "Pong", "SpaceInvaders",
          "Tennis", "WizardOfWor"]  # fmt: skip
TABLE3_MORE = ["Atlantis", "Bowling", "Breakout", "Centipede", "CrazyClimber", "Gopher",
               "Gravitar", "Jamesbond", "Kangaroo", "Krull", "KungFuMaster", "MsPacman",
               "NameThisGame", "PrivateEye", "Qbert", "Riverraid", "TimePilot"]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "command", "runs"),
    [
        ("table1.yaml", "train", 32 * 5),
        ("table2.yaml", "train", 8 * 3),
        ("fig3.yaml", "search-rl", 12),
        ("fig2.yaml", "search-rl", 4),
        ("fig3-pong.yaml", "train", 4 * 3),
    ],
)
def test_paper_configs_load_validate_and_expand(name, command, runs):
    exp = read_experiment(CONFIGS / name)
    assert exp.command == command
    validate(exp, config_class(command))
    valid = set(list_env_ids())
    for env in exp.game_ids():
        assert env in valid, env
        resolve_game(env)
    assert len(expand(exp, config_class(command))) == runs


def test_paper_configs_hold_the_papers_settings():
    t1 = read_experiment(CONFIGS / "table1.yaml")
    assert [g.removeprefix("ALE/").removesuffix("-v5") for g in t1.games] == TABLE1 + TABLE3_MORE
    assert t1.grid == {"arch": ["nature", "resnet14", "resnet20", "resnet38", "resnet74"]}
    cfg = build_config(TrainConfig, t1.settings)
    assert (cfg.steps, cfg.rollout, cfg.gamma, cfg.lr, cfg.lr_final) == (3e7, 5, 0.99, 1e-3, 1e-4)
    assert (cfg.lr_constant_steps, cfg.ent_coef, cfg.eval_episodes) == (1e7, 1e-2, 30)

    t2 = read_experiment(CONFIGS / "table2.yaml")
    assert t2.game_ids() == ["ALE/Pong-v5"] and t2.seeds == (0, 1, 2)
    assert t2.settings["teacher"] == "zoo:pong" and t2.settings["steps"] == 250_000
    # CPU scale: 10x the paper's a2 = 0.1, a3 = 1e-3 (the file says why), same 100:1 ratio
    assert (t2.settings["distill_actor_weight"], t2.settings["distill_critic_weight"]) == (1, 0.01)
    assert t2.grid == {
        "arch": ["nature", "resnet14"],
        "distill": ["none", "actor", "actor-reuse-critic", "actor-critic"],
    }

    f3 = read_experiment(CONFIGS / "fig3.yaml")
    assert len(f3.games) == 12 and {"ALE/Alien-v5", "ALE/Bowling-v5"} <= set(f3.games)
    search = build_config(SearchConfig, f3.settings)
    assert (search.steps, search.tau, search.tau_decay, search.tau_every) == (2e7, 5, 0.98, 1e5)
    assert (search.optimization, search.alpha_lr, search.alpha_beta1) == ("one-level", 1e-3, 0.9)
    teachers = {env: o["teacher"] for env, o in f3.games.items()}
    assert teachers["ALE/Alien-v5"] == "runs/table1/Alien/arch=resnet20-s0/best.pt"


def _resolve(argv, cls=TrainConfig, kind="train"):
    return resolve_settings(_parser().parse_args(argv), cls, kind)


def test_train_takes_one_run_of_an_experiment_file(tmp_path):
    table1 = str(CONFIGS / "table1.yaml")
    argv = ["--env", "ALE/Breakout-v5", "--arch", "resnet20", "--out", str(tmp_path / "x")]
    cfg = _resolve(["train", "--config", table1, *argv])
    assert (cfg.env, cfg.arch) == ("ALE/Breakout-v5", "resnet20")
    assert (cfg.steps, cfg.eval_episodes) == (30_000_000, 30)
    search = _resolve(["search-rl", "--config", str(CONFIGS / "fig3.yaml"), "--env", "Bowling",
                       "--out", str(tmp_path / "y")], RLSearchConfig, "search-rl")  # fmt: skip
    assert search.env == "ALE/Bowling-v5"  # a short name picks the listed id
    assert isinstance(search, SearchConfig) and search.method == "rl"
    assert search.teacher == "runs/table1/Bowling/arch=resnet20-s0/best.pt"


def test_layers_file_then_game_then_flags(tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text(
        "command: train\n"
        "games:\n  ALE/Pong-v5: {eval_episodes: 3}\n  ALE/Breakout-v5: {lr: 5.0e-4}\n"
        "grid: {arch: [nature, resnet14]}\nseeds: [0, 1]\n"
        "eval_episodes: 7\nlr: 2.0e-3\nsteps: 1e6\n"
    )
    out = ["--out", str(tmp_path / "run")]
    first = _resolve(["train", "--config", str(f), *out])  # no env: the first game
    assert (first.env, first.eval_episodes, first.lr, first.steps) == ("ALE/Pong-v5", 3, 2e-3, 1e6)
    assert first.arch == "nature" and first.seed == 0  # grid and seeds are the sweep's
    breakout = _resolve(["train", "--config", str(f), "--env", "ALE/Breakout-v5", *out])
    assert (breakout.eval_episodes, breakout.lr) == (7, 5e-4)
    flags = _resolve(["train", "--config", str(f), "--env", "Breakout", "--lr", "1e-4", *out])
    assert (flags.env, flags.lr) == ("ALE/Breakout-v5", 1e-4)
    f.write_text(f.read_text() + "env: ALE/Breakout-v5\n")  # the file's env, when no flag
    assert _resolve(["train", "--config", str(f), *out]).lr == 5e-4


def test_plain_settings_files_work_unchanged(tmp_path):
    path = CONFIGS / "pong-teacher.yaml"
    cfg = _resolve(["train", "--config", str(path), "--out", str(tmp_path / "x")])
    assert cfg == build_config(TrainConfig, read_config_file(path))
    flagged = _resolve(["train", "--config", str(path), "--env", "ALE/Breakout-v5", "--out", "x"])
    assert flagged.env == "ALE/Breakout-v5" and flagged.num_envs == 16


@pytest.mark.parametrize(
    ("text", "argv", "message"),
    [
        ("command: search\n", ["train"], "is an `a2d search` experiment, not `a2d train`"),
        ("command: train\n", ["search"], "is an `a2d train` experiment, not `a2d search`"),
        ("command: fit\n", ["train"], "command must be one of train, search"),
        ("games: [ALE/Pong-v5, ALE/Breakout-v5]\n", ["train", "--env", "ALE/Qbert-v5"],
         "has no game 'ALE/Qbert-v5'; its games: ALE/Pong-v5, ALE/Breakout-v5"),
        ("games: {ALE/Pong-v5: {stepz: 5}}\n", ["train"],
         "games: ALE/Pong-v5: unknown setting 'stepz' for TrainConfig"),
        ("games: {ALE/Pong-v5: {steps: lots}}\n", ["train"], "setting 'steps' expects int"),
        ("games: {ALE/Pong-v5: {seed: 3}}\n", ["train"], "seed cannot be set per game"),
        ("games: [ALE/Pongg-v5]\n", ["train"], "unknown env id 'ALE/Pongg-v5'"),
        ("games: 3\n", ["train"], "games must be a list of env ids or a mapping"),
        ("grid: {archh: [nature]}\n", ["train"], "grid: archh: unknown setting 'archh'"),
        ("grid: {distill: [none, some]}\n", ["train"], "'distill' is 'some'; choose one of"),
        ("grid: {arch: nature}\n", ["train"], "grid: arch must be a non-empty list"),
        ("grid: {seed: [1, 2]}\n", ["train"], "seed cannot be a grid key (use seeds)"),
        ("grid: {preset: [edge]}\n", ["train"], "unknown setting 'preset' for TrainConfig"),
        ("seeds: [0, x]\n", ["train"], "seeds must be a non-empty list of integers"),
        ("seeds: [0]\nseed: 1\n", ["train"], "set either `seed` or `seeds`"),
    ],
)  # fmt: skip
def test_bad_experiment_files_end_in_one_line(text, argv, message, tmp_path, capsys):
    f = tmp_path / "exp.yaml"
    f.write_text(text)
    assert main([*argv, "--config", str(f), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run").exists()
