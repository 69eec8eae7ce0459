"""``arb status``: print the running bot's latest status snapshot once."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from arb.dashboard import render
from arb.status import read_snapshot, to_json

NAME = "status"
HELP = "print the running bot's status snapshot once"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=Path("state"),
                        help="the bot's state directory (default: ./state)")
    parser.add_argument("--json", action="store_true", help="print the raw snapshot JSON")


def run(args: argparse.Namespace) -> int:
    snapshot = read_snapshot(args.state_dir)
    if snapshot is None:
        print(f"arb status: no status snapshot in {args.state_dir} (is the bot running with "
              f"--state-dir {args.state_dir}?)", file=sys.stderr)
        return 1
    if args.json:
        print(to_json(snapshot))
    else:
        Console().print(render(snapshot))
    return 0
