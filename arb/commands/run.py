"""``arb run``: the bot, headless, until a signal, a breaker halt or an operator halt.

Paper mode unless ``--profile live`` (alias ``--mode live``) is given together with
``--yes-live``; live mode is also refused when preflight fails. SIGINT/SIGTERM take the
supervisor's stop path (cancel entries, cancel every open order, reconcile) and exit 0; a second
signal abandons that cleanup at once. Pairs that discovery adds or drops while running start or
stop their market actors without a restart.

Exit codes: 0 stopped by a signal or an operator stop; 1 stopped by a failure (feed lost, core
component failed); 2 refused to start (configuration, preflight, no pairs); 3 halted (breaker
trip or ``arb halt``; clear with ``arb resume``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import trio

from actors.app import BotConfig, StartupError, run_bot
from arb.commands._common import add_target_arguments, target_of
from arb.config import ConfigError, Mode, load_settings
from arb.discovery.leagues import LeagueDataError
from arb.discovery.overrides import OverridesError
from arb.ledger import LedgerError
from arb.sim.world import SimStateError
from arb.venues.protocol import VenueError

NAME = "run"
HELP = "run the bot headless (paper unless --profile live --yes-live)"

def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--sport", help="config/<sport>.toml (e.g. nba, epl)")
    what.add_argument("--config", type=Path, help="an explicit config TOML file")
    parser.add_argument("--profile", "--mode", dest="profile", choices=[m.value for m in Mode],
                        default=Mode.PAPER.value, help="paper (default) or live")
    add_target_arguments(parser)
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="ledger, logs and status (default: ./state/<sport or config name>)")
    parser.add_argument("--yes-live", action="store_true",
                        help="confirm that live mode may place real orders")


def config_from_args(args: argparse.Namespace) -> BotConfig:
    mode = Mode(args.profile)
    if mode is Mode.LIVE and not args.yes_live:
        raise ConfigError("live mode places real orders with real money: add --yes-live to "
                          "confirm (and run `arb preflight` first)")
    settings = load_settings(sport=args.sport, config=args.config, profile=mode.value)
    name = args.sport or (args.config.stem if args.config else settings.bot.name)
    state_dir = args.state_dir or Path("state") / name
    return BotConfig(settings, target_of(args), mode, state_dir, args.sim_state)


def exit_code(reason: str, halted: bool, core_failure: str | None) -> int:
    if halted:
        return 3
    if core_failure is not None or "feed down" in reason:
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as err:
        print(f"arb run: {err}", file=sys.stderr)
        return 2
    try:
        shutdown = trio.run(run_bot, config)
        code = exit_code(shutdown.reason, shutdown.halted, shutdown.core_failure)
    except (ConfigError, StartupError, SimStateError, LeagueDataError, OverridesError,
            LedgerError) as err:
        print(f"arb run: {err}", file=sys.stderr)
        return 2
    except VenueError as err:
        print(f"arb run: {err.venue.value}: {err.reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arb run: interrupted outside the trading run (no supervisor was running)",
              file=sys.stderr)
        return 0
    print(f"arb run: stopped: {shutdown.reason}"
          + ("; HALTED: clear with `arb resume` after checking `arb reconcile`"
             if shutdown.halted else ""), file=sys.stderr)
    return code
