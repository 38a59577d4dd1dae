"""The CLI end to end, in-process (`main([...])`) and, for the kill test, as a subprocess."""

import json
import math

import pytest

from a2d_edge.cli import main
from a2d_edge.rl.schedule import lr_at
from a2d_edge.sources.checkpoint import load_checkpoint
from a2d_edge.utils.logging import read_jsonl


def test_train_smoke_eval_and_round_trip(tmp_path, tiny_train_args, capsys):
    run = tmp_path / "run"
    assert main(tiny_train_args(run)) == 0
    ckpt = load_checkpoint(run / "agent.pt")
    assert ckpt["step"] == 320 and ckpt["n_actions"] == 6
    rows = [r for r in read_jsonl(run / "metrics.jsonl") if r["kind"] == "train"]
    assert rows and all(math.isfinite(r["loss/total"]) for r in rows)
    assert (run / "tb").is_dir()
    capsys.readouterr()
    assert main(["eval", str(run / "agent.pt"), "--episodes", "2", "--seed", "1", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    last = json.loads(out[-1])
    assert last["episodes"] == 2
    # an untrained Pong agent loses (almost) every point, and the printed line is the JSON's
    assert last["mean"] <= -15 and f"mean {last['mean']:.2f}" in out[-2]


def test_batched_update_recomputes_the_rollouts_own_outputs():
    """The batched update's second forward sees exactly what the kept graph saw."""
    import torch

    from a2d_edge.envs import AtariSettings
    from a2d_edge.nets import build_agent, load_arch
    from a2d_edge.rl.rollout import RolloutCollector

    torch.manual_seed(0)
    model = build_agent(load_arch("nature"), 6)
    col = RolloutCollector("ALE/Pong-v5", 4, AtariSettings(), seed=0, groups=2)
    try:
        ro = col.collect(model, 5, keep_obs=True, keep_graph=True)
    finally:
        col.close()
    assert ro.obs is not None and ro.obs.shape == (20, 4, 84, 84)
    logits, values = model(ro.obs)
    assert torch.allclose(logits, ro.logits, atol=1e-5)
    assert torch.allclose(values, ro.values, atol=1e-5)
    assert ro.rewards.shape == ro.dones.shape == (5, 4)


@pytest.mark.parametrize("update", ["keep-graph", "batched"])
def test_update_modes_and_bf16_train_with_finite_losses(update, tmp_path, tiny_train_args):
    run = tmp_path / update
    assert main(tiny_train_args(run, steps=80, extra=["--update", update])) == 0
    run2 = tmp_path / (update + "-bf16")
    extra = ["--update", update, "--precision", "bf16"]
    assert main(tiny_train_args(run2, steps=80, extra=extra)) == 0
    rows = read_jsonl(run2 / "metrics.jsonl")
    assert all(math.isfinite(r["loss/total"]) for r in rows if r["kind"] == "train")


def test_refuses_to_overwrite_a_run(tmp_path, tiny_train_args, capsys):
    run = tmp_path / "run"
    assert main(tiny_train_args(run, steps=80)) == 0
    before = (run / "agent.pt").read_bytes()
    capsys.readouterr()
    assert main(tiny_train_args(run, steps=80)) == 2
    err = capsys.readouterr().err.strip()
    assert "already holds a run" in err and len(err.splitlines()) == 1
    assert (run / "agent.pt").read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--env", "ALE/Nope-v5", "--out", "{tmp}/x", "--steps", "80"], "unknown env id"),
        (
            ["train", "--arch", "{tmp}/arch.json", "--out", "{tmp}/y", "--steps", "80"],
            "unknown arch family",
        ),
        (["eval", "{tmp}/corrupt.pt"], "corrupt or foreign checkpoint"),
        (["eval", "{tmp}/missing.pt"], "not found"),
        (["arch-info", "vgg16"], "unknown arch"),
        (["train", "--resume", "{tmp}/nothing"], "run config not found"),
        (["train", "--out", "{tmp}/y", "--steps", "-5"], "'steps' is -5; it must be >= 1"),
        (["train", "--out", "{tmp}/y", "--gamma", "1.5"], "'gamma' is 1.5; it must be >= 0 and"),
        (["train", "--out", "{tmp}/y", "--lr", "-1"], "'lr' is -1.0; it must be >= 0"),
        (["search-rl", "--out", "{tmp}/y", "--tau", "-1"], "'tau' is -1.0; it must be > 0"),
        (["search", "--out", "{tmp}/y", "--tau", "-1"], "--tau is for a2d search-rl"),
    ],
)
def test_bad_inputs_end_in_one_line(argv, message, tmp_path, capsys):
    (tmp_path / "arch.json").write_text(json.dumps({"schema": "a2d.arch/1", "family": "mlp"}))
    (tmp_path / "corrupt.pt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "y").exists()


def test_arch_info_prints_counts(capsys):
    assert main(["arch-info", "nature", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == pytest.approx(1.69e6, rel=0.01)
    assert info["flops"] == pytest.approx(9.35e6, rel=0.01)


def test_resume_after_sigkill_continues_step_and_schedule(tmp_path, tiny_train_args, kill_when):
    run = tmp_path / "run"
    # lr decays from step 0 (constant phase 0) so the schedule is visible at every step.
    args = tiny_train_args(run, steps=960, extra=["--lr-constant-steps", "0", "--log-every", "40"])
    ckpt = run / "agent.pt"
    kill_when(args, lambda: ckpt.exists() and load_checkpoint(ckpt)["step"] >= 160)
    killed_at = load_checkpoint(run / "agent.pt")["step"]
    assert 160 <= killed_at < 960
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    ckpt = load_checkpoint(run / "agent.pt")
    assert ckpt["step"] == 960
    rows = [r for r in read_jsonl(run / "metrics.jsonl") if r["kind"] == "train"]
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps))  # no duplicated or out-of-order lines after resume
    for r in rows:  # lr is logged for the update ending at `step` (4 envs x 5 steps = 20)
        assert r["lr"] == pytest.approx(lr_at(r["step"] - 20, 960, 1e-3, 1e-4, 0))


def test_init_fine_tunes_from_an_agent_and_refuses_a_mismatch(tmp_path, tiny_train_args, capsys):
    import torch

    base = tmp_path / "base"
    assert main(tiny_train_args(base, steps=80)) == 0
    start = load_checkpoint(base / "agent.pt")
    tuned = tmp_path / "tuned"
    extra = ["--init", str(base / "agent.pt"), "--lr", "0", "--lr-final", "0"]
    assert main(tiny_train_args(tuned, steps=80, extra=extra)) == 0
    ckpt = load_checkpoint(tuned / "agent.pt")
    assert ckpt["step"] == 80 and ckpt["init_steps"] == 80
    assert ckpt["config"]["init"] == str(base / "agent.pt")
    for name, weight in start["model"].items():  # lr 0: the weights it started from, unchanged
        assert torch.equal(ckpt["model"][name], weight), name
    capsys.readouterr()
    bad = [
        (["--init", str(base / "agent.pt"), "--arch", "resnet14"], "is a nature agent"),
        (["--init", str(base / "agent.pt"), "--env", "ALE/Breakout-v5"], "plays ALE/Pong-v5"),
        (["--init", str(tmp_path / "none.pt")], "not found"),
    ]
    for i, (flags, message) in enumerate(bad):
        argv = tiny_train_args(tmp_path / f"bad{i}", steps=80) + flags
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / f"bad{i}").exists()


def test_resume_under_another_world_size_is_refused_and_keeps_the_run(
    tmp_path, tiny_train_args, capsys
):
    from a2d_edge.sources.checkpoint import save_checkpoint

    run = tmp_path / "run"
    assert main(tiny_train_args(run, steps=80)) == 0
    ckpt = load_checkpoint(run / "agent.pt")
    assert ckpt["world_size"] == 1
    ckpt["world_size"] = 2  # as if saved by `torchrun --nproc-per-node 2`, then killed
    ckpt["config"]["steps"] = 160
    save_checkpoint(run / "agent.pt", ckpt)
    before = (run / "agent.pt").read_bytes(), (run / "metrics.jsonl").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "saved by 2 process(es)" in err and len(err.splitlines()) == 1, err
    assert ((run / "agent.pt").read_bytes(), (run / "metrics.jsonl").read_bytes()) == before


def test_eval_caps_each_game_at_max_frames(capsys):
    from a2d_edge.rl.evaluate import evaluate_checkpoint

    # 400 emulator frames = 100 agent steps at frame skip 4: a Pong game is cut long before
    # its end (the teacher's games last ~1,700+ steps)
    result = evaluate_checkpoint("zoo:pong", episodes=2, max_frames=400)
    assert all(n <= 100 for n in result.lengths) and len(result.scores) == 2
    assert main(["eval", "zoo:pong", "--episodes", "1", "--max-frames", "400"]) == 0
    assert "1 episodes (each capped at 400 frames): mean" in capsys.readouterr().out
    assert main(["eval", "zoo:pong", "--episodes", "1", "--max-frames", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--max-frames: must be at least 0, not -1" in err and len(err.splitlines()) == 1
