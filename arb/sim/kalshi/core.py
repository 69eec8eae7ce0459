# Design note: the simulated Kalshi exchange's core (the matcher and the accounts).
#
# Problem: the bot must be tested against an exchange that behaves like Kalshi's in every way an
# arbitrage leg can notice: V2 order entry on a single YES book, buy-NO expressed as a YES ask at
# 1 - q, crossing at the resting order's price, IOC/FOK/GTC, post-only, self-trade prevention,
# per-fill fees with Kalshi's centicent rounding and per-order accumulator, netted positions,
# cent-aligned balances, pauses and closed markets.
# Naive approach: two books (YES and NO) and a fill price of the taker's limit. That double-counts
# liquidity (a NO bid IS a YES ask), lets YES and NO orders fail to cross, and overpays takers, so
# every edge measured against it would be wrong.
# Chosen approach: a plain synchronous state machine (no I/O, no trio, an injected millisecond
# clock). One ``YesBook`` per market with price-time priority; every order is stored in V2 terms
# (``book_side`` bid/ask, YES ``price``). A fill moves the taker's and the maker's cash by the
# exact contract cost and the fee of ``fees.charge_fill``; positions are signed YES counts and a
# YES/NO pair nets to $1 paid out immediately (Kalshi nets positions). Collateral for resting
# orders is reserved: the available balance is cash minus the cost-plus-fee bound of every
# resting order. Every state change is published synchronously as an event value to registered
# listeners (the websocket layer), in the order it happened, so a listener that snapshots the
# book and then receives deltas never misses or double-applies one.
# Left out: amend/decrease, order groups, subaccount transfers, per-shard balances beyond shard 0,
# settlement disputes. Venue facts relied on: venues.md A3, A4.2, A5.1, A6, A8, A10.
from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import attrs
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from arb.domain import TimeInForce
from arb.money import CENT, ONE, SCALE, Money, Price, Qty, Round, div_round, format_fixed, mul
from arb.sim.kalshi import errors
from arb.sim.kalshi.book import ASK, BID, YesBook
from arb.sim.kalshi.errors import KalshiApiError, bad_request, not_found
from arb.sim.kalshi.fees import charge_fill, fee_coefficient, order_fee_bound, trade_fee
from arb.sim.listing import KalshiEvent, KalshiMarket, KalshiSeries

COUNT_STEP = Qty(SCALE // 100)
"""0.01 contract: the finest count Kalshi accepts."""
STP_TYPES = ("taker_at_cross", "maker")
RESTING, CANCELED, EXECUTED = "resting", "canceled", "executed"


def wall_clock_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


# ---- values ---------------------------------------------------------------------------------


@attrs.frozen
class NewOrder:
    """A V2 order request in exchange terms (what ``POST /portfolio/events/orders`` carries)."""

    ticker: str
    book_side: str
    """``bid`` buys YES; ``ask`` sells YES (= buys NO at 1 - price)."""
    price: Price
    """YES price."""
    count: Qty
    time_in_force: TimeInForce = TimeInForce.GTC
    self_trade_prevention: str = "taker_at_cross"
    client_order_id: str | None = None
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    expiration_s: int | None = None
    """Unix seconds; only with GTC."""
    subaccount: int = 0


@attrs.define(eq=False)
class SimOrder:
    order_id: str
    user_id: str
    ticker: str
    book_side: str
    price: Price
    initial: Qty
    remaining: Qty
    time_in_force: TimeInForce
    self_trade_prevention: str
    client_order_id: str
    post_only: bool
    cancel_order_on_pause: bool
    expiration_ms: int | None
    subaccount: int
    created_ms: int
    updated_ms: int
    status: str = RESTING
    filled: Qty = Qty(0)
    taker_fill_cost: Money = Money(0)
    maker_fill_cost: Money = Money(0)
    taker_fees: Money = Money(0)
    maker_fees: Money = Money(0)
    fee_accumulator: Money = Money(0)
    fill_value: int = 0
    """Sum of YES price x count over fills (micro-dollars), for the average fill price."""
    reserved: Money = Money(0)
    """Collateral held for the resting remainder (cost plus the fee bound)."""

    @property
    def outcome_side(self) -> str:
        return "yes" if self.book_side == BID else "no"

    @property
    def leg_price(self) -> Price:
        """Price of the contract this order buys: YES price for a bid, NO price for an ask."""
        return self.price if self.book_side == BID else Price(ONE - self.price)


@attrs.frozen
class SimFill:
    trade_id: str
    order_id: str
    user_id: str
    ticker: str
    book_side: str
    price: Price
    """YES price of the trade (the resting order's price)."""
    count: Qty
    is_taker: bool
    fee_cost: Money
    client_order_id: str
    subaccount: int
    post_position: Qty
    ts_ms: int
    seq: int
    """Exchange-wide fill sequence: orders fills for listing and cursors."""

    @property
    def outcome_side(self) -> str:
        return "yes" if self.book_side == BID else "no"


@attrs.define(eq=False)
class SimPosition:
    ticker: str
    position: Qty = Qty(0)
    """Signed: + YES contracts, - NO contracts."""
    exposure: Money = Money(0)
    """Cost of the contracts currently held."""
    realized_pnl: Money = Money(0)
    fees_paid: Money = Money(0)
    total_traded: Money = Money(0)
    volume: Qty = Qty(0)
    """Contracts traded in this market, both directions."""
    updated_ms: int = 0


@attrs.define(eq=False)
class SimAccount:
    user_id: str
    key_id: str | None
    public_key: RSAPublicKey | None
    cash: Money
    orders: dict[str, SimOrder] = attrs.Factory(dict)
    """By order id, in creation order."""
    resting: dict[str, SimOrder] = attrs.Factory(dict)
    """The account's resting orders (their collateral is reserved)."""
    reserved: Money = Money(0)
    """Sum of the resting orders' ``reserved``."""
    client_ids: set[str] = attrs.Factory(set)
    fills: list[SimFill] = attrs.Factory(list)
    positions: dict[str, SimPosition] = attrs.Factory(dict)
    updated_ms: int = 0


@attrs.define(eq=False)
class SimMarket:
    listing: KalshiMarket
    series: KalshiSeries
    market_id: str
    status: str
    book: YesBook = attrs.Factory(YesBook)
    close_ms: int = 0
    open_ms: int = 0
    created_ms: int = 0
    updated_ms: int = 0
    last_price: Price = Price(0)
    last_trade_size: Qty = Qty(0)
    volume: Qty = Qty(0)
    traded_value: Money = Money(0)
    """Dollars traded (YES price x count), micro-dollars."""
    open_interest: Qty = Qty(0)
    result: str = ""

    @property
    def ticker(self) -> str:
        return self.listing.ticker


@attrs.frozen
class PlaceResult:
    order: SimOrder
    fill_count: Qty
    fill_value: int
    """Sum of YES price x count of this placement's fills, micro-dollars."""
    fees: Money


# ---- events published to listeners -----------------------------------------------------------


@attrs.frozen
class BookChanged:
    """A level of the public book changed. ``side`` ``yes`` = YES bids at ``price``; ``no`` = NO
    bids at ``price`` (NO-leg price; the same liquidity as YES asks at 1 - price)."""

    ticker: str
    market_id: str
    side: str
    price: Price
    delta: Qty
    ts_ms: int
    user_id: str
    """Whose order caused the change."""
    client_order_id: str
    subaccount: int


@attrs.frozen
class FillHappened:
    fill: SimFill


@attrs.frozen
class OrderUpdated:
    order: SimOrder
    """A copy taken at the moment of the change."""


@attrs.frozen
class TradeHappened:
    ticker: str
    market_id: str
    trade_id: str
    price: Price
    count: Qty
    taker_book_side: str
    ts_ms: int


@attrs.frozen
class MarketLifecycle:
    ticker: str
    market_id: str
    event_type: str
    """``activated``, ``deactivated``, ``close_date_updated``, ``determined``, ``settled``."""
    ts_ms: int


ExchangeEvent = BookChanged | FillHappened | OrderUpdated | TradeHappened | MarketLifecycle
Listener = Callable[[ExchangeEvent], None]


# ---- the exchange ----------------------------------------------------------------------------


@attrs.define(eq=False)
class KalshiExchange:
    """The simulated Kalshi exchange: listings, accounts, books, matching, fees, events.

    Every method is synchronous and takes time from ``clock`` (Unix milliseconds).
    Errors are ``KalshiApiError`` carrying the HTTP status and body the venue would answer.
    """

    clock: Callable[[], int] = wall_clock_ms
    seed: int = 0
    """Seeds order, trade and account ids so scenarios are reproducible."""
    series: dict[str, KalshiSeries] = attrs.Factory(dict)
    events: dict[str, KalshiEvent] = attrs.Factory(dict)
    markets: dict[str, SimMarket] = attrs.Factory(dict)
    accounts: dict[str, SimAccount] = attrs.Factory(dict)
    keys: dict[str, str] = attrs.Factory(dict)
    """Key id -> user id."""
    exchange_active: bool = True
    trading_active: bool = True
    faults: object | None = None
    """The ``KalshiFaults`` the front ends consult (created by ``faults.faults_of``)."""
    _listeners: list[Listener] = attrs.Factory(list)
    _rng: random.Random = attrs.field(init=False)
    _fill_seq: int = 0
    _resting: dict[str, SimOrder] = attrs.Factory(dict)
    """Every resting order by id (for pauses and closes)."""
    _expiring: dict[str, SimOrder] = attrs.Factory(dict)
    """Resting orders that carry an expiration time."""

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # -- identifiers, listeners --

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def add_listener(self, listener: Listener) -> None:
        """Register a synchronous, non-blocking callback for every event."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: ExchangeEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- listings --

    def add_series(self, series: KalshiSeries) -> None:
        self.series[series.ticker] = series

    def add_event(self, event: KalshiEvent) -> None:
        """List an event and its markets. Its series must be listed first."""
        series = self.series.get(event.series_ticker)
        if series is None:
            raise ValueError(f"event {event.event_ticker}: series {event.series_ticker!r} not listed")
        if event.event_ticker in self.events:
            raise ValueError(f"event {event.event_ticker} is already listed")
        now = self.clock()
        for listing in event.markets:
            if listing.ticker in self.markets:
                raise ValueError(f"market {listing.ticker} is already listed")
            if listing.event_ticker != event.event_ticker:
                raise ValueError(f"market {listing.ticker} belongs to {listing.event_ticker}, "
                                 f"not {event.event_ticker}")
        self.events[event.event_ticker] = event
        for listing in event.markets:
            self.markets[listing.ticker] = SimMarket(
                listing=listing, series=series,
                market_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"kalshi-sim:{listing.ticker}")),
                status=listing.status, close_ms=_ms(listing.close_time),
                open_ms=_ms(listing.open_time), created_ms=now, updated_ms=now)

    def market(self, ticker: str) -> SimMarket:
        market = self.markets.get(ticker)
        if market is None:
            raise not_found("market not found", f"ticker {ticker!r}")
        return market

    def market_status(self, market: SimMarket) -> str:
        """The response ``status``: the listed status, overridden by the clock."""
        if market.status == "active":
            now = self.clock()
            if now < market.open_ms:
                return "initialized"
            if now >= market.close_ms:
                return "closed"
        return market.status

    # -- accounts --

    def register_account(self, *, cash: Money, key_id: str | None = None,
                         public_key: RSAPublicKey | None = None, user_id: str | None = None) -> str:
        """Open an account with ``cash`` micro-dollars; with a key it can use the API.

        Returns the user id. House (market-maker) accounts need no key.
        """
        if (key_id is None) != (public_key is None):
            raise ValueError("key_id and public_key go together")
        if key_id is not None and key_id in self.keys:
            raise ValueError(f"key id {key_id} already registered")
        uid = user_id or self.new_id()
        if uid in self.accounts:
            raise ValueError(f"account {uid} already exists")
        self.accounts[uid] = SimAccount(user_id=uid, key_id=key_id, public_key=public_key,
                                        cash=cash, updated_ms=self.clock())
        if key_id is not None:
            self.keys[key_id] = uid
        return uid

    def account(self, user_id: str) -> SimAccount:
        acct = self.accounts.get(user_id)
        if acct is None:
            raise KeyError(f"no account {user_id}")
        return acct

    def account_for_key(self, key_id: str) -> SimAccount | None:
        uid = self.keys.get(key_id)
        return self.accounts.get(uid) if uid else None

    def deposit(self, user_id: str, amount: Money) -> None:
        self.account(user_id).cash = Money(self.account(user_id).cash + amount)

    def reserved(self, acct: SimAccount) -> Money:
        """Collateral held for the account's resting orders."""
        return acct.reserved

    def available(self, acct: SimAccount) -> Money:
        return Money(acct.cash - self.reserved(acct))

    def portfolio_value(self, acct: SimAccount) -> Money:
        """Value of open positions at cost (what Kalshi calls market exposure)."""
        return Money(sum(p.exposure for p in acct.positions.values()))

    def _reserve(self, order: SimOrder) -> None:
        """Re-derive the collateral held for ``order`` after it rested, filled or left."""
        acct = self.accounts[order.user_id]
        held = Money(0)
        if order.status == RESTING and order.remaining:
            cost = mul(order.leg_price, order.remaining, Round.UP)
            held = Money(cost + order_fee_bound(order.remaining, order.price,
                                                self.markets[order.ticker].series.fee_multiplier))
        acct.reserved = Money(acct.reserved + held - order.reserved)
        order.reserved = held

    # -- exchange state --

    def set_trading_active(self, active: bool) -> None:
        """Trading pause (``trading_active=false``): new orders rejected, cancels allowed.

        Resting orders flagged ``cancel_order_on_pause`` are cancelled when the pause starts.
        """
        self.trading_active = active
        if not active:
            for order in list(self._resting.values()):
                if order.status == RESTING and order.cancel_order_on_pause:
                    self._cancel_resting(order, self.clock())

    def set_market_status(self, ticker: str, status: str) -> None:
        """Move a market between ``active`` and ``inactive`` (pause), or to ``closed``.

        Reactivating a paused market cancels its resting orders, as Kalshi does.
        """
        market = self.market(ticker)
        now = self.clock()
        previous = market.status
        market.status = status
        market.updated_ms = now
        if status == "active" and previous == "inactive":
            self._cancel_market_orders(market, now)
            self._emit(MarketLifecycle(ticker, market.market_id, "activated", now))
        elif status == "inactive":
            self._emit(MarketLifecycle(ticker, market.market_id, "deactivated", now))
        elif status == "closed":
            market.close_ms = min(market.close_ms, now)
            self._cancel_market_orders(market, now)
            self._emit(MarketLifecycle(ticker, market.market_id, "close_date_updated", now))

    def settle(self, ticker: str, result: str) -> None:
        """Determine and settle a market: $1 per winning contract, no settlement fee."""
        if result not in ("yes", "no"):
            raise ValueError(f"result must be yes or no, got {result!r}")
        market = self.market(ticker)
        now = self.clock()
        self._cancel_market_orders(market, now)
        market.status, market.result = "finalized", result
        market.updated_ms = now
        self._emit(MarketLifecycle(ticker, market.market_id, "determined", now))
        for acct in self.accounts.values():
            pos = acct.positions.get(ticker)
            if pos is None or pos.position == 0:
                continue
            won = (pos.position > 0) == (result == "yes")
            payout = Money(abs(pos.position)) if won else Money(0)
            acct.cash = Money(acct.cash + payout)
            pos.realized_pnl = Money(pos.realized_pnl + payout - pos.exposure)
            pos.position, pos.exposure, pos.updated_ms = Qty(0), Money(0), now
        market.open_interest = Qty(0)
        self._emit(MarketLifecycle(ticker, market.market_id, "settled", now))

    def tick(self) -> None:
        """Expire orders past their expiration and cancel resting orders on closed markets."""
        now = self.clock()
        for market in self.markets.values():
            if now >= market.close_ms and (market.book.bids.prices or market.book.asks.prices):
                self._cancel_market_orders(market, now)
        for order in list(self._expiring.values()):
            if order.status == RESTING and now >= (order.expiration_ms or 0):
                self._cancel_resting(order, now)

    # -- order entry --

    def place_order(self, user_id: str, req: NewOrder) -> PlaceResult:
        """Validate, match and (for GTC) rest an order, as ``POST /portfolio/events/orders``."""
        self.tick()
        now = self.clock()
        acct = self.account(user_id)
        if not self.exchange_active or not self.trading_active:
            raise KalshiApiError(400, errors.TRADING_PAUSED, "trading is paused",
                                 "exchange trading_active is false")
        market = self.market(req.ticker)
        if self.market_status(market) != "active":
            raise KalshiApiError(400, errors.MARKET_INACTIVE, "market is not active",
                                 f"ticker {req.ticker} status {self.market_status(market)}")
        self._validate(req, market, acct, now)
        count = req.count
        if req.reduce_only:
            count = self._reduce_only_cap(acct, req)
        client_id = req.client_order_id or self.new_id()
        order = SimOrder(
            order_id=self.new_id(), user_id=user_id, ticker=req.ticker, book_side=req.book_side,
            price=req.price, initial=count, remaining=count, time_in_force=req.time_in_force,
            self_trade_prevention=req.self_trade_prevention, client_order_id=client_id,
            post_only=req.post_only, cancel_order_on_pause=req.cancel_order_on_pause,
            expiration_ms=req.expiration_s * 1000 if req.expiration_s is not None else None,
            subaccount=req.subaccount, created_ms=now, updated_ms=now)
        if req.client_order_id is not None:
            acct.client_ids.add(req.client_order_id)
        acct.orders[order.order_id] = order
        return self._execute(order, market, acct, now)

    def _validate(self, req: NewOrder, market: SimMarket, acct: SimAccount, now: int) -> None:
        self._validate_terms(req, market)
        self._validate_entry(req, market, acct, now)

    @staticmethod
    def _validate_terms(req: NewOrder, market: SimMarket) -> None:
        """Side, STP, count and price checks shared by new and amended orders."""
        if req.book_side not in (BID, ASK):
            raise bad_request("side must be bid or ask", f"side {req.book_side!r}")
        if req.self_trade_prevention not in STP_TYPES:
            raise bad_request("invalid self_trade_prevention_type",
                              f"self_trade_prevention_type {req.self_trade_prevention!r}")
        if req.count <= 0 or req.count % COUNT_STEP:
            raise bad_request("count must be positive with at most 2 decimals",
                              f"count {req.count / SCALE} on {req.ticker}")
        if not market.listing.fractional_trading_enabled and req.count % SCALE:
            raise bad_request("fractional contracts are not enabled on this market",
                              f"count {req.count / SCALE} on {req.ticker}")
        if not 0 < req.price < ONE or not _on_grid(market.listing, req.price):
            raise bad_request("price is not on the market's price grid",
                              f"price {req.price / SCALE} on {req.ticker} "
                              f"({market.listing.price_level_structure})")

    def _validate_entry(self, req: NewOrder, market: SimMarket, acct: SimAccount,
                        now: int) -> None:
        """Checks only a new order needs: expiry, post-only, idempotency key, collateral."""
        if req.expiration_s is not None:
            if req.time_in_force is not TimeInForce.GTC:
                raise bad_request("expiration_time is only allowed with good_till_canceled",
                                  f"time_in_force {req.time_in_force.value}")
            if req.expiration_s * 1000 <= now:
                raise bad_request("Expiration timestamp must be in the future",
                                  f"expiration_time {req.expiration_s}")
        if req.post_only and req.time_in_force is not TimeInForce.GTC:
            raise bad_request("post_only is only allowed with good_till_canceled",
                              f"time_in_force {req.time_in_force.value}")
        if req.client_order_id is not None and req.client_order_id in acct.client_ids:
            raise KalshiApiError(409, errors.CONFLICT, "order with this client_order_id already "
                                 "exists", f"client_order_id {req.client_order_id!r}")
        if req.post_only and self._crosses(market, req.book_side, req.price):
            raise KalshiApiError(400, errors.POST_ONLY_CROSS, "post only order would cross",
                                 f"{req.book_side} at {req.price / SCALE} on {req.ticker}")
        if not req.reduce_only:
            leg = req.price if req.book_side == BID else Price(ONE - req.price)
            pos = acct.positions.get(req.ticker)
            held_opposite = 0
            if pos is not None:
                held_opposite = -pos.position if req.book_side == BID else pos.position
            opening = Qty(max(0, req.count - max(0, held_opposite)))
            needed = mul(leg, opening, Round.UP) + order_fee_bound(
                req.count, req.price, market.series.fee_multiplier)
            if needed > self.available(acct):
                raise KalshiApiError(400, errors.INSUFFICIENT_BALANCE, "insufficient balance",
                                     f"order needs {needed / SCALE:.4f} USD, available "
                                     f"{self.available(acct) / SCALE:.4f} USD")

    @staticmethod
    def _reduce_only_cap(acct: SimAccount, req: NewOrder) -> Qty:
        pos = acct.positions.get(req.ticker)
        held = 0 if pos is None else (-pos.position if req.book_side == BID else pos.position)
        if held <= 0:
            raise bad_request("reduce_only order would increase the position",
                              f"{req.book_side} on {req.ticker}")
        return Qty(min(req.count, held))

    @staticmethod
    def _crosses(market: SimMarket, book_side: str, price: Price) -> bool:
        if book_side == BID:
            best = market.book.best_ask()
            return best is not None and best <= price
        best = market.book.best_bid()
        return best is not None and best >= price

    def _execute(self, order: SimOrder, market: SimMarket, acct: SimAccount,
                 now: int) -> PlaceResult:
        fills_before = order.filled
        value_before, fees_before = order.fill_value, order.taker_fees
        if order.time_in_force is TimeInForce.FOK:
            available = sum(r.remaining for r in market.book.crossing(order.book_side, order.price)
                            if r.user_id != order.user_id)
            if available < order.remaining:
                return self._finish(order, market, now, fills_before, value_before, fees_before,
                                    rest=False)
        stopped = False
        for resting in market.book.crossing(order.book_side, order.price):
            if order.remaining == 0:
                break
            if resting.user_id == order.user_id:
                if order.self_trade_prevention == "taker_at_cross":
                    stopped = True
                    break
                self._cancel_resting(resting, now)
                continue
            self._match(order, resting, market, now)
        rest = order.time_in_force is TimeInForce.GTC and not stopped
        return self._finish(order, market, now, fills_before, value_before, fees_before, rest=rest)

    def _finish(self, order: SimOrder, market: SimMarket, now: int, fills_before: Qty,
                value_before: int, fees_before: Money, *, rest: bool) -> PlaceResult:
        if order.remaining == 0:
            order.status = EXECUTED
        elif rest:
            market.book.add(order)
            self._resting[order.order_id] = order
            self.accounts[order.user_id].resting[order.order_id] = order
            if order.expiration_ms is not None:
                self._expiring[order.order_id] = order
            self._reserve(order)
            self._emit_level(market, order, order.remaining, now, order)
        else:
            order.remaining = Qty(0)
            order.status = CANCELED
        order.updated_ms = now
        self._emit(OrderUpdated(attrs.evolve(order)))
        return PlaceResult(order=order, fill_count=Qty(order.filled - fills_before),
                           fill_value=order.fill_value - value_before,
                           fees=Money(order.taker_fees - fees_before))

    def _match(self, taker: SimOrder, maker: SimOrder, market: SimMarket, now: int) -> None:
        count = Qty(min(taker.remaining, maker.remaining))
        price = maker.price
        trade_id = self.new_id()
        maker.remaining = Qty(maker.remaining - count)
        if maker.remaining == 0:
            market.book.remove(maker)
        self._emit_level(market, maker, Qty(-count), now, taker)
        taker.remaining = Qty(taker.remaining - count)
        for order, is_taker in ((taker, True), (maker, False)):
            self._book_fill(order, is_taker, count, price, market, trade_id, now)
        market.last_price, market.last_trade_size = price, count
        market.volume = Qty(market.volume + count)
        market.traded_value = Money(market.traded_value + mul(price, count, Round.UP))
        market.updated_ms = now
        self._emit(TradeHappened(market.ticker, market.market_id, trade_id, price, count,
                                 taker.book_side, now))
        if maker.remaining == 0:
            maker.status = EXECUTED
            del self._resting[maker.order_id]
            del self.accounts[maker.user_id].resting[maker.order_id]
            self._expiring.pop(maker.order_id, None)
        self._reserve(maker)
        maker.updated_ms = now
        self._emit(OrderUpdated(attrs.evolve(maker)))

    def _book_fill(self, order: SimOrder, is_taker: bool, count: Qty, price: Price,
                   market: SimMarket, trade_id: str, now: int) -> None:
        acct = self.accounts[order.user_id]
        leg_price = price if order.book_side == BID else Price(ONE - price)
        cost = mul(leg_price, count, Round.UP)
        coefficient = fee_coefficient(market.series.fee_type, is_taker=is_taker)
        fee = trade_fee(coefficient, market.series.fee_multiplier, count, price)
        charge = charge_fill(Money(-cost), fee, order.fee_accumulator)
        order.fee_accumulator = charge.accumulator
        order.filled = Qty(order.filled + count)
        order.fill_value += mul(price, count, Round.UP)
        if is_taker:
            order.taker_fill_cost = Money(order.taker_fill_cost + cost)
            order.taker_fees = Money(order.taker_fees + charge.net_fee)
        else:
            order.maker_fill_cost = Money(order.maker_fill_cost + cost)
            order.maker_fees = Money(order.maker_fees + charge.net_fee)
        acct.cash = Money(acct.cash + charge.balance_change)
        pos = acct.positions.setdefault(order.ticker, SimPosition(order.ticker))
        long_before = max(pos.position, 0)
        netted = self._apply_position(pos, order.book_side, count, leg_price)
        # Open interest = contracts outstanding = the sum of every long YES position.
        market.open_interest = Qty(market.open_interest + max(pos.position, 0) - long_before)
        acct.cash = Money(acct.cash + netted)
        pos.fees_paid = Money(pos.fees_paid + charge.net_fee)
        pos.realized_pnl = Money(pos.realized_pnl - charge.net_fee)
        pos.total_traded = Money(pos.total_traded + cost)
        pos.volume = Qty(pos.volume + count)
        pos.updated_ms = acct.updated_ms = now
        self._fill_seq += 1
        fill = SimFill(trade_id=trade_id, order_id=order.order_id, user_id=order.user_id,
                       ticker=order.ticker, book_side=order.book_side, price=price, count=count,
                       is_taker=is_taker, fee_cost=charge.net_fee,
                       client_order_id=order.client_order_id, subaccount=order.subaccount,
                       post_position=pos.position, ts_ms=now, seq=self._fill_seq)
        acct.fills.append(fill)
        self._emit(FillHappened(fill))

    @staticmethod
    def _apply_position(pos: SimPosition, book_side: str, count: Qty, leg_price: Price) -> Money:
        """Add ``count`` contracts bought at ``leg_price`` to a netted position.

        Returns the cash paid out by netting: each YES+NO pair is worth exactly $1.
        """
        direction = 1 if book_side == BID else -1
        held = pos.position * direction
        if held >= 0:
            pos.exposure = Money(pos.exposure + mul(leg_price, count, Round.UP))
            pos.position = Qty(pos.position + direction * count)
            return Money(0)
        closing = Qty(min(count, -held))
        closed_cost = div_round(pos.exposure * closing, -held, Round.DOWN)
        pos.exposure = Money(pos.exposure - closed_cost)
        payout = Money(closing)
        pos.realized_pnl = Money(pos.realized_pnl + payout - closed_cost
                                 - mul(leg_price, closing, Round.UP))
        opening = Qty(count - closing)
        pos.exposure = Money(pos.exposure + mul(leg_price, opening, Round.UP))
        pos.position = Qty(pos.position + direction * count)
        return payout

    def _emit_level(self, market: SimMarket, order: SimOrder, delta: Qty, now: int,
                    cause: SimOrder) -> None:
        if order.book_side == BID:
            side, price = "yes", order.price
        else:
            side, price = "no", Price(ONE - order.price)
        self._emit(BookChanged(market.ticker, market.market_id, side, price, delta, now,
                               cause.user_id, cause.client_order_id, cause.subaccount))

    # -- cancels --

    def cancel_order(self, user_id: str, order_id: str) -> tuple[SimOrder, Qty]:
        """Cancel a resting order; returns the order and the count it was reduced by."""
        self.tick()
        acct = self.account(user_id)
        order = acct.orders.get(order_id)
        if order is None:
            raise not_found("order not found", f"order_id {order_id}")
        market = self.markets[order.ticker]
        if self.market_status(market) == "closed" or market.status in ("closed", "finalized"):
            raise KalshiApiError(400, errors.MARKET_INACTIVE, "market is not active",
                                 f"ticker {order.ticker} is closed")
        if not self.exchange_active:
            raise KalshiApiError(400, errors.TRADING_PAUSED, "exchange is paused",
                                 "exchange_active is false")
        if order.status != RESTING:
            raise not_found("order is not resting", f"order_id {order_id} is {order.status}")
        reduced = order.remaining
        self._cancel_resting(order, self.clock())
        return order, reduced

    def _resting_order(self, user_id: str, order_id: str) -> tuple[SimOrder, SimMarket]:
        """A resting order the member may modify (the market must still be trading)."""
        order = self.find_order(user_id, order_id)
        market = self.markets[order.ticker]
        if self.market_status(market) != "active":
            raise KalshiApiError(400, errors.MARKET_INACTIVE, "market is not active",
                                 f"ticker {order.ticker} status {self.market_status(market)}")
        if order.status != RESTING:
            raise not_found("order is not resting", f"order_id {order_id} is {order.status}")
        return order, market

    def decrease_order(self, user_id: str, order_id: str, *, reduce_by: Qty | None = None,
                       reduce_to: Qty | None = None) -> SimOrder:
        """Shrink a resting order in place (queue priority kept); to zero cancels it."""
        self.tick()
        if (reduce_by is None) == (reduce_to is None):
            raise bad_request("exactly one of reduce_by and reduce_to is required")
        order, market = self._resting_order(user_id, order_id)
        target = Qty(order.remaining - reduce_by) if reduce_by is not None else reduce_to
        assert target is not None
        if not 0 <= target < order.remaining or target % COUNT_STEP:
            raise bad_request("invalid decrease", f"order {order_id} has "
                              f"{order.remaining / SCALE} remaining; asked for {target / SCALE}")
        now = self.clock()
        if target == 0:
            self._cancel_resting(order, now)
            return order
        delta = Qty(order.remaining - target)
        order.remaining = target
        order.updated_ms = now
        self._reserve(order)
        self._emit_level(market, order, Qty(-delta), now, order)
        self._emit(OrderUpdated(attrs.evolve(order)))
        return order

    def amend_order(self, user_id: str, order_id: str, *, ticker: str, book_side: str,
                    price: Price, count: Qty, updated_client_order_id: str | None = None) -> SimOrder:
        """Change a resting order's price and/or total size (``count`` = filled + remaining).

        A pure size decrease keeps queue priority; anything else re-enters the book at the back
        and may trade immediately at the new price.
        """
        self.tick()
        if not self.exchange_active or not self.trading_active:
            raise KalshiApiError(400, errors.TRADING_PAUSED, "trading is paused",
                                 "exchange trading_active is false")
        order, market = self._resting_order(user_id, order_id)
        if (ticker, book_side) != (order.ticker, order.book_side):
            raise bad_request("ticker and side must match the order",
                              f"order {order_id} is {order.book_side} on {order.ticker}")
        acct = self.accounts[user_id]
        if updated_client_order_id is not None and updated_client_order_id in acct.client_ids:
            raise KalshiApiError(409, errors.CONFLICT, "order with this client_order_id already "
                                 "exists", f"client_order_id {updated_client_order_id!r}")
        probe = NewOrder(ticker, book_side, price, count, TimeInForce.GTC,
                         order.self_trade_prevention)
        self._validate_terms(probe, market)
        remaining = Qty(count - order.filled)
        if remaining <= 0:
            raise bad_request("count must exceed the filled count",
                              f"order {order_id} has {order.filled / SCALE} filled")
        now = self.clock()
        if updated_client_order_id is not None:
            acct.client_ids.add(updated_client_order_id)
            order.client_order_id = updated_client_order_id
        if price == order.price and remaining <= order.remaining:
            if remaining < order.remaining:
                return self.decrease_order(user_id, order_id, reduce_to=remaining)
            return order
        leg = price if book_side == BID else Price(ONE - price)
        needed = mul(leg, remaining, Round.UP) + order_fee_bound(
            remaining, price, market.series.fee_multiplier)
        if needed > self.available(acct) + order.reserved:
            raise KalshiApiError(400, errors.INSUFFICIENT_BALANCE, "insufficient balance",
                                 f"amend needs {needed / SCALE:.4f} USD")
        old_remaining = order.remaining
        self._unbook(order)
        self._emit_level(market, order, Qty(-old_remaining), now, order)
        order.price, order.remaining, order.initial = price, remaining, count
        self._execute(order, market, acct, now)
        return order

    def _unbook(self, order: SimOrder) -> None:
        """Take a resting order off the book and release its collateral."""
        self.markets[order.ticker].book.remove(order)
        del self._resting[order.order_id]
        acct = self.accounts[order.user_id]
        del acct.resting[order.order_id]
        self._expiring.pop(order.order_id, None)
        acct.reserved = Money(acct.reserved - order.reserved)
        order.reserved = Money(0)

    def _cancel_resting(self, order: SimOrder, now: int) -> None:
        market = self.markets[order.ticker]
        reduced = order.remaining
        self._unbook(order)
        order.remaining = Qty(0)
        order.status = CANCELED
        order.updated_ms = now
        self._emit_level(market, order, Qty(-reduced), now, order)
        self._emit(OrderUpdated(attrs.evolve(order)))

    def _cancel_market_orders(self, market: SimMarket, now: int) -> None:
        for order in list(self._resting.values()):
            if order.status == RESTING and order.ticker == market.ticker:
                self._cancel_resting(order, now)

    # -- queries --

    def find_order(self, user_id: str, order_id: str) -> SimOrder:
        order = self.account(user_id).orders.get(order_id)
        if order is None:
            raise not_found("order not found", f"order_id {order_id}")
        return order

    def orderbook(self, ticker: str) -> tuple[list[tuple[Price, Qty]], list[tuple[Price, Qty]]]:
        """``(yes_bids, no_bids)``: each ``(leg_price, size)``, ascending by that leg's price."""
        book = self.market(ticker).book
        yes = book.levels(BID)
        no = sorted((Price(ONE - p), q) for p, q in book.levels(ASK))
        return yes, no


def _on_grid(listing: KalshiMarket, price: Price) -> bool:
    """A price is valid if some ``price_ranges`` band contains it on that band's step."""
    for band in listing.price_ranges:
        if band.start <= price <= band.end and (price - band.start) % band.step == 0:
            return True
    return False


def dollars(value: int) -> str:
    """Render micro-dollars as Kalshi does: 4 decimals, 6 when a value needs them."""
    return format_fixed(value, 4) if value % 100 == 0 else format_fixed(value, 6)


def cents_floor(value: Money) -> int:
    return div_round(value, CENT, Round.DOWN)
