"""What the actors need from the durable journal (the SQLite ledger), as one narrow contract.

Actors never touch SQL. They write intents before sending, record every answer and fill, and
persist the risk actor's breaker state and loss counters, through ``Journal``. Every method is
synchronous (SQLite on a local file); an exception from any of them is a core failure that stops
trading.
"""
from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs

from actors.messages import BreakerState
from arb.domain import Instrument, Side, Venue
from arb.money import Money, Price, Qty
from arb.venues.protocol import Fill, OrderResult


class IntentState(enum.Enum):
    PENDING = "pending"
    """Written, not yet sent (or sent with no answer yet)."""
    UNKNOWN = "unknown"
    """Sent; the outcome is unknown (timeout, reset, cancellation mid-request)."""
    DELAYED = "delayed"
    """The venue accepted it with a matching delay; the outcome arrives later."""
    DONE = "done"
    """A definitive answer is recorded."""


@attrs.frozen
class Intent:
    """A write-ahead record of one order, persisted before any byte is sent."""

    client_id: str
    execution_id: str
    pair_id: str
    event_key: str
    leg: str
    """``"a"``/``"b"`` for the entry legs, ``"unwind-N"``/``"complete-N"`` for repairs."""
    instrument: Instrument
    side: Side
    price: Price
    qty: Qty
    venue_order_id: str | None
    """Known in advance where the venue derives it from the request (Polymarket order hash)."""

    @property
    def venue(self) -> Venue:
        return self.instrument.venue


@attrs.frozen
class PersistedRisk:
    """The risk actor's state that must survive a restart."""

    breaker: BreakerState
    reason: str
    day: datetime.date
    daily_loss: Money
    """Realised loss booked on ``day`` (positive = lost)."""
    consecutive_errors: int
    consecutive_losses: int


class Journal(Protocol):
    def record_intent(self, intent: Intent) -> None:
        """Durably record ``intent`` (state PENDING) before it is sent."""
        ...

    def mark_intent(self, client_id: str, state: IntentState, detail: str = "") -> None:
        ...

    def record_result(self, client_id: str, result: OrderResult) -> None:
        """Record a definitive or interim venue answer (venue order id, filled qty, status)."""
        ...

    def record_fill(self, fill: Fill) -> bool:
        """Record a fill idempotently by (venue, trade id); False if already known as is."""
        ...

    def unresolved_intents(self) -> Sequence[Intent]:
        """Intents in PENDING, UNKNOWN or DELAYED state."""
        ...

    def positions(self) -> Mapping[Instrument, Qty]:
        """Positions derived from the recorded non-failed fills."""
        ...

    def load_risk_state(self) -> PersistedRisk | None:
        ...

    def save_risk_state(self, state: PersistedRisk) -> None:
        ...
