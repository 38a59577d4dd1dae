"""`make test-arm64`: the runtime and INT8 on an emulated arm64 (see run.py)."""
