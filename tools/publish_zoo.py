"""Ship a trained agent as `zoo:NAME`: fp16 weights (loading restores fp32) and a model card;
or, with --supernet, a trained supernet of `a2d search` as `a2d search --supernet zoo:NAME`.

    python -m tools.publish_zoo runs/pong-nature/best.pt --name pong --episodes 30
    python -m tools.publish_zoo runs/ds-b150 --supernet --name pong-fast

A maintainer's tool (it trains nothing, but evaluates with the training stack and writes into
the package's `a2d_edge/zoo/`), so it lives beside the benchmarks, not in the package.

The card's score is measured here, on the weights as shipped (fp16 rounded), with the paper's
evaluation protocol (30 episodes, up to 30 no-op starts, raw scores).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.zoo import ZOO_DIR

KEEP = (
    "format",
    "arch",
    "env_id",
    "obs_shape",
    "n_actions",
    "atari",
    "step",
    "config",
    "teacher",
    "distill",
    "best_eval",
    "last_eval",
    "world_size",
    "init_steps",
    "head",  # a value-based teacher's head (softmax(Q/τ)): without it the agent is another policy
    "source",  # an imported agent's provenance (format, algorithm, file sha256, parity)
)


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
    extra: dict[str, Any] | None = None,
    wall_seconds: float | None = None,
) -> dict[str, Any]:
    """Ship `source` as zoo:NAME. `wall_seconds` is the training's wall time where the
    checkpoint does not carry it (an imported agent trained elsewhere: rl-zoo's sittings)."""
    from a2d_edge.hw.flops import count_params, fvcore_flops
    from a2d_edge.rl.evaluate import evaluate_checkpoint
    from a2d_edge.rl.trainer import agent_steps
    from a2d_edge.sources.checkpoint import load_agent, load_checkpoint, save_checkpoint
    from a2d_edge.utils.fingerprint import this_host

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
            "wall_seconds": round(  # over every sitting
                float(ckpt.get("elapsed", 0.0) if wall_seconds is None else wall_seconds), 1
            ),
            "host": this_host().slug,  # where it was published (and its card's score measured)
        },
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "size_bytes": path.stat().st_size,
        "published": time.strftime("%Y-%m-%d", time.gmtime()),
        **(extra or {}),
    }
    if "source" in ckpt:  # imported (`a2d import`): where it came from, not a path on this host
        card["source"] = {k: v for k, v in ckpt["source"].items() if k != "path"}
    if "head" in ckpt:
        card["head"] = ckpt["head"]
    from a2d_edge.utils.io import write_json

    write_json(zoo_dir / f"{name}.json", card)
    return card


def publish_supernet(
    source: str | Path, name: str, command: str = "", zoo_dir: Path = ZOO_DIR
) -> dict[str, Any]:
    """The supernet of a distillation search (its folder or supernet.pt) in fp16 with what
    selecting from it needs (game, actions, space), into zoo_dir/supernets/NAME.pt + card."""
    from a2d_edge.search.checkpoint import load_supernet, supernet_path
    from a2d_edge.search.supernet_file import write_supernet
    from a2d_edge.sources.checkpoint import torch_load
    from a2d_edge.utils.io import write_json

    path = supernet_path(str(source))
    raw = torch_load(path, "supernet checkpoint")
    env_id = str(raw.get("env_id", ""))
    supernet, _ = load_supernet(str(path), env_id, int(raw.get("n_actions") or 6))
    small = {
        "kind": "supernet",
        "env_id": env_id,
        "n_actions": supernet.n_actions,
        "space": supernet.space.to_dict(),
        "step": raw["step"],
        "updates": raw["updates"],
        "elapsed": raw["elapsed"],
        "best_eval": raw["best_eval"],
        "last_eval": raw["last_eval"],
        "model": {
            k: v.half() if v.is_floating_point() else v for k, v in supernet.state_dict().items()
        },
        "weights_dtype": "float16",
    }
    out = zoo_dir / "supernets" / f"{name}.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_supernet(out, "distill", small)  # a2d.supernet/2, whichever format the source had
    load_supernet(str(out), env_id, supernet.n_actions)  # loads back
    card = {
        "schema": "a2d.supernet-card/1",
        "name": f"zoo:{name}",
        "env_id": env_id,
        "space": supernet.space.to_dict(),
        "agent_steps": raw["step"],
        "train_seconds": round(float(raw["elapsed"]), 1),
        "source": str(source),
        "command": command,
        "weights": "float16 (restored to float32 on load)",
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "size_bytes": out.stat().st_size,
        "published": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    write_json(out.with_suffix(".json"), card)
    return card


def search_card(run: Path, tables: Sequence[str]) -> dict[str, Any]:
    """What a searched agent's card adds: its space, the search's table, budget and prediction
    (the run's result.json), and its latency measured here with each of `tables`' settings,
    beside its teacher in one sitting (`search.timing`: fastest round, median, ratio)."""
    from a2d_edge.envs import action_meanings
    from a2d_edge.hw.table import load_table
    from a2d_edge.search.timing import measured_beside_teacher
    from a2d_edge.utils.fingerprint import this_host
    from a2d_edge.utils.io import read_json

    result = read_json(run / "result.json", "search result")
    n_actions = len(action_meanings(result["env_id"]))
    measured = {}
    for path in tables:  # op or width tables: each one's settings time the agent here
        table = load_table(path)
        entry: dict[str, Any] = {"mode": table.describe_mode(), "ms": None}
        if table.host_match() == "same":
            timed = measured_beside_teacher(
                table, result["arch"], result.get("teacher") or "", n_actions
            )
            m = timed["measured"]
            entry.update(ms=timed["measured_ms"], median_ms=timed["measured_median_ms"],
                         x_teacher=m.get("ratio"), rounds=m["rounds"])  # fmt: skip
        measured[Path(path).name] = entry
    record = run / "search.json"  # a width search's arch is a plain net: its space is here
    preset = read_json(record, "search record").get("preset") if record.exists() else None
    return {
        "search": {
            "space": result["arch"].get("space", {}).get("name") or preset,
            "latency": result["latency"],
            "mflops": result["mflops"],
            "search_score": result.get("score"),
            "wall_seconds": result.get("wall_seconds"),
            "measured_here": measured,
            "host": this_host().slug,
        }
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.publish_zoo", description=__doc__)
    p.add_argument("checkpoint")
    p.add_argument("--name", required=True)
    p.add_argument("--supernet", action="store_true", help="CHECKPOINT is a search's supernet")
    p.add_argument(
        "--search-run",
        help="the a2d search folder the agent came from (its card "
        "gets the table, budget, prediction)",
    )
    p.add_argument("--lut", nargs="*", default=[], help="tables to time the agent with here")
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--command", default="", help="the command that trained it (for the card)")
    p.add_argument(
        "--wall-seconds",
        type=float,
        help="the training's wall time, for an agent whose checkpoint does not carry it "
        "(imported: trained by rl-zoo or CleanRL)",
    )
    args = p.parse_args(argv)
    try:
        if args.supernet:
            card = publish_supernet(args.checkpoint, args.name, args.command)
            print(
                f"zoo:{args.name} (supernet): {card['env_id']}, {card['agent_steps']:,} steps; "
                f"{card['size_bytes'] / 1e6:.1f} MB"
            )
            return 0
        extra = search_card(Path(args.search_run), args.lut) if args.search_run else None
        card = publish(
            args.checkpoint,
            args.name,
            args.episodes,
            args.seed,
            args.command,
            extra=extra,
            wall_seconds=args.wall_seconds,
        )
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
