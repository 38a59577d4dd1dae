"""A trained supernet of another run or of the zoo (`--supernet RUN|PATH|zoo:NAME`)."""

from __future__ import annotations

from pathlib import Path

from a2d_edge.errors import A2DError
from a2d_edge.nets.spaces import SupernetNet, space_from_dict
from a2d_edge.search.phase import load_phase
from a2d_edge.sources.names import zoo_supernet


def supernet_path(spec: str) -> Path:
    """`--supernet`: a run folder, its supernet.pt, or zoo:NAME (a2d_edge/zoo/supernets/)."""
    shipped = zoo_supernet(spec)
    if shipped is not None:
        return shipped
    path = Path(spec)
    return path / "supernet.pt" if path.is_dir() else path


def load_supernet(spec: str, env_id: str, n_actions: int) -> tuple[SupernetNet, Path]:
    """A trained supernet (of ops or of widths) of another run or of the zoo, checked against
    the game and actions: `a2d.supernet/2` of the distillation search, or its older
    `a2d.distill-phase/1` (the shipped ones); the RL search's is refused in one line."""
    from a2d_edge.envs import resolve_game

    path = supernet_path(spec)
    ckpt = load_phase(path)
    if ckpt is None or ckpt.get("kind", "supernet") != "supernet":
        raise A2DError(f"no trained supernet at {path}")
    trained_on = str(ckpt.get("env_id", ""))
    if resolve_game(trained_on) != resolve_game(env_id):
        raise A2DError(f"supernet {path} was trained on {trained_on}, not on {env_id}")
    if int(ckpt.get("n_actions", n_actions)) != n_actions:
        raise A2DError(f"supernet {path} has {ckpt['n_actions']} actions, {env_id} {n_actions}")
    supernet = space_from_dict(ckpt.get("space")).supernet(n_actions)
    try:
        supernet.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in ckpt["model"].items()}
        )
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise A2DError(f"supernet {path} does not match its space / action set: {first}") from None
    return supernet, path
