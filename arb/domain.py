"""Small shared vocabulary: venues, instruments, order sides and time-in-force."""
from __future__ import annotations

import enum

import attrs


class Venue(enum.Enum):
    KALSHI = "kalshi"
    POLYMARKET = "polymarket"


class Side(enum.Enum):
    """Buy or sell the instrument itself (a Kalshi YES/NO contract, a Polymarket token)."""

    BUY = "buy"
    SELL = "sell"


class Outcome(enum.Enum):
    """A Kalshi market's two contracts. Polymarket instruments are tokens instead."""

    YES = "yes"
    NO = "no"


class TimeInForce(enum.Enum):
    """Order lifetime. IOC is Kalshi ``immediate_or_cancel`` and Polymarket ``FAK``."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


@attrs.frozen
class Instrument:
    """One tradable contract.

    Kalshi: ``market`` is the market ticker and ``token`` is ``"yes"`` or ``"no"``.
    Polymarket: ``market`` is the condition id and ``token`` the outcome token id.
    """

    venue: Venue
    market: str
    token: str

    @classmethod
    def kalshi(cls, ticker: str, outcome: Outcome) -> Instrument:
        return cls(Venue.KALSHI, ticker, outcome.value)

    @classmethod
    def polymarket(cls, condition_id: str, token_id: str) -> Instrument:
        return cls(Venue.POLYMARKET, condition_id, token_id)

    @property
    def kalshi_outcome(self) -> Outcome:
        """The YES/NO side of a Kalshi instrument (ValueError for Polymarket)."""
        if self.venue is not Venue.KALSHI:
            raise ValueError(f"{self} is not a Kalshi instrument")
        return Outcome(self.token)

    def __str__(self) -> str:
        return f"{self.venue.value}:{self.market}:{self.token}"
