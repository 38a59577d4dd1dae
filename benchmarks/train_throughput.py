"""Agent-steps/s of our A2C trainer vs Stable-Baselines3's A2C, same net, same env count.

SB3 runs as rl-zoo runs Atari A2C: `make_atari_env` (AtariWrapper: no-op starts, frame skip 4
with max-pool, life loss, FIRE reset, 84x84 grayscale, reward clip) + `VecFrameStack(4)`,
`CnnPolicy` (the Nature CNN with fc 512), 16 envs, n_steps 5, RMSpropTFLike. Ours runs with
the same net (`--arch nature`), 16 envs and rollout 5. Each configuration runs in its own
process, one after the other (never two at once), `--repeats` times; medians are reported.

    python benchmarks/train_throughput.py --steps 40000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, median, result, run_worker, table

OURS = {
    "a2d default (fp32, 1 thread)": [],
    "a2d fp32, update on 2 threads": ["--learner-threads", "2"],
    "a2d bf16 autocast, update on 2 threads": ["--precision", "bf16", "--learner-threads", "2"],
}


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


def ours_worker(steps: int, env_id: str, flags: list[str]) -> float:
    from a2d_edge.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            "train",
            "--env",
            env_id,
            "--arch",
            "nature",
            "--num-envs",
            "16",
            "--rollout",
            "5",
            "--eval-every",
            "0",
            "--checkpoint-every",
            str(10**9),
            "--no-progress",
            "--steps",
            str(steps + 2_000),
            "--out",
            tmp,
            *flags,
        ]
        # The trainer reports steps/s over its loop; the first 2k steps warm up like SB3's.
        from a2d_edge.utils.logging import read_jsonl

        argv += ["--log-every", "2000"]
        assert main(argv) == 0
        rows = [r for r in read_jsonl(Path(tmp) / "metrics.jsonl") if r["kind"] == "train"]
        t0, t1 = rows[0], rows[-1]
        return (t1["step"] - t0["step"]) / (t1["time"] - t0["time"])


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


if __name__ == "__main__":
    main()
