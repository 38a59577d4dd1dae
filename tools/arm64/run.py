"""`make test-arm64`: the runtime and INT8 on arm64, under emulation (qemu-user + proot).

1. qemu-user-static, proot and debootstrap (installed with apt when missing);
2. a Debian arm64 root with python3, cached (`$A2D_ARM64_CACHE`, default ~/.cache/a2d-arm64);
3. the runtime install's aarch64 wheels resolved by pip for JetPack 6's cp310 and the root's
   cp311, the package (no torch) installed in the root from the cp311 ones;
4. the shipped agents exported on this host (`a2d export --int8 --target arm64`), with the
   export gate's frames (cached by a hash of the sources they are made from);
5. the tests marked `arm64` (tests/arm64/) run in the root, then the INT8 figures.

qemu runs ARM instructions exactly, not at an ARM core's speed: this verifies installs,
numerics and behaviour on ARM kernels, never latency.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from a2d_edge.errors import A2DError
from tools.arm64 import bundles, rootfs, wheels

GUEST_PYTHON = "3.11"  # Debian bookworm's
DEVICE_PYTHON = "3.10"  # JetPack 6 (Ubuntu 22.04)
SITE = "/opt/a2d"  # in the root: site-<key> (dependencies), pkg (the package)


def cache_dir() -> Path:
    return Path(os.environ.get("A2D_ARM64_CACHE") or Path.home() / ".cache" / "a2d-arm64")


def step(what: str, t0: float) -> None:
    print(f"[{time.monotonic() - t0:6.0f} s] {what}", flush=True)


def build_wheel(dest: Path) -> Path:
    """The package's own wheel (pure Python), built from this checkout."""
    shutil.rmtree(dest, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:  # setuptools' build/ stays out of the checkout
        build = Path(tmp) / "src"
        shutil.copytree(REPO, build, ignore=shutil.ignore_patterns(
            ".git", ".venv", "runs", "bundles", "build", "dist", "*.egg-info", "__pycache__",
            "tests", "benchmarks", "docs", "latency_tables", "configs"))  # fmt: skip
        cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
               "-w", str(dest), str(build)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(dest.glob("a2d_edge-*.whl"))
    if done.returncode != 0 or not found:
        raise A2DError(f"building the a2d-edge wheel failed: {done.stderr.strip()[-300:]}")
    return found[0]


def resolve_both(wheel: Path, cache: Path, t0: float) -> dict[str, wheels.Wheel]:
    """The runtime resolved for cp310 (JetPack 6) and cp311 (the root); cp311's wheels."""
    required = wheels.runtime_requirements(REPO / "pyproject.toml")
    resolved = {}
    for python, extra in ((DEVICE_PYTHON, []), (GUEST_PYTHON, ["pytest"])):
        tag = f"cp{python.replace('.', '')}"
        found = wheels.resolve([str(wheel), *extra], python, cache / f"wheels-{tag}")
        problems = wheels.check_resolution(found, required, tag)
        if problems:
            raise A2DError(f"the runtime does not resolve for aarch64 {tag}: {'; '.join(problems)}")
        step(f"runtime resolves for aarch64 {tag}: {wheels.summary(found, required)}", t0)
        resolved[tag] = found
    return resolved[f"cp{GUEST_PYTHON.replace('.', '')}"]


def _pip_target(target: Path, files: list[Path]) -> None:
    platforms = [f"--platform={p}" for p in wheels.manylinux_platforms()]
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
           "--only-binary=:all:", *platforms, f"--python-version={GUEST_PYTHON}",
           "--implementation=cp", "--target", str(target), *map(str, files)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise A2DError(f"installing into the arm64 root failed: {done.stderr.strip()[-300:]}")


def install(root: Path, found: dict[str, wheels.Wheel], wheel: Path, cache: Path) -> list[str]:
    """The dependencies (cached by their wheels' names) and the package (every run) in the
    root; the guest's PYTHONPATH."""
    downloaded = cache / f"wheels-cp{GUEST_PYTHON.replace('.', '')}"
    deps = sorted(p for p in downloaded.glob("*.whl")
                  if wheels.parse_wheel(p.name).name in found and p.name != wheel.name
                  and wheels.parse_wheel(p.name).name != "a2d-edge")  # fmt: skip
    key = hashlib.sha256("\n".join(p.name for p in deps).encode()).hexdigest()[:12]
    site = root / SITE.strip("/") / f"site-{key}"
    if not site.is_dir():
        for old in site.parent.glob("site-*"):
            shutil.rmtree(old)
        partial = site.with_name(site.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _pip_target(partial, deps)
        partial.rename(site)
    pkg = root / SITE.strip("/") / "pkg"
    shutil.rmtree(pkg, ignore_errors=True)
    _pip_target(pkg, [wheel])
    return [f"{SITE}/pkg", f"{SITE}/{site.name}"]


def report(out: Path) -> list[str]:
    """The INT8 figures the arm64 tests wrote, one line per agent."""
    lines = []
    for path in sorted(out.glob("int8-*.json")):
        f = json.loads(path.read_text())
        claim, x86, arm = f["x86_claim_exact"], f["x86_kernels"], f["arm64_kernels"]
        lines.append(
            f"zoo:{f['agent']}: INT8 vs fp32 greedy agreement on the gate's {f['frames']} frames "
            f"(all / not tied): x86 claim (exact QDQ) {100 * claim['action_agreement']:.2f}% / "
            f"{100 * claim['decisive_agreement']:.2f}%, x86 kernels "
            f"{100 * x86['action_agreement']:.2f}% / {100 * x86['decisive_agreement']:.2f}%, "
            f"arm64 kernels {100 * arm['action_agreement']:.2f}% / "
            f"{100 * arm['decisive_agreement']:.2f}%; arm64 INT8 vs x86 exact: max |Δlogit| "
            f"{f['arm64_int8_vs_x86_exact']['logits_max_abs_diff']:.3f}; arm64 fp32 vs x86 "
            f"fp32: {f['arm64_fp32_vs_x86_fp32']['logits_max_abs_diff']:.1e}; "
            + bundles.gate_verdict({**claim, "min_agreement": f["min_agreement"]})
        )
    return lines


def run(pytest_args: list[str]) -> int:
    t0 = time.monotonic()
    cache = cache_dir()
    rootfs.ensure_tools()
    root = cache / f"root-{rootfs.SUITE}"
    cache.mkdir(parents=True, exist_ok=True)
    built = rootfs.build_root(root, cache / "debootstrap.log")
    step(f"arm64 root {'built' if built else 'reused'}: {root}", t0)
    wheel = build_wheel(cache / "dist")
    found = resolve_both(wheel, cache, t0)
    path = install(root, found, wheel, cache)
    step(f"runtime installed in the root (no torch): {wheel.name}", t0)
    made = cache / f"bundles-{bundles.source_key()}"
    for old in cache.glob("bundles-*"):
        if old != made:
            shutil.rmtree(old)
    bundles.prepare(made)
    step(f"bundles for {', '.join(bundles.AGENTS)} (fp32 + INT8 --target arm64): {made}", t0)
    out = cache / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    fake = rootfs.fake_cpu_files(cache / "fake-cpu", os.cpu_count() or 1)
    emulator = rootfs.Emulator(
        root,
        binds={
            **fake,
            "/a2d/tests": REPO / "tests" / "arm64",
            "/a2d/bundles": made,
            "/a2d/out": out,
        },
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            "PYTHONPATH": ":".join(path),
            "PYTHONDONTWRITEBYTECODE": "1",
            "A2D_EMULATED": f"qemu-aarch64 -cpu {rootfs.CPU}",
            "A2D_ARM64_BUNDLES": "/a2d/bundles",
            "A2D_ARM64_OUT": "/a2d/out",
        },
    )
    step(f"pytest -m arm64 on emulated aarch64 (qemu -cpu {rootfs.CPU})", t0)
    argv = ["/usr/bin/python3", "-m", "pytest", "-p", "no:cacheprovider", "-m", "arm64",
            "-q", "-rs", "/a2d/tests", *pytest_args]  # fmt: skip
    code = subprocess.run(["nice", "-n", "10", *emulator.argv(argv, cwd="/a2d")],
                          env={**os.environ, "QEMU_CPU": rootfs.CPU}).returncode  # fmt: skip
    for line in report(out):
        print(line)
    step(f"make test-arm64: {'passed' if code == 0 else f'FAILED (pytest exit {code})'}", t0)
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        return run(args)
    except A2DError as e:
        print(f"make test-arm64: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
