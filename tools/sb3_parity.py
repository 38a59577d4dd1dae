"""Observation parity between a2d's env and SB3's own Atari pipeline: one agent (an imported SB3
/ rl-zoo agent, or an a2d one) scored over the same number of episodes by SB3's
`evaluate_policy` in `make_atari_env` + `VecFrameStack(4)` + `VecTransposeImage` (rl-zoo's
Atari protocol: AtariWrapper, 30 no-op starts, sampled actions, whole games through its
Monitor), and by `a2d eval` in a2d's env (ale-py's vector env, its own grey / max-pool /
resize). The difference is given in standard errors: within ~2 the envs cost the agent nothing
measurable.

    python -m tools.sb3_parity runs/rr.pt --episodes 30
    python -m tools.sb3_parity zoo:pong --episodes 5
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, cast

import numpy as np

from benchmarks.common import machine, table


class SB3Predictor:
    """An a2d agent behind SB3's `predict` interface (what `evaluate_policy` calls): sampled
    actions from softmax(logits), or the argmax with `deterministic`."""

    def __init__(self, model: Any, seed: int = 0) -> None:
        import torch

        self.model = model
        self.gen = torch.Generator().manual_seed(seed)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, None]:
        import torch

        with torch.no_grad():
            logits, _ = self.model(torch.from_numpy(np.asarray(observation, dtype=np.uint8)))
        if deterministic:
            return logits.argmax(-1).numpy(), None
        probs = torch.softmax(logits, -1)
        return torch.multinomial(probs, 1, generator=self.gen).squeeze(1).numpy(), None


def sb3_score(model: Any, env_id: str, episodes: int, seed: int) -> tuple[float, float]:
    """SB3's `evaluate_policy` of `model` in SB3's Atari pipeline for `env_id`'s game."""
    import ale_py
    import gymnasium
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecFrameStack, VecTransposeImage

    gymnasium.register_envs(ale_py)
    game = env_id.split("/")[-1].split("-")[0]
    venv = make_atari_env(f"{game}NoFrameskip-v4", n_envs=1, seed=seed)
    venv = VecTransposeImage(VecFrameStack(venv, n_stack=4))
    try:
        result = evaluate_policy(
            SB3Predictor(model, seed),  # type: ignore[arg-type]
            venv,
            n_eval_episodes=episodes,
            deterministic=False,
        )
    finally:
        venv.close()
    mean, std = cast(tuple[float, float], result)  # (mean, std) without return_episode_rewards
    return float(mean), float(std)


def se_gap(a: tuple[float, float], b: tuple[float, float], n: int) -> float:
    """|mean_a − mean_b| in standard errors of the difference (two samples of n episodes)."""
    from a2d_edge.utils.stats import se_difference

    return abs(se_difference((*a, n), (*b, n))) if n > 0 else 0.0


def main() -> int:
    from a2d_edge.errors import A2DError
    from a2d_edge.rl.evaluate import evaluate_checkpoint
    from a2d_edge.sources.checkpoint import load_agent

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("agent", help="agent.pt (imported or a2d's) or zoo:NAME")
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    try:
        model, ckpt = load_agent(args.agent)
        t0 = time.perf_counter()
        sb3 = sb3_score(model, ckpt["env_id"], args.episodes, args.seed)
        t1 = time.perf_counter()
        res = evaluate_checkpoint(args.agent, args.episodes, args.seed)
        t2 = time.perf_counter()
    except A2DError as e:
        print(f"sb3_parity: error: {e}", file=sys.stderr)
        return 2
    a2d = (res.mean, res.std)
    print(machine())
    ratio = f"{a2d[0] / sb3[0]:.3f}" if sb3[0] else "n/a"
    row = [args.agent, ckpt["env_id"], f"{sb3[0]:.1f} ± {sb3[1]:.1f} ({t1 - t0:.0f} s)",
           f"{a2d[0]:.1f} ± {a2d[1]:.1f} ({t2 - t1:.0f} s)", ratio,
           f"{se_gap(sb3, a2d, args.episodes):.2f}"]  # fmt: skip
    headers = ["agent", "env", "SB3 evaluate_policy", "a2d eval", "a2d / SB3", "gap (SE)"]
    print(table(headers, [row]))
    print(f"{args.episodes} episodes each, sampled actions, seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
