"""What every command line of the package shares: a handler's A2DError ends in one line and
exit code 2, Ctrl-C in 130 (torch-free, so the runtime's and the profiler's commands use it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from a2d_edge.errors import A2DError

Handler = Callable[[argparse.Namespace], int]


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except A2DError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
