"""The ``arb`` command: one sub-command per operator task."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the bot against the simulated exchanges")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        print("arb demo: the simulated exchanges and the actor system are not built yet; "
              "nothing to run.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
