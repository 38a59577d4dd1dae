"""The loop every run shares (`a2d train`, `a2d search`): update until the step budget, and the
periodic work hung on hooks (SB3's callbacks): logging, evaluation, checkpoints, progress.

A loop subclass says what one update is (`update`, `steps_per_update`) and what its
checkpoint, evaluation and log line hold; `Loop.run` is the whole algorithm around it:

    while step < steps:
        stats = update()
        advance the step counter and the clock
        every hook: after_update(loop, stats, steps)
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from a2d_edge.utils.dist import DistInfo
from a2d_edge.utils.logging import RunLogger


@dataclass
class LoopState:
    step: int = 0
    updates: int = 0
    elapsed: float = 0.0
    best_eval: float = float("-inf")
    last_eval: float | None = None

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> LoopState:
        return cls(*(ckpt[k] for k in ("step", "updates", "elapsed", "best_eval", "last_eval")))


class Hook(Protocol):
    def after_update(self, loop: Loop, stats: dict[str, float], steps: int) -> None: ...

    def close(self, loop: Loop) -> None: ...


def next_multiple(step: int, every: int) -> int:
    """The first multiple of `every` after `step` (never, for every <= 0)."""
    return (step // every + 1) * every if every > 0 else sys.maxsize


class Periodic:
    """Fires when the step passes a multiple of `every` (and, with `at_end`, at the last step):
    the schedule a resumed run continues where it stopped."""

    def __init__(self, every: int, step: int, at_end: bool) -> None:
        self.every, self.at_end = every, at_end
        self.next = next_multiple(step, every)

    def due(self, step: int, total: int) -> bool:
        if self.every <= 0 or not (step >= self.next or (self.at_end and step >= total)):
            return False
        self.next += self.every
        return True


class Loop:
    """What `run` needs of a loop; `TrainLoop` and `SearchLoop` fill it in."""

    cfg: Any
    run_dir: Path
    state: LoopState
    collector: Any
    logger: RunLogger
    dist: DistInfo

    def __init__(self, *, hooks: Sequence[Hook]) -> None:
        self.hooks = list(hooks)
        self.scores: deque[float] = deque(maxlen=20)
        self.sps = 0.0
        self._last = time.perf_counter()

    # ----- what a loop defines -----
    def steps_per_update(self) -> int:
        raise NotImplementedError

    def update(self) -> dict[str, float]:
        raise NotImplementedError

    def evaluate(self) -> None:
        raise NotImplementedError

    def checkpoint(self) -> None:
        raise NotImplementedError

    def postfix(self) -> str:
        return f"{self.sps:,.0f} steps/s"

    # ----- the algorithm -----
    def run(self) -> None:
        st = self.state
        t0, s0 = time.perf_counter(), st.step
        self._last = t0
        while st.step < self.cfg.steps:
            per_update = self.steps_per_update()  # before the update: a search's may change
            stats = self.update()
            st.step += per_update
            st.updates += 1
            now = time.perf_counter()
            st.elapsed += now - self._last
            self._last = now
            self.sps = (st.step - s0) / max(now - t0, 1e-9)
            self.scores.extend(score for score, _ in self.collector.pop_finished())
            for hook in self.hooks:
                hook.after_update(self, stats, per_update)
        for hook in self.hooks:
            hook.close(self)

    def skip_clock(self) -> None:
        """Leave the time since the last update out of `elapsed` (an evaluation's)."""
        self._last = time.perf_counter()

    def log_train(self, stats: dict[str, float]) -> None:
        scalars = dict(stats, steps_per_second=self.sps)
        if self.scores:
            scalars["score_recent"] = sum(self.scores) / len(self.scores)
        self.logger.log(self.state.step, "train", scalars)


class LogHook:
    """Training scalars every `every` steps (the main rank's logger)."""

    def __init__(self, every: int, step: int) -> None:
        self.when = Periodic(every, step, at_end=False)

    def after_update(self, loop: Loop, stats: dict[str, float], steps: int) -> None:
        if self.when.due(loop.state.step, loop.cfg.steps) and loop.dist.main:
            loop.log_train(stats)

    def close(self, loop: Loop) -> None:
        pass


class EvalHook:
    """An evaluation every `every` steps and at the end (main rank; not counted as training
    time)."""

    def __init__(self, every: int, step: int) -> None:
        self.when = Periodic(every, step, at_end=True)

    def after_update(self, loop: Loop, stats: dict[str, float], steps: int) -> None:
        if self.when.due(loop.state.step, loop.cfg.steps):
            if loop.dist.main:
                loop.evaluate()
            loop.skip_clock()

    def close(self, loop: Loop) -> None:
        pass


class CheckpointHook:
    """A checkpoint every `every` steps and at the end (every rank calls it: the loop's own
    checkpoint writes on the main rank only)."""

    def __init__(self, every: int, step: int) -> None:
        self.when = Periodic(every, step, at_end=True)

    def after_update(self, loop: Loop, stats: dict[str, float], steps: int) -> None:
        if self.when.due(loop.state.step, loop.cfg.steps):
            loop.checkpoint()

    def close(self, loop: Loop) -> None:
        pass


class ProgressHook:
    """A tqdm bar with the loop's postfix (steps/s, score, ...)."""

    def __init__(self, total: int, initial: int, desc: str) -> None:
        from tqdm import tqdm

        interactive = sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=initial, unit="step", unit_scale=True,
                        dynamic_ncols=True, mininterval=0.5 if interactive else 30.0,
                        desc=desc)  # fmt: skip

    def after_update(self, loop: Loop, stats: dict[str, float], steps: int) -> None:
        self.bar.update(steps)
        self.bar.set_postfix_str(loop.postfix(), refresh=False)

    def close(self, loop: Loop) -> None:
        self.bar.close()


def default_hooks(cfg: Any, state: LoopState, dist: DistInfo) -> list[Hook]:
    """Log, evaluate, checkpoint, progress, in that order, from the run's settings."""
    hooks: list[Hook] = [
        LogHook(cfg.log_every, state.step),
        EvalHook(cfg.eval_every, state.step),
        CheckpointHook(cfg.checkpoint_every, state.step),
    ]
    if cfg.progress and dist.main:
        hooks.append(ProgressHook(cfg.steps, state.step, cfg.env))
    return hooks


def run_loop(loop: Loop, command: str) -> None:
    """Run to the end; on Ctrl-C / SIGTERM checkpoint first and say how to resume."""
    try:
        with _sigterm_as_interrupt():
            loop.run()
    except KeyboardInterrupt:
        loop.checkpoint()
        print(f"\ninterrupted at step {loop.state.step}; resume: a2d {command} --resume "
              f"{loop.run_dir}")  # fmt: skip
        raise
    finally:
        loop.collector.close()
        loop.logger.close()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["Hook", "Loop", "LoopState", "default_hooks", "run_loop"]
