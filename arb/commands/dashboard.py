"""``arb dashboard``: live terminal view of the running bot, read from its status snapshot.

It only reads the snapshot file the bot publishes, so it can never block or slow trading.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.text import Text

from arb.dashboard import safe_render
from arb.status import read_snapshot

NAME = "dashboard"
HELP = "live terminal dashboard over the running bot's status snapshots"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=Path("state"))
    parser.add_argument("--refresh", type=float, default=1.0, help="seconds between redraws")


def run(args: argparse.Namespace) -> int:
    console = Console()
    waiting = Text(f"waiting for a status snapshot in {args.state_dir} ...", style="dim")
    try:
        with Live(waiting, console=console, screen=console.is_terminal,
                  refresh_per_second=4) as live:
            while True:
                snapshot = read_snapshot(args.state_dir)
                live.update(safe_render(snapshot) if snapshot is not None else waiting)
                time.sleep(args.refresh)
    except KeyboardInterrupt:
        return 0
