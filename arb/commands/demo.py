"""``arb demo``: the bot against the simulated exchanges."""
from __future__ import annotations

import argparse
import sys

NAME = "demo"
HELP = "run the bot against the simulated exchanges and print a summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    print("arb demo: the simulated exchanges and the actor system are not built yet; "
          "nothing to run.", file=sys.stderr)
    return 2
