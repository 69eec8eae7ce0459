# Design note: Kalshi wire JSON -> project values.
#
# Problem: since the 2026 fixed-point migration Kalshi carries prices as ``*_dollars`` strings
# (up to 6 decimals) and counts as ``*_fp`` strings (2 decimals); the old integer fields are simply
# absent, so a parser that still reads ``yes_price`` or ``count`` silently gets None or 0 (a
# public bot froze its books that way). Direction is a second trap: V2 speaks only of the YES leg
# (``book_side`` bid/ask), ``outcome_side`` tells the exposure, and the deprecated ``side`` /
# ``action`` may or may not still be sent.
#
# Choice: every field is read through ``_field`` / ``_price`` / ``_count`` helpers that raise
# ``WireError`` naming the message kind, the market and the field, so nothing is defaulted
# silently. JSON is decoded with ``parse_float=Decimal`` (never float). Legacy integer cents and
# counts are accepted only where venues.md says old payloads use them (REST orderbook ``orderbook``
# and the balance in cents). Direction: V2 fills and orders are reported as *buy outcome_side* at
# that outcome's price, unless the caller passes the intent of the order (our own order
# directory), in which case a fill on the same exposure is expressed in the intent's terms (a
# sell of YES at p instead of a buy of NO at 1 - p). Both are the same economic exposure.
#
# Venue facts (venues.md A4.2, A5, A6, A7): orderbook arrays are bids only, ascending (best last);
# REST ``no_dollars`` are NO-leg prices; V2 create returns fill_count/remaining_count and, only
# when filled, average_fill_price (YES-leg price: V2 quotes everything from the YES side,
# UNCERTAIN) and average_fee_paid (per contract); Order status is resting/canceled/executed;
# positions carry a signed ``position_fp`` (+ YES, - NO).
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.money import (
    ONE,
    Money,
    MoneyError,
    Price,
    Qty,
    Round,
    complement,
    div,
    money_from_cents,
    mul,
    parse_money,
    parse_price,
    parse_qty,
    parse_signed_qty,
    price_from_cents,
    qty_from_units,
)
from arb.venues.protocol import (
    Balance,
    Fill,
    FillStatus,
    OpenOrder,
    OrderResult,
    OrderStatus,
    Position,
    VenueStatus,
)

Level = tuple[Price, Qty]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class WireError(ValueError):
    """A Kalshi payload that does not have the documented shape; names the field and market."""


def loads(text: str | bytes, *, what: str) -> Any:
    """Decode JSON with every non-integer number as Decimal (a float never appears)."""
    try:
        return json.loads(text, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"kalshi {what}: body is not JSON ({exc})") from None


def _where(kind: str, d: Mapping[str, Any]) -> str:
    if not isinstance(d, Mapping):
        raise WireError(f"kalshi {kind}: expected an object, got {type(d).__name__}")
    ticker = d.get("market_ticker") or d.get("ticker")
    return f"kalshi {kind} {ticker}" if isinstance(ticker, str) else f"kalshi {kind}"


def _field(d: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(d, Mapping):
        raise WireError(f"{where}: expected an object, got {type(d).__name__}")
    try:
        return d[key]
    except KeyError:
        raise WireError(f"{where}: field {key!r} is missing") from None


def _str(d: Mapping[str, Any], key: str, where: str) -> str:
    value = _field(d, key, where)
    if not isinstance(value, str) or not value:
        raise WireError(f"{where}: field {key!r} must be a non-empty string, got {value!r}")
    return value


def _opt_str(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    return value if isinstance(value, str) and value else None


def _number(d: Mapping[str, Any], key: str, where: str, parse: Callable[..., int]) -> int:
    """``d[key]`` parsed with ``parse`` (an ``arb.money`` parser); a bad value is a WireError."""
    value = _field(d, key, where)
    try:
        return parse(value, what=f"{where} {key}")
    except MoneyError as exc:
        raise WireError(str(exc)) from None


def _price(d: Mapping[str, Any], key: str, where: str) -> Price:
    return Price(_number(d, key, where, parse_price))


def _count(d: Mapping[str, Any], key: str, where: str) -> Qty:
    return Qty(_number(d, key, where, parse_qty))


def _money(d: Mapping[str, Any], key: str, where: str) -> Money:
    return Money(_number(d, key, where, parse_money))


def _opt_money(d: Mapping[str, Any], key: str, where: str) -> Money:
    return _money(d, key, where) if d.get(key) not in (None, "") else Money(0)


def _int(d: Mapping[str, Any], key: str, where: str) -> int:
    value = _field(d, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"{where}: field {key!r} must be an integer, got {value!r}")
    return value


def _bool(d: Mapping[str, Any], key: str, where: str) -> bool:
    value = _field(d, key, where)
    if not isinstance(value, bool):
        raise WireError(f"{where}: field {key!r} must be a boolean, got {value!r}")
    return value


def parse_levels(levels: Any, where: str) -> list[Level]:
    """``[[price_dollars, count_fp], ...]`` -> [(Price, Qty)] (order preserved)."""
    if not isinstance(levels, list):
        raise WireError(f"{where}: levels must be a list, got {type(levels).__name__}")
    out: list[Level] = []
    for level in levels:
        if not isinstance(level, list) or len(level) != 2:
            raise WireError(f"{where}: level {level!r} is not a [price, count] pair")
        try:
            out.append((parse_price(level[0], what=f"{where} price"),
                        parse_qty(level[1], what=f"{where} count")))
        except MoneyError as exc:
            raise WireError(str(exc)) from None
    return out


# ---------------------------------------------------------------------------------------------
# Market data

@attrs.frozen
class RestOrderbook:
    """A REST orderbook: bids only, each outcome in its own prices, ascending (best last)."""

    ticker: str
    yes: tuple[Level, ...]
    no: tuple[Level, ...]


def parse_rest_orderbook(body: Mapping[str, Any], ticker: str) -> RestOrderbook:
    """``GET /markets/{ticker}/orderbook``: ``orderbook_fp`` (current) or ``orderbook`` (legacy)."""
    where = f"kalshi orderbook {ticker}"
    book = body.get("orderbook_fp") if isinstance(body, Mapping) else None
    if isinstance(book, Mapping):
        yes = parse_levels(book.get("yes_dollars") or [], f"{where} yes_dollars")
        no = parse_levels(book.get("no_dollars") or [], f"{where} no_dollars")
        return RestOrderbook(ticker, tuple(yes), tuple(no))
    legacy = body.get("orderbook") if isinstance(body, Mapping) else None
    if isinstance(legacy, Mapping):
        return RestOrderbook(ticker, tuple(_legacy_levels(legacy.get("yes"), f"{where} yes")),
                             tuple(_legacy_levels(legacy.get("no"), f"{where} no")))
    raise WireError(f"{where}: neither 'orderbook_fp' nor 'orderbook' in the response")


def _legacy_levels(levels: Any, where: str) -> list[Level]:
    if levels is None:
        return []
    if not isinstance(levels, list):
        raise WireError(f"{where}: levels must be a list, got {type(levels).__name__}")
    out: list[Level] = []
    for level in levels:
        if not isinstance(level, list) or len(level) != 2:
            raise WireError(f"{where}: level {level!r} is not a [cents, count] pair")
        try:
            out.append((price_from_cents(level[0], what=f"{where} price"),
                        qty_from_units(level[1], what=f"{where} count")))
        except MoneyError as exc:
            raise WireError(str(exc)) from None
    return out


def parse_exchange_status(body: Mapping[str, Any], *, clock_skew_ms: int | None) -> VenueStatus:
    where = "kalshi exchange status"
    exchange_active = _bool(body, "exchange_active", where)
    trading_active = _bool(body, "trading_active", where)
    detail = []
    if not exchange_active:
        detail.append("exchange under maintenance")
    elif not trading_active:
        detail.append("trading paused")
    resume = body.get("exchange_estimated_resume_time")
    if resume:
        detail.append(f"estimated resume {resume}")
    return VenueStatus(Venue.KALSHI, reachable=True,
                       trading_active=exchange_active and trading_active,
                       detail="; ".join(detail), clock_skew_ms=clock_skew_ms)


# ---------------------------------------------------------------------------------------------
# Direction

@attrs.frozen
class OrderIntent:
    """What we asked for, remembered per order so venue reports can be read in our terms."""

    ticker: str
    outcome: Outcome
    side: Side
    tif: TimeInForce

    @property
    def exposure(self) -> Outcome:
        """The outcome this order positions us for (Kalshi ``outcome_side``)."""
        if self.side is Side.BUY:
            return self.outcome
        return Outcome.NO if self.outcome is Outcome.YES else Outcome.YES


def _exposure(d: Mapping[str, Any], where: str) -> Outcome:
    outcome_side = d.get("outcome_side")
    if outcome_side in ("yes", "no"):
        return Outcome(outcome_side)
    book_side = d.get("book_side")
    if book_side in ("bid", "ask"):
        return Outcome.YES if book_side == "bid" else Outcome.NO
    side, action = d.get("side"), d.get("action")
    if side in ("yes", "no") and action in ("buy", "sell"):
        outcome = Outcome(side)
        return outcome if action == "buy" else (Outcome.NO if side == "yes" else Outcome.YES)
    raise WireError(f"{where}: no direction (outcome_side, book_side or side+action)")


def _direction(d: Mapping[str, Any], where: str,
               intent: OrderIntent | None) -> tuple[Outcome, Side]:
    """The (instrument outcome, side) of a report: the intent's terms when consistent."""
    exposure = _exposure(d, where)
    if intent is not None and intent.exposure is exposure:
        return intent.outcome, intent.side
    return exposure, Side.BUY


def _yes_price(d: Mapping[str, Any], where: str) -> Price:
    if d.get("yes_price_dollars") not in (None, ""):
        return _price(d, "yes_price_dollars", where)
    if d.get("no_price_dollars") not in (None, ""):
        return complement(_price(d, "no_price_dollars", where))
    raise WireError(f"{where}: neither 'yes_price_dollars' nor 'no_price_dollars' is present")


def _instrument_price(yes_price: Price, outcome: Outcome) -> Price:
    return yes_price if outcome is Outcome.YES else complement(yes_price)


def _iso_ms(value: Any, where: str, key: str) -> int:
    if not isinstance(value, str):
        raise WireError(f"{where}: field {key!r} must be an ISO time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise WireError(f"{where}: field {key!r} is not an ISO time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _ts_ms(d: Mapping[str, Any], where: str) -> int:
    if isinstance(d.get("ts_ms"), int):
        return d["ts_ms"]
    if isinstance(d.get("created_time"), str):
        return _iso_ms(d["created_time"], where, "created_time")
    if isinstance(d.get("ts"), int):
        return d["ts"] * 1000
    raise WireError(f"{where}: no timestamp (ts_ms, created_time or ts)")


# ---------------------------------------------------------------------------------------------
# Orders and fills

def parse_create_response(body: Mapping[str, Any], *, client_id: str, ticker: str,
                          outcome: Outcome, sent_qty: Qty, tif: TimeInForce) -> OrderResult:
    """The 201 answer to ``POST /portfolio/events/orders``, in the instrument's own prices."""
    where = f"kalshi create-order {ticker}"
    order_id = _str(body, "order_id", where)
    filled = _count(body, "fill_count", where)
    remaining = _count(body, "remaining_count", where)
    avg_price: Price | None = None
    fee = Money(0)
    if filled > 0:
        if body.get("average_fill_price") not in (None, ""):
            avg_price = _instrument_price(_price(body, "average_fill_price", where), outcome)
        if body.get("average_fee_paid") not in (None, ""):
            fee = Money(mul(_money(body, "average_fee_paid", where), filled, Round.UP))
    if filled >= sent_qty:
        status = OrderStatus.FILLED
    elif tif is TimeInForce.GTC and remaining > 0:
        status = OrderStatus.RESTING
    else:
        status = OrderStatus.CANCELLED
    return OrderResult(order_id, _opt_str(body, "client_order_id") or client_id, status, filled,
                       avg_price, fee)


_ORDER_STATUS = {"resting": OrderStatus.RESTING, "executed": OrderStatus.FILLED,
                 "canceled": OrderStatus.CANCELLED, "cancelled": OrderStatus.CANCELLED}


@attrs.frozen
class KalshiOrder:
    """One order as Kalshi reports it (``GET /portfolio/orders``, WS ``user_order``)."""

    order_id: str
    client_id: str | None
    ticker: str
    outcome: Outcome
    side: Side
    price: Price
    """Limit price of ``outcome``."""
    exposure: Outcome
    """Kalshi ``outcome_side``: the outcome this order positions us for."""
    status: OrderStatus
    filled: Qty
    remaining: Qty
    fill_cost: Money
    """What the fills cost, in ``exposure`` terms (UNCERTAIN: Kalshi does not say which leg)."""
    fees: Money

    @property
    def avg_price(self) -> Price | None:
        """Average fill price of ``outcome``, rounded against us (paid up, received down)."""
        if self.filled <= 0 or self.fill_cost <= 0:
            return None
        price = Price(min(div(self.fill_cost, self.filled, Round.UP), ONE))
        return price if self.outcome is self.exposure else complement(price)

    def to_result(self) -> OrderResult:
        return OrderResult(self.order_id, self.client_id, self.status, self.filled,
                           self.avg_price, self.fees)

    def to_open_order(self) -> OpenOrder:
        return OpenOrder(self.order_id, self.client_id, Instrument.kalshi(self.ticker, self.outcome),
                         self.side, self.price, Qty(self.filled + self.remaining), self.filled)


def parse_order(d: Mapping[str, Any], *, kind: str = "order",
                intent: OrderIntent | None = None) -> KalshiOrder:
    """An Order object (REST) or a ``user_order`` message body (WS)."""
    where = _where(kind, d)
    order_id = _str(d, "order_id", where)
    ticker = _str(d, "ticker", where)
    status_text = _field(d, "status", where)
    status = _ORDER_STATUS.get(status_text) if isinstance(status_text, str) else None
    if status is None:
        raise WireError(f"{where}: unknown order status {status_text!r}")
    outcome, side = _direction(d, where, intent)
    price = _instrument_price(_yes_price(d, where), outcome)
    fill_cost = Money(_opt_money(d, "taker_fill_cost_dollars", where)
                      + _opt_money(d, "maker_fill_cost_dollars", where))
    fees = Money(_opt_money(d, "taker_fees_dollars", where)
                 + _opt_money(d, "maker_fees_dollars", where))
    return KalshiOrder(order_id, _opt_str(d, "client_order_id"), ticker, outcome, side, price,
                       _exposure(d, where), status, _count(d, "fill_count_fp", where),
                       _count(d, "remaining_count_fp", where), fill_cost, fees)


def parse_fill(d: Mapping[str, Any], *, intent: OrderIntent | None = None) -> Fill:
    """A REST Fill or a WS ``fill`` message body. Kalshi fills are final (CONFIRMED)."""
    where = _where("fill", d)
    trade_id = _opt_str(d, "trade_id") or _opt_str(d, "fill_id")
    if trade_id is None:
        raise WireError(f"{where}: neither 'trade_id' nor 'fill_id' is present")
    ticker = _opt_str(d, "market_ticker") or _opt_str(d, "ticker")
    if ticker is None:
        raise WireError(f"{where}: neither 'market_ticker' nor 'ticker' is present")
    outcome, side = _direction(d, where, intent)
    price = _instrument_price(_yes_price(d, where), outcome)
    return Fill(
        venue=Venue.KALSHI,
        trade_id=trade_id,
        venue_order_id=_str(d, "order_id", where),
        client_id=_opt_str(d, "client_order_id"),
        instrument=Instrument.kalshi(ticker, outcome),
        side=side,
        price=price,
        qty=_count(d, "count_fp", where),
        fee=_opt_money(d, "fee_cost", where),
        is_taker=_bool(d, "is_taker", where),
        status=FillStatus.CONFIRMED,
        ts_ms=_ts_ms(d, where),
    )


def parse_positions(items: Sequence[Any]) -> list[Position]:
    """``market_positions[]``: signed ``position_fp`` -> a YES or NO Position (zero skipped)."""
    out: list[Position] = []
    for d in items:
        where = _where("position", d)
        ticker = _str(d, "ticker", where)
        try:
            signed = parse_signed_qty(_field(d, "position_fp", where), what=f"{where} position_fp")
        except MoneyError as exc:
            raise WireError(str(exc)) from None
        if signed > 0:
            out.append(Position(Instrument.kalshi(ticker, Outcome.YES), Qty(signed)))
        elif signed < 0:
            out.append(Position(Instrument.kalshi(ticker, Outcome.NO), Qty(-signed)))
    return out


@attrs.frozen
class KalshiBalance:
    available: Money
    """Cash available (``balance_dollars``), all shards unless one was asked for."""
    portfolio_value: Money | None
    by_shard: tuple[tuple[int, Money], ...]
    """(exchange_index, balance) pairs from ``balance_breakdown``; empty when not sent."""

    def to_balance(self) -> Balance:
        total = None if self.portfolio_value is None else Money(self.available
                                                                 + self.portfolio_value)
        return Balance(Venue.KALSHI, self.available, total)

    def shard(self, index: int) -> Money | None:
        for shard, amount in self.by_shard:
            if shard == index:
                return amount
        return None


def parse_balance(body: Mapping[str, Any]) -> KalshiBalance:
    """``GET /portfolio/balance``: ``balance_dollars`` preferred, integer cents accepted."""
    where = "kalshi balance"
    if not isinstance(body, Mapping):
        raise WireError(f"{where}: expected an object, got {type(body).__name__}")
    if body.get("balance_dollars") not in (None, ""):
        available = _money(body, "balance_dollars", where)
    else:
        try:
            available = money_from_cents(_field(body, "balance", where), what=f"{where} balance")
        except MoneyError as exc:
            raise WireError(str(exc)) from None
    portfolio = body.get("portfolio_value")
    portfolio_value = None
    if portfolio is not None:
        try:
            portfolio_value = money_from_cents(portfolio, what=f"{where} portfolio_value")
        except MoneyError as exc:
            raise WireError(str(exc)) from None
    shards = []
    breakdown = body.get("balance_breakdown") or []
    if not isinstance(breakdown, list):
        raise WireError(f"{where}: balance_breakdown is {type(breakdown).__name__}, not a list")
    for item in breakdown:
        shards.append((_int(item, "exchange_index", f"{where} breakdown"),
                       _money(item, "balance", f"{where} breakdown")))
    return KalshiBalance(available, portfolio_value, tuple(shards))


def error_text(body: Any) -> tuple[str | None, str]:
    """(code, message) from an error body, whatever its wrapping; defensive by design."""
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            body = inner
        elif isinstance(inner, str):
            return None, inner
        code = body.get("code")
        message = body.get("message") or body.get("msg") or body.get("details") or ""
        return (str(code) if code is not None else None), str(message)
    return None, ""

