"""Atomic file writes and strict JSON reads."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from a2d_edge.errors import A2DError


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through `write(fileobj)` into a temp file beside `path`, fsync, then rename over it.

    A kill at any moment leaves either the old file or the new one, never a torn file. The file
    gets the mode a plain open() would give it (0666 less the umask), not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without setting it (os.umask(0) would race other threads'
    file creation); 0o022 where /proc does not say."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def write_json(path: str | Path, obj: Any) -> None:
    data = (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode()
    atomic_write(path, lambda f: f.write(data))


def read_json(path: str | Path, what: str = "file") -> Any:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise A2DError(f"{what} not found: {path}") from None
    except OSError as e:
        raise A2DError(f"cannot read {what} {path}: {e.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise A2DError(f"{what} {path} is not valid JSON (line {e.lineno}: {e.msg})") from None
