"""The bundle's preprocessing in numpy: raw Atari screens -> the model's 4x84x84 input.

Torch-free and cv2-free. It reproduces ale-py's `AtariVectorEnv` (v0.12, `PreprocessedEnv`),
the env every a2d agent was trained and evaluated in, pixel for pixel:

- grey: ALE's palette luminance, round(0.2989 R + 0.5870 G + 0.1140 B), `round` being C's
  (half away from zero) on doubles; a grey screen (ALE's `getScreenGrayscale`) is taken as is;
- max-pool: the per-pixel max of the grey screens of the last two emulator frames of a step
  (the env pools grey, not RGB; after a reset it pools the first screen with zeros);
- resize: OpenCV's INTER_AREA for a non-integer scale (`resizeArea_<uchar, float>`): per output
  column and row up to three (source index, float32 weight) pairs, the horizontal pass then the
  vertical one, each summed in float32 in OpenCV's order, rounded half to even;
- stack: the newest frame last; after a reset the three older slots are zeros.

tests/runtime/test_screen.py checks it against the env on the same emulator states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from a2d_edge.envs.atari import OBS_SHAPE, SCREEN_SHAPE
from a2d_edge.errors import A2DError

_GREY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # ALE ColourPalette.cpp convertGrayscale
_GREY_X10K = np.array([2989, 5870, 1140], dtype=np.float32)  # the same x 10,000: exact


def grey(screen: np.ndarray) -> np.ndarray:
    """ALE's grey screen of an RGB screen (H x W x 3 uint8), exactly as its palette has it.

    k = 2989 R + 5870 G + 1140 B + 5000 is an integer below 2**22, exact in float32, and so is
    floor(k / 10,000) (a quotient that is not whole lies at least 1e-4 from one, far beyond
    float32's error there): ALE's value, except where k / 10,000 is whole (the formula lies
    exactly on a half). Only there the double formula decides, as ALE's does."""
    flat = screen.reshape(-1, 3)
    scaled = flat.astype(np.float32) @ _GREY_X10K
    scaled += 5000
    whole = scaled / np.float32(10000)
    np.floor(whole, out=whole)
    out = whole.astype(np.uint8)
    ties = scaled == whole * 10000
    if ties.any():
        rgb = flat[ties].astype(np.float64)
        exact = rgb[:, 0] * _GREY_WEIGHTS[0] + rgb[:, 1] * _GREY_WEIGHTS[1]
        exact = exact + rgb[:, 2] * _GREY_WEIGHTS[2]
        floor = np.floor(exact)
        out[ties] = (floor + (exact - floor >= 0.5)).astype(np.uint8)
    return out.reshape(screen.shape[:2])


@dataclass(frozen=True)
class AreaTable:
    """OpenCV's INTER_AREA table of one axis: output i sums `weight[k, i] * x[index[k, i]]`
    over k in order (unused slots carry weight 0, which leaves a float32 sum unchanged)."""

    index: np.ndarray  # (k, dst) source indices
    weight: np.ndarray  # (k, dst) float32 weights


def area_table(src: int, dst: int) -> AreaTable:
    """OpenCV's `computeResizeAreaTab` for shrinking `src` samples to `dst` (src >= dst)."""
    if not 0 < dst <= src:
        raise A2DError(f"area resize shrinks only: {src} -> {dst}")
    scale = 1.0 / (dst / src)  # as cv::resize computes it from the inverse scale
    cells: list[list[tuple[int, np.float32]]] = []
    for d in range(dst):
        f1 = d * scale
        f2 = f1 + scale
        width = min(scale, src - f1)
        s1, s2 = math.ceil(f1), min(math.floor(f2), src - 1)
        s1 = min(s1, s2)
        cell = []
        if s1 - f1 > 1e-3:
            cell.append((s1 - 1, np.float32((s1 - f1) / width)))
        cell += [(s, np.float32(1.0 / width)) for s in range(s1, s2)]
        if f2 - s2 > 1e-3:
            cell.append((s2, np.float32(min(f2 - s2, 1.0, width) / width)))
        cells.append(cell)
    k = max(len(c) for c in cells)
    index = np.zeros((k, dst), dtype=np.intp)
    weight = np.zeros((k, dst), dtype=np.float32)
    for d, cell in enumerate(cells):
        for j, (s, w) in enumerate(cell):
            index[j, d], weight[j, d] = s, w
    return AreaTable(index, weight)


class AreaResize:
    """A grey H x W uint8 image to h x w by OpenCV's INTER_AREA, bit for bit."""

    def __init__(self, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> None:
        self.src_hw, self.dst_hw = src_hw, dst_hw
        self.rows = area_table(src_hw[0], dst_hw[0])
        self.cols = area_table(src_hw[1], dst_hw[1])
        self._row_weight = self.rows.weight[:, :, None]  # broadcast over the output columns

    def __call__(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        x = image.astype(np.float32)
        cols = self.cols
        buf = x[:, cols.index[0]] * cols.weight[0]
        for j in range(1, len(cols.index)):
            buf += x[:, cols.index[j]] * cols.weight[j]
        rows = self.rows
        acc = buf[rows.index[0]] * self._row_weight[0]
        for j in range(1, len(rows.index)):
            acc += buf[rows.index[j]] * self._row_weight[j]
        result = np.rint(acc, out=acc).clip(0, 255, out=acc)
        if out is None:
            return result.astype(np.uint8)
        out[...] = result
        return out


class ScreenStack:
    """Raw screens in, the model's (1, stack, h, w) uint8 input out, as the env makes it.

    `push(frame, prev_frame)` takes the screen after the last emulator frame of an agent step
    and, for the max-pool, the screen one emulator frame before it; without `prev_frame` the
    frame stands alone (as the env's first observation after a reset does). The returned array
    is the stack's own buffer: read it (or copy it) before the next push."""

    def __init__(self, obs_shape: tuple[int, int, int] = OBS_SHAPE, maxpool: bool = True) -> None:
        self.obs_shape, self.maxpool = obs_shape, maxpool
        self.resize = AreaResize(SCREEN_SHAPE[:2], obs_shape[1:])
        self.stack = np.zeros((1, *obs_shape), dtype=np.uint8)

    @classmethod
    def from_manifest(cls, preprocessing: dict[str, Any]) -> ScreenStack:
        """The pipeline a bundle's manifest records (`AtariSettings.to_dict()`)."""
        if not preprocessing.get("grayscale", True):
            raise A2DError("this bundle's model takes RGB frames; the runtime's screen "
                           "preprocessing makes grey ones only")  # fmt: skip
        shape = tuple(int(d) for d in preprocessing.get("obs_shape", OBS_SHAPE))
        if (
            len(shape) != 3
            or min(shape) < 1
            or shape[1] > SCREEN_SHAPE[0]
            or shape[2] > SCREEN_SHAPE[1]
        ):
            raise A2DError(f"the bundle's observation shape {list(shape)} is not a stack of "
                           f"grey frames no larger than the {SCREEN_SHAPE[0]}x{SCREEN_SHAPE[1]} "
                           "screen")  # fmt: skip
        # with a frame skip of 1 the env has no earlier frame of the step to pool with
        pool = bool(preprocessing.get("maxpool", True)) and preprocessing.get("frame_skip", 4) > 1
        return cls((shape[0], shape[1], shape[2]), pool)

    def reset(self) -> None:
        self.stack[...] = 0

    def push(self, frame: np.ndarray, prev_frame: np.ndarray | None = None) -> np.ndarray:
        pooled = self.grey_screen(frame)
        if prev_frame is not None and self.maxpool:
            np.maximum(pooled, self.grey_screen(prev_frame, "prev_frame"), out=pooled)
        stack = self.stack[0]
        stack[:-1] = stack[1:].copy()
        self.resize(pooled, out=stack[-1])
        return self.stack

    @staticmethod
    def grey_screen(frame: np.ndarray, name: str = "frame") -> np.ndarray:
        """A checked screen as grey: RGB converted by ALE's formula, grey copied."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            kind = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
            raise A2DError(f"{name} must be a uint8 numpy screen "
                           f"({_screen_words()}), not {kind}")  # fmt: skip
        if frame.shape == SCREEN_SHAPE:
            return grey(frame)
        if frame.shape == SCREEN_SHAPE[:2]:
            return frame.copy()
        raise A2DError(f"{name} must be an Atari screen ({_screen_words()}), not "
                       f"{'x'.join(map(str, frame.shape))}")  # fmt: skip


def _screen_words() -> str:
    h, w, c = SCREEN_SHAPE
    return f"{h}x{w}x{c} RGB or {h}x{w} grey"
