"""ONNX export of the plain agent, and parity checks between any two of its forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from a2d_edge.compile.onnx import OPSET, to_onnx
from a2d_edge.envs.atari import OBS_SHAPE
from a2d_edge.export.agreement import policy_agreement
from a2d_edge.export.settings import TIE_MARGIN
from a2d_edge.nets import ActorCritic

__all__ = ["OPSET", "compare", "export_onnx", "ort_predict", "policy_agreement", "torch_predict"]

Predict = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def export_onnx(model: ActorCritic, obs_shape: tuple[int, ...] = OBS_SHAPE) -> bytes:
    """uint8 `frames` [N, C, H, W] in (scaling inside the graph), `logits` and `value` out,
    dynamic batch (`compile.onnx.to_onnx`, which the profiler's whole-arch timings use too)."""
    example = torch.zeros((1, *obs_shape), dtype=torch.uint8)
    return to_onnx(model, example, "frames", ["logits", "value"], dynamic_batch=True)


def torch_predict(model: ActorCritic) -> Predict:
    @torch.no_grad()
    def predict(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, value = model.eval()(torch.from_numpy(frames))
        return logits.numpy(), value.numpy()

    return predict


def ort_predict(model: bytes, threads: int = 1, exact: bool = False) -> Predict:
    """Logits and values by ONNX Runtime on this CPU; `exact`: a QDQ model's arithmetic as
    written (fp32 between Q/DQ, what int8 kernels summing in int32 compute), not this CPU's
    own int8 kernels (which may saturate: `compile.quantize`)."""
    from a2d_edge.runtime.backends import ort_session

    sess = ort_session(model, threads, optimize=not exact)

    def predict(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, value = sess.run(["logits", "value"], {"frames": frames})
        return logits, value

    return predict


def compare(
    reference: Predict,
    candidate: Predict,
    frames: np.ndarray,
    batch: int = 64,
    tie_margin: float = TIE_MARGIN,
) -> dict[str, Any]:
    """Policy agreement (`policy_agreement`) and max/mean abs differences of logits and value."""
    ref_l, ref_v, can_l, can_v = [], [], [], []
    for i in range(0, len(frames), batch):
        rl, rv = reference(frames[i : i + batch])
        cl, cv = candidate(frames[i : i + batch])
        ref_l.append(rl)
        ref_v.append(rv.reshape(-1))
        can_l.append(cl)
        can_v.append(cv.reshape(-1))
    rl_, rv_, cl_, cv_ = (np.concatenate(x) for x in (ref_l, ref_v, can_l, can_v))
    return {
        "frames": len(frames),
        **policy_agreement(rl_, cl_, tie_margin),
        "logits_max_abs_diff": float(np.abs(rl_ - cl_).max()),
        "value_max_abs_diff": float(np.abs(rv_ - cv_).max()),
        "value_mean_abs_diff": float(np.abs(rv_ - cv_).mean()),
    }
