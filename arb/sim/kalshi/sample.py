"""A small ready-made Kalshi listing: one NBA game (two team markets) and one fine-grid total.

For tests, demos and the ``arb sim`` command before the slate generator drives listings.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from arb.money import ONE, Price
from arb.sim.kalshi.core import KalshiExchange
from arb.sim.listing import KalshiEvent, KalshiMarket, KalshiSeries, PriceRange

GAME_EVENT = "KXNBAGAME-26JAN11HOUSAC"
SAC = f"{GAME_EVENT}-SAC"
HOU = f"{GAME_EVENT}-HOU"
TOTAL_EVENT = "KXNBATOTAL-26JAN11HOUSAC"
TOTAL = f"{TOTAL_EVENT}-219"
"""Deci-cent grid, fractional counts enabled, no maker fees."""
TIP_OFF = datetime(2026, 1, 11, 20, 0, tzinfo=UTC)


def _market(ticker: str, event: str, label: str, open_at: datetime, **kw) -> KalshiMarket:
    return KalshiMarket(ticker=ticker, event_ticker=event, yes_sub_title=label,
                        no_sub_title=label, rules_primary=f"If {label}, then the market "
                        "resolves to Yes.", open_time=open_at - timedelta(days=1),
                        close_time=open_at + timedelta(hours=4),
                        expected_expiration_time=open_at + timedelta(hours=5),
                        occurrence_datetime=open_at, **kw)


def list_sample(exchange: KalshiExchange, tip_off: datetime = TIP_OFF) -> None:
    """List the sample series, events and markets on ``exchange``."""
    exchange.add_series(KalshiSeries("KXNBAGAME", "Professional Basketball Game",
                                     tags=("Basketball",), fee_type="quadratic_with_maker_fees"))
    exchange.add_series(KalshiSeries("KXNBATOTAL", "Professional Basketball Total Points",
                                     tags=("Basketball",)))
    exchange.add_event(KalshiEvent(
        GAME_EVENT, "KXNBAGAME", "Houston at Sacramento", "HOU at SAC (Jan 11)", True,
        (_market(SAC, GAME_EVENT, "Sacramento", tip_off),
         _market(HOU, GAME_EVENT, "Houston", tip_off))))
    exchange.add_event(KalshiEvent(
        TOTAL_EVENT, "KXNBATOTAL", "Houston at Sacramento: Total Points", "HOU at SAC", False,
        (_market(TOTAL, TOTAL_EVENT, "Over 219.5 points scored", tip_off,
                 price_level_structure="deci_cent",
                 price_ranges=(PriceRange(Price(0), ONE, Price(1_000)),),
                 fractional_trading_enabled=True),)))


def sample_exchange(clock: Callable[[], int] | None = None, seed: int = 7) -> KalshiExchange:
    """A fresh exchange with the sample listing, tipping off at the clock's current time.

    Wall-clock time unless ``clock`` (Unix ms) is given; markets are open from a day before
    tip-off until four hours after, whatever the date in the tickers says.
    """
    exchange = KalshiExchange(seed=seed) if clock is None else KalshiExchange(clock=clock, seed=seed)
    list_sample(exchange, datetime.fromtimestamp(exchange.clock() / 1000, UTC))
    return exchange
