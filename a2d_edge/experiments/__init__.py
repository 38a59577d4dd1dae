"""The paper's experiments as files: experiment specs, the sweep runner, the report."""
