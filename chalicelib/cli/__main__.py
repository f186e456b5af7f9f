"""`python -m chalicelib.cli`."""

import os
import sys
from collections.abc import Sequence

from chalicelib.cli import main


def run(argv: Sequence[str] | None = None) -> int:
    """main(), its output flushed here so that a reader that stopped early (`cli … | head`) ends the command
    quietly instead of with a BrokenPipeError traceback (the recipe of Python's `signal` documentation)."""
    try:
        try:
            return main(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        # Python would flush stdout again at exit and fail the same way: point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(run())
