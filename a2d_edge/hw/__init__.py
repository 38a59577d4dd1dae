"""Hardware cost: FLOPs (fvcore-verified) and, later, measured latency tables."""
