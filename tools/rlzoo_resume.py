"""Continue an rl-zoo Atari training (`python -m rl_zoo3.train --algo ppo|a2c --env ENV -n N
--save-freq F -f logs ...`) from its latest checkpoint in a later sitting, as if it had never
stopped: rl-zoo's own hyperparameters (its `hyperparams/<algo>.yml`, `atari` entry, read with
`yaml.safe_load`), the same env (`make_atari_env` + `VecFrameStack(4)` + `VecTransposeImage`,
which is what rl-zoo's `AtariWrapper` + `frame_stack: 4` builds), the policy and optimizer state
from the checkpoint's `policy.pth` / `policy.optimizer.pth` (read with `weights_only=True`:
nothing is unpickled), and its step count, so the linear schedules (`lin_2.5e-4`, ...) go on
from where they were (`learn(N - done, reset_num_timesteps=False)`; rl-zoo's own
`--trained-agent` would restart them). Checkpoints keep rl-zoo's names and frequency, and the
final model is written as rl-zoo writes it (`<run>/<ENV>.zip`). Each sitting's steps and wall
time are appended to `<run>/sittings.jsonl`.

    python -m tools.rlzoo_resume logs/ppo/RoadRunnerNoFrameskip-v4_1 --algo ppo \\
        --env RoadRunnerNoFrameskip-v4 -n 4000000 --save-freq 100000
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Any


def latest_checkpoint(run: Path) -> tuple[Path, int] | None:
    """The run's `rl_model_<steps>_steps.zip` with the most steps (None before the first)."""
    found = []
    for p in run.glob("rl_model_*_steps.zip"):
        m = re.fullmatch(r"rl_model_(\d+)_steps\.zip", p.name)
        if m:
            found.append((int(m.group(1)), p))
    if not found:
        return None
    steps, path = max(found)
    return path, steps


def zoo_hyperparams(algo: str) -> dict[str, Any]:
    """rl-zoo's published Atari hyperparameters for `algo` (its `atari` entry)."""
    import rl_zoo3
    import yaml

    path = Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml"
    return dict(yaml.safe_load(path.read_text())["atari"])


def sb3_kwargs(hp: dict[str, Any]) -> dict[str, Any]:
    """The algorithm's constructor arguments from rl-zoo's entry (`lin_X` strings become
    rl-zoo's linear schedules; the env and policy entries are not constructor arguments)."""
    from rl_zoo3.utils import linear_schedule

    skip = {"env_wrapper", "frame_stack", "policy", "n_envs", "n_timesteps", "policy_kwargs"}
    out: dict[str, Any] = {}
    for key, value in hp.items():
        if key in skip:
            continue
        if isinstance(value, str) and value.startswith("lin_"):
            value = linear_schedule(float(value[4:]))
        out[key] = value
    return out


def main() -> int:
    import ale_py
    import gymnasium
    import torch
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import CheckpointCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack, VecTransposeImage

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="the rl-zoo run folder (logs/ALGO/ENV_N)")
    p.add_argument("--algo", choices=("ppo", "a2c"), required=True)
    p.add_argument("--env", required=True)
    p.add_argument("-n", "--n-timesteps", type=int, required=True, help="the run's total")
    p.add_argument("--save-freq", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    run = Path(args.run)
    found = latest_checkpoint(run)
    if found is None:
        print(f"rlzoo_resume: no rl_model_*_steps.zip in {run}", file=sys.stderr)
        return 2
    ckpt, done = found
    if done >= args.n_timesteps:
        print(f"{run}: {done:,} steps done of {args.n_timesteps:,}: nothing to do")
        return 0
    hp = zoo_hyperparams(args.algo)
    if args.algo == "a2c":
        from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike

        policy_kwargs = {"optimizer_class": RMSpropTFLike, "optimizer_kwargs": {"eps": 1e-5}}
    else:
        policy_kwargs = {}
    gymnasium.register_envs(ale_py)
    n_envs = int(hp["n_envs"])
    env = make_atari_env(args.env, n_envs=n_envs, seed=args.seed + done)
    env = VecTransposeImage(VecFrameStack(env, n_stack=int(hp["frame_stack"])))
    cls = {"ppo": PPO, "a2c": A2C}[args.algo]
    model = cls(hp["policy"], env, seed=args.seed, verbose=1, policy_kwargs=policy_kwargs,
                **sb3_kwargs(hp))  # fmt: skip
    with zipfile.ZipFile(ckpt) as z:
        policy = torch.load(io.BytesIO(z.read("policy.pth")), weights_only=True)
        optim = torch.load(io.BytesIO(z.read("policy.optimizer.pth")), weights_only=True)
    model.policy.load_state_dict(policy)
    model.policy.optimizer.load_state_dict(optim)
    model.num_timesteps = done
    print(f"resuming {ckpt} at {done:,} of {args.n_timesteps:,} steps", flush=True)
    t0 = time.time()
    save = CheckpointCallback(max(args.save_freq // n_envs, 1), str(run), name_prefix="rl_model")
    model.learn(args.n_timesteps - done, callback=save, reset_num_timesteps=False,
                log_interval=10)  # fmt: skip
    model.save(run / f"{args.env}.zip")
    with (run / "sittings.jsonl").open("a") as f:
        line = {"from": done, "to": model.num_timesteps, "wall_s": time.time() - t0}
        f.write(json.dumps(line) + "\n")
    print(f"{run / args.env}.zip: {model.num_timesteps:,} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
