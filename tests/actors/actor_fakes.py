"""In-memory fakes for the actor tests: a scriptable venue that implements ``VenueAdapter``,
pairs and real books seeded at chosen prices, and a rig wiring the real actors together over a
real SQLite ledger. Named ``actor_fakes`` so it cannot shadow another suite's helper module."""
from __future__ import annotations

import collections
import contextlib
import enum
import hashlib
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs
import trio
import trio.testing

from actors.alerts import AlertHub
from actors.books import PairBooks
from actors.fills import FillRouter
from actors.legs import LegParams, OrderDesk
from actors.market import MarketActor, MarketParams, edge_detector
from actors.messages import Halt
from actors.reconcile import ReconcileParams, Reconciler
from actors.risk import RiskActor, RiskClient, RiskLimits, open_risk_channel
from actors.router import BookRouter
from actors.supervisor import MarketSpec, Supervisor, SupervisorParams
from arb.book import KalshiBook, PolyBook
from arb.domain import Instrument, Side, Venue
from arb.edge import EdgeParams
from arb.fees import KalshiFeeSchedule, PolyFeeSchedule, kalshi_fee, poly_fee
from arb.ledger import Ledger
from arb.money import CENT, SCALE, Money, Price, Qty
from arb.pairs import KalshiSide, MarketPair, PolySide, Verdict
from arb.venues.protocol import (
    Balance,
    Fill,
    FillPage,
    FillStatus,
    OpenOrder,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OutcomeUnknown,
    Position,
    PreparedOrder,
    Rejected,
    Transient,
    VenuePaused,
    VenueStatus,
)

ONE = SCALE


def usd(dollars: int | float) -> Money:
    return Money(round(dollars * 100) * CENT)


def contracts(n: int) -> Qty:
    return Qty(n * SCALE)


def cents(n: int) -> Price:
    return Price(n * CENT)


class Act(enum.Enum):
    FILL = "fill"
    """Execute ``qty`` (default all) and answer FILLED, or CANCELLED with the partial fill."""
    REJECT = "reject"
    PAUSED = "paused"
    """Refused with ``VenuePaused`` (maintenance, cancel-only, matching-engine restart)."""
    TRANSIENT = "transient"
    TIMEOUT = "timeout"
    """The venue executes ``qty`` but the answer is lost: OutcomeUnknown."""
    LOST = "lost"
    """The request never reaches the venue, and the client sees a timeout: OutcomeUnknown."""
    DELAYED = "delayed"
    """Answer DELAYED; the order executes ``qty`` once ``ready_after_s`` has passed."""
    REST = "rest"
    """The order rests on the book and the answer never comes (until cancelled)."""


@attrs.frozen
class Answer:
    act: Act = Act.FILL
    qty: Qty | None = None
    latency_s: float = 0.0
    reason: str = ""
    code: str | None = None
    ready_after_s: float = 0.0
    provisional: bool = False
    """Trades are reported PROVISIONAL (Polymarket MATCHED) instead of final."""


@attrs.define(eq=False)
class FakeOrder:
    venue_order_id: str
    request: OrderRequest
    status: OrderStatus
    filled: Qty = Qty(0)
    trade_ids: list[str] = attrs.field(factory=list)
    ready_at: float | None = None
    pending_qty: Qty = Qty(0)
    provisional: bool = False
    fee: Money = Money(0)


@attrs.define(eq=False)
class FakeVenue:
    """A ``VenueAdapter`` whose answers are scripted per submit (FIFO; default: fill all).

    Fills execute at the limit price and pay the default taker fees (Kalshi quadratic, per
    order; Polymarket rate 0.05, per trade), like the pairs from ``make_pair``."""

    venue: Venue
    timeline: list[tuple[float, str, str]]
    """Shared with the other fake venue: (virtual time, "venue op", client id or detail)."""
    answers: collections.deque[Answer] = attrs.field(factory=collections.deque)
    user: FillRouter | None = None
    """Where executed trades are pushed, like the venue's user stream (None: no stream)."""
    available: Money = Money(10_000 * SCALE)
    trading_active: bool = True
    positions_fail: bool = False
    extra_positions: dict[Instrument, Qty] = attrs.field(factory=dict)
    """Positions the venue reports without any fill behind them (transfers, missed fills)."""
    query_fail: bool = False
    """Order lookups raise Transient (the venue's query endpoint is down)."""
    prepare_reject: str | None = None
    orders: dict[str, FakeOrder] = attrs.field(factory=dict)
    trades: list[Fill] = attrs.field(factory=list)
    cancel_all_calls: int = 0
    submits: int = 0
    cancel_all_delay_s: float = 0.0
    """How long cancel-all hangs before it answers."""
    on_trade: Callable[[Fill], None] | None = None
    """Called on every execution (a test can move the books, as the venue would)."""
    _ids: itertools.count = attrs.field(factory=lambda: itertools.count(1))

    def log(self, op: str, detail: str) -> None:
        self.timeline.append((trio.current_time(), f"{self.venue.value} {op}", detail))

    def script(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        if self.prepare_reject is not None:
            raise Rejected(self.venue, self.prepare_reject)
        order_hash = None
        if self.venue is Venue.POLYMARKET:
            order_hash = "0x" + hashlib.sha256(request.client_id.encode()).hexdigest()[:16]
        return PreparedOrder(request, order_hash, request.price, request.qty,
                             request.client_id.encode())

    async def submit(self, order: PreparedOrder) -> OrderResult:
        answer = self.answers.popleft() if self.answers else Answer()
        request = order.request
        self.submits += 1
        self.log("submit", request.client_id)
        if answer.latency_s:
            await trio.sleep(answer.latency_s)
        else:
            await trio.lowlevel.checkpoint()
        match answer.act:
            case Act.TRANSIENT:
                raise Transient(self.venue, answer.reason or "connection refused")
            case Act.REJECT:
                raise Rejected(self.venue, answer.reason or "rejected", code=answer.code)
            case Act.PAUSED:
                raise VenuePaused(self.venue, answer.reason or "trading is paused")
            case Act.LOST:
                raise OutcomeUnknown(self.venue, "read timeout (request lost)")
        vid = order.venue_order_id or f"{self.venue.value[0]}-{next(self._ids)}"
        fake = FakeOrder(vid, request, OrderStatus.RESTING, provisional=answer.provisional)
        self.orders[vid] = fake
        qty = request.qty if answer.qty is None else answer.qty
        match answer.act:
            case Act.FILL:
                self._execute(fake, qty)
                self._finish(fake)
                return self._result(fake)
            case Act.TIMEOUT:
                self._execute(fake, qty)
                self._finish(fake)
                raise OutcomeUnknown(self.venue, "read timeout after the request was sent")
            case Act.DELAYED:
                fake.status = OrderStatus.DELAYED
                fake.ready_at = trio.current_time() + answer.ready_after_s
                fake.pending_qty = qty
                return self._result(fake)
            case Act.REST:
                await trio.sleep_forever()
        raise AssertionError(answer)

    def _execute(self, fake: FakeOrder, qty: Qty) -> None:
        if qty <= 0:
            return
        r = fake.request
        trade_id = f"{self.venue.value}-t{next(self._ids)}"
        fee = (kalshi_fee(KalshiFeeSchedule(), r.price, qty) if self.venue is Venue.KALSHI
               else poly_fee(PolyFeeSchedule(50_000), r.price, qty))
        fake.fee = Money(fake.fee + fee)
        fill = Fill(self.venue, trade_id, fake.venue_order_id, r.client_id, r.instrument,
                    r.side, r.price, qty, fee, True,
                    FillStatus.PROVISIONAL if fake.provisional else FillStatus.CONFIRMED,
                    int(trio.current_time() * 1000))
        fake.filled = Qty(fake.filled + qty)
        fake.trade_ids.append(trade_id)
        self.trades.append(fill)
        self.log("trade", f"{r.client_id} {trade_id}")
        if self.on_trade is not None:
            self.on_trade(fill)
        if self.user is not None:
            self.user.observe(fill)

    def _finish(self, fake: FakeOrder) -> None:
        fake.status = (OrderStatus.FILLED if fake.filled == fake.request.qty
                       else OrderStatus.CANCELLED)

    def _result(self, fake: FakeOrder) -> OrderResult:
        return OrderResult(fake.venue_order_id, fake.request.client_id, fake.status, fake.filled,
                           fake.request.price if fake.filled else None, fake.fee,
                           tuple(fake.trade_ids))

    def _set_trade(self, trade_id: str, status: FillStatus) -> None:
        for i, fill in enumerate(self.trades):
            if fill.trade_id == trade_id:
                updated = attrs.evolve(fill, status=status)
                self.trades[i] = updated
                self.log(f"trade {status.value}", trade_id)
                if self.user is not None:
                    self.user.observe(updated)
                return
        raise KeyError(trade_id)

    def fail_trade(self, trade_id: str) -> None:
        """Polymarket reports the trade FAILED (a ghost fill)."""
        self._set_trade(trade_id, FillStatus.FAILED)

    def confirm_trade(self, trade_id: str) -> None:
        self._set_trade(trade_id, FillStatus.CONFIRMED)

    async def cancel(self, venue_order_id: str, instrument: Instrument) -> None:
        await trio.lowlevel.checkpoint()
        self.log("cancel", venue_order_id)
        fake = self.orders.get(venue_order_id)
        if fake is not None and fake.status is OrderStatus.RESTING:
            fake.status = OrderStatus.CANCELLED

    async def cancel_all(self) -> int:
        self.cancel_all_calls += 1
        await trio.sleep(self.cancel_all_delay_s)
        n = 0
        for fake in self.orders.values():
            if fake.status is OrderStatus.RESTING:
                fake.status = OrderStatus.CANCELLED
                n += 1
        self.log("cancel_all", str(n))
        return n

    async def get_order(self, venue_order_id: str | None = None, *,
                        client_id: str | None = None) -> OrderResult | None:
        await trio.lowlevel.checkpoint()
        self.log("query", client_id or venue_order_id or "")
        if self.query_fail:
            raise Transient(self.venue, "order lookup unavailable")
        fake = self.orders.get(venue_order_id) if venue_order_id else None
        if fake is None and client_id is not None:
            fake = next((o for o in self.orders.values() if o.request.client_id == client_id),
                        None)
        if fake is None:
            return None
        if (fake.status is OrderStatus.DELAYED and fake.ready_at is not None
                and trio.current_time() >= fake.ready_at):
            self._execute(fake, fake.pending_qty)
            self._finish(fake)
        return self._result(fake)

    async def open_orders(self) -> list[OpenOrder]:
        await trio.lowlevel.checkpoint()
        return [OpenOrder(o.venue_order_id, o.request.client_id, o.request.instrument,
                          o.request.side, o.request.price, o.request.qty, o.filled)
                for o in self.orders.values() if o.status is OrderStatus.RESTING]

    async def fills(self, cursor: str | None = None) -> FillPage:
        await trio.lowlevel.checkpoint()
        start = int(cursor or 0)
        page = tuple(self.trades[start:start + 50])
        end = start + len(page)
        return FillPage(page, str(end) if end < len(self.trades) else None)

    async def positions(self) -> list[Position]:
        await trio.lowlevel.checkpoint()
        if self.positions_fail:
            raise Transient(self.venue, "positions endpoint unavailable")
        held: dict[Instrument, int] = collections.defaultdict(int)
        for fill in self.trades:
            if fill.status is not FillStatus.FAILED:
                held[fill.instrument] += fill.qty if fill.side is Side.BUY else -fill.qty
        for instrument, qty in self.extra_positions.items():
            held[instrument] += qty
        return [Position(i, Qty(q)) for i, q in held.items() if q]

    async def balance(self) -> Balance:
        await trio.lowlevel.checkpoint()
        return Balance(self.venue, self.available)

    async def status(self) -> VenueStatus:
        await trio.lowlevel.checkpoint()
        return VenueStatus(self.venue, True, self.trading_active,
                           "" if self.trading_active else "trading paused")


def make_pair(n: int = 1, *, event: str = "DALLAL", verdict: Verdict = Verdict.EQUIVALENT,
              poly_rate: int = 50_000) -> MarketPair:
    """An NBA moneyline pair; ``n`` makes distinct markets, ``event`` groups them by game."""
    ticker = f"KXNBAGAME-26JAN01{event}-T{n}"
    kalshi = KalshiSide(ticker, f"KXNBAGAME-26JAN01{event}", "KXNBAGAME", KalshiFeeSchedule())
    poly = PolySide(f"0xcond{event}{n}", f"tok-yes-{event}-{n}", f"tok-no-{event}-{n}",
                    "Home", "Away", PolyFeeSchedule(poly_rate))
    return MarketPair(pair_id=MarketPair.make_id(ticker, poly.condition_id), league="nba",
                      event_key=f"nba:2026-01-01:{event}", market_type="moneyline",
                      start_time=datetime(2026, 1, 1, tzinfo=UTC), kalshi=kalshi, poly=poly,
                      verdict=verdict, reason="test pair")


def make_books(pair: MarketPair) -> PairBooks:
    return PairBooks(pair, KalshiBook(pair.kalshi.ticker, no_in_yes_prices=False),
                     PolyBook(pair.poly.yes_token, tick=pair.poly.tick,
                              min_order_size=pair.poly.min_order_size),
                     PolyBook(pair.poly.no_token, tick=pair.poly.tick,
                              min_order_size=pair.poly.min_order_size))


def quote(books: PairBooks, *, poly_yes_ask: int, kalshi_no_ask: int, size: int = 10,
          router: BookRouter | None = None) -> None:
    """Snapshot all three books so that the poly-YES + Kalshi-NO asks are the given cents (and
    nothing else crosses); the other sides sit 2 cents under their complements."""
    now = trio.current_time()
    q = contracts(size)
    k_no_ask, p_yes_ask = cents(kalshi_no_ask), cents(poly_yes_ask)
    # Kalshi: the NO ask is 1 - best YES bid; keep the YES ask (1 - NO bid) expensive.
    books.kalshi.apply_snapshot([(Price(ONE - k_no_ask), q)],
                                [(Price(ONE - k_no_ask - cents(10)), q)], received_at=now)
    books.poly_yes.apply_snapshot([(Price(p_yes_ask - cents(2)), q)], [(p_yes_ask, q)],
                                  received_at=now)
    no_ask = Price(min(ONE - CENT, ONE - p_yes_ask + cents(8)))
    books.poly_no.apply_snapshot([(Price(no_ask - cents(2)), q)], [(no_ask, q)], received_at=now)
    if router is not None:
        for venue, key in sorted(books.keys, key=str):
            router.book_changed(venue, key)


def touch(books: PairBooks) -> None:
    """Refresh every book's receive time (a quiet but live feed)."""
    now = trio.current_time()
    for book in (books.kalshi, books.poly_yes, books.poly_no):
        book.received_at = now


def virtual_ms() -> int:
    """Trio's virtual clock in ms (0 outside a run), so ledger ages follow ``autojump_clock``."""
    try:
        return int(trio.current_time() * 1000)
    except RuntimeError:
        return 0


DEFAULT_LIMITS = RiskLimits(
    max_market=usd(500), max_event=usd(800), max_total=usd(2000), max_venue=usd(1500),
    min_trade=usd(1), max_trade=usd(400), max_daily_loss=usd(50))

DEFAULT_MARKET = MarketParams()

FAST_LEGS = LegParams(poll_s=0.5, unknown_budget_s=5.0, delayed_budget_s=10.0,
                      not_found_after_s=2.0, confirm_budget_s=20.0)


@attrs.define(eq=False)
class Rig:
    """The real actors wired over fakes: risk, router, fill router, desk, reconciler, alerts."""

    ledger: Ledger
    alerts: AlertHub
    risk: RiskActor
    router: BookRouter
    fills: FillRouter
    desk: OrderDesk
    reconciler: Reconciler
    kalshi: FakeVenue
    poly: FakeVenue
    halts: trio.MemoryReceiveChannel[Halt]
    timeline: list[tuple[float, str, str]]
    nursery: trio.Nursery

    def venue(self, venue: Venue) -> FakeVenue:
        return self.kalshi if venue is Venue.KALSHI else self.poly

    def market(self, pair: MarketPair, books: PairBooks,
               params: MarketParams = DEFAULT_MARKET, ids: str = "t") -> MarketActor:
        counter = itertools.count(1)
        return MarketActor(pair, books, self.router.subscribe(books.keys),
                           edge_detector(EdgeParams()), self.desk, params,
                           lambda: f"{ids}{pair.kalshi.ticker[-2:]}-{next(counter)}")

    async def settle(self, seconds: float = 60.0) -> None:
        """Let virtual time run on: every execution, query schedule and repair ends well
        within a minute under the rig's parameters."""
        await trio.sleep(seconds)

    def kinds(self) -> list[str]:
        return [a.kind for a in self.alerts.history()]

    def submits(self) -> list[tuple[float, str, str]]:
        return [e for e in self.timeline if e[1].endswith("submit")]


@contextlib.asynccontextmanager
async def open_rig(path: Path, *, limits: RiskLimits = DEFAULT_LIMITS,
                   legs: LegParams = FAST_LEGS, user_stream: bool = True,
                   reconcile_first: bool = True, today: object = None) -> AsyncIterator[Rig]:
    """Start the risk actor (and, by default, run the startup reconciliation pass)."""
    ledger = Ledger.open(path / "ledger.sqlite", mode="paper", clock_ms=virtual_ms)
    try:
        alerts = AlertHub()
        client, inbox = open_risk_channel()
        halt_send, halt_receive = trio.open_memory_channel[Halt](1)
        kwargs = {} if today is None else {"today": today}
        risk = RiskActor(limits, ledger, inbox, halt_send, alerts, **kwargs)
        router = BookRouter()
        fills = FillRouter(ledger)
        timeline: list[tuple[float, str, str]] = []
        kalshi = FakeVenue(Venue.KALSHI, timeline, user=fills if user_stream else None)
        poly = FakeVenue(Venue.POLYMARKET, timeline, user=fills if user_stream else None)
        venues = {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly}
        desk = OrderDesk(venues, ledger, client, fills, alerts, legs)
        reconciler = Reconciler(venues, ledger, client, fills, alerts,
                                ReconcileParams(interval_s=30.0, not_found_after_s=2.0),
                                clock_ms=virtual_ms)
        async with trio.open_nursery() as nursery:
            await nursery.start(risk.serve)
            rig = Rig(ledger, alerts, risk, router, fills, desk, reconciler, kalshi, poly,
                      halt_receive, timeline, nursery)
            if reconcile_first:
                await reconciler.reconcile()
                await trio.testing.wait_all_tasks_blocked()
            yield rig
            nursery.cancel_scope.cancel()
    finally:
        ledger.close()


FAST_SUPERVISION = SupervisorParams(restart_delay_s=1.0)


@attrs.define(eq=False)
class Bot:
    """A whole supervisor over fake venues and a real ledger (not started)."""

    supervisor: Supervisor
    ledger: Ledger
    kalshi: FakeVenue
    poly: FakeVenue
    risk_client: RiskClient
    timeline: list[tuple[float, str, str]]

    def kinds(self) -> list[str]:
        return [a.kind for a in self.supervisor.alerts.history()]


def build_bot(path: Path, markets: Sequence[MarketSpec], *,
              params: SupervisorParams = FAST_SUPERVISION,
              market: MarketParams = DEFAULT_MARKET,
              limits: RiskLimits = DEFAULT_LIMITS) -> Bot:
    ledger = Ledger.open(path / "ledger.sqlite", mode="paper", clock_ms=virtual_ms)
    alerts = AlertHub()
    client, inbox = open_risk_channel()
    halt_send, halt_receive = trio.open_memory_channel[Halt](1)
    risk = RiskActor(limits, ledger, inbox, halt_send, alerts)
    fills = FillRouter(ledger)
    timeline: list[tuple[float, str, str]] = []
    kalshi = FakeVenue(Venue.KALSHI, timeline, user=fills)
    poly = FakeVenue(Venue.POLYMARKET, timeline, user=fills)
    venues = {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly}
    desk = OrderDesk(venues, ledger, client, fills, alerts, FAST_LEGS)
    reconciler = Reconciler(venues, ledger, client, fills, alerts,
                            ReconcileParams(interval_s=30.0, not_found_after_s=2.0),
                            clock_ms=virtual_ms)
    counter = itertools.count(1)
    supervisor = Supervisor(desk, risk, BookRouter(), reconciler, alerts, halt_receive,
                            markets, market, (), params, lambda: f"s{next(counter)}")
    return Bot(supervisor, ledger, kalshi, poly, client, timeline)


DETECT = edge_detector(EdgeParams())


def spec(n: int, event: str, detect=DETECT) -> MarketSpec:
    pair = make_pair(n, event=event)
    books = make_books(pair)
    quote(books, poly_yes_ask=40, kalshi_no_ask=50)
    return MarketSpec(pair, books, detect)


def flatten_on_trade(bot, specs) -> None:
    """Our trades take the liquidity, as the real feeds would then show."""
    by_market = {}
    for s in specs:
        by_market[s.pair.kalshi.ticker] = s.books
        by_market[s.pair.poly.condition_id] = s.books

    def on_trade(fill):
        quote(by_market[fill.instrument.market], poly_yes_ask=60, kalshi_no_ask=50)

    bot.kalshi.on_trade = on_trade
    bot.poly.on_trade = on_trade


def keep_fresh(specs):
    """A live but quiet feed: books keep their receive time current."""
    async def run():
        while True:
            for s in specs:
                for book in (s.books.kalshi, s.books.poly_yes, s.books.poly_no):
                    book.received_at = trio.current_time()
            await trio.sleep(0.05)
    return run
