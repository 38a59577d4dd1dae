"""The runtime's aarch64 wheels: resolved by `pip download --platform` for a device's Python.

The parsing of pip's output is pure (tested in `make test`); `resolve` runs pip.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from a2d_edge.errors import A2DError

GLIBC = (2, 28)
"""The newest manylinux glibc taken: JetPack 6 (Ubuntu 22.04) has 2.35, Debian bookworm 2.36."""


@dataclass(frozen=True)
class Wheel:
    name: str  # normalised: lower case, '-' for '_' and '.'
    version: str
    python: str  # cp310, py3, ...
    abi: str
    platform: str

    @property
    def native(self) -> bool:
        """Compiled for one platform (not pure Python)."""
        return self.platform != "any"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_wheel(filename: str) -> Wheel:
    """`numpy-2.2.6-cp310-cp310-manylinux_2_17_aarch64.manylinux2014_aarch64.whl` -> Wheel."""
    parts = Path(filename).name.removesuffix(".whl").split("-")
    if len(parts) not in (5, 6):  # an optional build tag makes six
        raise A2DError(f"{filename} is not a wheel file name")
    return Wheel(normalise(parts[0]), parts[1], parts[-3], parts[-2], parts[-1])


def manylinux_platforms(arch: str = "aarch64", glibc: tuple[int, int] = GLIBC) -> list[str]:
    """Every manylinux tag a glibc-`glibc` machine runs, newest first (pip takes a
    `--platform` literally: manylinux_2_28 alone refuses a manylinux2014 wheel)."""
    major, minor = glibc
    tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 16, -1)]
    return [*tags, f"manylinux2014_{arch}"]


_SAVED = re.compile(r"^(?:Saved|File was already downloaded)\s+(\S+\.whl)\s*$")
_MISSING = re.compile(r"No matching distribution found for (\S+)")


def parse_pip_download(output: str) -> dict[str, Wheel]:
    """The wheels a `pip download` run saved (or found already downloaded), by project name.

    One `A2DError` line when pip found no distribution for a requirement (no wheel for that
    platform / Python) or saved nothing."""
    missing = _MISSING.search(output)
    if missing:
        raise A2DError(f"no wheel of {missing.group(1)} for this platform and Python")
    wheels = {}
    for line in output.splitlines():
        m = _SAVED.match(line.strip())
        if m:
            wheel = parse_wheel(m.group(1))
            wheels[wheel.name] = wheel
    if not wheels:
        raise A2DError("pip download saved no wheel: " + _last_line(output))
    return wheels


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def check_resolution(
    wheels: dict[str, Wheel], requirements: list[str], python: str, arch: str = "aarch64"
) -> list[str]:
    """What is wrong with a resolution ([] when every requirement has a wheel that runs on
    `python` (cp310) and `arch`)."""
    problems = []
    for req in requirements:
        name = normalise(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0])
        wheel = wheels.get(name)
        if wheel is None:
            problems.append(f"{name}: not resolved")
        elif wheel.native and arch not in wheel.platform:
            problems.append(f"{name}: {wheel.platform} is not {arch}")
        elif wheel.python.startswith("cp") and wheel.abi != "abi3" and wheel.python != python:
            problems.append(f"{name}: built for {wheel.python}, not {python}")
    return problems


def summary(wheels: dict[str, Wheel], requirements: list[str]) -> str:
    """`numpy 2.2.6, onnxruntime 1.23.2, ...` for the requirements' own projects."""
    names = [normalise(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in requirements]
    return ", ".join(f"{n} {wheels[n].version}" for n in names if n in wheels)


def runtime_requirements(pyproject: Path) -> list[str]:
    """The plain install's dependencies (pyproject.toml `[project] dependencies`)."""
    import tomllib

    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def resolve(
    packages: list[str], python: str, dest: Path, glibc: tuple[int, int] = GLIBC
) -> dict[str, Wheel]:
    """`pip download` the packages' aarch64 wheels (and their dependencies) for `python`
    ("3.10") into `dest`, with the pip configuration of this machine."""
    platforms = [f"--platform={p}" for p in manylinux_platforms("aarch64", glibc)]
    cmd = [sys.executable, "-m", "pip", "download", *platforms, f"--python-version={python}",
           "--implementation=cp", "--only-binary=:all:", "--dest", str(dest),
           *packages]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True)
    text = out.stdout + out.stderr
    wheels = parse_pip_download(text)
    if out.returncode != 0:
        raise A2DError(f"pip download for cp{python.replace('.', '')}: {_last_line(text)}")
    return wheels
