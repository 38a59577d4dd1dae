"""`a2d run --record`: the game as a person sees it, as a GIF or an MP4 (torch-free)."""

from __future__ import annotations

from typing import Any

import numpy as np

from a2d_edge.errors import A2DError


def write_recording(path: str, frames: list[np.ndarray], fps: float) -> str:
    """The game as a person sees it (the emulator's RGB screen, 2x; grayscale frames 3x) as a
    GIF or, with imageio-ffmpeg installed, an MP4."""
    k = 2 if frames[0].ndim == 3 else 3
    block = np.ones((k, k, 1) if frames[0].ndim == 3 else (k, k), dtype=np.uint8)
    scaled: list[Any] = [np.kron(f, block) for f in frames]  # imageio wants a list of ArrayLike
    if path.endswith(".gif"):
        from PIL import Image

        images = [Image.fromarray(f) for f in scaled[::2]]
        images[0].save(path, save_all=True, append_images=images[1:],
                       duration=int(2000 / fps), loop=0)  # fmt: skip
        return path
    if path.endswith(".mp4"):
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise A2DError("--record .mp4 needs imageio[ffmpeg]; .gif works without it") from None
        imageio.mimwrite(path, scaled, fps=fps)
        return path
    raise A2DError("--record takes a .gif or .mp4 path")
