"""Seeded random order flow: money is conserved, books and reservations stay consistent."""
from __future__ import annotations

import random

import pytest

from arb.domain import TimeInForce
from arb.money import SCALE, parse_money
from arb.sim.kalshi.core import RESTING, KalshiExchange, NewOrder
from arb.sim.kalshi.errors import KalshiApiError
from arb.sim.kalshi.sample import HOU, SAC, TOTAL


def check_invariants(exchange: KalshiExchange, initial_cash: int) -> None:
    fees = sum(f.fee_cost for a in exchange.accounts.values() for f in a.fills)
    locked = 0
    for ticker, market in exchange.markets.items():
        positions = [a.positions[ticker].position for a in exchange.accounts.values()
                     if ticker in a.positions]
        assert sum(positions) == 0, ticker  # every YES held is matched by a NO held
        locked += sum(p for p in positions if p > 0)  # each pair locks exactly $1
        assert market.open_interest == sum(p for p in positions if p > 0)
        yes, no = exchange.orderbook(ticker)
        resting = [o for a in exchange.accounts.values() for o in a.resting.values()
                   if o.ticker == ticker]
        assert sum(q for _, q in yes) == sum(o.remaining for o in resting if o.book_side == "bid")
        assert sum(q for _, q in no) == sum(o.remaining for o in resting if o.book_side == "ask")
        best_bid, best_ask = market.book.best_bid(), market.book.best_ask()
        assert best_bid is None or best_ask is None or best_bid < best_ask  # never crossed
    cash = sum(a.cash for a in exchange.accounts.values())
    # One contract (SCALE micro-contracts) locks SCALE micro-dollars.
    assert cash + fees + locked == initial_cash
    for acct in exchange.accounts.values():
        assert all(o.status == RESTING for o in acct.resting.values())
        assert acct.reserved == sum(o.reserved for o in acct.resting.values())
        assert acct.reserved <= acct.cash  # collateral never exceeds cash


@pytest.mark.parametrize("seed", range(5))
def test_random_flow_conserves_money(exchange: KalshiExchange, seed: int):
    rng = random.Random(seed)
    users = [exchange.register_account(cash=parse_money(str(rng.randint(50, 400))))
             for _ in range(4)]
    initial = sum(exchange.accounts[u].cash for u in users)
    rejected = 0
    for _ in range(300):
        user = rng.choice(users)
        acct = exchange.accounts[user]
        if acct.resting and rng.random() < 0.25:
            exchange.cancel_order(user, rng.choice(list(acct.resting)))
        else:
            ticker = rng.choice((SAC, HOU, TOTAL))
            step = 1_000 if ticker == TOTAL else 10_000
            count = rng.randint(1, 400) * 10_000 if ticker == TOTAL else rng.randint(1, 20) * SCALE
            req = NewOrder(ticker, rng.choice(("bid", "ask")),
                           rng.randrange(20_000, 980_001, step), count,
                           rng.choice(list(TimeInForce)), rng.choice(("taker_at_cross", "maker")))
            try:
                exchange.place_order(user, req)
            except KalshiApiError as exc:
                assert exc.code == "insufficient_balance", exc
                rejected += 1
        check_invariants(exchange, initial)
    assert sum(len(exchange.accounts[u].fills) for u in users) > 50
    assert rejected < 300
