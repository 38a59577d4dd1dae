"""`agent.pt`: weights + everything needed to rebuild, evaluate and resume an agent.

Written atomically (temp file, fsync, rename) and read with `torch.load(weights_only=True)`:
only tensors and plain containers are ever stored, nothing is unpickled.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from a2d_edge.errors import A2DError
from a2d_edge.nets import ActorCritic, build_agent, validate_arch
from a2d_edge.sources.names import resolve_checkpoint, zoo_card
from a2d_edge.utils.io import atomic_write

FORMAT = "a2d.agent/1"
REQUIRED = ("format", "arch", "env_id", "obs_shape", "n_actions", "step", "model")


def save_checkpoint(path: str | Path, ckpt: dict[str, Any]) -> None:
    ckpt = {"format": FORMAT, **ckpt}
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise ValueError(f"checkpoint lacks {missing}")
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    atomic_write(path, lambda f: f.write(buf.getbuffer()))


def torch_load(path: Path, what: str = "checkpoint") -> Any:
    """`torch.load(weights_only=True)`: a missing, torn or foreign file is one A2DError."""
    if not path.is_file():
        raise A2DError(f"{what} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise A2DError(f"corrupt or foreign {what} {path}: {first[:200]}") from None


def load_checkpoint(spec: str | Path) -> dict[str, Any]:
    path = resolve_checkpoint(spec)
    ckpt = torch_load(path)
    if isinstance(ckpt, dict) and str(ckpt.get("format", "")).startswith("a2d.supernet/"):
        # any version of search.supernet_file's format (the RL search's, or v2 of either)
        raise A2DError(
            f"{path} is a search supernet, not an agent: "
            + (
                "use its run's agent.pt (the distillation search's finished agent)"
                if ckpt.get("method") == "distill"
                else "retrain its derived arch first (a2d train --arch SEARCH_DIR/arch.json "
                "...) and use that agent.pt"
            )
        )
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise A2DError(f"{path} is not an a2d agent checkpoint (expected format {FORMAT!r})")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise A2DError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    try:
        validate_arch(ckpt["arch"])
    except A2DError as e:
        raise A2DError(f"checkpoint {path}: {e}") from None
    return ckpt


def agent_from_checkpoint(ckpt: dict[str, Any], where: str = "checkpoint") -> ActorCritic:
    """Rebuild the net from the checkpoint's arch and load its weights (strictly)."""
    try:
        model = build_agent(
            ckpt["arch"], int(ckpt["n_actions"]), int(ckpt["obs_shape"][0]), ckpt.get("head")
        )
    except A2DError as e:
        raise A2DError(f"{where}: {e}") from None
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()[0]
        raise A2DError(f"{where}: weights do not match its arch: {first[:200]}") from None
    return model


def load_agent(spec: str | Path) -> tuple[ActorCritic, dict[str, Any]]:
    ckpt = load_checkpoint(spec)
    model = agent_from_checkpoint(ckpt, str(resolve_checkpoint(spec)))
    model.eval()
    return model, ckpt


def shipped_eval(spec: str) -> dict[str, Any]:
    """A teacher's published evaluation (mean, std, episodes, ...): its zoo card's for
    `zoo:NAME`, else the checkpoint's own record; empty where neither has one."""
    card = zoo_card(spec)
    if card is not None:
        return dict(card.get("eval") or {})
    return dict(load_checkpoint(spec).get("eval") or {})
