"""Options shared by every command that talks to venues."""
from __future__ import annotations

import argparse
from pathlib import Path

from arb.config import Target


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", choices=[t.value for t in Target], default="sim",
                        help="sim (the simulated exchanges), demo (Kalshi demo, Polymarket "
                             "read-only) or prod (the real venues)")
    parser.add_argument("--sim-state", type=Path, default=None, metavar="DIR",
                        help="with --target sim: the directory `arb sim --state-dir DIR` wrote")


def target_of(args: argparse.Namespace) -> Target:
    return Target(args.target)
