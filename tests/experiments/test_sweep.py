"""`a2d sweep`: expansion and names, dry run, shards and ranks, skip / resume / restart, and the
refusal to resume a run under changed settings."""

import json
import re

import pytest

from a2d_edge.cli import main
from a2d_edge.errors import A2DError
from a2d_edge.experiments.spec import parse_sets, parse_shard, read_experiment
from a2d_edge.experiments.sweep import expand, rank_world, select
from a2d_edge.rl.config import TrainConfig
from a2d_edge.sources.checkpoint import load_checkpoint
from a2d_edge.utils.logging import read_jsonl

TINY = ["steps=400", "num_envs=4", "eval_every=400", "eval_episodes=1", "checkpoint_every=200",
        "log_every=200", "progress=false"]  # fmt: skip


def _file(tmp_path, text, name="exp.yaml"):
    f = tmp_path / name
    f.write_text(text)
    return f


EXP = """\
command: train
games:
  ALE/Pong-v5: {eval_episodes: 3}
  ALE/Breakout-v5: {}
grid:
  arch: [nature, resnet14]
  lr: [1.0e-3, 5.0e-4]
seeds: [0, 1]
steps: 2e5
"""


def test_expansion_order_names_and_settings(tmp_path):
    exp = read_experiment(_file(tmp_path, EXP))
    runs = expand(exp, TrainConfig, parse_sets(["num_envs=8", "progress=false"]))
    assert len(runs) == 2 * 4 * 2
    assert [r.name for r in runs[:5]] == [
        "Pong/arch=nature,lr=0.001-s0",
        "Pong/arch=nature,lr=0.001-s1",
        "Pong/arch=nature,lr=0.0005-s0",
        "Pong/arch=nature,lr=0.0005-s1",
        "Pong/arch=resnet14,lr=0.001-s0",
    ]
    assert runs[-1].name == "Breakout/arch=resnet14,lr=0.0005-s1"
    assert all(re.fullmatch(r"[A-Za-z0-9._+=,-]+/[A-Za-z0-9._+=,-]+", r.name) for r in runs)
    assert len({r.name for r in runs}) == len(runs)
    pong, breakout = runs[2].config, runs[-1].config
    assert (pong["env"], pong["arch"], pong["lr"], pong["seed"]) == (
        "ALE/Pong-v5",
        "nature",
        5e-4,
        0,
    )
    assert (pong["eval_episodes"], breakout["eval_episodes"]) == (3, 10)  # per-game override
    assert pong["steps"] == 200_000 and pong["num_envs"] == 8 and pong["progress"] is False
    assert runs[2].grid == {"arch": "nature", "lr": 5e-4}
    assert expand(exp, TrainConfig) == expand(exp, TrainConfig)  # deterministic
    subset = expand(exp, TrainConfig, games=["Breakout"])
    assert {r.env for r in subset} == {"ALE/Breakout-v5"} and len(subset) == 8
    only = expand(exp, TrainConfig, {"arch": "resnet14"})  # --set on a grid key: that value only
    assert {r.config["arch"] for r in only} == {"resnet14"} and len(only) == 8


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ({"seed": 3}, "--set seed: set by the file's games / seeds"),
        ({"env": "ALE/Qbert-v5"}, "--set env"),
        (
            {"arch": "resnet20"},
            "--set arch=resnet20: not one of the grid's values: nature, resnet14",
        ),
        ({"stepz": 3}, "--set: unknown setting 'stepz'"),
    ],
)
def test_bad_sets_are_refused(sets, message, tmp_path):
    exp = read_experiment(_file(tmp_path, EXP))
    with pytest.raises(A2DError, match=re.escape(message)):
        expand(exp, TrainConfig, sets)


def test_game_override_of_a_grid_key_is_refused(tmp_path):
    exp = read_experiment(_file(tmp_path, "games: {ALE/Pong-v5: {arch: nature}}\n"
                                          "grid: {arch: [nature, resnet14]}\n"))  # fmt: skip
    with pytest.raises(A2DError, match="games: ALE/Pong-v5: arch is a grid key"):
        expand(exp, TrainConfig)


def test_parse_sets_and_shard():
    assert parse_sets(["steps=2e5", "progress=false", "teacher=", "num-envs=4"]) == {
        "steps": "2e5", "progress": False, "teacher": "", "num_envs": 4}  # fmt: skip
    with pytest.raises(A2DError, match="key=value"):
        parse_sets(["steps"])
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) == (0, 1)
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(A2DError, match="--shard expects K/N"):
            parse_shard(bad)


def test_shards_and_ranks_split_the_runs(tmp_path, monkeypatch):
    runs = expand(read_experiment(_file(tmp_path, EXP)), TrainConfig)
    shards = [select(runs, (k, 3), 0, 1) for k in range(3)]
    assert shards[1] == runs[1::3]
    assert sorted(r.name for s in shards for r in s) == sorted(r.name for r in runs)
    ranks = [select(runs, (1, 3), rank, 2) for rank in range(2)]
    assert ranks[0] + ranks[1] != [] and set(map(id, ranks[0])).isdisjoint(map(id, ranks[1]))
    assert sorted(r.name for s in ranks for r in s) == sorted(r.name for r in shards[1])
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert rank_world() == (1, 4)


def test_dry_run_lists_runs_and_writes_nothing(tmp_path, capsys, monkeypatch):
    f = _file(tmp_path, EXP)
    out = tmp_path / "sweep"
    assert main(["sweep", str(f), "--out", str(out), "--dry-run", "--set", "num_envs=8"]) == 0
    text = capsys.readouterr().out
    assert "16 run(s) (2 game(s) x 4 grid point(s) x 2 seed(s))" in text
    assert "every run: num_envs=8 steps=200000" in text
    assert "pending              Pong/arch=nature,lr=0.001-s0  eval_episodes=3" in text
    assert "Breakout/arch=resnet14,lr=0.0005-s1" in text and not out.exists()
    monkeypatch.setenv("WORLD_SIZE", "2")  # under torchrun, each rank lists its own share
    monkeypatch.setenv("RANK", "1")
    assert main(["sweep", str(f), "--out", str(out), "--dry-run", "--shard", "0/2"]) == 0
    text = capsys.readouterr().out
    assert "(shard 0/2, rank 1/2) takes 4" in text
    listed = re.findall(r"pending +(\S+)", text)
    runs = expand(read_experiment(f), TrainConfig)
    assert listed == [r.name for r in runs[0::2][1::2]] and len(listed) == 4


def test_changed_settings_are_refused_not_resumed(tmp_path, capsys):
    from a2d_edge.config import build_config
    from a2d_edge.rl.trainer import start_run

    f = _file(tmp_path, "command: train\ngames: [ALE/Pong-v5]\nsteps: 400\n")
    out = tmp_path / "sweep"
    run = expand(read_experiment(f), TrainConfig)[0]
    start_run(build_config(TrainConfig, run.config), out / run.name)  # a run of the old file
    before = (out / run.name / "config.json").read_text()
    f.write_text(f.read_text().replace("steps: 400", "steps: 800\nlr: 5.0e-4"))
    assert main(["sweep", str(f), "--out", str(out), "--dry-run"]) == 0
    assert "refused              Pong/s0" in capsys.readouterr().out
    # --games Qbert: not a game of the file; then the real sweep: refused before any training
    assert main(["sweep", str(f), "--out", str(out), "--games", "Qbert"]) == 2
    assert "has no game 'Qbert'" in capsys.readouterr().err
    assert main(["sweep", str(f), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Pong/s0: refused: settings differ from" in err[0]
    assert "lr 0.001 -> 0.0005, steps 400 -> 800" in err[0]
    assert (out / run.name / "config.json").read_text() == before
    assert not (out / run.name / "agent.pt").exists()
    status = json.loads((out / "sweep.json").read_text())
    assert status["runs"][0]["status"] == "refused"


def test_sweep_runs_skips_done_resumes_partial_and_restarts_unstarted(
    tmp_path, capsys, monkeypatch
):
    """Breakout's runs fail (no such teacher) and the sweep goes on; Pong seed 0 runs to the
    end; seed 1 is interrupted after its first checkpoint (the sweep stops, as on Ctrl-C); seed
    2 holds only a config.json (killed before any checkpoint). The same command again skips
    seed 0, resumes seed 1 from step 200, starts seed 2 over, and ends naming the failures."""
    from a2d_edge.config import build_config
    from a2d_edge.rl import trainer

    text = "command: train\nseeds: [0, 1, 2]\ngames:\n  ALE/Breakout-v5: {teacher: %s}\n"
    f = _file(tmp_path, text % (tmp_path / "missing.pt") + "  ALE/Pong-v5: {}\n")
    out = tmp_path / "sweep"
    argv = ["sweep", str(f), "--out", str(out), "--set", *TINY]
    unstarted = expand(read_experiment(f), TrainConfig, parse_sets(TINY))[5]
    s2 = out / unstarted.name
    trainer.start_run(build_config(TrainConfig, unstarted.config), s2)
    (s2 / "metrics.jsonl").write_text('{"step": 999, "kind": "eval", "score_mean": 5.0}\n')

    original = trainer.TrainLoop.checkpoint
    fired = []

    def interrupting(self, name="agent.pt"):
        original(self, name)
        if self.cfg.seed == 1 and self.state.step >= 200 and not fired:
            fired.append(self.state.step)
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer.TrainLoop, "checkpoint", interrupting)
    assert main(argv) == 130
    status = {r["name"]: r["status"] for r in json.loads((out / "sweep.json").read_text())["runs"]}
    failed = {f"Breakout/s{seed}": "failed" for seed in range(3)}
    assert status == {**failed, "Pong/s0": "done", "Pong/s1": "interrupted", "Pong/s2": "partial"}
    assert not (out / "Breakout").exists()
    assert load_checkpoint(out / "Pong/s1/agent.pt")["step"] == 200
    done_ckpt = (out / "Pong/s0/agent.pt").stat().st_mtime_ns
    capsys.readouterr()

    monkeypatch.setattr(trainer.TrainLoop, "checkpoint", original)
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("a2d: error: 3 of 6 run(s) not done: Breakout/s0: ")
    assert "failed: " in err[0] and "missing.pt" in err[0]
    text = captured.out
    assert "Pong/s0: done at step 400, skipped" in text
    assert "Pong/s1: resume from step 200" in text
    assert "Pong/s2: restart (no checkpoint yet)" in text
    assert (out / "Pong/s0/agent.pt").stat().st_mtime_ns == done_ckpt
    for seed in (1, 2):
        assert load_checkpoint(out / f"Pong/s{seed}/agent.pt")["step"] == 400
        rows = read_jsonl(out / f"Pong/s{seed}/metrics.jsonl")
        steps = [r["step"] for r in rows]
        keys = [(r["step"], r["kind"]) for r in rows]
        assert steps == sorted(steps) and len(keys) == len(set(keys)) and steps[-1] == 400
        assert [r["step"] for r in rows if r["kind"] == "eval"] == [400]  # stale line gone
    status = {r["name"]: r["status"] for r in json.loads((out / "sweep.json").read_text())["runs"]}
    assert status == {**failed, "Pong/s0": "done", "Pong/s1": "done", "Pong/s2": "done"}


def test_search_sweep_runs_then_skips_and_reports(tmp_path, capsys):
    f = _file(tmp_path, "command: search\nmethod: rl\ngames: [ALE/Pong-v5]\npreset: edge\n")
    out = tmp_path / "sweep"
    argv = ["sweep", str(f), "--out", str(out), "--set", "steps=40", "num_envs=2",
            "eval_every=0", "checkpoint_every=20", "progress=false"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "Pong/s0/search.json").read_text())
    assert summary["step"] == 40 and (out / "Pong/s0/arch.json").is_file()
    assert main(argv) == 0
    assert "Pong/s0: done at step 40, skipped" in capsys.readouterr().out
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    (group,) = report["groups"]
    assert group["kind"] == "search" and group["best"] is None
    assert group["flops"]["mean"] == summary["derived_flops"]
    assert "| Pong | 1 | " in capsys.readouterr().out


def test_seeds_flag_replaces_the_files_seeds(tmp_path, capsys):
    f = _file(tmp_path, EXP)
    out = tmp_path / "sweep"
    assert main(["sweep", str(f), "--out", str(out), "--dry-run", "--seeds", "5"]) == 0
    text = capsys.readouterr().out
    assert "x 1 seed(s)" in text and "-s5" in text and "-s0" not in text
