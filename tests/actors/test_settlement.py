"""Market settlement: once a market the app reported ended stops showing our position on the
venue, reconciliation marks the ledger's instruments settled instead of reporting drift, and
risk stops counting their exposure (also after a restart). A position that vanishes on a market
nobody reported ended is still drift."""
from __future__ import annotations

from actor_fakes import contracts, make_books, make_pair, open_rig, quote

from actors.market import MarketParams
from actors.messages import BreakerState, ExecutionOutcome
from arb.domain import Instrument, Outcome, Side, Venue
from arb.ledger import Ledger
from arb.money import Money, Price, parse_money
from arb.venues.protocol import Fill, FillStatus

ONLY_CHANGES = MarketParams(scan_interval_s=1000.0)


async def hedge_once(rig, pair):
    books = make_books(pair)
    quote(books, poly_yes_ask=40, kalshi_no_ask=50)
    actor = rig.market(pair, books, ONLY_CHANGES)
    await rig.nursery.start(actor.serve)
    rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
    await rig.settle()
    assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}


def venue_settles(rig, *instruments) -> None:
    """The venues stop reporting our position (Kalshi paid out, Polymarket resolved)."""
    for instrument in instruments:
        venue = rig.venue(instrument.venue)
        held = sum(f.qty for f in venue.trades if f.instrument == instrument)
        venue.extra_positions[instrument] = -held


async def test_settled_market_leaves_positions_and_exposure(tmp_path, autojump_clock):
    pair = make_pair()
    k_no = Instrument.kalshi(pair.kalshi.ticker, Outcome.NO)
    p_yes = Instrument.polymarket(pair.poly.condition_id, pair.poly.yes_token)
    async with open_rig(tmp_path) as rig:
        await hedge_once(rig, pair)
        cost = parse_money("9.30")  # 10 x (0.50 + 0.40) + fees 0.18 + 0.12
        assert rig.risk.statistics().committed == cost
        venue_settles(rig, k_no, p_yes)
        # Nobody said the market ended: a vanished position is drift, entries stop.
        report = await rig.reconciler.reconcile()
        await rig.settle(0.1)
        assert not report.clean and report.settled == ()
        assert sorted(report.drift) == [
            f"{k_no}: venue holds 0, ledger 10", f"{p_yes}: venue holds 0, ledger 10"]
        assert rig.risk.effective_state() is BreakerState.REDUCING
        # Discovery reports both markets ended: the next pass settles instead.
        rig.reconciler.note_ended([pair.kalshi.ticker, pair.poly.condition_id])
        report = await rig.reconciler.reconcile()
        await rig.settle(0.1)
        assert report.clean and sorted(report.settled) == sorted([str(k_no), str(p_yes)])
        assert rig.ledger.positions() == {}
        assert rig.ledger.positions(include_settled=True) == {k_no: contracts(10),
                                                              p_yes: contracts(10)}
        assert [(s.instrument, s.qty) for s in rig.ledger.settlements()] == sorted(
            [(k_no, contracts(10)), (p_yes, contracts(10))], key=lambda x: str(x[0]))
        stats = rig.risk.statistics()
        assert stats.committed == 0 and rig.risk.effective_state() is BreakerState.ACTIVE
        assert rig.kinds().count("position_settled") == 2
        # Idempotent: a later pass finds nothing more to settle and stays clean.
        report = await rig.reconciler.reconcile()
        assert report.clean and report.settled == ()
        assert rig.ledger.record_settlement(k_no, contracts(10), "again") is False
    # A restart restores no exposure for the settled instruments.
    async with open_rig(tmp_path) as rig:
        assert rig.risk.statistics().committed == Money(0)
        assert rig.ledger.positions() == {}


async def test_ended_market_still_held_by_the_venue_is_not_settled(tmp_path, autojump_clock):
    """Closed but not paid out yet (or Polymarket tokens not redeemed): positions agree, nothing
    is settled, exposure stays counted."""
    pair = make_pair()
    k_no = Instrument.kalshi(pair.kalshi.ticker, Outcome.NO)
    async with open_rig(tmp_path) as rig:
        await hedge_once(rig, pair)
        venue_settles(rig, k_no)  # Kalshi paid out; the Polymarket tokens are still held
        rig.reconciler.note_ended([pair.kalshi.ticker, pair.poly.condition_id])
        report = await rig.reconciler.reconcile()
        await rig.settle(0.1)
        assert report.clean and report.settled == (str(k_no),)
        p_yes = Instrument.polymarket(pair.poly.condition_id, pair.poly.yes_token)
        assert rig.ledger.positions() == {p_yes: contracts(10)}
        assert rig.risk.statistics().committed == parse_money("4.12")  # 10 x 0.40 + 0.12


async def test_no_settlement_while_an_order_is_in_flight(tmp_path, autojump_clock):
    """An instrument with a live order may have fills in transit: it is neither compared nor
    settled until the order has finished."""
    pair = make_pair()
    k_no = Instrument.kalshi(pair.kalshi.ticker, Outcome.NO)
    async with open_rig(tmp_path) as rig:
        await hedge_once(rig, pair)
        venue_settles(rig, k_no)
        rig.reconciler.note_ended([pair.kalshi.ticker])
        watch = rig.fills.watch(Venue.KALSHI, "late-1", None, k_no)
        report = await rig.reconciler.reconcile()
        assert report.clean and report.settled == ()
        rig.fills.unwatch(watch)
        report = await rig.reconciler.reconcile()
        assert report.settled == (str(k_no),)


def test_settlement_of_an_instrument_with_colons_round_trips(tmp_path):
    """Settlements are rows of their own (no composite text key): any market or token text is
    stored as is, and only that instrument leaves ``positions``."""
    odd = Instrument(Venue.POLYMARKET, "0xcond:a", "tok:1:2")
    near = Instrument(Venue.POLYMARKET, "0xcond:a", "tok:1")
    with Ledger.open(tmp_path / "l.sqlite", mode="paper", clock_ms=lambda: 7) as ledger:
        for n, instrument in enumerate((odd, near)):
            ledger.record_fill(Fill(Venue.POLYMARKET, f"t-{n}", f"o-{n}", None, instrument,
                                    Side.BUY, Price(400_000), contracts(1), Money(0), True,
                                    FillStatus.CONFIRMED, 1))
        assert ledger.record_settlement(odd, contracts(1), "market ended") is True
        assert ledger.record_settlement(odd, contracts(2), "again") is False
        [settled] = ledger.settlements()
        assert (settled.instrument, settled.qty, settled.reason, settled.settled_ms) == (
            odd, contracts(1), "market ended", 7)
        assert ledger.positions() == {near: contracts(1)}
        assert ledger.positions(include_settled=True) == {odd: contracts(1), near: contracts(1)}
