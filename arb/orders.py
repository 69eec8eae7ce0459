# Design note: the leg state machine.
#
# Problem: one leg of an arbitrage is one order at one venue, and the evidence about it arrives
# from several places in any order: the HTTP answer to the submit, websocket fill and order
# events, later queries, a restart that finds the intent in the ledger. Fills may arrive before
# the answer that says they happened; a Polymarket trade is MATCHED (provisional) and may later
# be FAILED (a "ghost fill"); a timeout tells us nothing at all.
#
# Naive approach: a mutable status field set by whoever heard last ("filled" on the HTTP answer,
# "failed" on a timeout, "cancelled" on the IOC remainder). It fails in exactly the ways public
# bots failed: a timeout treated as zero filled (the order filled anyway), a fill report after the
# IOC cancel dropped because the leg was "done", a duplicated fill counted twice, a ghost fill
# kept as a position, a `delayed` answer treated as zero.
#
# Chosen approach: ``Leg`` is a frozen value and ``transition(leg, event)`` a pure function that
# returns the next leg plus the effects the owner must carry out (book a fill, revert a fill,
# start resolution, release the leg). Illegal events are refused: the state is untouched, the
# refusal is returned with its reason and counted on the leg, so the owner can alert and fail
# closed. Rules:
# - UNKNOWN (outcome lost after the request may have left) is left only through venue evidence:
#   a report from a query (Acked / Delayed / Executed / Cancelled / NotFound) or a fill.
# - Fills are keyed by the venue trade id; applying one twice is a no-op, a provisional fill seen
#   again as confirmed is upgraded, the booked quantity never exceeds the order quantity.
# - Terminal states (FILLED, CANCELLED, REJECTED, NOT_PLACED) never lead to a live state. Two
#   things still happen to a finished order: (1) fill reports keep arriving after the venue's final
#   answer (Kalshi sends the IOC response with ``fill_count`` and the `fill` messages separately;
#   a cancel races a fill on a resting order), so CANCELLED and FILLED legs still book fills up to
#   the order quantity; (2) a ghost fill voided after a FILLED answer leaves an order that is done
#   with less than its quantity, which is what CANCELLED means, so FILLED -> CANCELLED on a void.
#
# States added to the brief's list, and why:
# - DELAYED: Polymarket's `delayed` insert status (sports taker delay). The venue accepted the
#   order and will match it later; it is not zero and not unknown. It waits for the user channel
#   or a query, and fills move it on.
# - NOT_PLACED: the venue never had the order: we withdrew an unsent intent (nothing left, e.g.
#   the opportunity expired or a Transient failure proved delivery did not happen), or a query by
#   our id found nothing once the order's lifetime had passed. Distinct from REJECTED (the venue
#   refused it) so the trade log says which happened.
#
# Filled quantity: the venue's order report (``filled_qty`` with the trade ids it covers) can
# run ahead of the individual fill records. ``filled_qty`` is the larger of the booked fills and
# the reported quantity, minus voided trades the report covered, so the owner hedges on the best
# knowledge and a ghost fill is never hedged or unwound as if it existed.
#
# Venue facts relied on: Kalshi IOC/FOK orders never rest and the V2 create answer carries
# ``fill_count`` after the remainder is cancelled; Kalshi fills are final. Polymarket FAK/FOK never
# rest; trades go MATCHED -> MINED -> CONFIRMED or -> FAILED under one trade id; a cancel of a
# matched order answers "already canceled or matched".
from __future__ import annotations

import enum

import attrs

from arb.domain import Instrument, Side, TimeInForce
from arb.money import ONE, Money, Price, Qty
from arb.venues.protocol import FillStatus, OrderResult, OrderStatus


class LegState(enum.Enum):
    PENDING = "pending"
    """Intent written, request not (known to be) sent."""
    SENT = "sent"
    """Request on the wire; no answer yet."""
    ACKNOWLEDGED = "acknowledged"
    """Accepted and resting (GTC only), nothing filled."""
    PARTIALLY_FILLED = "partially_filled"
    """Some quantity filled, the order is still working."""
    DELAYED = "delayed"
    """Polymarket accepted the order for delayed matching; the outcome comes later."""
    UNKNOWN = "unknown"
    """The request may have been processed; only venue evidence resolves it."""
    FILLED = "filled"
    CANCELLED = "cancelled"
    """Done with less than the full quantity (IOC remainder, FOK kill, our cancel, ghost fill)."""
    REJECTED = "rejected"
    """The venue refused the order; nothing rests or filled."""
    NOT_PLACED = "not_placed"
    """The venue never had the order."""

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({LegState.FILLED, LegState.CANCELLED, LegState.REJECTED,
                       LegState.NOT_PLACED})
_WORKING = frozenset({LegState.SENT, LegState.ACKNOWLEDGED, LegState.PARTIALLY_FILLED,
                      LegState.DELAYED, LegState.UNKNOWN})
"""States in which a venue report about the order can arrive."""
_TAKER_TIFS = frozenset({TimeInForce.IOC, TimeInForce.FOK})


@attrs.frozen
class LegFill:
    """One venue trade booked against a leg."""

    trade_id: str
    qty: Qty
    price: Price
    fee: Money
    status: FillStatus


@attrs.frozen
class Leg:
    """One order of one arbitrage attempt, as far as the evidence goes."""

    client_id: str
    """Our id, written to the ledger before the request leaves."""
    instrument: Instrument
    side: Side
    price: Price
    """Limit price actually sent."""
    qty: Qty
    """Quantity actually sent."""
    tif: TimeInForce
    state: LegState = LegState.PENDING
    venue_order_id: str | None = None
    fills: tuple[LegFill, ...] = ()
    """Every trade booked, voided ones included (status FAILED)."""
    reported_qty: Qty = Qty(0)
    """The largest filled quantity a venue report has stated, net of voided trades it covered."""
    reported_trade_ids: frozenset[str] = frozenset()
    """Trade ids the venue's reports said the reported quantity is made of."""
    venue_seen: bool = False
    """A venue report or a fill has shown that the venue has this order."""
    reason: str = ""
    """Why the leg is where it is (venue error text, timeout cause)."""
    refused: int = 0
    """How many events were refused as invalid for this leg."""

    def fill(self, trade_id: str) -> LegFill | None:
        for f in self.fills:
            if f.trade_id == trade_id:
                return f
        return None

    @property
    def booked_qty(self) -> Qty:
        """Quantity of the fill records that still count (provisional or confirmed)."""
        return Qty(sum(f.qty for f in self.fills if f.status is not FillStatus.FAILED))

    @property
    def confirmed_qty(self) -> Qty:
        return Qty(sum(f.qty for f in self.fills if f.status is FillStatus.CONFIRMED))

    @property
    def provisional_qty(self) -> Qty:
        return Qty(sum(f.qty for f in self.fills if f.status is FillStatus.PROVISIONAL))

    @property
    def filled_qty(self) -> Qty:
        """Best knowledge of the filled quantity: booked fills or the venue's report, larger."""
        return Qty(max(self.booked_qty, self.reported_qty))

    @property
    def remaining_qty(self) -> Qty:
        return Qty(self.qty - self.filled_qty)

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def settled(self) -> bool:
        """Terminal, every fill record final, and every reported quantity backed by a fill."""
        return (self.terminal and self.provisional_qty == 0
                and self.booked_qty >= self.reported_qty)


# --- events: what happened to the order (past tense) -------------------------------------------

@attrs.frozen
class Sent:
    """The request is about to leave (recorded before the bytes go out)."""


@attrs.frozen
class SendFailed:
    """A Transient error: provably nothing reached the venue; the same ids may be sent again."""

    reason: str


@attrs.frozen
class Withdrawn:
    """We decided not to send a pending intent."""

    reason: str


@attrs.frozen
class Rejected:
    """The venue definitively refused the order (or ``prepare`` refused it before sending)."""

    reason: str


@attrs.frozen
class TimedOut:
    """The outcome was lost: timeout, reset, 5xx, cancelled mid-request, or a crash restart."""

    reason: str


@attrs.frozen
class Acked:
    """Venue report: the order rests on the book with ``filled_qty`` filled so far."""

    venue_order_id: str
    filled_qty: Qty = Qty(0)
    trade_ids: tuple[str, ...] = ()


@attrs.frozen
class Delayed:
    """Venue report: Polymarket accepted the order for delayed matching."""

    venue_order_id: str


@attrs.frozen
class Executed:
    """Venue report: the order filled completely."""

    venue_order_id: str
    filled_qty: Qty
    trade_ids: tuple[str, ...] = ()


@attrs.frozen
class Cancelled:
    """Venue report: the order is done with ``filled_qty`` filled (possibly zero)."""

    venue_order_id: str
    filled_qty: Qty
    reason: str = ""
    trade_ids: tuple[str, ...] = ()


@attrs.frozen
class NotFound:
    """Venue evidence: a query by our ids found no such order after its lifetime had passed."""

    reason: str


@attrs.frozen
class FillApplied:
    """A trade of this order, from a fill message, a fills query or an order answer."""

    trade_id: str
    qty: Qty
    price: Price
    fee: Money
    provisional: bool
    """Polymarket MATCHED/MINED/RETRYING; False for Kalshi fills and Polymarket CONFIRMED."""
    venue_order_id: str | None = None


@attrs.frozen
class FillVoided:
    """Polymarket reported the trade FAILED: it never settled."""

    trade_id: str


LegEvent = (Sent | SendFailed | Withdrawn | Rejected | TimedOut | Acked | Delayed | Executed
            | Cancelled | NotFound | FillApplied | FillVoided)


# --- effects: what the owner of the leg must do ------------------------------------------------

@attrs.frozen
class FillBooked:
    """A new trade: record it and tell risk (exposure grows even while provisional)."""

    fill: LegFill


@attrs.frozen
class FillConfirmed:
    """A provisional trade became final."""

    trade_id: str


@attrs.frozen
class FillReverted:
    """A ghost fill: take it out of positions and exposure, re-check the hedge, alert."""

    fill: LegFill


@attrs.frozen
class ResolutionNeeded:
    """The leg became UNKNOWN or DELAYED: keep its reservation, block its event, resolve it."""

    state: LegState
    reason: str


@attrs.frozen
class LegFinished:
    """The leg reached a terminal state: the execution may release it."""

    state: LegState
    filled_qty: Qty


LegEffect = FillBooked | FillConfirmed | FillReverted | ResolutionNeeded | LegFinished


@attrs.frozen
class Transition:
    """The outcome of one event: the next leg, the effects, or the refusal and its reason."""

    leg: Leg
    effects: tuple[LegEffect, ...] = ()
    refused: str | None = None

    @property
    def accepted(self) -> bool:
        return self.refused is None


def new_leg(client_id: str, instrument: Instrument, side: Side, price: Price, qty: Qty,
            tif: TimeInForce, venue_order_id: str | None = None) -> Leg:
    """A PENDING leg; raises ValueError naming the bad field if the order cannot exist."""
    if not client_id:
        raise ValueError(f"{instrument}: empty client id")
    if qty <= 0:
        raise ValueError(f"{instrument} {client_id}: quantity {qty} must be positive")
    if not 0 < price <= ONE:
        raise ValueError(f"{instrument} {client_id}: price {price} outside (0, 1]")
    return Leg(client_id, instrument, side, price, qty, tif, venue_order_id=venue_order_id)


def event_from_result(result: OrderResult, *, qty: Qty, reason: str = "") -> LegEvent:
    """The leg event that a venue's ``OrderResult`` (submit answer or query) amounts to."""
    ids = tuple(result.trade_ids)
    match result.status:
        case OrderStatus.RESTING:
            return Acked(result.venue_order_id, result.filled_qty, ids)
        case OrderStatus.DELAYED:
            return Delayed(result.venue_order_id)
        case OrderStatus.FILLED:
            return Executed(result.venue_order_id, result.filled_qty, ids)
        case OrderStatus.CANCELLED:
            if result.filled_qty == qty:
                return Executed(result.venue_order_id, result.filled_qty, ids)
            return Cancelled(result.venue_order_id, result.filled_qty, reason, ids)
    raise ValueError(f"order {result.venue_order_id}: unhandled status {result.status}")


def transition(leg: Leg, event: LegEvent) -> Transition:
    """Apply ``event`` to ``leg``; never raises for a bad event, refuses it instead."""
    match event:
        case Sent():
            if leg.state is not LegState.PENDING:
                return _refuse(leg, event, "only a pending intent can be sent")
            return _move(leg, LegState.SENT)
        case SendFailed(reason=reason):
            if leg.state is not LegState.SENT:
                return _refuse(leg, event, "only a sent request can fail to be delivered")
            return _move(leg, LegState.PENDING, reason=reason)
        case Withdrawn(reason=reason):
            if leg.state is not LegState.PENDING:
                return _refuse(leg, event, "only a pending intent can be withdrawn")
            return _move(leg, LegState.NOT_PLACED, reason=reason)
        case Rejected(reason=reason):
            if leg.state not in (LegState.PENDING, LegState.SENT):
                return _refuse(leg, event, "a rejection can only answer a request")
            if leg.filled_qty:
                return _refuse(leg, event, "a rejected order cannot have fills")
            return _move(leg, LegState.REJECTED, reason=reason)
        case TimedOut(reason=reason):
            if leg.terminal:
                return _refuse(leg, event, "a finished order cannot become unknown")
            return _move(leg, LegState.UNKNOWN, reason=reason)
        case NotFound(reason=reason):
            if leg.state not in (LegState.PENDING, LegState.UNKNOWN):
                return _refuse(leg, event, "only an unknown or unsent order can be not found")
            if leg.venue_seen:
                return _refuse(leg, event, "the venue already showed this order exists")
            return _move(leg, LegState.NOT_PLACED, reason=reason)
        case Acked() | Delayed() | Executed() | Cancelled():
            return _report(leg, event)
        case FillApplied():
            return _apply_fill(leg, event)
        case FillVoided(trade_id=trade_id):
            return _void_fill(leg, event, trade_id)
    return _refuse(leg, event, f"unknown event type {type(event).__name__}")


def _report(leg: Leg, event: Acked | Delayed | Executed | Cancelled) -> Transition:
    if leg.state is LegState.PENDING:
        return _refuse(leg, event, "no request has been sent")
    if leg.state in (LegState.REJECTED, LegState.NOT_PLACED):
        return _refuse(leg, event, f"the order is {leg.state.value}")
    if leg.venue_order_id is not None and event.venue_order_id != leg.venue_order_id:
        return _refuse(leg, event, f"report for order {event.venue_order_id}, leg is order "
                                   f"{leg.venue_order_id}")
    filled = getattr(event, "filled_qty", Qty(0))
    if not 0 <= filled <= leg.qty:
        return _refuse(leg, event, f"reported filled {filled} outside 0..{leg.qty}")
    trade_ids = frozenset(getattr(event, "trade_ids", ()))
    voided_in_report = sum(f.qty for f in leg.fills
                           if f.status is FillStatus.FAILED and f.trade_id in trade_ids)
    updated = attrs.evolve(
        leg, venue_order_id=event.venue_order_id, venue_seen=True,
        reported_qty=Qty(max(leg.reported_qty, filled - voided_in_report)),
        reported_trade_ids=leg.reported_trade_ids | trade_ids)

    match event:
        case Acked():
            if leg.tif in _TAKER_TIFS:
                return _refuse(leg, event, f"a {leg.tif.value} order cannot rest")
            if filled == leg.qty:
                return _refuse(leg, event, "a resting order cannot be completely filled")
            if leg.terminal:
                # An answer overtaken by fills or a later report: keep what it adds, stay done.
                return Transition(updated)
            return _move(updated, _working_state(updated))
        case Delayed():
            if leg.terminal:
                return Transition(updated)
            if leg.state not in (LegState.SENT, LegState.UNKNOWN, LegState.DELAYED):
                return _refuse(leg, event, "a resting order cannot become delayed")
            return _move(updated, LegState.DELAYED, reason="delayed by the venue")
        case Executed():
            if filled != leg.qty:
                return _refuse(leg, event, f"executed with {filled} of {leg.qty}")
            if leg.state is LegState.CANCELLED:
                if leg.booked_qty != leg.qty and not voided_in_report:
                    return _refuse(leg, event, "the venue reported this order cancelled")
                return Transition(updated)
            if updated.filled_qty < leg.qty:
                # The report counts trades that have failed since: done with less than its
                # quantity, which is CANCELLED (as for a ghost fill voided after FILLED).
                return _move(updated, LegState.CANCELLED,
                             reason="executed, but trades it covers failed")
            return _move(updated, LegState.FILLED)
        case Cancelled(reason=reason):
            if leg.state is LegState.FILLED:
                return _refuse(leg, event, f"cancelled with {filled} but the order is filled")
            return _move(updated, LegState.CANCELLED, reason=reason or leg.reason)
    return _refuse(leg, event, "unhandled report")


def _apply_fill(leg: Leg, event: FillApplied) -> Transition:
    if event.qty <= 0:
        return _refuse(leg, event, f"trade {event.trade_id}: quantity {event.qty} not positive")
    if not 0 < event.price <= ONE:
        return _refuse(leg, event, f"trade {event.trade_id}: price {event.price} outside (0, 1]")
    if (event.venue_order_id is not None and leg.venue_order_id is not None
            and event.venue_order_id != leg.venue_order_id):
        return _refuse(leg, event, f"trade {event.trade_id} belongs to order "
                                   f"{event.venue_order_id}, leg is order {leg.venue_order_id}")
    existing = leg.fill(event.trade_id)
    if existing is not None:
        if (existing.qty, existing.price) != (event.qty, event.price):
            return _refuse(leg, event, f"trade {event.trade_id} seen again with different "
                                       f"quantity or price")
        if existing.status is FillStatus.FAILED:
            return _refuse(leg, event, f"trade {event.trade_id} already failed")
        if existing.status is FillStatus.PROVISIONAL and not event.provisional:
            confirmed = attrs.evolve(existing, status=FillStatus.CONFIRMED)
            fills = tuple(confirmed if f is existing else f for f in leg.fills)
            return Transition(attrs.evolve(leg, fills=fills),
                              (FillConfirmed(event.trade_id),))
        return Transition(leg)
    if leg.state in (LegState.REJECTED, LegState.NOT_PLACED):
        return _refuse(leg, event, f"trade {event.trade_id} for a {leg.state.value} order")
    if leg.booked_qty + event.qty > leg.qty:
        return _refuse(leg, event, f"trade {event.trade_id} of {event.qty} would book "
                                   f"{leg.booked_qty + event.qty} of an order for {leg.qty}")
    booked = LegFill(event.trade_id, event.qty, event.price, event.fee,
                     FillStatus.PROVISIONAL if event.provisional else FillStatus.CONFIRMED)
    updated = attrs.evolve(leg, fills=(*leg.fills, booked), venue_seen=True,
                           venue_order_id=leg.venue_order_id or event.venue_order_id)
    effects: list[LegEffect] = [FillBooked(booked)]
    if leg.terminal:
        return Transition(updated, tuple(effects))
    if updated.filled_qty == leg.qty:
        target = LegState.FILLED
    elif leg.state in (LegState.PENDING, LegState.UNKNOWN):
        # A partial fill proves the order exists, not how it ended: stay unresolved.
        target = LegState.UNKNOWN
    else:
        target = LegState.PARTIALLY_FILLED
    moved = _move(updated, target)
    return Transition(moved.leg, (*effects, *moved.effects))


def _void_fill(leg: Leg, event: FillVoided, trade_id: str) -> Transition:
    existing = leg.fill(trade_id)
    if existing is None:
        return _refuse(leg, event, f"trade {trade_id} is not booked on this leg")
    if existing.status is FillStatus.FAILED:
        return Transition(leg)
    if existing.status is FillStatus.CONFIRMED:
        return _refuse(leg, event, f"trade {trade_id} is confirmed and cannot fail")
    voided = attrs.evolve(existing, status=FillStatus.FAILED)
    reported = leg.reported_qty
    if trade_id in leg.reported_trade_ids:
        reported = Qty(max(0, reported - existing.qty))
    updated = attrs.evolve(leg, fills=tuple(voided if f is existing else f for f in leg.fills),
                           reported_qty=reported,
                           reported_trade_ids=leg.reported_trade_ids - {trade_id})
    effects: list[LegEffect] = [FillReverted(existing)]
    if leg.state is LegState.FILLED:
        moved = _move(updated, LegState.CANCELLED, reason=f"trade {trade_id} failed")
        return Transition(moved.leg, (*effects, *moved.effects))
    if leg.state is LegState.PARTIALLY_FILLED and updated.filled_qty == 0:
        updated = attrs.evolve(updated, state=LegState.ACKNOWLEDGED)
    return Transition(updated, tuple(effects))


def _working_state(leg: Leg) -> LegState:
    return LegState.PARTIALLY_FILLED if leg.filled_qty else LegState.ACKNOWLEDGED


def _move(leg: Leg, state: LegState, *, reason: str | None = None) -> Transition:
    moved = attrs.evolve(leg, state=state, reason=leg.reason if reason is None else reason)
    if state is leg.state:
        return Transition(moved)
    if state.terminal:
        return Transition(moved, (LegFinished(state, moved.filled_qty),))
    if state in (LegState.UNKNOWN, LegState.DELAYED):
        return Transition(moved, (ResolutionNeeded(state, moved.reason),))
    return Transition(moved)


def _refuse(leg: Leg, event: LegEvent, why: str) -> Transition:
    reason = (f"{leg.instrument} {leg.client_id}: {type(event).__name__} refused in state "
              f"{leg.state.value}: {why}")
    return Transition(attrs.evolve(leg, refused=leg.refused + 1), refused=reason)
