"""Agents shipped with the package, addressed as `zoo:NAME` wherever a checkpoint is accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError

ZOO_DIR = Path(__file__).parent


def available() -> list[str]:
    return sorted(p.stem for p in ZOO_DIR.glob("*.pt"))


def zoo_path(name: str) -> Path:
    path = ZOO_DIR / f"{name}.pt"
    if not path.is_file():
        names = ", ".join(f"zoo:{n}" for n in available()) or "none shipped yet"
        raise A2DError(f"no agent zoo:{name}; available: {names}")
    return path


def shipped_eval(spec: str) -> dict[str, Any]:
    """A teacher's published evaluation (mean, std, episodes, ...): its zoo card's for
    `zoo:NAME`, else the checkpoint's own record; empty where neither has one."""
    from a2d_edge.rl.checkpoint import load_checkpoint

    if spec.startswith("zoo:"):
        card = ZOO_DIR / f"{spec[4:]}.json"
        if card.exists():
            return dict(json.loads(card.read_text()).get("eval") or {})
    return dict(load_checkpoint(spec).get("eval") or {})
