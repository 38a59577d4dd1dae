"""`a2d search --method distill` end to end at toy scale: labels, outputs, resume, refusals."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from a2d_edge.cli import main
from a2d_edge.errors import A2DError
from a2d_edge.hw.lut import LatencyTable, OpKey, Timing
from a2d_edge.nets import build_agent, get_space, load_arch
from a2d_edge.nets.space import random_arch
from a2d_edge.nets.supernet import Supernet
from a2d_edge.rl.loop import LoopState
from a2d_edge.rl.setup import make_collector
from a2d_edge.rl.teacher import Teacher
from a2d_edge.search.checkpoint import load_supernet
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.phase import load_phase
from a2d_edge.search.replay import LabelledReplay
from a2d_edge.search.trainer import DistillLoop, PhaseSettings
from a2d_edge.sources.checkpoint import load_agent, save_checkpoint
from a2d_edge.utils.logging import NullLogger


def _args(out, *extra, teacher):
    # a search from a trained --supernet trains none: its flags would be refused
    training = [] if "--supernet" in extra else ["--supernet-steps", "160",
                                                 "--supernet-frames-per-update", "8"]  # fmt: skip
    gradient = "--select" in extra and extra[extra.index("--select") + 1] == "gradient"
    evolution = [] if gradient else ["--population", "3", "--generations", "2"]
    return [
        "search",
        "--env",
        "ALE/Pong-v5",
        "--teacher",
        str(teacher),
        "--out",
        str(out),
        "--num-envs",
        "4",
        *training,
        "--finish-steps",
        "96",
        "--frames-per-update",
        "8",
        "--batch-size",
        "16",
        "--replay-size",
        "512",
        "--holdout-size",
        "256",
        "--judge-frames",
        "64",
        "--bn-frames",
        "64",
        *evolution,
        "--final-episodes",
        "0",
        "--eval-every",
        "0",
        "--checkpoint-every",
        "48",
        "--log-every",
        "16",
        "--no-progress",
        *extra,
    ]


def _random_table(seed=0):
    """A table of the fast space with random entries (warm mode, another machine's)."""
    space = get_space("fast")
    rng = np.random.default_rng(seed)
    entries = {}
    for block in space.blocks():
        for op in space.ops:
            us = 0.5 if op == "skip" else float(rng.uniform(5, 60))
            entries[OpKey.of(op, block)] = Timing(us, us, 50)
    fixed = {k: Timing(v, v, 50) for k, v in {"stem": 30.0, "head": 10.0, "overhead": 15.0}.items()}
    meta = {
        "device": {"cpu": "elsewhere", "slug": "elsewhere"},
        "backend": "onnxruntime",
        "precision": "fp32",
        "threads": 1,
        "mode": "warm",
        "batch": 1,
    }
    return LatencyTable(space, entries, fixed, meta=meta)


def test_stored_teacher_labels_are_the_teachers_outputs(tiny_agent_ckpt):
    cfg = SearchConfig(num_envs=2, supernet_frames_per_update=4, teacher=str(tiny_agent_ckpt))
    teacher = Teacher.load(tiny_agent_ckpt, cfg.env, 6)
    collector = make_collector(cfg, 0)
    net = Supernet(get_space("fast"), 6)
    phase = PhaseSettings(cfg.env, 100, 10, 0, 1, 100, False)
    loop = DistillLoop(
        cfg=cfg,
        phase=phase,
        run_dir=None,
        checkpoint_path=None,
        model=net,
        teacher=teacher,
        collector=collector,
        logger=NullLogger(),
        state=LoopState(),
        replay=LabelledReplay(64, (4, 84, 84), 6),
        holdout=LabelledReplay(64, (4, 84, 84), 6),
        hooks=[],
    )
    try:
        for _ in range(10):
            loop.collect()
    finally:
        collector.close()
    assert len(loop.replay) + len(loop.holdout) == 40 and len(loop.holdout) == 4
    for buf in (loop.replay, loop.holdout):
        obs, logits, values = buf.all()
        with torch.no_grad():
            t_logits, t_values = teacher.model(obs)
        assert torch.allclose(logits, t_logits) and torch.allclose(values, t_values)
        assert obs.dtype == torch.uint8 and obs.float().std() > 0  # real frames


def test_the_teacher_plays_the_same_held_out_frames_for_the_same_seed(tiny_agent_ckpt):
    from a2d_edge.search.frames import collect_frames

    cfg = SearchConfig(num_envs=2, teacher=str(tiny_agent_ckpt))
    teacher = Teacher.load(cfg.teacher, cfg.env, 6)
    a, b = (collect_frames(cfg, teacher, 64) for _ in range(2))
    assert torch.equal(a.obs, b.obs) and torch.equal(a.logits, b.logits)
    other = collect_frames(
        SearchConfig(num_envs=2, teacher=str(tiny_agent_ckpt), seed=1), teacher, 64
    )
    assert not torch.equal(a.obs, other.obs)


def test_distill_search_writes_a_playable_agent_under_the_budget(tmp_path, tiny_agent_ckpt):
    lut = tmp_path / "lut.json"
    table = _random_table()
    table.save(lut)
    fastest, _ = table.fastest()
    budget = round(fastest + 0.03, 4)
    out = tmp_path / "s"
    argv = _args(out, "--lut", str(lut), "--latency-budget-ms", str(budget), "--rerank-top", "2",
                 teacher=tiny_agent_ckpt)  # fmt: skip
    assert main(argv) == 0
    record = json.loads((out / "search.json").read_text())
    arch = load_arch(str(out / "arch.json"))
    assert record["method"] == "distill" and record["derived"] == arch
    assert record["latency"]["predicted_ms"] <= budget
    assert table.predict(arch) == pytest.approx(record["latency"]["predicted_ms"])
    assert all(h["predicted_ms"] <= budget for h in record["latency"]["history"])
    rerank = record["latency"]["rerank"]  # the evolution's best few, judged again
    assert record["derived"]["ops"] in [j["ops"] for j in rerank["judged"]]
    # the kept arch has the least loss (two archs can tie at the record's 6 decimals)
    kept = next(j["loss"] for j in rerank["judged"] if j["ops"] == record["derived"]["ops"])
    assert kept == min(j["loss"] for j in rerank["judged"])
    assert "measured_ms" not in record["latency"]  # another machine's table: not timed here
    model, ckpt = load_agent(out / "agent.pt")
    assert ckpt["arch"] == arch and ckpt["env_id"] == "ALE/Pong-v5"
    assert ckpt["step"] == 160 + 96 and ckpt["elapsed"] > 0  # supernet + finish
    logits, _ = model(torch.zeros(1, 4, 84, 84, dtype=torch.uint8))
    assert logits.shape == (1, 6)
    result = json.loads((out / "result.json").read_text())
    assert set(result["wall_seconds"]) == {"supernet", "select", "finish", "eval"}
    assert load_phase(out / "supernet.pt")["step"] == 160
    assert load_phase(out / "finish.pt")["step"] == 96

    # one supernet, another table: selection and finish only, from the trained supernet
    other = tmp_path / "lut2.json"
    _random_table(seed=1).save(other)
    out2 = tmp_path / "s2"
    assert (
        main(
            _args(
                out2,
                "--supernet",
                str(out),
                "--lut",
                str(other),
                "--latency-budget-ms",
                str(budget),
                teacher=tiny_agent_ckpt,
            )
        )
        == 0
    )
    assert not (out2 / "supernet.pt").exists()
    assert load_agent(out2 / "agent.pt")[1]["step"] == 96  # the reused supernet's are not its own
    assert json.loads((out2 / "search.json").read_text())["supernet"] == str(out)

    # shipped: fp16 on disk, one file with its game, actions and space; loads back in fp32
    from tools.publish_zoo import publish_supernet

    card = publish_supernet(out, "tiny", command="a2d search x", zoo_dir=tmp_path / "zoo")
    shipped = tmp_path / "zoo" / "supernets" / "tiny.pt"
    raw = torch.load(shipped, weights_only=True)
    assert raw["env_id"] == "ALE/Pong-v5" and raw["space"]["name"] == "fast"
    assert all(v.dtype == torch.float16 for v in raw["model"].values() if v.is_floating_point())
    net, _ = load_supernet(str(shipped), "ALE/Pong-v5", 6)
    assert card["agent_steps"] == 160 and net.alpha.dtype == torch.float32
    with pytest.raises(A2DError, match="trained on ALE/Pong-v5, not on ALE/Breakout-v5"):
        load_supernet(str(shipped), "ALE/Breakout-v5", 4)


def test_each_phase_resumes_after_sigkill(tmp_path, tiny_agent_ckpt, kill_when):
    out = tmp_path / "s"
    argv = _args(out, "--supernet-steps", "400", teacher=tiny_agent_ckpt)

    def supernet_saved():
        ckpt = load_phase(out / "supernet.pt") if (out / "supernet.pt").exists() else None
        return ckpt is not None and ckpt["step"] >= 48

    kill_when(argv, supernet_saved)
    killed = load_phase(out / "supernet.pt")["step"]
    assert 48 <= killed < 400
    kill_when(["search", "--resume", str(out)], lambda: (out / "finish.pt").exists())
    assert load_phase(out / "supernet.pt")["step"] == 400  # finished on the resume
    assert main(["search", "--resume", str(out)]) == 0
    assert load_phase(out / "finish.pt")["step"] == 96
    assert (out / "agent.pt").exists()
    steps = [r["step"] for r in map(json.loads, (out / "supernet" / "metrics.jsonl").open())]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # no step logged twice


def test_refusals_are_one_line_and_write_nothing(tmp_path, tiny_agent_ckpt, capsys):
    # a teacher of another game
    breakout = tmp_path / "breakout.pt"
    model = build_agent(load_arch("nature"), 4)
    save_checkpoint(
        breakout,
        {
            "arch": load_arch("nature"),
            "env_id": "ALE/Breakout-v5",
            "obs_shape": [4, 84, 84],
            "n_actions": 4,
            "step": 0,
            "model": model.state_dict(),
        },
    )
    lut = tmp_path / "lut.json"
    table = _random_table()
    table.save(lut)
    fastest, _ = table.fastest()
    cases = [
        (["--lut", str(lut)], breakout, "a teacher must play the student's game"),
        (
            ["--lut", str(lut), "--latency-budget-ms", str(fastest / 2)],
            tiny_agent_ckpt,
            "below the fastest architecture",
        ),
        (["--replay-size", "100000000"], tiny_agent_ckpt, "lower --replay-size"),
        (["--frames-per-update", "6"], tiny_agent_ckpt, "not a multiple of --num-envs"),
        (["--supernet", str(tmp_path / "nowhere")], tiny_agent_ckpt, "no trained supernet"),
    ]
    for i, (extra, teacher, message) in enumerate(cases):
        out = tmp_path / f"o{i}"
        assert main(_args(out, *extra, teacher=teacher)) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not out.exists()
    # a teacher with another action set (Pong has 6 actions)
    wrong = tmp_path / "pong4.pt"
    save_checkpoint(
        wrong,
        {
            "arch": load_arch("nature"),
            "env_id": "ALE/Pong-v5",
            "obs_shape": [4, 84, 84],
            "n_actions": 4,
            "step": 0,
            "model": model.state_dict(),
        },
    )
    assert main(_args(tmp_path / "w", teacher=wrong)) == 2
    assert "has 4 actions but ALE/Pong-v5 has 6" in capsys.readouterr().err


def test_the_shipped_breakout_teacher_is_refused_by_a_pong_search(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(_args(out, teacher="zoo:breakout")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not out.exists(), err
    assert "trained on ALE/Breakout-v5, not on ALE/Pong-v5 (4 actions, not 6)" in err


def _thin_args(out, teacher, *extra):
    """`a2d distill` of `nature-thin` at toy scale: 48 finish steps, no evaluation."""
    return ["distill", "--env", "ALE/Pong-v5", "--teacher", str(teacher), "--arch", "nature-thin",
            "--num-envs", "4", "--finish-steps", "48", "--frames-per-update", "8",
            "--batch-size", "16", "--replay-size", "256", "--holdout-size", "256",
            "--final-episodes", "0", "--eval-every", "0", "--no-progress", *extra,
            "--out", str(out)]  # fmt: skip


def test_a2d_distill_trains_a_hand_made_arch(tmp_path, tiny_agent_ckpt):
    out = tmp_path / "thin"
    argv = _thin_args(out, tiny_agent_ckpt)
    assert main(argv) == 0
    model, ckpt = load_agent(out / "agent.pt")
    assert ckpt["arch"] == load_arch("nature-thin")
    assert ckpt["step"] == 48 and ckpt["elapsed"] > 0  # no supernet behind a2d distill
    assert model.features.convs[0].out_channels == 16
    result = json.loads((out / "result.json").read_text())
    assert result["steps"] == {"finish": 48} and result["mflops"] > 0
    assert load_phase(out / "finish.pt")["step"] == 48


def test_a2d_distill_records_the_prediction_of_a_target_devices_table(tmp_path, tiny_agent_ckpt):
    lut = tmp_path / "lut.json"
    table = _random_table()
    table.save(lut)
    arch = random_arch(get_space("fast"), seed=3)
    (tmp_path / "arch.json").write_text(json.dumps(arch))
    common = ["distill", "--env", "ALE/Pong-v5", "--teacher", str(tiny_agent_ckpt),
              "--lut", str(lut), "--num-envs", "4", "--finish-steps", "16",
              "--frames-per-update", "8", "--batch-size", "16", "--replay-size", "256",
              "--holdout-size", "256", "--final-episodes", "0", "--eval-every", "0",
              "--no-progress"]  # fmt: skip
    assert main([*common, "--arch", str(tmp_path / "arch.json"), "--out", str(tmp_path / "a")]) == 0
    latency = json.loads((tmp_path / "a" / "result.json").read_text())["latency"]
    assert latency["predicted_ms"] == pytest.approx(table.predict(arch))  # the target's
    assert latency["measured_ms"] is None  # another machine's table: not timed here
    assert latency["table"] == str(lut)
    assert main([*common, "--arch", "nature-thin", "--out", str(tmp_path / "b")]) == 0
    latency = json.loads((tmp_path / "b" / "result.json").read_text())["latency"]
    assert latency["predicted_ms"] is None  # a net outside the table's space: no prediction


@pytest.mark.parametrize(("ratio", "precision"), [(0.6, "bf16"), (1.3, "fp32")])
def test_the_weight_steps_train_in_the_precision_auto_measured(
    tmp_path, tiny_agent_ckpt, monkeypatch, capsys, ratio, precision
):
    from a2d_edge.search import trainer as loop_mod
    from a2d_edge.utils import accel
    from a2d_edge.utils.fingerprint import fingerprint_from

    cpuinfo = Path(__file__).parents[1] / "utils" / "data" / "cpuinfo-epyc-avx512.txt"
    host = fingerprint_from(cpuinfo.read_text(), machine="x86_64", cores=2)  # native bf16
    monkeypatch.setattr("a2d_edge.utils.fingerprint.this_host", lambda: host)
    monkeypatch.setattr(accel, "bf16_time_ratio", lambda *a, **k: ratio)
    seen: list[bool] = []

    def spy(device, enabled):
        seen.append(enabled)
        return accel.autocast(device, enabled)

    monkeypatch.setattr(loop_mod, "autocast", spy)
    out = tmp_path / "thin"
    argv = _thin_args(out, tiny_agent_ckpt, "--log-every", "8")
    assert main(argv) == 0
    assert f"auto -> {precision}" in capsys.readouterr().out
    assert len(seen) == 6 and set(seen) == {precision == "bf16"}  # 48 steps / 8 per update
    assert json.loads((out / "finish" / "precision.json").read_text())["precision"] == precision
    model, _ = load_agent(out / "agent.pt")
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
    kls = [r["distill/kl"] for r in map(json.loads, (out / "finish" / "metrics.jsonl").open())
           if "distill/kl" in r]  # fmt: skip
    assert kls and all(np.isfinite(kls))
    monkeypatch.setattr(accel, "bf16_time_ratio", lambda *a, **k: 2.0 - ratio)  # flips the choice
    (out / "agent.pt").unlink()
    (out / "result.json").unlink()
    assert main(["distill", "--resume", str(out), "--no-progress"]) == 0
    assert f"auto -> {precision} (kept from this run's start)" in capsys.readouterr().out
    (out / "finish" / "precision.json").unlink()  # a run begun before the phases recorded it
    (out / "agent.pt").unlink()
    (out / "result.json").unlink()
    assert main(["distill", "--resume", str(out), "--no-progress"]) == 0
    assert "auto -> fp32 (finish began in fp32" in capsys.readouterr().out


def test_an_interrupted_a2d_distill_names_the_command_that_resumes_it(
    tmp_path, tiny_agent_ckpt, monkeypatch, capsys
):
    out = tmp_path / "thin"
    argv = _thin_args(out, tiny_agent_ckpt)

    def interrupted(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(DistillLoop, "run", interrupted)
        assert main(argv) == 130  # Ctrl-C's exit, after the checkpoint
    assert f"resume: a2d distill --resume {out}" in capsys.readouterr().out
    assert main(["distill", "--resume", str(out), "--no-progress"]) == 0  # what it said works
    assert load_phase(out / "finish.pt")["step"] == 48


def test_a2d_distill_decays_its_lr_by_the_finish_schedule(tmp_path, tiny_agent_ckpt):
    out = tmp_path / "thin"
    schedule = ["--finish-lr-schedule", "linear", "--distill-lr", "6e-4"]
    argv = _thin_args(out, tiny_agent_ckpt, "--log-every", "8", *schedule)
    assert main(argv) == 0
    lines = (out / "finish" / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    lrs = [r["distill/lr"] for r in rows if "distill/lr" in r]
    assert len(lrs) >= 3 and lrs == sorted(lrs, reverse=True) and lrs[0] > lrs[-1]
    # the last update ran at step 40 of 48: 6e-4 x (1 - 40/48)
    groups = load_phase(out / "finish.pt")["optimizer"]["param_groups"]
    assert groups[0]["lr"] == pytest.approx(6e-4 * 8 / 48)


@pytest.mark.parametrize("side", [0.6, 1.4])
def test_alpha_steps_pull_the_expected_latency_to_the_budget_from_both_sides(side):
    table = _random_table(3)
    space = table.space
    cfg = SearchConfig(select="gradient", latency_budget_ms=1.0, latency_weight=100.0,
                       alpha_lr=0.05, batch_size=8, select_warmup=0.0)  # fmt: skip
    net = Supernet(space, 6)
    start = float(table.expected(torch.softmax(net.alpha, -1)))
    budget = side * start  # below the uniform arch's latency, or above it
    cfg = SearchConfig(**{**cfg.__dict__, "latency_budget_ms": budget})
    holdout = LabelledReplay(64, (4, 84, 84), 6)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (64, 4, 84, 84), dtype=np.uint8)
    logits, values = rng.normal(size=(64, 6)), rng.normal(size=64)
    holdout.add(frames, logits.astype(np.float32), values.astype(np.float32))

    class NoEnvs:
        num_envs, n_actions = 4, 6

    loop = DistillLoop(cfg=cfg, phase=PhaseSettings(cfg.env, 10, 10, 0, 1, 10, False),
                       run_dir=None, checkpoint_path=None, model=net, teacher=None,
                       collector=NoEnvs(), logger=NullLogger(), state=LoopState(),
                       replay=holdout, holdout=holdout, table=table, hooks=[])  # fmt: skip
    for _ in range(30):
        stats = loop.alpha_step()
        loop.state.updates += 1
    end = stats["alpha/expected_ms"]
    assert abs(end - budget) < 0.5 * abs(start - budget)  # moved toward the budget
    assert (end < start) == (side < 1)  # up when the budget is above, down when below
