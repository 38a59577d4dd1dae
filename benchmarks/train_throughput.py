"""Agent-steps/s of our A2C trainer vs Stable-Baselines3's A2C, same net, same env count.

SB3 runs as rl-zoo runs Atari A2C: `make_atari_env` (AtariWrapper: no-op starts, frame skip 4
with max-pool, life loss, FIRE reset, 84x84 grayscale, reward clip) + `VecFrameStack(4)`,
`CnnPolicy` (the Nature CNN with fc 512), 16 envs, n_steps 5, RMSpropTFLike. Ours runs with
the same net (`--arch nature`), 16 envs and rollout 5. Each configuration runs in its own
process, one after the other (never two at once), `--repeats` times; medians are reported.

    python -m benchmarks.train_throughput --steps 40000 --repeats 3

It also times, on one thread and in its own process, the four parts of one update of 80 agent
steps (16 envs x rollout 5): stepping the envs, the no-grad forwards that pick the actions,
the forward + backward over the rollout, and RMSProp with clipping. Their sum is the CPU work of
an update; spread perfectly over the machine's cores, it bounds the steps/s any trainer of this
algorithm, net and env count can reach here, printed against SB3's best (same run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine, median, result, run_worker, table

OURS: dict[str, dict[str, Any]] = {
    "a2d default (--precision auto, 1 thread)": {},
    "a2d fp32, 1 thread": {"precision": "fp32"},
    "a2d fp32, update on 2 threads": {"precision": "fp32", "learner_threads": 2},
    "a2d bf16 autocast, update on 2 threads": {"precision": "bf16", "learner_threads": 2},
    "a2d pipelined (fp32)": {"update": "pipelined", "precision": "fp32"},
    "a2d pipelined (--precision auto)": {"update": "pipelined"},
    "a2d pipelined, bf16 autocast": {"update": "pipelined", "precision": "bf16"},
}
"""Each of our configurations: `a2d train` settings over the shared ones (`ours_worker`)."""


def sb3_worker(steps: int, threads: int, env_id: str) -> float:
    import ale_py
    import gymnasium as gym
    import torch
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
    from stable_baselines3.common.vec_env import VecFrameStack

    torch.set_num_threads(threads)
    gym.register_envs(ale_py)
    env = make_atari_env(
        env_id, n_envs=16, seed=0, env_kwargs={"repeat_action_probability": 0.0, "frameskip": 1}
    )
    model = A2C(
        "CnnPolicy",
        VecFrameStack(env, 4),
        n_steps=5,
        ent_coef=0.01,
        vf_coef=0.25,
        policy_kwargs={"optimizer_class": RMSpropTFLike, "optimizer_kwargs": {"eps": 1e-5}},
        device="cpu",
    )
    model.learn(2_000)  # warm-up
    t = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - t)


def ours_worker(steps: int, env_id: str, settings: dict[str, Any]) -> float:
    from a2d_edge.experiments.commands import start_command
    from a2d_edge.utils.logging import read_jsonl

    with tempfile.TemporaryDirectory() as tmp:
        # The trainer reports steps/s over its loop; the first 2k steps warm up like SB3's.
        shared = {"env": env_id, "arch": "nature", "num_envs": 16, "rollout": 5,
                  "eval_every": 0, "checkpoint_every": 10**9, "progress": False,
                  "steps": steps + 2_000, "log_every": 2000}  # fmt: skip
        start_command("train", {**shared, **settings}, tmp)
        rows = [r for r in read_jsonl(Path(tmp) / "metrics.jsonl") if r["kind"] == "train"]
        t0, t1 = rows[0], rows[-1]
        return (t1["step"] - t0["step"]) / (t1["time"] - t0["time"])


def parts_worker(env_id: str, bf16: bool, repeats: int = 40) -> dict[str, float]:
    """Median ms of each part of one update (80 agent steps), one thread, nothing overlapped;
    the network parts under bf16 autocast with `bf16`, as `a2d train --precision bf16`."""
    import numpy as np
    import torch

    from a2d_edge.envs import AtariSettings, make_vec_env
    from a2d_edge.nets import build_agent, load_arch
    from a2d_edge.rl.optim import make_optimizer

    torch.set_num_threads(1)
    n, t_len = 16, 5
    env = make_vec_env(env_id, n, AtariSettings(), num_threads=1)
    obs, _ = env.reset(seed=0)
    model = build_agent(load_arch("nature"), int(env.single_action_space.n))
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # as trained
    opt = make_optimizer("rmsprop-tf", model.parameters(), 1e-3, 0.99, 1e-5)
    rng = np.random.default_rng(0)
    frames = torch.from_numpy(np.stack([obs] * t_len).reshape(t_len * n, *obs.shape[1:]))
    times: dict[str, list[float]] = {"env": [], "act": [], "update": [], "optimizer": []}

    def timed(name: str, f) -> None:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        f()
        times[name].append((time.perf_counter() - t) * 1000)

    def step_envs() -> None:
        for _ in range(t_len):
            env.step(rng.integers(0, env.single_action_space.n, n, dtype=np.int32))

    def act() -> None:
        with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            for _ in range(t_len):
                model(torch.from_numpy(obs))

    def update() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            logits, values = model(frames)
        (logits.float().logsumexp(-1).mean() + values.float().square().mean()).backward()

    def optimize() -> None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()

    for i in range(repeats + 5):  # the first 5 warm up
        for name, f in (("env", step_envs), ("act", act), ("update", update),
                        ("optimizer", optimize)):  # fmt: skip
            timed(name, f)
        if i == 4:
            times = {k: [] for k in times}
    env.close()
    return {k: median(v) for k, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=40_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--env", default="ALE/Pong-v5")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--flags", default="[]", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker == "sb3":
        print("RESULT " + json.dumps(sb3_worker(args.steps, args.threads, args.env)))
        return
    if args.worker == "parts":
        print("PARTS " + json.dumps(parts_worker(args.env, json.loads(args.flags) == ["bf16"])))
        return
    if args.worker == "ours":
        print("RESULT " + json.dumps(ours_worker(args.steps, args.env, json.loads(args.flags))))
        return

    me = str(Path(__file__).resolve())
    configs: dict[str, list[str]] = {
        f"SB3 A2C, {t} thread{'s' if t > 1 else ''}": [me, "--worker", "sb3", "--threads", str(t)]
        for t in (1, 2)
    }
    configs.update(
        {name: [me, "--worker", "ours", "--flags", json.dumps(f)] for name, f in OURS.items()}
    )
    results: dict[str, list[float]] = {name: [] for name in configs}
    for r in range(args.repeats):  # interleaved, to spread drift over every configuration
        for name, argv in configs.items():
            sps = result(run_worker([*argv, "--steps", str(args.steps), "--env", args.env]))
            results[name].append(sps)
            print(f"  repeat {r + 1}: {name}: {sps:,.0f} steps/s", file=sys.stderr)
    med = {name: median(v) for name, v in results.items()}
    sb3_best = max(med[k] for k in med if k.startswith("SB3"))
    sb3_one = med["SB3 A2C, 1 thread"]
    rows = [
        [name, f"{m:,.0f}", f"{m / sb3_best:.2f}×", f"{m / sb3_one:.2f}×"]
        for name, m in med.items()
    ]
    print(
        f"\n{args.env}, Nature CNN, 16 envs, rollout 5, {args.steps:,} steps, "
        f"median of {args.repeats}; {machine()}\n"
    )
    print(table(["trainer", "agent-steps/s", "vs best SB3", "vs SB3 1 thread"], rows))
    names = {"env": "env stepping (16 envs x 5)", "act": "no-grad forwards choosing actions",
             "update": "forward + backward over the rollout (batch 80)",
             "optimizer": "clipping + RMSProp"}  # fmt: skip
    cores = os.cpu_count() or 1
    got = {}
    for precision in ("fp32", "bf16"):
        flags = json.dumps([precision])
        out = run_worker([me, "--worker", "parts", "--env", args.env, "--flags", flags])
        got[precision] = json.loads(out.split("PARTS ")[-1].splitlines()[0])
    print("\nOne update of 80 agent steps, its parts on one thread (median of 40, ms):\n")
    prow = [[names[k], f"{got['fp32'][k]:.1f}", f"{got['bf16'][k]:.1f}"] for k in names]
    totals = {p: sum(v.values()) for p, v in got.items()}
    prow.append(["sum: the CPU work of one update", *(f"{totals[p]:.1f}" for p in got)])
    bounds = {p: 80 / (t / cores / 1000) for p, t in totals.items()}
    prow.append([f"at most, over {cores} perfectly used cores (agent-steps/s)",
                 *(f"{bounds[p]:,.0f}" for p in got)])  # fmt: skip
    prow.append(
        ["that bound vs SB3's best in this run", *(f"{bounds[p] / sb3_best:.2f}×" for p in got)]
    )
    print(table(["part", "fp32 ms", "bf16 autocast ms"], prow))


if __name__ == "__main__":
    main()
