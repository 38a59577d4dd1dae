"""`a2d export`: checkpoint -> verified bundle (fp32 ONNX, optional INT8, optional TensorRT).

The bundle is assembled in a temporary folder beside `out` and renamed into place only when
every check passed, so a failed export leaves nothing half-written and loses nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from a2d_edge import __version__
from a2d_edge.compile.int8_graph import rewrite_int8
from a2d_edge.compile.quantize import (
    RECIPES,
    TARGET_RECIPES,
    Int8Recipe,
    get_recipe,
    quantize_int8,
    resolve_target,
)
from a2d_edge.compile.tensorrt import build_engine, tensorrt_available, trtexec_command
from a2d_edge.envs import AtariSettings, action_meanings
from a2d_edge.errors import A2DError
from a2d_edge.export.frames import gather_frames
from a2d_edge.export.onnx_export import (
    OPSET,
    compare,
    export_onnx,
    ort_predict,
    torch_predict,
)
from a2d_edge.export.settings import ExportSettings
from a2d_edge.runtime.bundle import sha256, write_manifest
from a2d_edge.sources.checkpoint import load_agent, resolve_checkpoint
from a2d_edge.utils.device import describe_host

FP32_PARITY = 0.999  # torch vs ORT fp32 must agree (anything less is an export bug)


def export_bundle(spec: str, out: str | Path, s: ExportSettings) -> dict[str, Any]:
    out = Path(out)
    if (out / "manifest.json").exists() and not s.force:
        raise A2DError(f"{out} already holds a bundle; pass --force to replace it")
    if s.int8:
        int8_plan(s)  # an unknown target or recipe ends before any frame is gathered
    model, ckpt = load_agent(spec)
    settings = AtariSettings.from_dict(ckpt.get("atari", {}))
    env_id = ckpt["env_id"]
    half = max(1, s.frames // 2)
    calib = gather_frames(model, env_id, half, seed=s.seed, settings=settings)
    held_out = gather_frames(model, env_id, half, seed=s.seed + 1, settings=settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        manifest = _build(model, ckpt, spec, tmp, calib, held_out, s, env_id, settings)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _build(model, ckpt, spec, tmp: Path, calib, held_out, s: ExportSettings, env_id: str,  # type: ignore[no-untyped-def]
           settings: AtariSettings) -> dict[str, Any]:  # fmt: skip
    fp32 = export_onnx(model, tuple(ckpt["obs_shape"]))
    (tmp / "agent-fp32.onnx").write_bytes(fp32)
    models = {"fp32": "agent-fp32.onnx"}
    verification: dict[str, Any] = {
        "frames": "the agent playing its own game; "
        f"{len(calib)} calibration, {len(held_out)} held-out"
    }
    ref = torch_predict(model)
    fp32_ort = ort_predict(fp32)
    parity = compare(ref, fp32_ort, held_out)
    verification["fp32_vs_torch"] = parity
    if parity["action_agreement"] < FP32_PARITY or parity["logits_max_abs_diff"] > 1e-3:
        raise A2DError(f"fp32 ONNX does not match PyTorch: {parity}")
    int8_graph: dict[str, Any] | None = None
    if s.int8:
        int8, int8_graph = _int8(fp32, fp32_ort, calib, held_out, s, verification)
        (tmp / "agent-int8.onnx").write_bytes(int8)
        models["int8"] = "agent-int8.onnx"
    tensorrt: dict[str, Any] | None = None
    if s.tensorrt:
        source = "agent-fp32.onnx"
        if s.tensorrt == "int8":
            trt_q = quantize_int8(fp32, calib, "tensorrt")
            (tmp / "agent-int8-trt.onnx").write_bytes(trt_q)
            models["int8-trt-onnx"] = source = "agent-int8-trt.onnx"
            verification["int8_trt_vs_fp32_on_ort"] = _check_int8(  # TensorRT sums in int32
                fp32_ort, trt_q, held_out, s, "TensorRT INT8 (QDQ, S8S8)", exact=True
            )
        engine = f"agent-{s.tensorrt}.engine"
        obs_shape = tuple(int(d) for d in ckpt["obs_shape"])
        command = trtexec_command(source, engine, s.tensorrt, obs_shape)
        tensorrt = {"precision": s.tensorrt, "onnx": source, "engine": None, "command": command}
        if tensorrt_available():
            build_engine(tmp / source, tmp / engine, s.tensorrt, obs_shape)
            models[f"tensorrt-{s.tensorrt}"] = tensorrt["engine"] = engine
        else:
            (tmp / "build_engine.sh").write_text(
                "#!/bin/sh\n# Build the TensorRT engine on the device (a2d export found no "
                "TensorRT here), then vouch for it in manifest.json.\nset -e\n"
                'cd "$(dirname "$0")"\n'
                f"{command}\n"
                f"python3 -m a2d_edge.runtime.bundle register . {engine} tensorrt-{s.tensorrt}\n"
            )
            (tmp / "build_engine.sh").chmod(0o755)
    import onnx
    import onnxruntime
    import torch

    manifest: dict[str, Any] = {
        "arch": ckpt["arch"],
        "n_actions": int(ckpt["n_actions"]),
        "env_id": env_id,
        "preprocessing": settings.to_dict(),
        "action_meanings": action_meanings(env_id),
        "input": {"name": "frames", "dtype": "uint8", "shape": ["batch", *ckpt["obs_shape"]]},
        "outputs": ["logits", "value"],
        "models": models,
        "int8_graph": int8_graph,
        "tensorrt": tensorrt,
        "verification": verification,
        "source": {
            "checkpoint": str(spec),
            "sha256": sha256(resolve_checkpoint(spec)),
            "step": int(ckpt["step"]),
        },
        "exported_on": describe_host(),
        "exported_with": {
            "a2d_edge": __version__,
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "opset": OPSET,
        },
        "files": [p.name for p in sorted(tmp.iterdir()) if p.is_file()],
    }
    write_manifest(tmp, manifest)
    return manifest


def int8_plan(s: ExportSettings) -> tuple[str, Int8Recipe, bool]:
    """The INT8 target, its recipe, and whether this CPU runs the target's kernels (else the
    gate checks the QDQ graph's exact arithmetic: `onnx_export.ort_predict(exact=True)`)."""
    from a2d_edge.utils.fingerprint import int8_target, this_host

    target = resolve_target(s.target)
    if target == "tensorrt":
        raise A2DError("--target tensorrt is --tensorrt int8; --int8 makes an ONNX Runtime model")
    recipe = get_recipe(s.int8_recipe) if s.int8_recipe else RECIPES[TARGET_RECIPES[target]]
    if recipe.name == "tensorrt":
        raise A2DError("the tensorrt recipe is for --tensorrt int8, not an ONNX Runtime model")
    return target, recipe, target == int8_target(this_host())


def _int8(fp32, fp32_ort, calib, held_out, s: ExportSettings,  # type: ignore[no-untyped-def]
          verification: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:  # fmt: skip
    """The ORT INT8 model for the target: plain QDQ by the target's recipe, then the graph
    rewrites, each form checked on the held-out frames (the rewritten one against the plain
    one, and the agreement gate) with this CPU's kernels when they are the target's."""
    from a2d_edge.utils.fingerprint import this_host

    target, recipe, native = int8_plan(s)
    plain = quantize_int8(fp32, calib, recipe, rewrites=())
    int8, applied = rewrite_int8(plain, recipe.rewrites) if recipe.rewrites else (plain, [])
    exact = not native
    verification["int8_rewritten_vs_plain_qdq"] = compare(
        ort_predict(plain, exact=exact), ort_predict(int8, exact=exact), held_out
    )
    verification["int8_vs_fp32"] = _check_int8(
        fp32_ort, int8, held_out, s, f"int8 ({recipe.name} for {target})", exact
    )
    check = (
        "this host's ONNX Runtime int8 kernels"
        if native
        else "the QDQ graph's exact arithmetic (ORT, graph optimisations off): this host's "
        "int8 kernels are not the target's, which sum in int32"
    )
    return int8, {
        "recipe": recipe.name,
        "recipe_detail": recipe.describe(),
        "target": target,
        "rewrites": applied,
        "verified_on": {"target": target, "check": "kernels" if native else "exact",
                        "how": check, "host": this_host().to_dict()},
    }  # fmt: skip


def _check_int8(fp32_ort, model: bytes, held_out, s: ExportSettings, what: str,  # type: ignore[no-untyped-def]
                exact: bool = False) -> dict[str, Any]:  # fmt: skip
    """The gate: greedy agreement with fp32 on the held-out frames where fp32 is not tied
    between its top two actions (`--tie-margin`, 0 gates on every frame)."""
    stats = compare(fp32_ort, ort_predict(model, exact=exact), held_out, tie_margin=s.tie_margin)
    stats["arithmetic"] = "exact QDQ" if exact else "this host's kernels"
    stats["min_agreement"] = s.min_agreement
    if stats["decisive_agreement"] < s.min_agreement and not s.force:
        raise A2DError(
            f"{what} greedy-action agreement with fp32 is "
            f"{100 * stats['decisive_agreement']:.1f}% on the "
            f"{100 * stats['decisive_frames']:.0f}% of {stats['frames']} held-out frames "
            f"with a top-two logit gap >= {s.tie_margin} (all frames: "
            f"{100 * stats['action_agreement']:.1f}%), below {100 * s.min_agreement:.1f}%: "
            "export refused (--force keeps it, --min-agreement sets the bar)"
        )
    return stats


def describe(manifest: dict[str, Any], out: str | Path) -> list[str]:
    """What `a2d export` prints of a bundle it made: its models, the INT8 recipe and every
    verification."""
    lines = [f"bundle {out}: {', '.join(f'{k}={v}' for k, v in manifest['models'].items())}"]
    if manifest["int8_graph"]:
        g = manifest["int8_graph"]
        summary, how = g["recipe_detail"]["summary"], g["verified_on"]["how"]
        lines.append(f"  int8 recipe {g['recipe']} for {g['target']} ({summary}); gated on {how}")
    for name, v in manifest["verification"].items():
        if isinstance(v, dict):
            lines.append(
                f"  {name}: action agreement {100 * v['action_agreement']:.2f}% on "
                f"{v['frames']} frames ({100 * v['decisive_agreement']:.2f}% on the "
                f"{100 * v['decisive_frames']:.0f}% not tied; widest flipped gap "
                f"{v['flipped_max_gap']:.3f}), policy TV {v['policy_tv_mean']:.1e}, "
                f"max |Δlogit| {v['logits_max_abs_diff']:.2e}, "
                f"max |Δvalue| {v['value_max_abs_diff']:.2e}"
            )
    if manifest["tensorrt"] and not manifest["tensorrt"]["engine"]:
        lines.append(f"  TensorRT not here: on the device run {out}/build_engine.sh")
    return lines
