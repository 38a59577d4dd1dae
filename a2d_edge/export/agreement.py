"""Greedy-action agreement between two policies' logits: numpy only, so the runtime install
(no torch) judges an INT8 model on the device's own kernels with the export gate's measure."""

from __future__ import annotations

import numpy as np

from a2d_edge.export.settings import TIE_MARGIN


def policy_agreement(
    ref_logits: np.ndarray, cand_logits: np.ndarray, tie_margin: float = TIE_MARGIN
) -> dict[str, float]:
    """How far a candidate's policy is from the reference's (pure).

    Raw greedy agreement counts every frame; but a trained policy often holds two actions
    within a hair of each other (Pong's FIRE does what NOOP does, RIGHTFIRE what RIGHT does:
    a quarter of the Pong teacher's frames had a top-two logit gap under 0.05), and any
    rounding flips such ties. `decisive_agreement` counts only the frames whose reference
    top-two gap is at least `tie_margin` (0: every frame), `flipped_max_gap` the widest
    reference gap among the frames whose action changed; `policy_tv_*` is the total
    variation distance between the two softmax policies, what a sampling agent feels.
    """
    ref_a, cand_a = ref_logits.argmax(1), cand_logits.argmax(1)
    top2 = np.sort(ref_logits, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    decisive = gap >= tie_margin
    p = np.exp(ref_logits - ref_logits.max(1, keepdims=True))
    q = np.exp(cand_logits - cand_logits.max(1, keepdims=True))
    tv = 0.5 * np.abs(p / p.sum(1, keepdims=True) - q / q.sum(1, keepdims=True)).sum(1)
    same = ref_a == cand_a
    return {
        "action_agreement": float(same.mean()),
        "tie_margin": float(tie_margin),
        "decisive_frames": float(decisive.mean()),
        "decisive_agreement": float(same[decisive].mean()) if decisive.any() else 1.0,
        "flipped_max_gap": float(gap[~same].max()) if not same.all() else 0.0,
        "policy_tv_mean": float(tv.mean()),
        "policy_tv_max": float(tv.max()),
    }
