"""The one place an agent's name is resolved: `zoo:NAME` (shipped with the package), a path to
an `agent.pt`, or a source of another library, which must be imported first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.zoo import ZOO_DIR, zoo_path

ZOO = "zoo:"


def zoo_name(spec: str | Path) -> str | None:
    """NAME of `zoo:NAME`, None for anything else."""
    text = str(spec)
    return text[len(ZOO) :] if text.startswith(ZOO) else None


def resolve_checkpoint(spec: str | Path) -> Path:
    """The file of an agent: `zoo:NAME`'s shipped weights, else the path as given. An SB3
    zip or a CleanRL file is refused in one line naming the import that makes it an agent."""
    name = zoo_name(spec)
    if name is not None:
        return zoo_path(name)
    path = Path(spec)
    if path.suffix == ".zip" or path.suffix == ".cleanrl_model" or path.is_dir():
        raise A2DError(
            f"{path} is not an a2d agent: import it first (a2d import {path} --env ENV_ID "
            "--out agent.pt)"
        )
    return path


def zoo_card(spec: str | Path) -> dict[str, Any] | None:
    """The card (`zoo/NAME.json`) of a shipped agent, None for any other spec or no card."""
    name = zoo_name(spec)
    card = ZOO_DIR / f"{name}.json" if name is not None else None
    if card is None or not card.exists():
        return None
    return dict(json.loads(card.read_text()))


def zoo_supernet(spec: str) -> Path | None:
    """`zoo:NAME`'s shipped supernet (zoo/supernets/NAME.pt), None for any other spec."""
    name = zoo_name(spec)
    return None if name is None else ZOO_DIR / "supernets" / f"{name}.pt"
