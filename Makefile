# Each target creates or reuses .venv and installs what it needs itself.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.a2d-installed
BENCH  := $(VENV)/.a2d-bench-installed
TORCH  ?= torch==2.13.0

.PHONY: demo test test-arm64 lint bench-deps clean

$(PY):
	python3 -m venv $(VENV)

# A CPU torch first (a plain `torch` requirement would pull a multi-GB CUDA build).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[train,dev]"
	touch $(STAMP)

$(BENCH): $(STAMP)
	$(PY) -m pip install -q -e ".[train,dev,bench]"
	touch $(BENCH)

bench-deps: $(BENCH)

test: $(STAMP)
	$(PY) -m pytest -q

# The runtime and INT8 on arm64 under emulation (qemu-user + proot, a cached Debian arm64 root
# in ~/.cache/a2d-arm64): the tests marked arm64 (tests/arm64/), see docs/usage.md ("Deploying"). Not part of `test`.
test-arm64: $(STAMP)
	@$(PY) tools/arm64/run.py

demo: $(STAMP)
	$(PY) -m a2d_edge.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check a2d_edge tests benchmarks tools
	$(VENV)/bin/ruff format --check a2d_edge tests benchmarks tools
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) runs/demo
