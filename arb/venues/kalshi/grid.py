"""A Kalshi market's order-entry rules: its price grid, fractional counts and shard.

Kalshi rejects off-grid prices; the grid is the market's ``price_ranges`` (venues.md A3), a list
of bands ``start <= p <= end`` each with its own ``step``. Whole-cent prices are valid in every
structure, so ``MarketRules.default()`` (whole cents, whole contracts) is safe when a market's rules
are not known yet. Rounding always moves in the caller's safe direction and never leaves (0, 1).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from arb.money import (
    CENT,
    ONE,
    ONE_CONTRACT,
    MoneyError,
    Price,
    Qty,
    Round,
    parse_price,
    round_to_step,
)
from arb.pairs import PriceBand

WHOLE_CENTS: tuple[PriceBand, ...] = (PriceBand(Price(0), ONE, Price(CENT)),)
FRACTIONAL_STEP = Qty(ONE_CONTRACT // 100)
"""0.01 contract: the finest count Kalshi accepts."""


class GridError(ValueError):
    """A price that has no valid grid point in the requested direction, or a bad grid."""


@attrs.frozen
class MarketRules:
    grid: tuple[PriceBand, ...] = WHOLE_CENTS
    fractional: bool = False
    """True when the market accepts 0.01-contract counts."""
    exchange_index: int | None = None
    """The market's shard; None lets Kalshi auto-route by ticker (slower)."""

    @classmethod
    def default(cls) -> MarketRules:
        return cls()

    @property
    def count_step(self) -> Qty:
        return FRACTIONAL_STEP if self.fractional else ONE_CONTRACT

    def round_price(self, price: Price, rounding: Round) -> Price:
        """The nearest grid price at or below (DOWN) or at or above (UP) ``price``.

        Raises:
            GridError: no grid point strictly inside (0, 1) exists in that direction.
        """
        best: int | None = None
        for band in self.grid:
            if rounding is Round.DOWN:
                if price < band.start:
                    continue
                p = band.start + round_to_step(min(price, band.end) - band.start, band.step,
                                               Round.DOWN)
                if best is None or p > best:
                    best = p
            else:
                if price > band.end:
                    continue
                p = band.start + round_to_step(max(price, band.start) - band.start, band.step,
                                               Round.UP)
                if p <= band.end and (best is None or p < best):
                    best = p
        if best is None or not 0 < best < ONE:
            raise GridError(f"no valid Kalshi price {rounding.value} from {price} on this grid")
        return Price(best)

    def on_grid(self, price: Price) -> bool:
        return 0 < price < ONE and any(
            band.start <= price <= band.end and (price - band.start) % band.step == 0
            for band in self.grid)

    def round_count(self, qty: Qty) -> Qty:
        """Round a count down to the market's precision (never send more than asked)."""
        return Qty(round_to_step(qty, self.count_step, Round.DOWN))


def parse_price_ranges(ranges: Sequence[Any], *, where: str) -> tuple[PriceBand, ...]:
    """Market ``price_ranges: [{start, end, step}]`` (dollar strings) -> bands."""
    bands = []
    for item in ranges:
        if not isinstance(item, Mapping):
            raise GridError(f"{where}: price range {item!r} is not an object")
        try:
            band = PriceBand(parse_price(item["start"], what=f"{where} start"),
                             parse_price(item["end"], what=f"{where} end"),
                             parse_price(item["step"], what=f"{where} step"))
        except KeyError as exc:
            raise GridError(f"{where}: price range {item!r} lacks {exc.args[0]!r}") from None
        except MoneyError as exc:
            raise GridError(str(exc)) from None
        if band.step <= 0 or band.start > band.end:
            raise GridError(f"{where}: price range {item!r} is empty or has a zero step")
        bands.append(band)
    if not bands:
        raise GridError(f"{where}: price_ranges is empty")
    return tuple(bands)


def parse_market_rules(market: Mapping[str, Any]) -> MarketRules:
    """Rules from a Market object (``GET /markets/{ticker}`` -> ``market``)."""
    where = f"kalshi market {market.get('ticker')}"
    ranges = market.get("price_ranges")
    grid = parse_price_ranges(ranges, where=f"{where} price_ranges") if ranges else WHOLE_CENTS
    fractional = market.get("fractional_trading_enabled") is True
    index = market.get("exchange_index")
    exchange_index = index if isinstance(index, int) and not isinstance(index, bool) else None
    return MarketRules(grid, fractional, exchange_index)
