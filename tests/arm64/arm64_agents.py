"""The shipped agents whose bundles the arm64 set runs (tools/arm64/bundles.py exports them)."""

AGENTS = ("pong", "breakout-small")
