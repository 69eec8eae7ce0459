"""A market actor's read-only view of the three books of its pair (owned by the feeds)."""
from __future__ import annotations

import attrs

from arb.book import KalshiBook, Level, PolyBook
from arb.domain import Instrument, Venue
from arb.pairs import MarketPair


@attrs.define(eq=False)
class PairBooks:
    pair: MarketPair
    kalshi: KalshiBook
    poly_yes: PolyBook
    """The book of ``pair.poly.yes_token``."""
    poly_no: PolyBook
    """The book of ``pair.poly.no_token``."""

    def __attrs_post_init__(self) -> None:
        p = self.pair
        if self.kalshi.ticker != p.kalshi.ticker:
            raise ValueError(f"{p.pair_id}: Kalshi book is {self.kalshi.ticker}")
        if (self.poly_yes.token_id, self.poly_no.token_id) != (p.poly.yes_token, p.poly.no_token):
            raise ValueError(f"{p.pair_id}: Polymarket books are {self.poly_yes.token_id} / "
                             f"{self.poly_no.token_id}, pair wants {p.poly.yes_token} / "
                             f"{p.poly.no_token}")

    @property
    def keys(self) -> frozenset[tuple[Venue, str]]:
        """The router keys of these books."""
        return frozenset({(Venue.KALSHI, self.kalshi.ticker),
                          (Venue.POLYMARKET, self.poly_yes.token_id),
                          (Venue.POLYMARKET, self.poly_no.token_id)})

    def seeded(self) -> bool:
        """All three books hold a snapshot and no gap since."""
        return self.kalshi.valid and self.poly_yes.valid and self.poly_no.valid

    def fresh(self, now: float, max_age: float) -> bool:
        """Seeded and every book known current within ``max_age`` seconds of ``now``: updated
        itself, or vouched for by a live, gap-free connection (``Book.current_as_of``)."""
        return self.seeded() and all(
            now - b.current_as_of() <= max_age
            for b in (self.kalshi, self.poly_yes, self.poly_no))

    def _poly(self, instrument: Instrument) -> PolyBook:
        if instrument.token == self.poly_yes.token_id:
            return self.poly_yes
        if instrument.token == self.poly_no.token_id:
            return self.poly_no
        raise ValueError(f"{self.pair.pair_id}: {instrument} is not one of this pair's tokens")

    def received_at(self, instrument: Instrument) -> float:
        """Feed time ``instrument``'s book is known current as of (its age is measured from it)."""
        if instrument.venue is Venue.KALSHI:
            return self.kalshi.current_as_of()
        return self._poly(instrument).current_as_of()

    def asks(self, instrument: Instrument) -> list[Level]:
        """``instrument``'s ask ladder, best first (Kalshi: implied from the other side's bids)."""
        if instrument.venue is Venue.KALSHI:
            return self.kalshi.asks(instrument.kalshi_outcome)
        return self._poly(instrument).asks()

    def best_ask(self, instrument: Instrument) -> Level | None:
        if instrument.venue is Venue.KALSHI:
            return self.kalshi.best_ask(instrument.kalshi_outcome)
        return self._poly(instrument).best_ask()

    def best_bid(self, instrument: Instrument) -> Level | None:
        if instrument.venue is Venue.KALSHI:
            return self.kalshi.best_bid(instrument.kalshi_outcome)
        return self._poly(instrument).best_bid()
