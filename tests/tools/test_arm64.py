"""`make test-arm64`'s host side, offline: pip's output parsed into the resolved wheels, the
checks of a resolution, the fake ARM CPU files, and the one-line refusal without the tools."""

from __future__ import annotations

import pytest

from a2d_edge.errors import A2DError
from a2d_edge.utils.fingerprint import fingerprint_from, int8_target
from tools.arm64 import rootfs
from tools.arm64.wheels import (
    check_resolution,
    manylinux_platforms,
    parse_pip_download,
    parse_wheel,
    summary,
)

# pip 23's `pip download --platform manylinux_2_28_aarch64 ... --python-version 3.10`, cut
PIP_CP310 = """\
Processing /tmp/a2dwheel/a2d_edge-0.1.0-py3-none-any.whl
Collecting numpy>=1.24 (from a2d-edge==0.1.0)
  Downloading numpy-2.2.6-cp310-cp310-manylinux_2_17_aarch64.manylinux2014_aarch64.whl (14.3 MB)
Collecting onnxruntime>=1.18 (from a2d-edge==0.1.0)
  Using cached onnxruntime-1.23.2-cp310-cp310-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl
Saved ./dl310/a2d_edge-0.1.0-py3-none-any.whl
Saved ./dl310/ale_py-0.12.1-cp310-cp310-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl
Saved ./dl310/gymnasium-1.4.0-py3-none-any.whl
Saved ./dl310/numpy-2.2.6-cp310-cp310-manylinux_2_17_aarch64.manylinux2014_aarch64.whl
File was already downloaded /c/wheels-cp310/onnxruntime-1.23.2-cp310-cp310-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl
Saved ./dl310/pillow-12.3.0-cp310-cp310-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl
Saved ./dl310/protobuf-7.36.2-cp310-abi3-manylinux2014_aarch64.whl
Saved ./dl310/typing_extensions-4.16.0-py3-none-any.whl
Successfully downloaded a2d-edge ale-py gymnasium numpy onnxruntime pillow protobuf
"""  # noqa: E501
REQUIRED = ["numpy>=1.24", "ale-py>=0.12,<0.13", "gymnasium>=1.0", "onnxruntime>=1.18",
            "pillow>=9"]  # fmt: skip


def test_pip_output_parses_into_the_saved_wheels():
    wheels = parse_pip_download(PIP_CP310)
    assert set(wheels) == {"a2d-edge", "ale-py", "gymnasium", "numpy", "onnxruntime", "pillow",
                           "protobuf", "typing-extensions"}  # fmt: skip
    ort = wheels["onnxruntime"]  # "File was already downloaded" counts as resolved
    assert (ort.version, ort.python, ort.abi) == ("1.23.2", "cp310", "cp310") and ort.native
    assert not wheels["gymnasium"].native and wheels["protobuf"].abi == "abi3"
    assert check_resolution(wheels, REQUIRED, "cp310") == []
    assert summary(wheels, REQUIRED) == (
        "numpy 2.2.6, ale-py 0.12.1, gymnasium 1.4.0, onnxruntime 1.23.2, pillow 12.3.0"
    )


def test_a_resolution_for_another_python_or_platform_or_with_a_gap_is_named():
    wheels = parse_pip_download(PIP_CP310)
    assert check_resolution(wheels, REQUIRED, "cp311") == [
        "numpy: built for cp310, not cp311", "ale-py: built for cp310, not cp311",
        "onnxruntime: built for cp310, not cp311", "pillow: built for cp310, not cp311",
    ]  # fmt: skip
    x86 = PIP_CP310.replace("aarch64", "x86_64")
    assert "numpy: manylinux_2_17_x86_64.manylinux2014_x86_64 is not aarch64" in (
        check_resolution(parse_pip_download(x86), REQUIRED, "cp310")
    )
    assert check_resolution(wheels, [*REQUIRED, "tensorrt>=10"], "cp310") == [
        "tensorrt: not resolved"
    ]


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("ERROR: Could not find a version that satisfies the requirement onnxruntime>=1.99 "
         "(from versions: none)\nERROR: No matching distribution found for onnxruntime>=1.99\n",
         "no wheel of onnxruntime>=1.99 for this platform and Python"),
        ("ERROR: network unreachable\n", "pip download saved no wheel: ERROR: network unreachable"),
    ],
)  # fmt: skip
def test_a_failed_download_is_one_line(output, words):
    with pytest.raises(A2DError, match="^" + words.replace("(", r"\(").replace(")", r"\)")):
        parse_pip_download(output)


def test_wheel_names_and_platform_tags():
    w = parse_wheel("ale_py-0.12.1-1-cp310-cp310-manylinux_2_28_aarch64.whl")  # a build tag
    assert (w.name, w.version, w.python) == ("ale-py", "0.12.1", "cp310")
    with pytest.raises(A2DError, match="not a wheel file name"):
        parse_wheel("numpy-2.2.6.tar.gz")
    tags = manylinux_platforms("aarch64", (2, 28))
    assert tags[0] == "manylinux_2_28_aarch64" and tags[-2:] == [
        "manylinux_2_17_aarch64", "manylinux2014_aarch64"
    ] and len(tags) == 13  # fmt: skip


def test_the_fake_cpu_is_an_arm_dot_product_core(tmp_path):
    files = rootfs.fake_cpu_files(tmp_path, cores=2)
    fp = fingerprint_from(files["/proc/cpuinfo"].read_text(), machine="aarch64", cores=2)
    assert fp.cpu == "Neoverse-N1" and int8_target(fp) == "arm64"
    assert fp.slug == "neoverse-n1-2c-dot-fp16" and "i8mm" not in fp.isa
    assert files["/sys/devices/system/cpu/possible"].read_text() == "0-1\n"


def test_the_emulator_binds_the_fakes_and_pins_the_cpu_model_for_every_exec(tmp_path):
    emu = rootfs.Emulator(tmp_path / "root", {"/proc/cpuinfo": tmp_path / "c"}, {"A": "1"})
    argv = emu.argv(["/usr/bin/python3", "-V"])
    assert argv[:4] == ["proot", "-q", "qemu-aarch64-static", "-r"]
    assert f"{tmp_path / 'c'}:/proc/cpuinfo" in argv
    assert argv[-6:] == [
        "/usr/bin/env",
        "-i",
        "A=1",
        f"QEMU_CPU={rootfs.CPU}",
        "/usr/bin/python3",
        "-V",
    ]


def test_the_host_mirror_is_read_from_apt_sources():
    deb822 = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n"
    assert rootfs.host_mirror(deb822) == "http://mirror.example/debian"
    legacy = "deb [arch=amd64] http://mirror.example/debian bookworm main\n"
    assert rootfs.host_mirror(legacy) == "http://mirror.example/debian"
    assert rootfs.host_mirror("URIs: http://mirror.example/debian-security\n") is None


def test_without_the_tools_and_without_root_it_says_so_in_one_line(monkeypatch):
    monkeypatch.setattr(rootfs.shutil, "which", lambda tool: None)
    with pytest.raises(A2DError) as e:
        rootfs.ensure_tools()
    msg = str(e.value)
    assert "\n" not in msg and "qemu-aarch64-static" in msg and "proot" in msg
    assert "no apt-get here" in msg and "nothing was tested on arm64" in msg
    monkeypatch.setattr(rootfs.shutil, "which", lambda t: "/usr/bin/apt-get" if t == "apt-get"
                        else None)  # fmt: skip
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 1000)
    with pytest.raises(A2DError, match=r"apt-get needs root\): as root, apt-get install"):
        rootfs.ensure_tools()
