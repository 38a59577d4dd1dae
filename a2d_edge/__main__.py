"""`python -m a2d_edge ...` is the `a2d` command."""

import sys

from a2d_edge.cli import main

sys.exit(main())
