"""How long an agent leaves a FIRE game standing after a life loss.

ale-py's vector env presses FIRE only on a real reset (`use_fire_reset`); rl-zoo's wrappers
(EpisodicLifeEnv + FireResetEnv) press it after every life loss too. So an agent trained here
on Breakout must learn to relaunch the ball itself, and until it does the game stands still.
This plays the agent (actions sampled from its policy, as in training) on N envs for S steps
and prints, over every life lost: the agent steps until its first FIRE, and the policy's mean
probability of FIRE while it waits.

    python -m tools.life_loss_fire runs/breakout-nature/agent.pt --env ALE/Breakout-v5
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import machine, median


def waits_after_life_loss(
    checkpoint: str, env_id: str, num_envs: int, steps: int, seed: int
) -> tuple[list[int], list[float], int]:
    """(agent steps from each life loss to the first FIRE, P(FIRE) at each waiting step, the
    number of actions)."""
    import torch

    from a2d_edge.envs import action_meanings
    from a2d_edge.envs.atari import AtariSettings, make_vec_env
    from a2d_edge.errors import A2DError
    from a2d_edge.sources.checkpoint import load_agent

    meanings = action_meanings(env_id)
    if "FIRE" not in meanings:
        raise A2DError(f"{env_id} has no FIRE action: {', '.join(meanings)}")
    fire = meanings.index("FIRE")
    model, _ = load_agent(checkpoint)
    model.eval()
    env = make_vec_env(env_id, num_envs, AtariSettings(life_loss_terminal=True))
    obs, info = env.reset(seed=seed)
    lives = np.asarray(info["lives"]).copy()
    waiting = np.zeros(num_envs, dtype=np.int64)  # steps waited since the life loss, 0 = none
    waits: list[int] = []
    p_fire: list[float] = []
    gen = torch.Generator().manual_seed(seed)
    try:
        for _ in range(steps):
            with torch.no_grad():
                logits, _ = model(torch.as_tensor(obs))
            probs = torch.softmax(logits.float(), -1)
            actions = torch.multinomial(probs, 1, generator=gen).squeeze(1).numpy()
            for i in np.flatnonzero(waiting):
                p_fire.append(float(probs[i, fire]))
                if actions[i] == fire:
                    waits.append(int(waiting[i]))
                    waiting[i] = 0
                else:
                    waiting[i] += 1
            obs, _, _, _, info = env.step(actions)
            now = np.asarray(info["lives"])
            waiting[(now < lives) & (now > 0) & (waiting == 0)] = 1
            lives = now.copy()
    finally:
        env.close()
    return waits, p_fire, len(meanings)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("checkpoint", help="agent.pt or zoo:NAME")
    p.add_argument("--env", default="ALE/Breakout-v5")
    p.add_argument("--envs", type=int, default=4)
    p.add_argument("--steps", type=int, default=3000, help="agent steps per env")
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args()
    waits, p_fire, n = waits_after_life_loss(
        args.checkpoint, args.env, args.envs, args.steps, args.seed
    )
    print(machine())
    if not waits:
        print(f"{args.checkpoint} on {args.env}: no life lost and relaunched in {args.steps} steps")
        return
    print(
        f"{args.checkpoint} on {args.env}: {len(waits)} lives lost; agent steps to the first "
        f"FIRE: median {median(waits):g}, mean {np.mean(waits):.2f}, max {max(waits)}; "
        f"P(FIRE) while waiting {np.mean(p_fire):.3f} (uniform: {1 / n:.2f})"
    )


if __name__ == "__main__":
    from a2d_edge.errors import A2DError

    try:
        main()
    except A2DError as e:  # an unknown game, a game without FIRE, a corrupt checkpoint
        raise SystemExit(f"life_loss_fire: {e}") from None
