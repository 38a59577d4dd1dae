"""`a2d-profile` refuses to time under an emulator; the signs it reads, each on faked inputs."""

from __future__ import annotations

import pytest

from a2d_edge.hw.cli import main
from a2d_edge.utils.emulation import ENV, Probe, emulated, emulation_signs

X86_CPUINFO = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2\n"
ARM_CPUINFO = "processor\t: 0\nFeatures\t: fp asimd asimddp\nCPU implementer\t: 0x41\n"
QEMU_MAPS = (
    "00400000-00916000 r-xp 00000000 fe:00 1604 /srv/root/usr/bin/python3.11\n"
    "7f00aa000000-7f00aa400000 r-xp 00000000 fe:00 17 /usr/bin/qemu-aarch64-static\n"
)
PLAIN_MAPS = "00400000-00916000 r-xp 00000000 fe:00 1604 /usr/bin/python3.11\n"


def probe(tmp_path, **kw) -> Probe:  # type: ignore[no-untyped-def]
    fields = {"machine": "x86_64", "env": {}, "maps": PLAIN_MAPS, "cpuinfo": X86_CPUINFO,
              "binfmt": str(tmp_path / "binfmt")}  # fmt: skip
    return Probe(**{**fields, **kw})


def test_real_hardware_shows_no_sign(tmp_path):
    assert emulation_signs(probe(tmp_path)) == []
    arm = probe(tmp_path, machine="aarch64", cpuinfo=ARM_CPUINFO)
    assert emulated(arm) is None


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"env": {ENV: "qemu-aarch64"}}, f"{ENV}=qemu-aarch64"),
        ({"maps": QEMU_MAPS}, "qemu-aarch64-static is mapped"),
        ({"machine": "aarch64"}, "describes an x86 CPU to a aarch64 process"),
        ({"cpuinfo": ARM_CPUINFO}, "describes an ARM CPU to a x86_64 process"),
    ],
)
def test_each_sign_alone_is_enough(tmp_path, kw, words):
    found = emulation_signs(probe(tmp_path, **kw))
    assert len(found) == 1 and words in found[0]


def test_an_env_flag_of_0_is_no_sign(tmp_path):
    assert emulation_signs(probe(tmp_path, env={ENV: "0"})) == []


def test_binfmt_counts_only_when_enabled_for_this_machine(tmp_path):
    binfmt = tmp_path / "binfmt"
    binfmt.mkdir()
    (binfmt / "qemu-aarch64").write_text("enabled\ninterpreter /usr/bin/qemu-aarch64-static\n")
    assert emulation_signs(probe(tmp_path)) == []  # x86 binaries are not handed to qemu
    arm = probe(tmp_path, machine="aarch64", cpuinfo=ARM_CPUINFO)
    assert "hands aarch64 binaries to qemu" in emulation_signs(arm)[0]
    (binfmt / "qemu-aarch64").write_text("disabled\ninterpreter /usr/bin/qemu-aarch64-static\n")
    assert emulation_signs(arm) == []


def test_a2d_profile_refuses_under_emulation_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(ENV, "qemu-aarch64")
    out = tmp_path / "table.json"
    assert main(["--preset", "tiny", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is emulated" in err and f"{ENV}=qemu-aarch64" in err
    assert "run a2d-profile on the device itself" in err and not out.exists()
    assert main(["--recalibrate", str(out)]) == 2  # re-timing refuses as well


def test_this_test_host_is_not_emulated():
    """The suite's own machine: a sign here would refuse every profile the suite runs."""
    assert emulated() is None
