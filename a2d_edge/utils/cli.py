"""What every command line of the package shares: a handler's A2DError ends in one line and
exit code 2, Ctrl-C in 130 (torch-free, so the runtime's and the profiler's commands use it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from a2d_edge.errors import A2DError

Handler = Callable[[argparse.Namespace], int]
TRAIN_STACK = ("torch", "fvcore", "tensorboard", "tqdm", "yaml", "onnx", "matplotlib")
"""What `pip install a2d-edge[train]` adds to the runtime install (pyproject.toml)."""
INSTALL_TRAIN = "pip install 'a2d-edge[train]'"


def missing_train_stack(e: ModuleNotFoundError) -> str | None:
    """The training-stack module a command lacks, or None for any other missing module."""
    root = (e.name or "").split(".")[0]
    return root if root in TRAIN_STACK else None


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = None
    try:
        args = parser.parse_args(argv)  # a `utils.args.OneLineParser` raises A2DError
        handler: Handler = args.handler
        return handler(args)
    except A2DError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        missing = missing_train_stack(e)
        if missing is None:
            raise
        what = " ".join(x for x in (parser.prog, getattr(args, "command", None)) if x)
        print(f"{parser.prog}: error: `{what}` needs the training stack ({missing} is not "
              f"installed: the runtime install): {INSTALL_TRAIN}", file=sys.stderr)  # fmt: skip
        return 2
    except KeyboardInterrupt:
        return 130
