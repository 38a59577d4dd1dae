"""`a2d export`'s settings (torch-free: the command line is built from them on any install)."""

from __future__ import annotations

from dataclasses import dataclass

from a2d_edge.config import field as setting

TIE_MARGIN = 0.05
"""Logit gap below which the reference's top two actions count as tied (`policy_agreement`)."""


@dataclass(frozen=True)
class ExportSettings:
    int8: bool = setting(
        False, "add ORT static INT8 (QDQ), by the recipe of --target's instruction set"
    )
    target: str = setting(
        "host",
        "the CPU the INT8 model is for: host (this one), x86-vnni (AVX-512 VNNI / AVX-VNNI / "
        "AMX: U8S8), x86-avx2 (no VNNI: 7-bit weights, no saturation), arm64 (U8S8); a "
        "target other than this host is gated on the QDQ graph's exact arithmetic",
        choices=("host", "x86-vnni", "x86-avx2", "arm64"),
    )
    int8_recipe: str = setting(
        "", "override the target's INT8 recipe", choices=("u8s8", "u8s8-rr", "u8u8")
    )
    tensorrt: str = setting("", "TensorRT engine (or its recipe)", choices=("fp16", "int8"))
    min_agreement: float = setting(
        0.99, "INT8 greedy-action agreement with fp32 required", low=0, high=1
    )
    tie_margin: float = setting(
        TIE_MARGIN,
        "the agreement gate skips frames whose fp32 top-two logits are closer than this (ties "
        "any rounding flips, e.g. Pong's FIRE vs NOOP); 0 gates on every frame",
        low=0,
    )
    frames: int = setting(512, "real frames: half calibrate, half verify", low=2)
    seed: int = setting(0, "seed of the frames' episodes", low=0)
    force: bool = setting(False, "replace a bundle / keep a low agreement")
