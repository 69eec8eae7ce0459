"""Benchmark the bot's own latency from detection to both legs sent, and where it goes.

One market actor step per iteration, through the real code path: edge detection on real books,
the reservation call to a running risk actor, the re-price, the trade-log row and both
write-ahead intents in a real SQLite ledger (synchronous=FULL, as in production), the real
adapters' ``prepare`` (Polymarket: rounding, amounts, EIP-712 hash and secp256k1 signature, JSON
body; Kalshi: grid rounding and the V2 body) and the per-request auth signing (Kalshi RSA-PSS
headers, Polymarket L2 HMAC). The network is not involved: the request counts as sent once its
auth headers are built, and the venue then answers "filled" at once.

With ``--sim`` it then measures the send itself: the real adapters against the simulated
exchanges on loopback (``arb.sim.world``), both legs prepared (signing and request building) and
submitted concurrently as IOC/FAK orders priced far from the market (they are killed, so the
bot's account never trades), timed to the venues' answers.

Printed per phase (median, p99, max, in microseconds):
  detection   edge.best on the pair's three books
  risk call   Reserve -> Granted round trip through the risk actor's inbox
  re-price+ledger  quality grade, re-price, trade-log row and both intents (fsync each)
  prepare     both legs' prepare (signing and request building)
  auth        both requests' auth headers (Kalshi RSA-PSS, Polymarket HMAC)
  total       detection start -> both legs sent

    .venv/bin/python scripts/bench_execution.py [--n 300] [--ledger-dir /tmp] [--sim]
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import attrs
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from actors.alerts import AlertHub  # noqa: E402
from actors.books import PairBooks  # noqa: E402
from actors.fills import FillRouter  # noqa: E402
from actors.legs import OrderDesk  # noqa: E402
from actors.market import MarketActor, MarketParams, edge_detector  # noqa: E402
from actors.messages import BalanceObserved, Halt, Reconciled, VenueStatusObserved  # noqa: E402
from actors.risk import RiskActor, RiskClient, RiskLimits, open_risk_channel  # noqa: E402
from actors.router import BookRouter  # noqa: E402
from arb.book import KalshiBook, PolyBook  # noqa: E402
from arb.domain import Venue  # noqa: E402
from arb.edge import EdgeParams  # noqa: E402
from arb.fees import KalshiFeeSchedule, PolyFeeSchedule  # noqa: E402
from arb.ledger import Ledger  # noqa: E402
from arb.money import CENT, SCALE, Money, Price, Qty  # noqa: E402
from arb.pairs import KalshiSide, MarketPair, PolySide, Verdict  # noqa: E402
from arb.venues.kalshi.adapter import KalshiAdapter  # noqa: E402
from arb.venues.kalshi.auth import KalshiSigner  # noqa: E402
from arb.venues.kalshi.rest import KalshiRestClient  # noqa: E402
from arb.venues.polymarket.adapter import PolymarketAdapter, TokenSpec  # noqa: E402
from arb.venues.polymarket.auth import ApiCredentials, l2_headers  # noqa: E402
from arb.venues.polymarket.rest import PolymarketRest  # noqa: E402
from arb.venues.polymarket.signing import PolymarketSigner  # noqa: E402
from arb.venues.protocol import (  # noqa: E402
    Balance,
    Fill,
    FillStatus,
    OrderResult,
    OrderStatus,
    PreparedOrder,
    VenueStatus,
)

POLY_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
BIG = Money(10**9 * SCALE)
PACE_S = 0.25


@attrs.define(eq=False)
class Clock:
    """Phase timestamps of the current iteration (perf_counter_ns)."""

    marks: dict[str, int] = attrs.field(factory=dict)
    prepare_ns: int = 0
    auth_ns: int = 0
    sent: list[int] = attrs.field(factory=list)


@attrs.define(eq=False)
class LocalVenue:
    """The real adapter's ``prepare`` and auth signing; the venue answers "filled" locally."""

    venue: Venue
    adapter: KalshiAdapter | PolymarketAdapter
    clock: Clock
    fills: FillRouter
    kalshi_signer: KalshiSigner | None = None
    poly: tuple[PolymarketSigner, ApiCredentials] | None = None
    _ids: itertools.count = attrs.field(factory=itertools.count)

    def prepare(self, request):
        t0 = time.perf_counter_ns()
        prepared = self.adapter.prepare(request)
        self.clock.prepare_ns += time.perf_counter_ns() - t0
        return prepared

    async def submit(self, order: PreparedOrder) -> OrderResult:
        t0 = time.perf_counter_ns()
        if self.kalshi_signer is not None:
            self.kalshi_signer.headers("POST", "/trade-api/v2/portfolio/events/orders")
        else:
            signer, creds = self.poly
            l2_headers(signer, creds, timestamp_s=int(time.time()), method="POST",
                       path="/order", body=order.payload)
        now = time.perf_counter_ns()
        self.clock.auth_ns += now - t0
        self.clock.sent.append(now)
        await trio.lowlevel.checkpoint()
        r = order.request
        vid = order.venue_order_id or f"k{next(self._ids)}"
        trade = f"{self.venue.value}-{next(self._ids)}"
        self.fills.observe(Fill(self.venue, trade, vid, r.client_id, r.instrument, r.side,
                                order.price, order.qty, Money(0), True, FillStatus.CONFIRMED,
                                int(time.time() * 1000)))
        return OrderResult(vid, r.client_id, OrderStatus.FILLED, order.qty, order.price,
                           Money(0), (trade,))

    async def balance(self) -> Balance:
        return Balance(self.venue, BIG)

    async def status(self) -> VenueStatus:
        return VenueStatus(self.venue, True, True)


@attrs.frozen
class TimedRisk:
    """The market actor's risk client, timing the reservation call."""

    inner: RiskClient
    clock: Clock

    async def reserve(self, *args):
        self.clock.marks["risk_start"] = time.perf_counter_ns()
        reply = await self.inner.reserve(*args)
        self.clock.marks["risk_end"] = time.perf_counter_ns()
        return reply

    async def cast(self, message) -> None:
        await self.inner.cast(message)


def make_world() -> tuple[MarketPair, PairBooks]:
    kalshi = KalshiSide("KXNBAGAME-26JAN01DALLAL-LAL", "KXNBAGAME-26JAN01DALLAL", "KXNBAGAME",
                        KalshiFeeSchedule())
    poly = PolySide("0xbench", YES, NO, "Lakers", "Mavericks", PolyFeeSchedule(50_000))
    pair = MarketPair(MarketPair.make_id(kalshi.ticker, poly.condition_id), "nba",
                      "nba:2026-01-01:DAL@LAL", "moneyline", datetime(2026, 1, 1, tzinfo=UTC),
                      kalshi, poly, Verdict.EQUIVALENT, "bench")
    q = Qty(50 * SCALE)
    kb = KalshiBook(kalshi.ticker, no_in_yes_prices=False)
    kb.apply_snapshot([(Price(50 * CENT), q)], [(Price(40 * CENT), q)], received_at=0.0)
    yes = PolyBook(YES, tick=CENT, min_order_size=Qty(5 * SCALE))
    yes.apply_snapshot([(Price(38 * CENT), q)], [(Price(40 * CENT), q)], received_at=0.0)
    no = PolyBook(NO, tick=CENT, min_order_size=Qty(5 * SCALE))
    no.apply_snapshot([(Price(66 * CENT), q)], [(Price(68 * CENT), q)], received_at=0.0)
    return pair, PairBooks(pair, kb, yes, no)


def report(name: str, samples_ns: list[int]) -> None:
    us = sorted(s / 1000 for s in samples_ns)
    p99 = us[min(len(us) - 1, int(len(us) * 0.99))]
    print(f"{name:<16} median {statistics.median(us):9.1f} us   p99 {p99:9.1f} us   "
          f"max {us[-1]:9.1f} us")


async def run(n: int, ledger_dir: Path) -> None:
    pair, books = make_world()
    clock = Clock()
    limits = RiskLimits(max_market=BIG, max_event=BIG, max_total=BIG, max_venue=BIG,
                        min_trade=Money(0), max_trade=BIG, max_daily_loss=BIG,
                        max_orders_per_minute=10**7, max_trades_per_hour=10**7)
    with Ledger.open(ledger_dir / "bench.sqlite", mode="paper") as ledger:
        alerts = AlertHub()
        client, inbox = open_risk_channel()
        halt_send, _ = trio.open_memory_channel[Halt](1)
        risk = RiskActor(limits, ledger, inbox, halt_send, alerts)
        fills = FillRouter(ledger)
        poly_signer = PolymarketSigner.from_private_key(POLY_KEY)
        creds = ApiCredentials("bench", "YmVuY2g=", "bench")
        poly_adapter = PolymarketAdapter(PolymarketRest(None, poly_signer, creds), poly_signer)  # type: ignore[arg-type]
        for token in (YES, NO):
            poly_adapter.register_token(TokenSpec("0xbench", token, tick=CENT,
                                                  min_order_size=Qty(5 * SCALE), neg_risk=False,
                                                  fee=PolyFeeSchedule(50_000)))
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kalshi_signer = KalshiSigner("bench-key", rsa_key)
        kalshi_adapter = KalshiAdapter(KalshiRestClient(None, kalshi_signer, None))  # type: ignore[arg-type]
        venues = {
            Venue.KALSHI: LocalVenue(Venue.KALSHI, kalshi_adapter, clock, fills,
                                     kalshi_signer=kalshi_signer),
            Venue.POLYMARKET: LocalVenue(Venue.POLYMARKET, poly_adapter, clock, fills,
                                         poly=(poly_signer, creds))}
        desk = OrderDesk(venues, ledger, TimedRisk(client, clock), fills, alerts)  # type: ignore[arg-type]
        detect = edge_detector(EdgeParams(max_qty=Qty(10 * SCALE)))

        def timed_detect(p, b):
            clock.marks.setdefault("detect_start", time.perf_counter_ns())
            found = detect(p, b)
            clock.marks.setdefault("detect_end", time.perf_counter_ns())
            return found

        ids = itertools.count(1)
        actor = MarketActor(pair, books, BookRouter().subscribe(books.keys), timed_detect, desk,
                            MarketParams(max_book_age_s=1e9), lambda: f"b{next(ids)}")
        rows: dict[str, list[int]] = {k: [] for k in
                                      ("detection", "risk call", "re-price+ledger", "prepare", "auth",
                                       "total")}
        async with trio.open_nursery() as nursery:
            await nursery.start(risk.serve)
            for venue in Venue:
                await client.cast(VenueStatusObserved(VenueStatus(venue, True, True)))
                await client.cast(BalanceObserved(venue, BIG))
            await client.cast(Reconciled(True))
            for i in range(n + 20):
                clock.marks.clear()
                clock.prepare_ns = clock.auth_ns = 0
                clock.sent.clear()
                now = trio.current_time()
                for book in (books.kalshi, books.poly_yes, books.poly_no):
                    book.received_at = now  # a live feed
                await actor.step("change")
                if len(clock.sent) != 2:
                    raise SystemExit(f"iteration {i}: {len(clock.sent)} legs sent; "
                                     f"{actor.statistics()}")
                if i < 20:
                    continue  # warm-up
                m = clock.marks
                total = max(clock.sent) - m["detect_start"]
                rows["detection"].append(m["detect_end"] - m["detect_start"])
                rows["risk call"].append(m["risk_end"] - m["risk_start"])
                rows["prepare"].append(clock.prepare_ns)
                rows["auth"].append(clock.auth_ns)
                rows["re-price+ledger"].append(total - rows["detection"][-1] - rows["risk call"][-1]
                                      - clock.prepare_ns - clock.auth_ns)
                rows["total"].append(total)
            nursery.cancel_scope.cancel()
    print(f"detection -> both legs sent, {n} executions (both legs in the same step):")
    for name, samples in rows.items():
        report(name, samples)
    print(f"outcomes: {dict(actor.outcomes)}")


async def run_sim(n: int) -> None:
    """Both legs through the real adapters to the simulated venues: prepare, then send."""
    from arb.config import Target
    from arb.domain import Instrument, Outcome, Side, TimeInForce
    from arb.sim.world import build_world, serve_world
    from arb.venues.connect import endpoints_for, open_venues, secrets_for
    from arb.venues.protocol import OrderRequest

    world = build_world(1, seconds=3600, leagues=("nba",), arb_every_s=3600)
    truth = world.slate.pairs[0]
    rows: dict[str, list[int]] = {"prepare (both)": [], "send kalshi": [],
                                  "send polymarket": [], "send (both)": [], "prepare+send": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_world, world, Path(tmp))
            async with open_venues(endpoints_for(Target.SIM, Path(tmp)),
                                   secrets_for(Target.SIM, Path(tmp)),
                                   chain_id=world.poly.config.chain_id) as venues:
                await venues.kalshi.load_market_rules([truth.kalshi_ticker])
                await venues.poly.load_market(truth.condition_id)
                k_inst = Instrument.kalshi(truth.kalshi_ticker, Outcome.YES)
                p_inst = Instrument.polymarket(truth.condition_id, truth.no_token)
                for i in range(n + 10):
                    t0 = time.perf_counter_ns()
                    k = venues.kalshi.prepare(OrderRequest(
                        f"bench-k{i}", k_inst, Side.BUY, Price(CENT), Qty(5 * SCALE),
                        TimeInForce.IOC))
                    p = venues.poly.prepare(OrderRequest(
                        f"bench-p{i}", p_inst, Side.BUY, Price(CENT), Qty(100 * SCALE),
                        TimeInForce.IOC))
                    t1 = time.perf_counter_ns()
                    done: dict[str, int] = {}

                    async def send(adapter, order, done=done) -> None:
                        await adapter.submit(order)
                        done[adapter.venue.value] = time.perf_counter_ns()

                    async with trio.open_nursery() as legs:
                        legs.start_soon(send, venues.kalshi, k)
                        legs.start_soon(send, venues.poly, p)
                    # Paced under the Basic tier's write rate: the client's own limiter would
                    # otherwise queue the Kalshi leg and the bench would measure the pacing.
                    await trio.sleep(PACE_S)
                    if i < 10:
                        continue  # warm-up (connections, caches)
                    rows["prepare (both)"].append(t1 - t0)
                    rows["send kalshi"].append(done["kalshi"] - t1)
                    rows["send polymarket"].append(done["polymarket"] - t1)
                    rows["send (both)"].append(max(done.values()) - t1)
                    rows["prepare+send"].append(max(done.values()) - t0)
            account = world.kalshi.account_for_key(world.kalshi_key_id)
            assert account is not None and not account.positions, "bench orders must not fill"
            nursery.cancel_scope.cancel()
    print(f"both legs through the real adapters to the simulated venues, {n} pairs of orders "
          f"(IOC/FAK far from the market, answered 'killed'):")
    for name, samples in rows.items():
        report(name, samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--ledger-dir", type=Path, default=None,
                        help="where the bench ledger goes (default: a fresh temp dir)")
    parser.add_argument("--sim", action="store_true",
                        help="also send real orders to the simulated venues and time the send")
    args = parser.parse_args()
    if args.ledger_dir is not None:
        trio.run(run, args.n, args.ledger_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            trio.run(run, args.n, Path(tmp))
    if args.sim:
        trio.run(run_sim, args.n)


if __name__ == "__main__":
    main()
