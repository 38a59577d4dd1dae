"""Whether this process runs under an instruction-set emulator (qemu-user), torch-free.

qemu emulates instructions exactly but not their timing: a latency measured under it says
nothing of the device it imitates, so `a2d-profile` refuses to write one. The signs are read
from what qemu cannot hide, each a pure function of text (tested on faked inputs):

- `A2D_EMULATED` in the environment (`make test-arm64` sets it; set it for any emulator);
- the kernel's own memory map of this thread (`/proc/self/task/<tid>/maps`, which qemu-user
  does not rewrite as it does `/proc/self/maps`) maps a `qemu-*` binary;
- binfmt_misc hands this machine's own binaries to qemu (`/proc/sys/fs/binfmt_misc/qemu-<arch>`
  enabled: a `docker run --platform` container);
- /proc/cpuinfo describes another architecture than the one this process runs (plain qemu-user
  shows the host's cpuinfo).
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV = "A2D_EMULATED"
BINFMT = "/proc/sys/fs/binfmt_misc"
ARM = ("aarch64", "arm64", "armv7l", "armv8l")


@dataclass(frozen=True)
class Probe:
    """What the signs are read from (`Probe.here()`: this process's)."""

    machine: str
    env: Mapping[str, str]
    maps: str = ""
    cpuinfo: str = ""
    binfmt: str = BINFMT

    @classmethod
    def here(cls) -> Probe:
        return cls(
            machine=platform.machine(),
            env=os.environ,
            maps=_read(f"/proc/self/task/{threading.get_native_id()}/maps"),
            cpuinfo=_read("/proc/cpuinfo"),
        )


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def env_sign(env: Mapping[str, str]) -> str | None:
    value = env.get(ENV, "").strip()
    return f"{ENV}={value}" if value and value != "0" else None


def maps_sign(maps: str) -> str | None:
    """A `qemu-*` executable mapped into this process (the emulator hosting it)."""
    for line in maps.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and Path(parts[5].strip()).name.startswith("qemu-"):
            return f"{Path(parts[5].strip()).name} is mapped into this process"
    return None


def binfmt_sign(machine: str, binfmt: str = BINFMT) -> str | None:
    """binfmt_misc runs this machine's own binaries through qemu (enabled entry)."""
    names = {"arm64": "aarch64", "amd64": "x86_64"}
    entry = Path(binfmt) / f"qemu-{names.get(machine, machine)}"
    text = _read(str(entry))
    if text.splitlines()[:1] == ["enabled"]:
        return f"{entry} hands {machine} binaries to qemu"
    return None


def cpuinfo_sign(machine: str, cpuinfo: str) -> str | None:
    """/proc/cpuinfo of another architecture than this process's (x86 `flags` on aarch64)."""
    keys = {line.partition(":")[0].strip() for line in cpuinfo.splitlines() if ":" in line}
    x86 = "flags" in keys or "vendor_id" in keys
    arm = "Features" in keys or "CPU implementer" in keys
    if machine in ARM and x86 and not arm:
        return f"/proc/cpuinfo describes an x86 CPU to a {machine} process"
    if machine in ("x86_64", "amd64", "i686") and arm and not x86:
        return f"/proc/cpuinfo describes an ARM CPU to a {machine} process"
    return None


def emulation_signs(probe: Probe) -> list[str]:
    """Every sign of emulation in `probe`, in words ([] on real hardware)."""
    signs = (
        env_sign(probe.env),
        maps_sign(probe.maps),
        binfmt_sign(probe.machine, probe.binfmt),
        cpuinfo_sign(probe.machine, probe.cpuinfo),
    )
    return [s for s in signs if s]


def emulated(probe: Probe | None = None) -> str | None:
    """One line naming why this process looks emulated, or None."""
    signs = emulation_signs(probe or Probe.here())
    return "; ".join(signs) if signs else None


__all__ = ["ENV", "Probe", "emulated", "emulation_signs"]
