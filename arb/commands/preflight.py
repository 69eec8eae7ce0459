"""``arb preflight``: check each venue before trading (reachability, auth, clock, balances)."""
from __future__ import annotations

import argparse
import sys

import attrs
import trio

from arb.commands._common import add_target_arguments, target_of
from arb.config import ConfigError
from arb.money import Round, format_fixed
from arb.sim.world import SimStateError
from arb.venues.connect import endpoints_for, open_venues, secrets_for
from arb.venues.protocol import AuthError, VenueAdapter, VenueError

NAME = "preflight"
HELP = "check both venues (reachability, auth, clock skew, balances); non-zero on any failure"

MAX_SKEW_MS = 3_000
"""Both venues reject signatures whose timestamps drift; beyond this, fix NTP first."""


@attrs.frozen
class Check:
    venue: str
    name: str
    ok: bool
    detail: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)


async def _check_venue(name: str, adapter: VenueAdapter) -> list[Check]:
    checks: list[Check] = []
    status = await adapter.status()
    checks.append(Check(name, "reachable", status.reachable, status.detail or "ok"))
    if not status.reachable:
        return checks
    checks.append(Check(name, "trading active", status.trading_active,
                        status.detail or "trading"))
    if status.clock_skew_ms is not None:
        checks.append(Check(name, "clock skew", abs(status.clock_skew_ms) <= MAX_SKEW_MS,
                            f"{status.clock_skew_ms} ms"))
    try:
        balance = await adapter.balance()
    except VenueError as err:
        checks.append(Check(name, "auth + balance", False, err.reason))
    else:
        checks.append(Check(name, "auth + balance", balance.available > 0,
                            f"${format_fixed(balance.available, 2, Round.DOWN)} available"))
    return checks


async def run_preflight(args: argparse.Namespace) -> list[Check]:
    target = target_of(args)
    endpoints = endpoints_for(target, args.sim_state)
    secrets = secrets_for(target, args.sim_state)
    checks = [Check("config", "key files", True, w) for w in secrets.warnings]
    try:
        async with open_venues(endpoints, secrets) as venues:
            checks += await _check_venue("kalshi", venues.kalshi)
            checks += await _check_venue("polymarket", venues.poly)
    except AuthError as err:
        checks.append(Check(err.venue.value, "auth", False, err.reason))
    except VenueError as err:
        checks.append(Check(err.venue.value, "connect", False, err.reason))
    return checks


def run(args: argparse.Namespace) -> int:
    try:
        checks = trio.run(run_preflight, args)
    except (ConfigError, SimStateError) as err:
        print(f"arb preflight: {err}", file=sys.stderr)
        return 2
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        print(f"{mark} {check.venue:<10} {check.name:<15} {check.detail}")
    failed = [c for c in checks if not c.ok]
    if failed:
        print(f"preflight failed: {len(failed)} check(s); fix them before trading",
              file=sys.stderr)
        return 1
    print("preflight passed")
    return 0
