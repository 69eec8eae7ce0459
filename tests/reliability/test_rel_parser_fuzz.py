"""Reliability rows 3, 32 and "leg errors treated as zero fills": every venue parser either
returns a value or raises its own error type, whatever the venue sends.

A parser that lets a ``TypeError``/``AttributeError``/``KeyError`` escape turns one odd payload
into a crash of whatever called it (a leg runner, the reconciler) instead of a classified venue
error. Seeded mutations (keys dropped, values replaced by other JSON types) of real-shaped
payloads: the real Gamma and Kalshi files in ``../shared/data/real`` and the documented REST and
websocket shapes.
"""
from __future__ import annotations

import copy
import json
import random
from decimal import Decimal

import pytest

from arb.domain import Outcome, TimeInForce
from arb.money import parse_qty
from arb.venues.kalshi import catalog as kalshi_catalog
from arb.venues.kalshi import parse as kalshi
from arb.venues.polymarket import gamma, wire
from arb.venues.polymarket import rest as poly
from arb.venues.polymarket.convert import UnknownStatus, fills_from_trade, result_from_order

MUTANTS = 300
ODD_VALUES = (None, True, 0, -1, Decimal("1.5"), "", "x", "0.4x", [], [1, "2"], {}, {"a": 1},
              "NaN", "1e309", "-0.5000", "99999999999999999999", "2026-13-45T99:00:00Z")


def _containers(node) -> list:
    if isinstance(node, dict):
        return [node] + [c for value in node.values() for c in _containers(value)]
    if isinstance(node, list):
        return [node] + [c for value in node for c in _containers(value)]
    return []


def _mutants(template, seed: int):
    rng = random.Random(seed)
    for _ in range(MUTANTS):
        mutant = copy.deepcopy(template)
        for _ in range(rng.randint(1, 3)):
            holders = [c for c in _containers(mutant) if c]
            if not holders:
                break
            target = rng.choice(holders)
            if isinstance(target, dict):
                key = rng.choice(list(target))
                if rng.random() < 0.3:
                    del target[key]
                else:
                    target[key] = copy.deepcopy(rng.choice(ODD_VALUES))
            else:
                target[rng.randrange(len(target))] = copy.deepcopy(rng.choice(ODD_VALUES))
        yield mutant


def _assert_only(errors: tuple[type[Exception], ...], call, template, seed: int) -> int:
    """Run ``call`` on every mutant; anything but a value or ``errors`` fails the test."""
    refused = 0
    for mutant in [*ODD_VALUES, *_mutants(template, seed)]:
        try:
            call(mutant)
        except errors:
            refused += 1
        except Exception as exc:  # noqa: BLE001 - the point: name the escaping error
            raise AssertionError(f"{type(exc).__name__}: {exc} on {mutant!r}") from exc
    return refused


KALSHI_ORDER = {"order_id": "ee58", "user_id": "u", "client_order_id": "c-1",
                "ticker": "FED-23DEC-T3.00", "status": "resting", "outcome_side": "no",
                "book_side": "ask", "yes_price_dollars": "0.3500", "fill_count_fp": "2.00",
                "remaining_count_fp": "8.00", "initial_count_fp": "10.00",
                "taker_fill_cost_dollars": "1.3000", "maker_fill_cost_dollars": "0.0000",
                "taker_fees_dollars": "0.0500", "maker_fees_dollars": "0.0000",
                "created_time": "2026-11-25T14:00:00Z"}
KALSHI_FILL = {"trade_id": "d91b", "order_id": "ee58", "market_ticker": "HIGHNY-22DEC23-B53.5",
               "exchange_index": 2, "is_taker": True, "side": "yes",
               "yes_price_dollars": "0.750", "count_fp": "278.00", "action": "buy",
               "ts_ms": 1671899397000, "outcome_side": "yes", "book_side": "bid",
               "fee_cost": "1.2300", "client_order_id": "c-9"}
KALSHI_CREATE = {"order_id": "o1", "client_order_id": "c-1", "fill_count": "5.00",
                 "remaining_count": "0.00", "average_fill_price": "0.4400",
                 "average_fee_paid": "0.0100", "ts_ms": 1}
KALSHI_BOOK = {"orderbook_fp": {"yes_dollars": [["0.4100", "10.00"], ["0.4200", "13.00"]],
                                "no_dollars": [["0.5500", "20.00"]]}}
KALSHI_BALANCE = {"balance": 12345, "balance_dollars": "123.4567", "portfolio_value": 500,
                  "balance_breakdown": [{"exchange_index": 0, "balance": "100.0000"}]}
KALSHI_STATUS = {"exchange_active": True, "trading_active": True}


@pytest.mark.parametrize(("name", "call", "template"), [
    ("order", lambda d: kalshi.parse_order(d), KALSHI_ORDER),
    ("user_order", lambda d: kalshi.parse_order(d, kind="user_order").to_result(), KALSHI_ORDER),
    ("fill", lambda d: kalshi.parse_fill(d), KALSHI_FILL),
    ("create", lambda d: kalshi.parse_create_response(
        d, client_id="c-1", ticker="T", outcome=Outcome.NO, sent_qty=parse_qty("5"),
        tif=TimeInForce.IOC), KALSHI_CREATE),
    ("orderbook", lambda d: kalshi.parse_rest_orderbook(d, "T"), KALSHI_BOOK),
    ("positions", lambda d: kalshi.parse_positions(d if isinstance(d, list) else [d]),
     [{"ticker": "A", "position_fp": "12.50"}, {"ticker": "B", "position_fp": "-3.00"}]),
    ("balance", lambda d: kalshi.parse_balance(d), KALSHI_BALANCE),
    ("status", lambda d: kalshi.parse_exchange_status(d, clock_skew_ms=0), KALSHI_STATUS),
    ("error_text", lambda d: kalshi.error_text(d), {"error": {"code": "x", "message": "y"}}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_kalshi_parsers_raise_only_wire_errors(name, call, template):
    assert call(copy.deepcopy(template)) is not None or name == "error_text"
    _assert_only((kalshi.WireError,), call, template, seed=len(name))


def _kalshi_real_event(shared_dir) -> dict:
    body = kalshi.loads((shared_dir / "data/real/kalshi_events_nba_2026-01.json").read_bytes(),
                        what="real kalshi events")
    events = body["events"] if isinstance(body, dict) else body
    return events[0]


def test_kalshi_catalog_parser_on_a_real_event(shared_dir):
    template = _kalshi_real_event(shared_dir)
    kalshi_catalog.parse_event(copy.deepcopy(template))
    _assert_only((kalshi_catalog.CatalogError,), kalshi_catalog.parse_event,
                 template, seed=11)


def test_gamma_parser_on_a_real_event(shared_dir):
    events = gamma.loads((shared_dir / "data/real/gamma_events_nba_2026-01.json").read_bytes(),
                         what="real gamma events")
    template = dict(events[0], markets=events[0]["markets"][:4])
    gamma.parse_event(copy.deepcopy(template))
    _assert_only((gamma.GammaError,), gamma.parse_event, template, seed=12)


POLY_TRADE = {"id": "tr-9", "taker_order_id": "0xours", "market": "0xcd", "asset_id": "123",
              "side": "BUY", "size": "12.5", "price": "0.41", "status": "MATCHED",
              "match_time": "1767225600", "trader_side": "TAKER", "owner": "key-1",
              "maker_address": "0xf39F", "fee_rate_bps": "0",
              "maker_orders": [{"order_id": "0xtheirs", "owner": "k2", "maker_address": "0x1",
                                "matched_amount": "12.5", "price": "0.41", "asset_id": "123",
                                "outcome": "Yes", "side": "SELL"}]}
POLY_ORDER = {"id": "0xours", "status": "MATCHED", "market": "0xcd", "asset_id": "123",
              "side": "BUY", "original_size": "12.5", "size_matched": "12.5", "price": "0.41",
              "order_type": "FAK", "associate_trades": ["tr-9"], "owner": "key-1"}
POLY_BOOK = {"market": "0xcd", "asset_id": "123", "timestamp": "1767225600000", "hash": "h",
             "bids": [{"price": "0.40", "size": "10"}], "asks": [{"price": "0.45", "size": "7"}],
             "tick_size": "0.01", "min_order_size": "5", "neg_risk": False}
POLY_POST = {"success": True, "errorMsg": "", "orderID": "0xours", "status": "matched",
             "makingAmount": "5.125", "takingAmount": "12.5", "tradeIDs": ["tr-9"]}
POLY_ERRORS = (wire.WireError, UnknownStatus)


@pytest.mark.parametrize(("name", "call", "template"), [
    ("trade", lambda d: fills_from_trade(poly.parse_trade(d), api_key="key-1", funder="0xf39F",
                                         client_ids=lambda oid: None), POLY_TRADE),
    ("order", lambda d: result_from_order(poly.parse_order(d), client_id=None), POLY_ORDER),
    ("book", lambda d: poly.parse_book(d), POLY_BOOK),
    ("post", lambda d: poly.parse_post_response(d), POLY_POST),
    ("cancel", lambda d: poly.parse_cancel_response(d),
     {"canceled": ["0xa"], "not_canceled": {"0xb": "already canceled or matched"}}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_polymarket_parsers_raise_only_wire_errors(name, call, template):
    call(copy.deepcopy(template))
    _assert_only(POLY_ERRORS, call, template, seed=len(name) + 100)


def test_mutants_are_seeded_and_differ_from_the_template():
    first = list(_mutants(POLY_ORDER, 1))
    assert first == list(_mutants(POLY_ORDER, 1))
    assert all(m != POLY_ORDER for m in first) and POLY_ORDER["id"] == "0xours"
    assert json.dumps(POLY_ORDER)
