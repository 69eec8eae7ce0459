"""``arb reconcile``: show where the ledger and the venues disagree, changing nothing.

Positions per instrument (ledger, from its fills, against each venue's positions), open orders
on the venues (ours by client id, or unknown), and intents the ledger still holds unresolved.
Read-only: nothing is cancelled or booked; the running bot's reconciler repairs, this command
only shows. Exit 1 when anything disagrees.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

import trio

from arb.commands._common import add_target_arguments, target_of
from arb.commands.halt import add_state_arguments, ledgers_of
from arb.config import ConfigError
from arb.domain import Venue
from arb.ledger import Ledger, LedgerError, LedgerMode
from arb.money import format_fixed
from arb.sim.world import SimStateError
from arb.venues.connect import endpoints_for, open_venues, secrets_for
from arb.venues.polymarket.adapter import PolymarketAdapter
from arb.venues.protocol import VenueAdapter, VenueError

NAME = "reconcile"
HELP = "show drift between the ledger and both venues (positions, open orders, intents)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_state_arguments(parser)
    add_target_arguments(parser)


async def drift(ledger: Ledger, venues: Mapping[Venue, VenueAdapter]) -> list[str]:
    """Every disagreement between ``ledger`` and ``venues``, one line each."""
    lines: list[str] = []
    for venue, adapter in venues.items():
        ours = {i: q for i, q in ledger.positions(venue).items() if q}
        theirs = {p.instrument: p.qty for p in await adapter.positions() if p.qty}
        for inst in sorted(set(ours) | set(theirs), key=str):
            if ours.get(inst, 0) != theirs.get(inst, 0):
                lines.append(f"position {inst}: ledger {format_fixed(ours.get(inst, 0), 2)}, "
                             f"{venue.value} {format_fixed(theirs.get(inst, 0), 2)}")
        for order in await adapter.open_orders():
            known = order.client_id is not None and ledger.intent(order.client_id) is not None
            lines.append(f"open order on {venue.value}: {order.venue_order_id} "
                         f"({order.client_id or 'no client id'}, "
                         f"{'ours' if known else 'not in the ledger'}) {order.side.value} "
                         f"{order.instrument} {format_fixed(order.qty, 2)} @ "
                         f"{format_fixed(order.price, 4)}")
    lines += unresolved(ledger)
    return lines


async def register_ledger_markets(ledger: Ledger, poly: PolymarketAdapter) -> None:
    """Polymarket positions are per registered token (the CLOB has no positions endpoint):
    register every market the ledger ever traded before asking."""
    markets = {f.instrument.market for f in ledger.fills(venue=Venue.POLYMARKET)}
    for condition_id in sorted(markets):
        await poly.load_market(condition_id)


def unresolved(ledger: Ledger) -> list[str]:
    return [f"unresolved intent {s.intent.client_id} ({s.intent.execution_id} leg "
            f"{s.intent.leg}) {s.intent.side.value} {s.intent.instrument}"
            for s in ledger.unresolved_intents()]


async def _reconcile(args: argparse.Namespace, ledger: Ledger) -> list[str]:
    if ledger.mode is LedgerMode.PAPER:
        # Paper fills live only in the bot process's paper venues: nothing to query.
        return unresolved(ledger)
    target = target_of(args)
    async with open_venues(endpoints_for(target, args.sim_state),
                           secrets_for(target, args.sim_state)) as venues:
        await register_ledger_markets(ledger, venues.poly)
        return await drift(ledger, {Venue.KALSHI: venues.kalshi,
                                    Venue.POLYMARKET: venues.poly})


def run(args: argparse.Namespace) -> int:
    found = False
    try:
        for path in ledgers_of(args):
            with Ledger.open(path, mode=Ledger.read_mode(path)) as ledger:
                lines = trio.run(_reconcile, args, ledger)
                state = ledger.risk_state()
            where = "ledger only (paper)" if ledger.mode is LedgerMode.PAPER else \
                f"ledger vs {args.target} venues"
            breaker = state.state.value if state else "active"
            print(f"{path} ({where}; breaker {breaker}): "
                  + ("no drift" if not lines else f"{len(lines)} difference(s)"))
            for line in lines:
                print(f"  {line}")
            found = found or bool(lines)
    except (LedgerError, ConfigError, SimStateError) as err:
        print(f"arb reconcile: {err}", file=sys.stderr)
        return 2
    except VenueError as err:
        print(f"arb reconcile: {err.venue.value}: {err.reason}", file=sys.stderr)
        return 2
    return 1 if found else 0
