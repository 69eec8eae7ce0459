"""Venue-shaped JSON for the simulated CLOB: books, orders, trades, markets, websocket frames.

One place renders each wire object, so REST and websockets agree. Shapes follow venues.md B5
and B6: decimal strings for prices and sizes (shortest exact form), JSON numbers where the venue
uses numbers (``minimum_tick_size``, ``mts``, ``fd.r``), ms-string timestamps on books and
websocket frames, seconds on orders and trades. REST books list bids ascending and asks
descending (best last), as the official helpers expect; websocket ``book`` frames use the same
order. The book hash is the official recipe: SHA-1 of the compact JSON with ``hash`` = "".
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from arb.domain import Side
from arb.money import SCALE, Price, format_trimmed
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.jsonwire import number
from arb.sim.polymarket.model import (
    BookChanged,
    LastTradePrice,
    Market,
    OrderEvent,
    OrderView,
    TickSizeChanged,
    TradeView,
)

MAX_UINT256 = str(2**256 - 1)


def side_text(side: Side) -> str:
    return "BUY" if side is Side.BUY else "SELL"


def optional_price(price: Price | None) -> str:
    """A price, or "" when absent (the venue's empty-decimal convention)."""
    return "" if price is None else format_trimmed(price)


def book_summary(exchange: Exchange, token_id: str) -> dict[str, Any]:
    """``GET /book`` body (also the websocket ``book`` frame without ``event_type``)."""
    market = _market(exchange, token_id)
    index = market.token_index(token_id)
    bids, asks = market.book.token_levels(index)
    last = market.last_trade[index]
    summary: dict[str, Any] = {
        "market": market.condition_id,
        "asset_id": token_id,
        "timestamp": str(exchange.now_ms),
        "hash": "",
        "bids": [{"price": format_trimmed(p), "size": format_trimmed(s)} for p, s in
                 reversed(bids)],
        "asks": [{"price": format_trimmed(p), "size": format_trimmed(s)} for p, s in
                 reversed(asks)],
        "min_order_size": format_trimmed(market.min_order_size),
        "tick_size": format_trimmed(market.tick),
        "neg_risk": market.neg_risk,
        "last_trade_price": format_trimmed(last[0]) if last else "",
    }
    summary["hash"] = hashlib.sha1(
        json.dumps(summary, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    return summary


def _market(exchange: Exchange, token_id: str) -> Market:
    market = exchange.market_for_token(token_id)
    if market is None:
        raise KeyError(token_id)
    return market


def open_order(order: OrderView) -> dict[str, Any]:
    """An OpenOrder (``/data/order``, ``/data/orders``)."""
    return {
        "id": order.id,
        "status": order.status.value,
        "owner": order.owner,
        "maker_address": order.maker_address,
        "market": order.condition_id,
        "asset_id": order.asset_id,
        "side": side_text(order.side),
        "original_size": format_trimmed(order.original_size),
        "size_matched": format_trimmed(order.size_matched),
        "price": format_trimmed(order.price),
        "associate_trades": list(order.associate_trades),
        "outcome": order.outcome,
        "created_at": order.created_ms // 1000,
        "expiration": str(order.expiration_s),
        "order_type": order.order_type.value,
    }


def trade(view: TradeView, viewer: str) -> dict[str, Any]:
    """A Trade as ``viewer`` (an EOA) sees it: ``trader_side`` is TAKER or MAKER."""
    return {
        "id": view.id,
        "taker_order_id": view.taker_order_id,
        "market": view.condition_id,
        "asset_id": view.asset_id,
        "side": side_text(view.side),
        "size": format_trimmed(view.size),
        "fee_rate_bps": view.fee_rate_bps,
        "price": format_trimmed(view.price),
        "status": view.status.value,
        "match_time": str(view.match_ms // 1000),
        "last_update": str(view.last_update_ms // 1000),
        "outcome": view.outcome,
        "bucket_index": 0,
        "owner": view.owner,
        "maker_address": view.maker_address,
        "maker_orders": [{
            "order_id": m.order_id,
            "owner": m.owner,
            "maker_address": m.maker_address,
            "matched_amount": format_trimmed(m.matched_amount),
            "price": format_trimmed(m.price),
            "fee_rate_bps": m.fee_rate_bps,
            "asset_id": m.asset_id,
            "outcome": m.outcome,
            "side": side_text(m.side),
        } for m in view.maker_orders],
        "transaction_hash": view.transaction_hash,
        "trader_side": view.role_of(viewer),
    }


def clob_market(market: Market) -> dict[str, Any]:
    """``GET /markets/{condition_id}``."""
    listing = market.listing
    return {
        "enable_order_book": True,
        "active": listing.active,
        "closed": listing.closed,
        "archived": False,
        "accepting_orders": market.accepting_orders,
        "minimum_order_size": number(market.min_order_size),
        "minimum_tick_size": number(market.tick),
        "condition_id": market.condition_id,
        "question_id": listing.question_id,
        "question": listing.question,
        "description": listing.description,
        "market_slug": listing.slug,
        "end_date_iso": listing.game_start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "game_start_time": listing.game_start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds_delay": market.taker_delay_ms // 1000,
        "neg_risk": market.neg_risk,
        "neg_risk_market_id": listing.neg_risk_market_id or "",
        "maker_base_fee": 0,
        "taker_base_fee": market.fee_rate * 10_000 // SCALE,
        "tokens": [{"token_id": t.token_id, "outcome": t.outcome, "price": number(
            _mid_or_zero(market, i)), "winner": False} for i, t in enumerate(listing.tokens)],
        "tags": list(market.event.tags),
    }


def _mid_or_zero(market: Market, index: int) -> int:
    bid, ask = market.book.best(index)
    if bid is None or ask is None:
        return 0
    return (bid + ask) // 2


def clob_market_compact(market: Market) -> dict[str, Any]:
    """``GET /clob-markets/{condition_id}`` (compact keys, venues.md B5.1)."""
    listing = market.listing
    fee_bps = market.fee_rate * 10_000 // SCALE
    return {
        "c": market.condition_id,
        "t": [{"t": t.token_id, "o": t.outcome} for t in listing.tokens],
        "mts": number(market.tick),
        "nr": market.neg_risk,
        "fd": {"r": number(market.fee_rate), "e": market.fee_exponent, "to": True},
        "mbf": 0,
        "tbf": fee_bps,
        "ao": market.accepting_orders,
        "mos": number(market.min_order_size),
        "sd": market.taker_delay_ms // 1000,
        "gst": listing.game_start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cbos": False,
        "itode": market.taker_delay_ms > 0,
    }


# --- websocket frames --------------------------------------------------------------------


def ws_book(exchange: Exchange, token_id: str) -> dict[str, Any]:
    return {"event_type": "book", **book_summary(exchange, token_id)}


def ws_price_change(exchange: Exchange, event: BookChanged,
                    assets: set[str]) -> dict[str, Any] | None:
    """A ``price_change`` frame for the subscribed ``assets``; None if none is concerned."""
    entries = []
    hashes: dict[str, str] = {}
    for change in event.changes:
        if change.asset_id not in assets:
            continue
        if change.asset_id not in hashes:
            hashes[change.asset_id] = book_summary(exchange, change.asset_id)["hash"]
        entries.append({
            "asset_id": change.asset_id,
            "price": format_trimmed(change.price),
            "size": format_trimmed(change.size),
            "side": change.side.value,
            "hash": hashes[change.asset_id],
            "best_bid": optional_price(change.best_bid),
            "best_ask": optional_price(change.best_ask),
        })
    if not entries:
        return None
    return {"event_type": "price_change", "market": event.condition_id,
            "timestamp": str(event.timestamp_ms), "price_changes": entries}


def ws_best_bid_ask(event: BookChanged, assets: set[str]) -> list[dict[str, Any]]:
    """Custom-feature ``best_bid_ask`` frames: one per subscribed asset of the change."""
    seen: dict[str, dict[str, Any]] = {}
    for change in event.changes:
        if change.asset_id in assets and change.asset_id not in seen:
            spread = ("" if change.best_bid is None or change.best_ask is None
                      else format_trimmed(change.best_ask - change.best_bid))
            seen[change.asset_id] = {
                "event_type": "best_bid_ask", "market": event.condition_id,
                "asset_id": change.asset_id, "best_bid": optional_price(change.best_bid),
                "best_ask": optional_price(change.best_ask), "spread": spread,
                "timestamp": str(event.timestamp_ms)}
    return list(seen.values())


def ws_last_trade_price(event: LastTradePrice) -> dict[str, Any]:
    return {"event_type": "last_trade_price", "market": event.condition_id,
            "asset_id": event.asset_id, "price": format_trimmed(event.price),
            "size": format_trimmed(event.size), "side": side_text(event.side),
            "fee_rate_bps": event.fee_rate_bps, "timestamp": str(event.timestamp_ms),
            "transaction_hash": ""}


def ws_tick_size_change(event: TickSizeChanged) -> dict[str, Any]:
    return {"event_type": "tick_size_change", "market": event.condition_id,
            "asset_id": event.asset_id, "old_tick_size": format_trimmed(event.old_tick),
            "new_tick_size": format_trimmed(event.new_tick),
            "timestamp": str(event.timestamp_ms)}


def ws_order(event: OrderEvent) -> dict[str, Any]:
    order = event.order
    return {
        "event_type": "order", "type": event.kind.value, "id": order.id, "owner": order.owner,
        "market": order.condition_id, "asset_id": order.asset_id,
        "side": side_text(order.side), "original_size": format_trimmed(order.original_size),
        "size_matched": format_trimmed(order.size_matched),
        "price": format_trimmed(order.price), "associate_trades": list(order.associate_trades),
        "outcome": order.outcome, "order_type": order.order_type.value,
        "status": order.status.value, "created_at": str(order.created_ms // 1000),
        "expiration": str(order.expiration_s), "maker_address": order.maker_address,
        "timestamp": str(event.timestamp_ms),
    }


def ws_trade(view: TradeView, viewer: str, viewer_key: str, timestamp_ms: int) -> dict[str, Any]:
    body = trade(view, viewer)
    return {"event_type": "trade", "type": "TRADE", **body, "owner": viewer_key,
            "trade_owner": view.owner, "timestamp": str(timestamp_ms)}


def balance_allowance(balance: int, approved: bool, spenders: tuple[str, ...]) -> dict[str, Any]:
    return {"balance": str(balance),
            "allowances": {s: MAX_UINT256 if approved else "0" for s in spenders}}
