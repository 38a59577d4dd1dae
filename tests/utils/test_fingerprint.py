"""Device fingerprints parsed from /proc/cpuinfo and lscpu text.

Samples in data/: `*-epyc-avx2.txt` were captured on the AVX2-only EPYC (`amd-epyc-2c-avx2`);
`cpuinfo-epyc-avx512.txt` is that capture with the AVX-512 VNNI / BF16 flags the other EPYC
(`amd-epyc-2c-avx512vnni-bf16`, where docs/history.md's first figures were measured) exposes,
since no capture of that host was kept; `*-jetson-orin.txt` are written in the format a Jetson
AGX Orin (12 Cortex-A78AE cores) prints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from a2d_edge.utils.fingerprint import (
    Fingerprint,
    differences,
    fingerprint_from,
    isa_tag,
    lscpu_caches,
    mismatch_message,
    native_bf16,
    parse_lscpu,
    same_kind,
    this_host,
)

DATA = Path(__file__).parent / "data"


def sample(name: str) -> str:
    return (DATA / name).read_text()


def host_b() -> Fingerprint:
    return fingerprint_from(sample("cpuinfo-epyc-avx2.txt"), sample("lscpu-epyc-avx2.txt"))


def host_a() -> Fingerprint:
    return fingerprint_from(sample("cpuinfo-epyc-avx512.txt"), machine="x86_64", cores=2)


def orin() -> Fingerprint:
    return fingerprint_from(sample("cpuinfo-jetson-orin.txt"), sample("lscpu-jetson-orin.txt"))


def test_the_avx2_epyc() -> None:
    fp = host_b()
    assert (fp.machine, fp.cpu, fp.cores, fp.vendor, fp.family, fp.model) == (
        "x86_64", "AMD EPYC", 2, "AuthenticAMD", "25", "17"
    )  # fmt: skip
    assert fp.isa == ("avx2", "fma")
    assert fp.cache_kib == {"l1d": 32, "l2": 1024, "l3": 32768}  # lscpu's totals / instances
    assert fp.slug == "amd-epyc-2c-avx2"
    assert not native_bf16(fp.isa)


def test_the_avx512_vnni_bf16_epyc() -> None:
    fp = host_a()
    assert {"avx512f", "avx512_vnni", "avx512_bf16", "avx512bw", "avx512vl"} <= set(fp.isa)
    assert "amx_tile" not in fp.isa
    assert fp.slug == "amd-epyc-2c-avx512vnni-bf16"
    assert native_bf16(fp.isa)


def test_the_avx512_xeon() -> None:
    # captured on "host C": an Intel Xeon (family 6, model 207), 2 cores, AVX-512 VNNI + BF16 + FP16
    fp = fingerprint_from(sample("cpuinfo-xeon-avx512.txt"), sample("lscpu-xeon-avx512.txt"))
    assert (fp.cpu, fp.vendor, fp.family, fp.model) == (
        "Intel(R) Xeon(R) Processor", "GenuineIntel", "6", "207"
    )  # fmt: skip
    assert {"avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16"} <= set(fp.isa)
    assert fp.cache_kib == {"l1d": 48, "l2": 2048, "l3": 266240}
    assert fp.slug == "intel-xeon-2c-avx512vnni-bf16"  # no "-r-" of the (R) marks
    assert native_bf16(fp.isa)


@pytest.mark.parametrize(
    ("cpu", "slug"),
    [
        ("AMD EPYC", "amd-epyc-2c-avx2"),
        ("Intel(R) Xeon(R) Processor", "intel-xeon-2c-avx2"),
        ("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", "intel-core-i7-8700-2c-avx2"),
        ("AMD EPYC 7763 64-Core Processor", "amd-epyc-7763-64-core-2c-avx2"),
        ("(R)", "device-2c-avx2"),
    ],
)
def test_slugs_drop_marks_clocks_and_the_word_processor(cpu: str, slug: str) -> None:
    assert Fingerprint(machine="x86_64", cpu=cpu, cores=2, isa=("avx2",)).slug == slug


def test_the_jetson_orin() -> None:
    fp = orin()
    assert (fp.machine, fp.cpu, fp.cores, fp.vendor, fp.model) == (
        "aarch64", "Cortex-A78AE", 12, "0x41", "0xd42"
    )  # fmt: skip
    assert fp.isa == ("asimd", "asimddp", "asimdhp")
    assert fp.cache_kib == {"l1d": 64, "l2": 256, "l3": 2048}
    assert fp.slug == "cortex-a78ae-12c-dot-fp16"
    assert fp.describe_isa() == "neon, dotprod, fp16"


def test_an_arm_core_is_named_from_its_part_number_without_lscpu() -> None:
    fp = fingerprint_from(sample("cpuinfo-jetson-orin.txt"), machine="aarch64", cores=12)
    assert fp.cpu == "Cortex-A78AE"  # not the kernel's generic "ARMv8 Processor rev 1 (v8l)"


@pytest.mark.parametrize(
    ("machine", "isa", "tag"),
    [
        ("x86_64", ["avx2", "fma"], "avx2"),
        ("x86_64", ["avx2", "avx_vnni"], "avxvnni"),
        ("x86_64", ["avx2", "avx512f"], "avx512"),
        ("x86_64", ["avx2", "avx512f", "avx512_vnni"], "avx512vnni"),
        ("x86_64", ["avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16"], "amx"),
        ("x86_64", [], "sse"),
        ("aarch64", ["asimd"], "neon"),
        ("aarch64", ["asimd", "asimddp", "i8mm", "bf16"], "dot-i8mm-bf16"),
    ],
)
def test_isa_tags(machine: str, isa: list[str], tag: str) -> None:
    assert isa_tag(machine, isa) == tag


def test_two_hosts_of_one_name_never_share_a_slug_and_differ_by_their_isa() -> None:
    a, b = host_a(), host_b()
    assert a.cpu == b.cpu and a.cores == b.cores and a.slug != b.slug
    diffs = differences(a.to_dict(), b)
    assert diffs == ["ISA: this host lacks avx512f, avx512bw, avx512vl, avx512_vnni, avx512_bf16"]
    assert same_kind(a.to_dict(), b)  # the look-alike: the mistake worth a warning
    assert not same_kind(orin().to_dict(), b)  # another device: a search *for* it
    assert differences(b.to_dict(), b) == []
    msg = mismatch_message("table T", a.to_dict(), b)
    assert "amd-epyc-2c-avx512vnni-bf16" in msg and "amd-epyc-2c-avx2" in msg
    assert "\n" not in msg


def test_a_record_without_an_isa_differs_and_unknown_fields_are_not_compared() -> None:
    b = host_b()
    legacy = {"cpu": "AMD EPYC", "cores": 2, "machine": "x86_64", "cuda": None}
    assert differences(legacy, b) == [
        "the record holds no ISA features (made before device fingerprints)"
    ]
    partial = {**b.to_dict(), "cache_kib": {}, "family": None, "model": None}
    assert differences(partial, b) == []
    other_cache = {**b.to_dict(), "cache_kib": {"l1d": 32, "l2": 512, "l3": 32768}}
    assert differences(other_cache, b) == [
        "caches l1d 32 KiB/l2 1024 KiB/l3 32768 KiB here, l1d 32 KiB/l2 512 KiB/l3 32768 KiB there"
    ]


def test_lscpu_caches_per_instance() -> None:
    fields = parse_lscpu("L1d cache:  64 KiB (2 instances)\nL2 cache: 2 MiB (2 instances)\n"
                         "L3 cache: 32 MiB (1 instance)\n")  # fmt: skip
    assert lscpu_caches(fields) == {"l1d": 32, "l2": 1024, "l3": 32768}


def test_this_host_is_read_and_its_record_round_trips() -> None:
    fp = this_host()
    d = fp.to_dict()
    assert d["slug"] == fp.slug and fp.cores >= 1 and fp.machine
    assert differences(d, fp) == []


def test_a_gpu_backend_names_its_table_by_the_gpu() -> None:
    from a2d_edge.hw.profile import device_slug

    fp = fingerprint_from(sample("cpuinfo-epyc-avx2.txt"), machine="x86_64", cores=16,
                          gpu="NVIDIA H200", compute_capability="9.0")  # fmt: skip
    d = fp.to_dict()
    assert d["gpu_slug"] == "nvidia-h200-sm90" and device_slug(d, "tensorrt") == "nvidia-h200-sm90"
    assert device_slug(d, "onnxruntime") == "amd-epyc-16c-avx2"  # ORT CPU times the CPU
