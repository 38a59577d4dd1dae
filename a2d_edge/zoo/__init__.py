"""Agents shipped with the package, addressed as `zoo:NAME` wherever a checkpoint is accepted."""

from __future__ import annotations

from pathlib import Path

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
