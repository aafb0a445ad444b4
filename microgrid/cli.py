"""The `microgrid` command line: ``microgrid demo | bp | graph | bench``.

Each subcommand lives in a function here that imports the library module it
presents only when it runs, so ``microgrid --help`` stays instant.
Exit status: 0 on success, 1 when a check fails, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from microgrid import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `microgrid` command (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="microgrid",
        description="A small reverse-mode scalar autodiff engine: "
        "train tiny networks, check backprop, draw gradient graphs.",
    )
    parser.add_argument("--version", action="version", version=f"microgrid {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Each subcommand: a function `_add_<name>(subparsers)` below that adds its
    # parser and sets `handler=` to a function taking the parsed args and
    # returning the exit status.
    del subparsers  # until the first subcommand lands
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stdout)
        return 0
    handler = args.handler
    status: int = handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
