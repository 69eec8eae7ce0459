"""The closed set of messages between actors, grouped by direction.

Commands are imperative (``Reserve``, ``ResetBreaker``), events are past tense (``LegFilled``,
``ExecutionFinished``). Every message is a frozen value; inboxes dispatch with ``match`` on the
class. A *call* carries its own reply channel (capacity 1, so the replier never blocks); a *cast*
is fire-and-forget into a bounded inbox.
"""
from __future__ import annotations

import enum

import attrs
import trio

from arb.domain import Instrument, Side, Venue
from arb.ledger import RiskState as BreakerState
from arb.money import Money, Price, Qty
from arb.venues.protocol import VenueStatus

__all__ = ["BreakerState"]
"""``BreakerState`` is the ledger's ``RiskState`` (ACTIVE, REDUCING, HALTED): persisted as is.
ACTIVE allows entries within limits; REDUCING allows no new entries but cancels, completions and
unwinds; HALTED cancels the trading scope, and only an operator resets it."""


class DenyReason(enum.Enum):
    DISABLED = "disabled"
    BREAKER = "breaker"
    MARKET_BUSY = "market_busy"
    EVENT_BUSY = "event_busy"
    EVENT_BLOCKED = "event_blocked"
    """An UNKNOWN leg on this event keeps it blocked until venue evidence resolves it."""
    MARKET_LIMIT = "market_limit"
    EVENT_LIMIT = "event_limit"
    VENUE_LIMIT = "venue_limit"
    TOTAL_LIMIT = "total_limit"
    TRADE_TOO_SMALL = "trade_too_small"
    TRADE_TOO_LARGE = "trade_too_large"
    ORDER_RATE = "order_rate"
    TRADE_RATE = "trade_rate"
    BALANCE_UNKNOWN = "balance_unknown"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    VENUE_INACTIVE = "venue_inactive"
    NOT_RECONCILED = "not_reconciled"


class ExecutionOutcome(enum.Enum):
    HEDGED = "hedged"
    """Both legs filled the same, non-zero quantity."""
    MISSED = "missed"
    """Both legs ended with nothing filled (FOK killed, refused): flat, no repair needed."""
    UNWOUND = "unwound"
    """A one-sided excess was completed or unwound to flat."""
    EXPOSED = "exposed"
    """A one-sided excess could not be shed within its budget: exposure remains."""
    UNRESOLVED = "unresolved"
    """At least one leg is still UNKNOWN; its reservation stays and its event stays blocked."""
    EXPIRED = "expired"
    """The edge was gone on re-pricing; nothing was sent."""
    ABORTED = "aborted"
    """Nothing was sent (a leg failed to prepare, or an intent could not be written)."""


@attrs.frozen
class LegPlan:
    """One leg of a planned execution, as the risk actor sees it."""

    instrument: Instrument
    side: Side
    price: Price
    qty: Qty
    cost: Money
    """Dollars at risk for this leg at its limit price, fees included (rounded up)."""

    @property
    def venue(self) -> Venue:
        return self.instrument.venue


# market -> risk (call)
@attrs.frozen
class Reserve:
    """Ask for an atomic reservation of the exposure of ``legs``; answered Granted or Denied."""

    execution_id: str
    pair_id: str
    event_key: str
    legs: tuple[LegPlan, ...]
    reply: trio.MemorySendChannel[Granted | Denied]


# risk -> market (replies)
@attrs.frozen
class Granted:
    execution_id: str


@attrs.frozen
class Denied:
    execution_id: str
    reason: DenyReason
    detail: str = ""


# market -> risk (casts)
@attrs.frozen
class LegFilled:
    """Some quantity of a leg executed (buys add exposure, sells shed it)."""

    execution_id: str
    pair_id: str
    event_key: str
    client_id: str
    instrument: Instrument
    side: Side
    qty: Qty
    price: Price
    fee: Money


@attrs.frozen
class FillReverted:
    """A provisional fill failed (ghost fill): take ``qty`` back out of exposure."""

    execution_id: str
    pair_id: str
    event_key: str
    client_id: str
    instrument: Instrument
    side: Side
    qty: Qty
    price: Price


@attrs.frozen
class LegOutcomeUnknown:
    """A leg was sent and its outcome is not known: keep the reservation, block the event."""

    execution_id: str
    client_id: str
    venue: Venue
    reason: str


@attrs.frozen
class LegResolved:
    """Venue evidence resolved an UNKNOWN leg (fills, if any, arrive as ``LegFilled``)."""

    execution_id: str
    client_id: str


@attrs.frozen
class LossRealised:
    """A realised loss (positive amount) from a one-sided fill, completion or unwind."""

    execution_id: str
    pair_id: str
    amount: Money
    reason: str


@attrs.frozen
class ErrorOccurred:
    """A venue or execution error that counts toward the consecutive-error breaker."""

    pair_id: str
    venue: Venue | None
    reason: str


@attrs.frozen
class ExecutionFinished:
    """An execution reached a terminal state; releases its reservation unless legs are UNKNOWN."""

    execution_id: str
    outcome: ExecutionOutcome
    detail: str = ""


@attrs.frozen
class UnwindFailed:
    """A one-sided excess could not be shed: exposure remains on ``instrument``."""

    execution_id: str
    pair_id: str
    instrument: Instrument
    qty: Qty
    reason: str


# reconcile -> risk
@attrs.frozen
class BalanceObserved:
    venue: Venue
    available: Money


@attrs.frozen
class VenueStatusObserved:
    status: VenueStatus


@attrs.frozen
class Reconciled:
    """A full reconciliation pass finished; ``drift`` lists every disagreement found."""

    clean: bool
    drift: tuple[str, ...] = ()


# operator -> risk
@attrs.frozen
class ResetBreaker:
    operator: str
    note: str = ""


@attrs.frozen
class AcknowledgeDrift:
    operator: str


@attrs.frozen
class SetTradingEnabled:
    enabled: bool
    operator: str


# risk -> supervisor
@attrs.frozen
class Halt:
    """Stop trading now: cancel the trading scope, cancel every order, reconcile."""

    reason: str


RiskMessage = (Reserve | LegFilled | FillReverted | LegOutcomeUnknown | LegResolved | LossRealised
               | ErrorOccurred | ExecutionFinished | UnwindFailed | BalanceObserved
               | VenueStatusObserved | Reconciled | ResetBreaker | AcknowledgeDrift
               | SetTradingEnabled)
"""Everything the risk actor's inbox accepts."""
