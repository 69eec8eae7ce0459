"""One market's single YES book: price levels of resting orders in time priority.

Kalshi keeps one book per market on the YES leg: a bid buys YES at p, an ask sells YES at p,
and a bid to buy NO at q is the same resting liquidity as a YES ask at 1 - q. Levels are keyed
by YES price; each level is a FIFO of resting orders (price-time priority).
"""
from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from typing import Protocol

import attrs

from arb.money import Price, Qty

BID = "bid"
ASK = "ask"


class Resting(Protocol):
    book_side: str
    price: Price
    remaining: Qty


@attrs.define(eq=False)
class _Side:
    levels: dict[Price, deque] = attrs.Factory(dict)
    prices: list[Price] = attrs.Factory(list)
    """Ascending."""

    def add(self, order: Resting) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = deque()
            bisect.insort(self.prices, order.price)
        level.append(order)

    def remove(self, order: Resting) -> None:
        level = self.levels[order.price]
        level.remove(order)
        if not level:
            del self.levels[order.price]
            self.prices.pop(bisect.bisect_left(self.prices, order.price))

    def size_at(self, price: Price) -> Qty:
        return Qty(sum(o.remaining for o in self.levels.get(price, ())))


@attrs.define(eq=False)
class YesBook:
    """Resting orders of one market. Orders are added and removed whole; fills shrink
    ``remaining`` in place and the caller removes an order once it reaches zero."""

    bids: _Side = attrs.Factory(_Side)
    asks: _Side = attrs.Factory(_Side)

    def side(self, book_side: str) -> _Side:
        return self.bids if book_side == BID else self.asks

    def add(self, order: Resting) -> None:
        self.side(order.book_side).add(order)

    def remove(self, order: Resting) -> None:
        self.side(order.book_side).remove(order)

    def best_bid(self) -> Price | None:
        return self.bids.prices[-1] if self.bids.prices else None

    def best_ask(self) -> Price | None:
        return self.asks.prices[0] if self.asks.prices else None

    def crossing(self, book_side: str, limit: Price) -> Iterator[Resting]:
        """Resting orders an incoming ``book_side`` order at ``limit`` would meet, best first.

        Iterates over a copy, so the caller may remove orders while walking.
        """
        if book_side == BID:
            prices = [p for p in self.asks.prices if p <= limit]
            levels = self.asks.levels
        else:
            prices = [p for p in reversed(self.bids.prices) if p >= limit]
            levels = self.bids.levels
        for price in prices:
            yield from list(levels.get(price, ()))

    def levels(self, book_side: str) -> list[tuple[Price, Qty]]:
        """Aggregated ``(yes_price, size)`` levels of one side, ascending by YES price."""
        side = self.side(book_side)
        return [(p, side.size_at(p)) for p in side.prices]
