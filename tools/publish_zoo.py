"""Ship a trained agent as `zoo:NAME`: fp16 weights (loading restores fp32) and a model card.

    python tools/publish_zoo.py runs/pong-nature/best.pt --name pong --episodes 30

A maintainer's tool (it trains nothing, but evaluates with the training stack and writes into
the package's `a2d_edge/zoo/`), so it lives beside the benchmarks, not in the package.

The card's score is measured here, on the weights as shipped (fp16 rounded), with the paper's
evaluation protocol (30 episodes, up to 30 no-op starts, raw scores).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import hashlib
import time
from collections.abc import Sequence
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.zoo import ZOO_DIR

KEEP = ("format", "arch", "env_id", "obs_shape", "n_actions", "atari", "step", "config",
        "teacher", "distill", "best_eval", "last_eval", "world_size", "init_steps")  # fmt: skip


def slim(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint without optimizer and RNG state, floating weights in fp16."""
    out = {k: ckpt[k] for k in KEEP if k in ckpt}
    out["model"] = {k: v.half() if v.is_floating_point() else v for k, v in ckpt["model"].items()}
    out["weights_dtype"] = "float16"
    for k in ("updates", "elapsed"):
        out[k] = ckpt.get(k, 0)
    out["optimizer"] = {}
    out["rng"] = {}
    return out


def publish(
    source: str | Path,
    name: str,
    episodes: int = 30,
    seed: int = 0,
    command: str = "",
    zoo_dir: Path = ZOO_DIR,
) -> dict[str, Any]:
    from a2d_edge.hw.flops import count_params, fvcore_flops
    from a2d_edge.rl.checkpoint import load_agent, load_checkpoint, save_checkpoint
    from a2d_edge.rl.evaluate import evaluate_checkpoint
    from a2d_edge.rl.trainer import agent_steps

    if not name.replace("-", "").replace("_", "").isalnum():
        raise A2DError(f"zoo name {name!r}: letters, digits, - and _ only")
    ckpt = load_checkpoint(source)
    small = slim(ckpt)
    path = zoo_dir / f"{name}.pt"
    tmp = zoo_dir / f".{name}.pt.tmp"
    save_checkpoint(tmp, small)
    try:
        result = evaluate_checkpoint(tmp, episodes, seed)  # the shipped (fp16) weights
        model, _ = load_agent(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    card = {
        "schema": "a2d.card/1",
        "name": f"zoo:{name}",
        "env_id": ckpt["env_id"],
        "arch": ckpt["arch"],
        "n_actions": int(ckpt["n_actions"]),
        "params": count_params(model),
        "flops": fvcore_flops(model),
        "agent_steps": agent_steps(ckpt),
        "weights": "float16 (restored to float32 on load)",
        "eval": {
            "protocol": f"{episodes} episodes, up to 30 no-op starts, raw game score, "
            "actions sampled from the policy, separate env instances",
            "episodes": len(result.scores),
            "mean": result.mean,
            "std": result.std,
            "min": min(result.scores),
            "max": max(result.scores),
            "seed": seed,
        },
        "training": {
            "config": ckpt.get("config", {}),
            "source": str(source),
            "command": command,
        },
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "size_bytes": path.stat().st_size,
        "published": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    from a2d_edge.utils.io import write_json

    write_json(zoo_dir / f"{name}.json", card)
    return card


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python tools/publish_zoo.py", description=__doc__)
    p.add_argument("checkpoint")
    p.add_argument("--name", required=True)
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--command", default="", help="the command that trained it (for the card)")
    args = p.parse_args(argv)
    try:
        card = publish(args.checkpoint, args.name, args.episodes, args.seed, args.command)
    except A2DError as e:
        print(f"publish: error: {e}", file=sys.stderr)
        return 2
    ev = card["eval"]
    print(
        f"zoo:{args.name}: {card['env_id']} {ev['episodes']} episodes mean {ev['mean']:.2f} ± "
        f"{ev['std']:.2f}; {card['size_bytes'] / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
