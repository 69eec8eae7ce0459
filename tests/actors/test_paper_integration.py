"""The whole actor system in paper mode: supervisor, risk, reconciliation, market actor, real
books, real edge detection, the real paper venues and the real ledger; no fakes at all."""
from __future__ import annotations

import itertools

import trio
from actor_fakes import DEFAULT_LIMITS, make_books, make_pair, quote, usd, virtual_ms

from actors.alerts import AlertHub
from actors.fills import FillRouter
from actors.legs import OrderDesk
from actors.market import MarketParams, edge_detector
from actors.messages import ExecutionOutcome, Halt
from actors.reconcile import Reconciler
from actors.risk import RiskActor, open_risk_channel
from actors.router import BookRouter
from actors.supervisor import MarketSpec, Supervisor
from arb.domain import Instrument, Outcome, Venue
from arb.edge import EdgeParams
from arb.ledger import Ledger
from arb.venues.paper import PaperVenue


async def test_paper_bot_takes_one_arb_and_its_ledger_matches_the_venues(tmp_path,
                                                                        autojump_clock):
    pair = make_pair()
    books = make_books(pair)
    quote(books, poly_yes_ask=40, kalshi_no_ask=50, size=10)
    by_key = {pair.kalshi.ticker: books.kalshi, pair.poly.yes_token: books.poly_yes,
              pair.poly.no_token: books.poly_no}

    def fees(instrument):
        return pair.kalshi.fees if instrument.venue is Venue.KALSHI else pair.poly.fees

    venues = {Venue.KALSHI: PaperVenue(Venue.KALSHI, by_key.get, fees, usd(1000),
                                       clock_ms=virtual_ms),
              Venue.POLYMARKET: PaperVenue(Venue.POLYMARKET, by_key.get, fees, usd(1000),
                                           clock_ms=virtual_ms)}
    with Ledger.open(tmp_path / "paper.sqlite", mode="paper", clock_ms=virtual_ms) as ledger:
        alerts = AlertHub()
        client, inbox = open_risk_channel()
        halt_send, halt_receive = trio.open_memory_channel[Halt](1)
        risk = RiskActor(DEFAULT_LIMITS, ledger, inbox, halt_send, alerts)
        fills = FillRouter(ledger)
        desk = OrderDesk(venues, ledger, client, fills, alerts)
        reconciler = Reconciler(venues, ledger, client, fills, alerts, clock_ms=virtual_ms)
        router = BookRouter()
        ids = itertools.count(1)
        supervisor = Supervisor(desk, risk, router, reconciler, alerts, halt_receive,
                                [MarketSpec(pair, books, edge_detector(EdgeParams()))],
                                MarketParams(scan_interval_s=1000.0), new_id=lambda: f"p{next(ids)}")

        async def drive():
            await trio.sleep(1.0)
            for venue, key in sorted(books.keys, key=str):
                router.book_changed(venue, key)  # the feed reports the arb
                for book in (books.kalshi, books.poly_yes, books.poly_no):
                    book.received_at = trio.current_time()
            await trio.sleep(5.0)
            supervisor.request_stop("operator stop")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drive)
            shutdown = await supervisor.run(handle_signals=False)

        actor = supervisor.actors[pair.pair_id]
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}
        k_no = Instrument.kalshi(pair.kalshi.ticker, Outcome.NO)
        p_yes = Instrument.polymarket(pair.poly.condition_id, pair.poly.yes_token)
        assert ledger.positions() == {k_no: 10_000_000, p_yes: 10_000_000}
        for venue in venues.values():
            held = {p.instrument: p.qty for p in await venue.positions()}
            assert held == ledger.positions(venue.venue)
        assert shutdown.reconciled is not None and shutdown.reconciled.clean
        assert ledger.unresolved_intents() == []
        [record] = ledger.executions()
        assert record.outcome == "hedged"
        # Paper cash moved by exactly the cost and the venue fees of the fills.
        kalshi_cash = (await venues[Venue.KALSHI].balance()).available
        assert usd(1000) - kalshi_cash == usd(5) + usd(0.18)
        assert risk.statistics().open_reservations == 0
