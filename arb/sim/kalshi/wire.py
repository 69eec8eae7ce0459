"""Render the simulated exchange's state as Kalshi's current (fixed-point) JSON objects.

Field names and shapes follow the shipped OpenAPI (``Market``, ``EventData``, ``Series``,
``Order``, ``Fill``, ``MarketPosition``) and AsyncAPI payloads. Prices are ``*_dollars`` strings
with 4 decimals, counts ``*_fp`` strings with 2; no legacy integer fields except the balance's
cents. ``dumps`` writes JSON without ever converting a number to float.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from arb.money import ONE, SCALE, Qty, format_fixed, to_decimal
from arb.sim.kalshi.core import (
    KalshiExchange,
    SimAccount,
    SimFill,
    SimMarket,
    SimOrder,
    SimPosition,
    dollars,
)
from arb.sim.listing import KalshiEvent, KalshiSeries


def dumps(obj: Any) -> str:
    """Compact JSON; ``Decimal`` values are written as exact JSON numbers."""
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, float):
        raise TypeError("refusing to serialise a float; use Decimal")
    return json.dumps(obj)


def fp(value: int) -> str:
    """A count as ``*_fp``: 2 decimals."""
    return format_fixed(value, 2)


def price4(value: int) -> str:
    return format_fixed(value, 4)


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def iso_dt(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def series_json(series: KalshiSeries) -> dict[str, Any]:
    return {
        "ticker": series.ticker, "frequency": "custom", "title": series.title,
        "category": series.category, "tags": list(series.tags), "settlement_sources": [],
        "contract_url": "", "contract_terms_url": "", "product_metadata": None,
        "fee_type": series.fee_type, "fee_multiplier": to_decimal(series.fee_multiplier).normalize(),
        "additional_prohibitions": [], "exchange_index": 0,
    }


def event_json(exchange: KalshiExchange, event: KalshiEvent, *, nested: bool) -> dict[str, Any]:
    series = exchange.series[event.series_ticker]
    body: dict[str, Any] = {
        "event_ticker": event.event_ticker, "series_ticker": event.series_ticker,
        "sub_title": event.sub_title, "title": event.title, "collateral_return_type": "MECNET"
        if event.mutually_exclusive else "", "mutually_exclusive": event.mutually_exclusive,
        "category": series.category, "strike_date": iso_dt(event.strike_date),
        "strike_period": "", "available_on_brokers": False, "product_metadata": None,
        "settlement_sources": [], "exchange_index": 0,
    }
    if nested:
        body["markets"] = [market_json(exchange, exchange.markets[m.ticker]) for m in event.markets]
    return body


def market_json(exchange: KalshiExchange, market: SimMarket) -> dict[str, Any]:
    listing = market.listing
    book = market.book
    best_bid, best_ask = book.best_bid(), book.best_ask()
    bid = best_bid or 0
    ask = best_ask if best_ask is not None else ONE
    status = exchange.market_status(market)
    return {
        "ticker": listing.ticker, "event_ticker": listing.event_ticker, "market_type": "binary",
        "yes_sub_title": listing.yes_sub_title, "no_sub_title": listing.no_sub_title,
        "created_time": iso(market.created_ms), "updated_time": iso(market.updated_ms),
        "open_time": iso_dt(listing.open_time), "close_time": iso(market.close_ms),
        "expected_expiration_time": iso_dt(listing.expected_expiration_time),
        "expiration_time": iso_dt(listing.expected_expiration_time),
        "latest_expiration_time": iso_dt(listing.expected_expiration_time),
        "settlement_timer_seconds": 300, "status": status,
        "notional_value_dollars": price4(ONE),
        "yes_bid_dollars": price4(bid), "yes_ask_dollars": price4(ask),
        "no_bid_dollars": price4(ONE - ask), "no_ask_dollars": price4(ONE - bid),
        "yes_bid_size_fp": fp(book.bids.size_at(best_bid) if best_bid is not None else 0),
        "yes_ask_size_fp": fp(book.asks.size_at(best_ask) if best_ask is not None else 0),
        "last_price_dollars": price4(market.last_price),
        "previous_yes_bid_dollars": price4(0), "previous_yes_ask_dollars": price4(0),
        "previous_price_dollars": price4(0), "liquidity_dollars": price4(0),
        "volume_fp": fp(market.volume), "volume_24h_fp": fp(market.volume),
        "open_interest_fp": fp(market.open_interest), "result": market.result,
        "can_close_early": listing.can_close_early, "expiration_value": "",
        "settlement_value_dollars": (price4(ONE if market.result == "yes" else 0)
                                     if market.result else None),
        "occurrence_datetime": iso_dt(listing.occurrence_datetime),
        "fee_waiver_expiration_time": None, "early_close_condition": None,
        "rules_primary": listing.rules_primary, "rules_secondary": listing.rules_secondary,
        "price_level_structure": listing.price_level_structure,
        "price_ranges": [{"start": price4(r.start), "end": price4(r.end), "step": price4(r.step)}
                         for r in listing.price_ranges],
        "fractional_trading_enabled": listing.fractional_trading_enabled,
        "is_provisional": False, "exchange_index": listing.exchange_index,
    }


def orderbook_levels(levels: list[tuple[int, Qty]], depth: int) -> list[list[str]]:
    """Ascending ``[price, count]`` pairs, best (highest) last; ``depth`` keeps the best N."""
    rows = [[price4(p), fp(q)] for p, q in levels]
    return rows[-depth:] if depth else rows


def order_json(order: SimOrder) -> dict[str, Any]:
    return {
        "order_id": order.order_id, "user_id": order.user_id,
        "client_order_id": order.client_order_id, "ticker": order.ticker,
        "side": order.outcome_side, "action": "buy",
        "outcome_side": order.outcome_side, "book_side": order.book_side, "type": "limit",
        "status": order.status, "yes_price_dollars": price4(order.price),
        "no_price_dollars": price4(ONE - order.price),
        "fill_count_fp": fp(order.filled), "remaining_count_fp": fp(order.remaining),
        "initial_count_fp": fp(order.initial),
        "taker_fill_cost_dollars": dollars(order.taker_fill_cost),
        "maker_fill_cost_dollars": dollars(order.maker_fill_cost),
        "taker_fees_dollars": dollars(order.taker_fees),
        "maker_fees_dollars": dollars(order.maker_fees),
        "expiration_time": iso(order.expiration_ms), "created_time": iso(order.created_ms),
        "last_update_time": iso(order.updated_ms),
        "self_trade_prevention_type": order.self_trade_prevention, "order_group_id": None,
        "cancel_order_on_pause": order.cancel_order_on_pause,
        "subaccount_number": order.subaccount, "exchange_index": 0,
    }


def fill_json(fill: SimFill) -> dict[str, Any]:
    return {
        "fill_id": fill.trade_id, "trade_id": fill.trade_id, "order_id": fill.order_id,
        "ticker": fill.ticker, "market_ticker": fill.ticker, "side": fill.outcome_side,
        "action": "buy", "outcome_side": fill.outcome_side, "book_side": fill.book_side,
        "count_fp": fp(fill.count), "yes_price_dollars": price4(fill.price),
        "no_price_dollars": price4(ONE - fill.price), "is_taker": fill.is_taker,
        "created_time": iso(fill.ts_ms), "fee_cost": dollars(fill.fee_cost),
        "subaccount_number": fill.subaccount, "exchange_index": 0, "ts": fill.ts_ms // 1000,
    }


def position_json(pos: SimPosition) -> dict[str, Any]:
    return {
        "ticker": pos.ticker, "exchange_index": 0,
        "total_traded_dollars": dollars(pos.total_traded), "position_fp": fp(pos.position),
        "market_exposure_dollars": dollars(pos.exposure),
        "realized_pnl_dollars": dollars(pos.realized_pnl),
        "fees_paid_dollars": dollars(pos.fees_paid), "last_updated_ts": iso(pos.updated_ms),
    }


def event_positions_json(exchange: KalshiExchange, acct: SimAccount,
                         tickers: list[str]) -> list[dict[str, Any]]:
    by_event: dict[str, list[SimPosition]] = {}
    for ticker in tickers:
        event = exchange.markets[ticker].listing.event_ticker
        by_event.setdefault(event, []).append(acct.positions[ticker])
    return [{
        "event_ticker": event,
        "total_cost_dollars": dollars(sum(p.total_traded for p in ps)),
        "total_cost_shares_fp": fp(sum(abs(p.position) for p in ps)),
        "event_exposure_dollars": dollars(sum(p.exposure for p in ps)),
        "realized_pnl_dollars": dollars(sum(p.realized_pnl for p in ps)),
        "fees_paid_dollars": dollars(sum(p.fees_paid for p in ps)),
    } for event, ps in by_event.items()]


def average(total: int, count: int) -> str:
    """Per-contract average of ``total`` micro-dollars over ``count`` micro-contracts."""
    return dollars(total * SCALE // count)
