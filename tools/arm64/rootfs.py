"""An emulated arm64 Debian root, cached: qemu-user + proot + debootstrap, no root privileges
needed once the three tools are installed.

`debootstrap --foreign` downloads and unpacks the base system but leaves the packages of
`--include` packed (its second stage runs on the target): they are unpacked with `dpkg-deb -x`,
which is all a Python interpreter needs. ONNX Runtime reads /proc/cpuinfo and
/sys/devices/system/cpu/{possible,present} to pick its kernels; qemu-user shows the host's,
so an ARM core's are bound in their place (`fake_cpu_files`), the same core that qemu emulates
(`CPU`: dot-product, no I8MM, as a Jetson Orin's Cortex-A78AE or a Raspberry Pi 5's A76).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from a2d_edge.errors import A2DError

SUITE = "bookworm"  # Python 3.11
TOOLS = {"qemu-aarch64-static": "qemu-user-static", "proot": "proot",
         "debootstrap": "debootstrap", "dpkg-deb": "dpkg"}  # fmt: skip
INCLUDE = ("python3", "python3-venv", "python3-pip")
STAMP = ".a2d-arm64-root"
CPU = "neoverse-n1"  # qemu's -cpu model: ARMv8.2 with dot-product, no I8MM
FEATURES = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs"  # noqa: E501 (what a Neoverse-N1's kernel prints)
PART = "0xd0c"  # Neoverse-N1


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def ensure_tools(install: bool = True) -> None:
    """qemu-user-static, proot and debootstrap, installed with apt when missing; one
    `A2DError` line when they cannot be (no root, no apt, no package)."""
    missing = missing_tools()
    if not missing:
        return
    packages = sorted({TOOLS[t] for t in missing})
    why = ""
    if not install:
        why = "not installing"
    elif shutil.which("apt-get") is None:
        why = "no apt-get here"
    elif os.geteuid() != 0:
        why = "apt-get needs root"
    else:
        for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                why = f"`{' '.join(cmd[:2])}` failed: {_tail(out.stderr or out.stdout)}"
                break
        missing = missing_tools()
    if missing or why:
        raise A2DError(
            f"{', '.join(missing)} missing ({why or 'not found after apt-get'}): "
            f"as root, apt-get install {' '.join(packages)}; nothing was tested on arm64"
        )


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def host_mirror(sources: str) -> str | None:
    """The Debian archive this host's apt uses (the first `URIs:` / `deb` line naming a
    `/debian` archive), so the root comes from where this machine's packages come from."""
    for line in sources.splitlines():
        words = line.split()
        if words[:1] == ["URIs:"] or words[:1] == ["deb"]:
            uris = [w for w in words[1:] if "://" in w]
            debian = [u for u in uris if u.rstrip("/").endswith("/debian")]
            if debian:
                return debian[0]
    return None


def _apt_sources() -> str:
    paths = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    texts = []
    for p in paths:
        if p.is_file() and p.suffix in (".list", ".sources"):
            texts.append(p.read_text(errors="replace"))
    return "\n".join(texts)


def build_root(root: Path, log: Path) -> bool:
    """The arm64 root at `root`, built unless its stamp says it is complete; True when built."""
    if (root / STAMP).is_file():
        return False
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    mirror = host_mirror(_apt_sources())
    cmd = ["nice", "-n", "10", "debootstrap", "--foreign", "--arch=arm64", "--variant=minbase",
           f"--include={','.join(INCLUDE)}", SUITE, str(root)]  # fmt: skip
    if mirror:
        cmd.append(mirror)
    with log.open("w") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise A2DError(f"debootstrap of the arm64 root failed (log: {log})")
    for deb in sorted((root / "var/cache/apt/archives").glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    if not (root / "usr/bin/python3").exists():
        raise A2DError(f"the arm64 root at {root} has no python3 after unpacking (log: {log})")
    (root / STAMP).write_text(f"{SUITE} arm64 minbase + {' '.join(INCLUDE)}\n")
    return True


def fake_cpu_files(folder: Path, cores: int) -> dict[str, Path]:
    """An ARM core's /proc/cpuinfo and the sysfs CPU lists, to bind over the host's."""
    folder.mkdir(parents=True, exist_ok=True)
    block = ("processor\t: {i}\nBogoMIPS\t: 50.00\nFeatures\t: " + FEATURES + "\n"
             "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\n"
             f"CPU part\t: {PART}\nCPU revision\t: 1\n")  # fmt: skip
    files = {
        "/proc/cpuinfo": "\n".join(block.format(i=i) for i in range(cores)) + "\n",
        "/sys/devices/system/cpu/possible": f"0-{cores - 1}\n" if cores > 1 else "0\n",
        "/sys/devices/system/cpu/present": f"0-{cores - 1}\n" if cores > 1 else "0\n",
    }
    out = {}
    for target, text in files.items():
        path = folder / target.strip("/").replace("/", "_")
        path.write_text(text)
        out[target] = path
    return out


@dataclass(frozen=True)
class Emulator:
    """Runs commands in the root under qemu-aarch64 through proot."""

    root: Path
    binds: dict[str, Path]  # guest path -> host path
    env: dict[str, str]

    def argv(self, command: list[str], cwd: str = "/tmp") -> list[str]:
        binds = ["-b", "/proc", "-b", "/dev", "-b", "/sys"]
        for guest, host in self.binds.items():
            binds += ["-b", f"{host}:{guest}"]
        # every guest exec starts its own qemu, which reads QEMU_CPU from the guest's env
        env = [f"{k}={v}" for k, v in sorted({**self.env, "QEMU_CPU": CPU}.items())]
        return ["proot", "-q", "qemu-aarch64-static", "-r", str(self.root), *binds, "-w", cwd,
                "/usr/bin/env", "-i", *env, *command]  # fmt: skip
