"""Run scalars to a JSONL file and TensorBoard, resumable (entries past a step are dropped)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from a2d_edge.utils.io import atomic_write


class RunLogger:
    """`log(step, kind, scalars)` appends one JSON line and writes the scalars to TensorBoard.

    On resume from a checkpoint at `resume_step`, lines logged after it are dropped from the
    JSONL and TensorBoard purges them, so a killed-and-resumed run reads like one run.
    """

    def __init__(self, run_dir: str | Path, resume_step: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "metrics.jsonl"
        if resume_step is not None and self.path.exists():
            _truncate_jsonl(self.path, resume_step)
        self._file = self.path.open("a", buffering=1)
        self._tb: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=resume_step)
        except ImportError:  # tensorboard is a dependency; tolerate its absence all the same
            self._tb = None

    def log(self, step: int, kind: str, scalars: dict[str, float]) -> None:
        clean = {k: (float(v) if math.isfinite(float(v)) else None) for k, v in scalars.items()}
        self._file.write(
            json.dumps({"step": step, "kind": kind, "time": time.time(), **clean}) + "\n"
        )
        if self._tb is not None:
            for key, value in scalars.items():
                self._tb.add_scalar(f"{kind}/{key}", value, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


class NullLogger(RunLogger):
    """What ranks other than 0 log: nothing."""

    def __init__(self) -> None:
        pass

    def log(self, step: int, kind: str, scalars: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def _truncate_jsonl(path: Path, last_step: int) -> None:
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= last_step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill
    data = ("\n".join(kept) + "\n" if kept else "").encode()
    atomic_write(path, lambda f: f.write(data))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
