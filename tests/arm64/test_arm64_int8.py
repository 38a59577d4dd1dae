"""The `--target arm64` INT8 model on ONNX Runtime's own ARM kernels, on the frames its export
gate judged it on (x86, in the QDQ graph's exact arithmetic): does the claim hold on ARM?"""

from __future__ import annotations

import json

import numpy as np
import pytest
from arm64_agents import AGENTS

pytestmark = pytest.mark.arm64


def ort_logits(model, frames: np.ndarray, batch: int = 64) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Logits by the runtime's own session: all graph optimisations, so the QDQ model runs
    ORT's fused int8 kernels for this CPU (here: ARM's)."""
    from a2d_edge.runtime.backends import ort_session

    sess = ort_session(str(model))
    parts = [sess.run(["logits"], {"frames": frames[i : i + batch]})[0]
             for i in range(0, len(frames), batch)]  # fmt: skip
    return np.concatenate(parts)


@pytest.mark.parametrize("agent", AGENTS)
def test_int8_agreement_on_arm_kernels_holds_the_gates_claim(bundles, out_dir, agent):
    from a2d_edge.export.agreement import policy_agreement
    from a2d_edge.runtime.bundle import load_bundle

    bundle = load_bundle(bundles / agent)
    ref = np.load(bundles / f"{agent}.npz")
    frames = ref["frames"]
    claim = bundle.manifest["verification"]["int8_vs_fp32"]
    assert bundle.manifest["int8_graph"]["target"] == "arm64" and claim["frames"] == len(frames)
    fp32 = ort_logits(bundle.model_path("fp32"), frames)
    int8 = ort_logits(bundle.model_path("int8"), frames)
    margin = float(claim["tie_margin"])
    arm = policy_agreement(fp32, int8, margin)
    figures = {
        "agent": agent,
        "frames": len(frames),
        "tie_margin": margin,
        "min_agreement": claim["min_agreement"],
        "x86_claim_exact": {k: claim[k] for k in ("action_agreement", "decisive_agreement")},
        "x86_kernels": policy_agreement(ref["fp32_logits"], ref["int8_x86_logits"], margin),
        "arm64_kernels": arm,
        "arm64_fp32_vs_x86_fp32": {
            **policy_agreement(ref["fp32_logits"], fp32, margin),
            "logits_max_abs_diff": float(np.abs(fp32 - ref["fp32_logits"]).max()),
        },
        "arm64_int8_vs_x86_exact": {
            **policy_agreement(ref["int8_exact_logits"], int8, margin),
            "logits_max_abs_diff": float(np.abs(int8 - ref["int8_exact_logits"]).max()),
        },
    }
    (out_dir / f"int8-{agent}.json").write_text(json.dumps(figures, indent=1))
    same_fp32 = figures["arm64_fp32_vs_x86_fp32"]
    assert same_fp32["logits_max_abs_diff"] < 1e-3 and same_fp32["decisive_agreement"] == 1.0
    # ARM's int8 kernels compute what the gate computed on x86 (the QDQ graph, summed exactly)
    exact = figures["arm64_int8_vs_x86_exact"]
    assert exact["action_agreement"] >= 0.99 and exact["logits_max_abs_diff"] < 0.05, figures
    # so the gate's figure holds here, to a frame or two of the 256
    for key in ("action_agreement", "decisive_agreement"):
        assert abs(arm[key] - claim[key]) <= 0.01, (key, figures)
    if claim["decisive_agreement"] >= claim["min_agreement"]:  # the gate passed it on x86
        assert arm["decisive_agreement"] >= claim["min_agreement"], figures
