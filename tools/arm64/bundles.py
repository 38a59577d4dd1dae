"""On the x86 host (torch): the shipped agents' bundles for the arm64 tests, and the frames the
export's INT8 gate judged them on, with this host's logits for them.

`a2d export zoo:NAME --int8 --target arm64` gates the INT8 model on the QDQ graph's exact
arithmetic over held-out frames (half of `--frames`, seed `--seed` + 1). `reference` gathers
those same frames again (the agent's own sampled play, seeded) and checks that they are the
gate's by reproducing its figure, so the arm64 side judges ARM kernels on exactly the frames
the claim was made on.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from a2d_edge.errors import A2DError

AGENTS = ("pong", "breakout-small")
FRAMES = 512  # the export's default: 256 calibrate, 256 held out
SEED = 0
REPO = Path(__file__).resolve().parents[2]
SOURCES = ("a2d_edge/export", "a2d_edge/compile", "a2d_edge/nets", "a2d_edge/envs",
           "a2d_edge/zoo", "a2d_edge/runtime/bundle.py", "tools/arm64/bundles.py")  # fmt: skip


def source_key(repo: Path = REPO) -> str:
    """A hash of what the bundles are made from: a change re-exports them."""
    h = hashlib.sha256()
    for name in SOURCES:
        path = repo / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(repo)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def export(agent: str, out: Path) -> None:
    """`a2d export zoo:<agent> --int8 --target arm64 --force` (fp32 + INT8 in one bundle).

    `--force` keeps an INT8 model below the gate's bar (`gate_verdict` says so) so that its
    figure, too, is checked against ARM's kernels."""
    cmd = [sys.executable, "-m", "a2d_edge", "export", f"zoo:{agent}", "--out", str(out),
           "--int8", "--target", "arm64", "--frames", str(FRAMES), "--seed", str(SEED),
           "--force"]  # fmt: skip
    done = subprocess.run(["nice", "-n", "10", *cmd], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise A2DError(f"a2d export zoo:{agent} failed: {done.stderr.strip()[-500:]}")
    print(done.stdout.strip(), flush=True)


def gate_verdict(claim: dict[str, Any]) -> str:
    """Whether the export's INT8 gate passes the model (pure)."""
    ok = claim["decisive_agreement"] >= claim["min_agreement"]
    return (f"{'passes' if ok else 'REFUSED by'} the gate (not tied "
            f"{100 * claim['decisive_agreement']:.2f}% vs {100 * claim['min_agreement']:.0f}%"
            f"{'' if ok else '; kept with --force for the comparison'})")  # fmt: skip


def reference(agent: str, bundle: Path, out: Path) -> dict[str, Any]:
    """The gate's held-out frames and this host's logits on them (fp32, INT8 in exact QDQ
    arithmetic, INT8 by this host's own kernels), saved as `out` (.npz)."""
    from a2d_edge.envs import AtariSettings
    from a2d_edge.export.frames import gather_frames
    from a2d_edge.export.onnx_export import ort_predict, policy_agreement
    from a2d_edge.runtime.bundle import load_bundle
    from a2d_edge.sources.checkpoint import load_agent

    manifest = load_bundle(bundle).manifest
    claim = manifest["verification"]["int8_vs_fp32"]
    model, ckpt = load_agent(f"zoo:{agent}")
    settings = AtariSettings.from_dict(ckpt.get("atari", {}))
    frames = gather_frames(model, ckpt["env_id"], int(claim["frames"]), seed=SEED + 1,
                           settings=settings)  # fmt: skip
    fp32 = (bundle / manifest["models"]["fp32"]).read_bytes()
    int8 = (bundle / manifest["models"]["int8"]).read_bytes()
    logits = {
        "fp32": ort_predict(fp32)(frames)[0],
        "int8_exact": ort_predict(int8, exact=True)(frames)[0],
        "int8_x86": ort_predict(int8)(frames)[0],
    }
    redo = policy_agreement(logits["fp32"], logits["int8_exact"], claim["tie_margin"])
    if abs(redo["decisive_agreement"] - claim["decisive_agreement"]) > 1e-9:
        raise A2DError(
            f"zoo:{agent}: the frames gathered again are not the export gate's "
            f"({redo['decisive_agreement']:.4f} vs its {claim['decisive_agreement']:.4f})"
        )
    arrays: dict[str, Any] = {"frames": frames, **{f"{k}_logits": v for k, v in logits.items()}}
    np.savez_compressed(out, **arrays)
    x86 = policy_agreement(logits["fp32"], logits["int8_x86"], claim["tie_margin"])
    return {"claim": claim, "x86_kernels": x86}


def prepare(folder: Path) -> list[str]:
    """The bundles and references under `folder` (made unless present); their names."""
    for agent in AGENTS:
        bundle, ref = folder / agent, folder / f"{agent}.npz"
        if (bundle / "manifest.json").is_file() and ref.is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(bundle, ignore_errors=True)
        export(agent, bundle)
        figures = reference(agent, bundle, ref)
        c, x = figures["claim"], figures["x86_kernels"]
        print(f"zoo:{agent}: INT8 agreement on the gate's {c['frames']} frames (all / not "
              f"tied): exact QDQ {100 * c['action_agreement']:.2f}% / "
              f"{100 * c['decisive_agreement']:.2f}%, this x86's kernels "
              f"{100 * x['action_agreement']:.2f}% / {100 * x['decisive_agreement']:.2f}%; "
              f"{gate_verdict(c)}", flush=True)  # fmt: skip
    return list(AGENTS)
