"""The arm64 test set: run on an emulated aarch64 by `make test-arm64` (tools/arm64/run.py),
with the runtime install only (no torch), on bundles the x86 host exported.

`make test-arm64` runs these outside the repo's pytest configuration (pyproject.toml puts the
source tree on the path; here the installed package is the one under test), so the marker is
registered here too. In `make test` they are deselected (`-m 'not arm64'`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

BUNDLES = "A2D_ARM64_BUNDLES"  # the bundles and the gate's frames (tools/arm64/bundles.py)
OUT = "A2D_ARM64_OUT"  # where the figures go, for the runner to print


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "arm64: runs on (emulated) aarch64: make test-arm64")


def _env_dir(name: str) -> Path:
    value = os.environ.get(name)
    if not value or not Path(value).is_dir():
        pytest.fail(f"{name} names no folder: the arm64 tests run through `make test-arm64`")
    return Path(value)


@pytest.fixture(scope="session")
def bundles() -> Path:
    return _env_dir(BUNDLES)


@pytest.fixture(scope="session")
def out_dir() -> Path:
    return _env_dir(OUT)
