"""Polymarket order and trade records -> the project's ``OrderResult`` and ``Fill``.

Shared by the REST adapter and the user websocket, so a fill has the same id and the same
status whichever path reports it first (fills are idempotent by trade id).

Venue facts (venues.md B5.2, B6.2): a trade is reported once per status, MATCHED -> MINED ->
CONFIRMED, or RETRYING -> FAILED; only CONFIRMED is final and FAILED voids the trade (a "ghost
fill"). ``trader_side`` says whether we were the taker (the trade's ``taker_order_id`` is ours)
or a maker (our part is in ``maker_orders``). A maker fill's id is ``<trade id>:<order id>``
because one trade can fill several of our resting orders.
"""
from __future__ import annotations

from collections.abc import Callable

from arb.domain import Instrument, Venue
from arb.money import ONE, Money, Price, Qty, Round, mul
from arb.venues.polymarket.rest import WireOrder, WireTrade
from arb.venues.protocol import Fill, FillStatus, OrderResult, OrderStatus

FeeFn = Callable[[str, Price, Qty], Money]
"""(token id, price, shares) -> taker fee; makers pay nothing."""

_FILL_STATUS = {
    "MATCHED": FillStatus.PROVISIONAL,
    "MINED": FillStatus.PROVISIONAL,
    "RETRYING": FillStatus.PROVISIONAL,
    "CONFIRMED": FillStatus.CONFIRMED,
    "FAILED": FillStatus.FAILED,
}

_ORDER_STATUS = {
    "LIVE": OrderStatus.RESTING,
    "MATCHED": OrderStatus.FILLED,
    "DELAYED": OrderStatus.DELAYED,
    "UNMATCHED": OrderStatus.CANCELLED,
    "CANCELED": OrderStatus.CANCELLED,
    "CANCELLED": OrderStatus.CANCELLED,
}


class UnknownStatus(ValueError):
    """A status string the protocol does not list; the record is skipped, never guessed."""


def fill_status(status: str, *, trade_id: str) -> FillStatus:
    try:
        return _FILL_STATUS[status.upper()]
    except KeyError:
        raise UnknownStatus(f"polymarket trade {trade_id}: unknown status {status!r}") from None


def no_fee(token_id: str, price: Price, qty: Qty) -> Money:
    return Money(0)


def taker_fee(rate: int, exponent: int, price: Price, qty: Qty) -> Money:
    """``C * rate * (p * (1 - p)) ** exponent`` rounded up to the micro-dollar (what we pay)."""
    variance = mul(price, ONE - price, Round.UP)
    factor = ONE
    for _ in range(exponent):
        factor = mul(factor, variance, Round.UP)
    return Money(mul(mul(qty, rate, Round.UP), factor, Round.UP))


def fills_from_trade(trade: WireTrade, *, api_key: str, funder: str,
                     client_ids: Callable[[str], str | None],
                     fee_for: FeeFn = no_fee) -> list[Fill]:
    """Our fills in one trade record (one if we were the taker, one per maker order of ours)."""
    status = fill_status(trade.status, trade_id=trade.trade_id)
    if trade.trader_side == "TAKER":
        return [Fill(
            venue=Venue.POLYMARKET, trade_id=trade.trade_id, venue_order_id=trade.taker_order_id,
            client_id=client_ids(trade.taker_order_id),
            instrument=Instrument.polymarket(trade.market, trade.asset_id), side=trade.side,
            price=trade.price, qty=trade.size,
            fee=fee_for(trade.asset_id, trade.price, trade.size), is_taker=True, status=status,
            ts_ms=trade.match_time_ms,
        )]
    funder_l = funder.lower()
    return [
        Fill(
            venue=Venue.POLYMARKET, trade_id=f"{trade.trade_id}:{mo.order_id}",
            venue_order_id=mo.order_id, client_id=client_ids(mo.order_id),
            instrument=Instrument.polymarket(trade.market, mo.asset_id), side=mo.side,
            price=mo.price, qty=mo.matched_amount, fee=Money(0), is_taker=False, status=status,
            ts_ms=trade.match_time_ms,
        )
        for mo in trade.maker_orders
        if (mo.owner and mo.owner == api_key) or mo.maker_address.lower() == funder_l
    ]


def result_from_order(order: WireOrder, *, client_id: str | None) -> OrderResult:
    """An order record as an ``OrderResult`` (the average fill price is not in the record)."""
    try:
        status = _ORDER_STATUS[order.status]
    except KeyError:
        raise UnknownStatus(f"polymarket order {order.order_id}: unknown status "
                            f"{order.status!r}") from None
    if status is OrderStatus.FILLED and order.size_matched < order.original_size:
        taker = order.order_type.upper() in ("FOK", "FAK")
        status = OrderStatus.CANCELLED if taker else OrderStatus.RESTING
    return OrderResult(
        venue_order_id=order.order_id, client_id=client_id, status=status,
        filled_qty=order.size_matched, avg_price=None, fee=Money(0),
        trade_ids=order.associate_trades,
    )
