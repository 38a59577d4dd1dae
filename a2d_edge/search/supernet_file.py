"""`RUN/supernet.pt`: one format for the supernet of either search, and readers of the two older
ones.

    a2d.supernet/2        written by both methods: {"format", "method": "distill" | "rl",
                          "env_id", "n_actions", "space", "step", "model", ...its method's state}
    a2d.supernet/1        the RL-driven DNAS's before v2 (method rl, implied)
    a2d.distill-phase/1   the distillation search's before v2 (kind "supernet"; method distill,
                          implied); still the format of a plain net's phase (`finish.pt`)

Read with `torch.load(weights_only=True)` (nothing is unpickled) and written atomically; a
shipped supernet (a2d_edge/zoo/supernets/*.pt) is never rewritten: its old format stays readable.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from a2d_edge.errors import A2DError
from a2d_edge.sources.checkpoint import torch_load
from a2d_edge.utils.io import atomic_write

FORMAT = "a2d.supernet/2"
RL_V1 = "a2d.supernet/1"
PHASE_FORMAT = "a2d.distill-phase/1"
METHODS = {
    "distill": "the distillation search (a2d search)",
    "rl": "the RL-driven search (a2d search-rl)",
}


def supernet_method(ckpt: Any) -> str | None:
    """The method that wrote a supernet checkpoint of any version; None for anything else
    (a plain net's phase, an agent, a foreign or malformed file)."""
    if not isinstance(ckpt, dict):
        return None
    fmt = ckpt.get("format")
    if fmt == FORMAT:
        method = ckpt.get("method")
        return method if isinstance(method, str) and method in METHODS else None
    if fmt == RL_V1:
        return "rl"
    if fmt == PHASE_FORMAT and ckpt.get("kind", "supernet") == "supernet":
        return "distill"
    return None


def check_method(ckpt: dict[str, Any], method: str, path: Path) -> None:
    """One line when a v2 or old supernet is another method's; nothing for other formats."""
    found = supernet_method(ckpt)
    if found is not None and found != method:
        raise A2DError(
            f"{path} is a supernet of {METHODS[found]} (method {found!r}), not of {METHODS[method]}"
        )


def read_supernet(path: Path, method: str, what: str = "supernet checkpoint") -> dict[str, Any]:
    """A supernet.pt of `method`, in v2 or its old format; another method's, a v2 without a
    known method, or a foreign file is one A2DError."""
    ckpt = torch_load(path, what)
    found = supernet_method(ckpt)
    if found != method:
        check_method(ckpt, method, path)  # another method's supernet: said in one line
        fmt = ckpt.get("format") if isinstance(ckpt, dict) else None
        raise A2DError(
            f"{path} is not a supernet checkpoint of {METHODS[method]} (format {fmt!r}, "
            f"expected {FORMAT!r} or an older one)"
        )
    return ckpt  # type: ignore[no-any-return]


def supernet_record(method: str, state: dict[str, Any]) -> dict[str, Any]:
    """The v2 record of `method`'s supernet: `state` (space, env id, actions, step, model and
    the method's own state) under the format and method."""
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}")
    missing = [k for k in ("space", "env_id", "n_actions", "step", "model") if k not in state]
    if missing:
        raise ValueError(f"supernet checkpoint lacks {missing}")
    return {**state, "format": FORMAT, "method": method}


def write_supernet(path: Path, method: str, state: dict[str, Any]) -> None:
    """`supernet_record(method, state)` to `path`, atomically (temp file, fsync, rename)."""
    buf = io.BytesIO()
    torch.save(supernet_record(method, state), buf)
    atomic_write(path, lambda f: f.write(buf.getbuffer()))
