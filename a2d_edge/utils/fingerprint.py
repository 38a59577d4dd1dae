"""What decides this machine's kernels: a device fingerprint, torch-free.

Two hosts that print the same CPU name ("AMD EPYC", 2 cores) can run different kernels: ONNX
Runtime's INT8 GEMM uses VNNI where the CPU has it and a saturating AVX2 path where it does not,
and bf16 autocast is native with AVX512_BF16 / AMX and emulated without. A latency table, an
INT8 recipe and a precision choice are true only for the instruction set they were made on, so
tables, bundles and run reports carry this record, and its `slug` names tables.

The parsers are pure functions of `/proc/cpuinfo` and `lscpu` text (tested on captured samples);
`this_host()` reads the files of this machine.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Features that change which kernels ORT / PyTorch run, by the names /proc/cpuinfo prints.
X86_FEATURES = (
    "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16",
    "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
)  # fmt: skip
ARM_FEATURES = ("asimd", "asimddp", "i8mm", "asimdhp", "bf16", "sve", "sve2")
ARM_NAMES = {"asimd": "neon", "asimddp": "dotprod", "asimdhp": "fp16"}  # how people say them

# ARM CPU part numbers (implementer 0x41 = Arm) of the cores found on edge boards.
ARM_PARTS = {
    "0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
    "0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77", "0xd40": "Neoverse-V1", "0xd41": "Cortex-A78",
    "0xd42": "Cortex-A78AE", "0xd44": "Cortex-X1", "0xd46": "Cortex-A510", "0xd47": "Cortex-A710",
    "0xd49": "Neoverse-N2", "0xd4f": "Neoverse-V2",
}  # fmt: skip
NVIDIA_PARTS = {"0x004": "Carmel"}  # implementer 0x4e: the Jetson Xavier's cores

# Fields compared between two records (a field missing from either record is not compared).
COMPARED = ("machine", "vendor", "cpu", "family", "model", "cores", "isa", "cache_kib", "gpu",
            "compute_capability")  # fmt: skip


@dataclass(frozen=True)
class Fingerprint:
    machine: str  # x86_64, aarch64
    cpu: str  # model name (ARM: the core's name from its part number)
    cores: int
    isa: tuple[str, ...]  # the kernel-deciding features present (X86_FEATURES / ARM_FEATURES)
    vendor: str | None = None  # AuthenticAMD, GenuineIntel; ARM implementer (0x41)
    family: str | None = None  # x86 cpu family; ARM architecture
    model: str | None = None  # x86 model; ARM part number
    cache_kib: dict[str, int] = field(default_factory=dict)  # l1d, l2, l3 of one core's view
    gpu: str | None = None
    compute_capability: str | None = None
    tensorrt: str | None = None
    jetpack: str | None = None  # the L4T release line of a Jetson

    @property
    def slug(self) -> str:
        """`<cpu>-<cores>c-<isa tag>`, e.g. amd-epyc-2c-avx2, amd-epyc-2c-avx512vnni-bf16,
        cortex-a78ae-12c-dot-fp16: what separates kernels is in the name."""
        return f"{_slugify(self.cpu)}-{self.cores}c-{isa_tag(self.machine, self.isa)}"

    @property
    def gpu_slug(self) -> str | None:
        """The GPU's name and SM version (nvidia-h200-sm90), for GPU backends' tables."""
        if not self.gpu:
            return None
        sm = f"-sm{self.compute_capability.replace('.', '')}" if self.compute_capability else ""
        return f"{_slugify(self.gpu)}{sm}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["isa"] = list(self.isa)
        d["slug"] = self.slug
        d["gpu_slug"] = self.gpu_slug
        return d

    def describe_isa(self) -> str:
        return isa_words(self.isa) or "no SIMD extensions recorded"


def _slugify(name: str) -> str:
    """Lower-case words joined by '-', without trademark marks, the clock and a trailing
    "Processor" / "CPU" ("Intel(R) Xeon(R) Processor" -> intel-xeon)."""
    name = re.sub(r"\((r|tm)\)", " ", name.lower())
    name = re.sub(r"\b(processor|cpu)\s*$", "", re.sub(r"@.*$", "", name).strip())
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "device"


def isa_tag(machine: str, isa: tuple[str, ...] | list[str]) -> str:
    """The slug's ISA part: the best int8 path, then native bf16 / fp16."""
    have = set(isa)
    if machine in ("aarch64", "arm64"):
        tag = "dot-i8mm" if {"asimddp", "i8mm"} <= have else "dot" if "asimddp" in have else "neon"
        extras = [s for f, s in (("asimdhp", "fp16"), ("bf16", "bf16")) if f in have]
        return "-".join([tag, *extras])
    if "amx_tile" in have:
        return "amx"
    tag = ("avx512vnni" if "avx512_vnni" in have else "avxvnni" if "avx_vnni" in have
           else "avx512" if "avx512f" in have else "avx2" if "avx2" in have else "sse")  # fmt: skip
    return f"{tag}-bf16" if "avx512_bf16" in have else tag


def isa_words(isa: tuple[str, ...] | list[str]) -> str:
    return ", ".join(ARM_NAMES.get(f, f) for f in isa)


# INT8 kernel classes: where ORT's int8 kernels differ in what they compute exactly.
INT8_TARGETS = {
    "x86-vnni": "x86-64 with AVX-512 VNNI / AVX-VNNI / AMX: u8 x s8 products summed in int32",
    "x86-avx2": "x86-64 without VNNI (AVX2, AVX-512F): VPMADDUBSW adds u8 x s8 pairs in a "
    "saturating int16",
    "arm64": "64-bit ARM (NEON, dot-product, I8MM): products summed in int32",
    "tensorrt": "TensorRT on an NVIDIA GPU: symmetric int8, summed in int32",
}
VNNI = ("avx512_vnni", "avx_vnni", "amx_int8")


def int8_target(fp: Fingerprint | dict[str, Any]) -> str:
    """The INT8 kernel class of a CPU (INT8_TARGETS)."""
    machine, isa = (fp.machine, fp.isa) if isinstance(fp, Fingerprint) else (
        str(fp.get("machine")), fp.get("isa") or ()
    )  # fmt: skip
    if machine in ("aarch64", "arm64"):
        return "arm64"
    return "x86-vnni" if set(VNNI) & set(isa) else "x86-avx2"


def native_bf16(isa: tuple[str, ...] | list[str]) -> bool:
    """bf16 math in hardware: AVX512_BF16 or AMX-BF16 (x86), the BF16 extension (ARM)."""
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & set(isa))


# --- parsing (pure) -------------------------------------------------------------------------


def parse_cpuinfo(text: str) -> dict[str, str]:
    """The first processor's `key: value` lines of /proc/cpuinfo (ARM kernels print the
    feature list as `Features`, x86 as `flags`)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if out.get("flags") or out.get("Features"):
                break  # the end of the first processor's block
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def parse_lscpu(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _kib(size: str) -> int | None:
    """'32K', '1024 KB', '2 MiB (2 instances)', '32768K' -> KiB."""
    m = re.match(r"\s*([\d.]+)\s*([KMG]?)i?B?", size, re.IGNORECASE)
    if not m:
        return None
    scale = {"": 1 / 1024, "K": 1, "M": 1024, "G": 1024**2}[m.group(2).upper()]
    return round(float(m.group(1)) * scale)


def lscpu_caches(fields: dict[str, str]) -> dict[str, int]:
    """Per-instance cache sizes from lscpu's totals ('2 MiB (2 instances)' -> 1024)."""
    caches = {}
    for name in ("L1d", "L2", "L3"):
        value = fields.get(f"{name} cache")
        if not value:
            continue
        total = _kib(value)
        m = re.search(r"\((\d+) instances?\)", value)
        if total is not None:
            caches[name.lower()] = total // int(m.group(1)) if m else total
    return caches


def fingerprint_from(
    cpuinfo: str,
    lscpu: str = "",
    machine: str = "",
    cores: int | None = None,
    caches: dict[str, int] | None = None,
    **accelerator: str | None,
) -> Fingerprint:
    """A fingerprint from the text of /proc/cpuinfo and (optionally) lscpu; `caches` (sysfs)
    wins over lscpu's; `accelerator` holds gpu / compute_capability / tensorrt / jetpack."""
    info, ls = parse_cpuinfo(cpuinfo), parse_lscpu(lscpu)
    machine = machine or ls.get("Architecture") or ("aarch64" if "Features" in info else "x86_64")
    arm = machine in ("aarch64", "arm64")
    listed = info.get("Features" if arm else "flags", "")
    flags = set(listed.split()) | set(ls.get("Flags", "").split())
    isa = tuple(f for f in (ARM_FEATURES if arm else X86_FEATURES) if f in flags)
    if cores is None:
        cores = int(ls["CPU(s)"]) if ls.get("CPU(s)", "").isdigit() else 1
    if arm:
        vendor, part = info.get("CPU implementer"), info.get("CPU part")
        names = NVIDIA_PARTS if vendor == "0x4e" else ARM_PARTS
        cpu = ls.get("Model name") or names.get(part or "") or info.get("model name") or "arm64"
        family = info.get("CPU architecture")
    else:
        vendor, part = info.get("vendor_id"), info.get("model")
        cpu = info.get("model name") or ls.get("Model name") or "x86-64"
        family = info.get("cpu family")
    return Fingerprint(
        machine=machine,
        cpu=cpu,
        cores=cores,
        isa=isa,
        vendor=vendor,
        family=family,
        model=part,
        cache_kib=dict(caches or lscpu_caches(ls)),
        **accelerator,  # type: ignore[arg-type]
    )


# --- this machine ---------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def sysfs_caches(root: str = "/sys/devices/system/cpu/cpu0/cache") -> dict[str, int]:
    caches = {}
    for index in sorted(Path(root).glob("index*")):
        level, kind = _read(str(index / "level")).strip(), _read(str(index / "type")).strip()
        size = _kib(_read(str(index / "size")).strip())
        if size is None or kind == "Instruction":
            continue
        caches[f"l{level}d" if level == "1" else f"l{level}"] = size
    return caches


def _run(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return ""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def gpu_info() -> dict[str, str | None]:
    """The first NVIDIA GPU's name and compute capability: from torch when it is already
    imported (the profiler), else nvidia-smi, else a Jetson's device tree."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(0)
        return {"gpu": torch.cuda.get_device_name(0), "compute_capability": f"{major}.{minor}"}
    line = _run(["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"])
    if line.strip():
        name, _, cc = line.splitlines()[0].partition(",")
        return {"gpu": name.strip(), "compute_capability": cc.strip() or None}
    model = _read("/proc/device-tree/model").strip("\x00\n ")
    if "jetson" in model.lower():
        return {"gpu": model, "compute_capability": None}
    return {"gpu": None, "compute_capability": None}


def tensorrt_version() -> str | None:
    """TensorRT's version when installed (read from its metadata: nothing is imported)."""
    from importlib import metadata

    for dist in ("tensorrt", "tensorrt-cu12", "tensorrt_libs"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.lru_cache(maxsize=1)
def this_host() -> Fingerprint:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    jetpack = _read("/etc/nv_tegra_release").strip() or None
    return fingerprint_from(
        _read("/proc/cpuinfo"),
        _run(["lscpu"]),
        machine=platform.machine(),
        cores=cores or 1,
        caches=sysfs_caches(),
        tensorrt=tensorrt_version(),
        jetpack=jetpack,
        **gpu_info(),
    )


# --- comparing ------------------------------------------------------------------------------


def differences(recorded: dict[str, Any], here: Fingerprint | dict[str, Any]) -> list[str]:
    """What differs between a recorded device (a table's or a bundle's) and `here`, in words;
    [] when they are the same machine as far as both records tell. A record without an ISA
    (made before fingerprints) differs by that alone."""
    now = here.to_dict() if isinstance(here, Fingerprint) else here
    if "isa" not in recorded:
        return ["the record holds no ISA features (made before device fingerprints)"]
    out = []
    for key in COMPARED:
        a, b = recorded.get(key), now.get(key)
        if a is None or b is None or a == b or (key == "cache_kib" and (not a or not b)):
            continue
        if key == "isa":
            lacks, extra = [f for f in a if f not in b], [f for f in b if f not in a]
            words = [f"lacks {isa_words(lacks)}" if lacks else "",
                     f"adds {isa_words(extra)}" if extra else ""]  # fmt: skip
            out.append(f"ISA: this host {' and '.join(w for w in words if w)}")
        elif key == "cache_kib":
            out.append(f"caches {_caches(b)} here, {_caches(a)} there")
        else:
            out.append(f"{key} {b!r} here, {a!r} there")
    return out


def _caches(c: dict[str, int]) -> str:
    return "/".join(f"{k} {v} KiB" for k, v in sorted(c.items()))


def same_kind(recorded: dict[str, Any], here: Fingerprint) -> bool:
    """Whether a record names a machine that looks like this one (the same CPU name, cores and
    GPU): measuring here with its table is the mistake to warn of, where a table of another
    device (a Jetson's, on a workstation) is a deliberate search for that device."""
    now = here.to_dict()
    return all(recorded.get(k) == now.get(k) for k in ("machine", "cpu", "cores")) and (
        recorded.get("gpu", recorded.get("cuda")) == now.get("gpu")
    )


def slug_of(recorded: dict[str, Any]) -> str:
    """A record's slug (older records: the CPU name and cores, marked as lacking an ISA)."""
    if recorded.get("slug"):
        return str(recorded["slug"])
    return f"{_slugify(str(recorded.get('cpu', 'device')))}-{recorded.get('cores')}c-(no ISA)"


def mismatch_message(what: str, recorded: dict[str, Any], here: Fingerprint) -> str:
    """One line: `what` was made on another machine than this one, and how they differ."""
    diffs = differences(recorded, here)
    return (
        f"{what} was made on {slug_of(recorded)}, this host is {here.slug} ({'; '.join(diffs[:3])})"
    )


__all__ = [
    "Fingerprint",
    "differences",
    "fingerprint_from",
    "int8_target",
    "mismatch_message",
    "native_bf16",
    "same_kind",
    "this_host",
]
