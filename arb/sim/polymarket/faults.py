"""Fault hooks for the simulated Polymarket exchange (reliability.md rows 1, 8, 12-14).

A plain object with no I/O: scenarios flip its fields, the core and the front ends consult it.
Counters ("next N ...") are consumed one per matching event, so a scenario states exactly how
many requests or trades are affected.
"""
from __future__ import annotations

import enum
from collections.abc import Callable

import attrs


class TradingMode(enum.Enum):
    NORMAL = "normal"
    CANCEL_ONLY = "cancel_only"
    """Order posts answer 503 ``Trading is currently cancel-only...``; cancels still work."""
    POST_ONLY = "post_only"
    """Only ``postOnly`` orders are accepted (the window after a matching-engine restart)."""
    DISABLED = "disabled"
    """Every trading endpoint answers 503 ``Trading is currently disabled...``."""


@attrs.frozen
class RestFailure:
    """Answer the next ``remaining`` REST calls whose path starts with ``path_prefix``."""

    status: int
    """500, 502, 503, 425 (matching-engine restart) or 429."""
    remaining: int
    path_prefix: str = "/"


@attrs.define(eq=False)
class PolymarketFaults:
    """Switches a scenario flips to make the simulated venue misbehave."""

    market_ws_frozen: bool = False
    """Silent freeze: market sockets stay open and answer PING with PONG but send no data."""
    rest_failures: list[RestFailure] = attrs.Factory(list)
    hang_next_order_responses: int = 0
    """Accept (and execute) the next N posted orders, then never send the HTTP response."""
    delay_next_orders: int = 0
    """Answer ``delayed`` for the next N marketable orders even on markets without a delay."""
    ghost_next_trades: int = 0
    """The next N trades go MATCHED -> RETRYING -> FAILED and their balance moves are undone."""
    insufficient_balance_next_orders: int = 0
    """Reject the next N orders with ``not enough balance / allowance`` whatever the balance."""
    trading_mode: TradingMode = TradingMode.NORMAL
    trading_mode_until_ms: int | None = None
    """When set, the mode reverts to NORMAL at this exchange time."""
    _drop_listeners: list[Callable[[], None]] = attrs.field(factory=list, init=False)

    def fail_next_rest_calls(self, status: int, count: int, path_prefix: str = "/") -> None:
        """Make the next ``count`` REST calls under ``path_prefix`` answer ``status``."""
        if count <= 0:
            raise ValueError(f"count must be positive, got {count}")
        self.rest_failures.append(RestFailure(status, count, path_prefix))

    def take_rest_failure(self, path: str) -> int | None:
        """Consume one injected failure matching ``path``; return its status or None."""
        for i, failure in enumerate(self.rest_failures):
            if path.startswith(failure.path_prefix):
                if failure.remaining <= 1:
                    del self.rest_failures[i]
                else:
                    self.rest_failures[i] = attrs.evolve(failure, remaining=failure.remaining - 1)
                return failure.status
        return None

    def set_trading_mode(self, mode: TradingMode, *, until_ms: int | None = None) -> None:
        self.trading_mode = mode
        self.trading_mode_until_ms = until_ms

    def effective_trading_mode(self, now_ms: int) -> TradingMode:
        if self.trading_mode_until_ms is not None and now_ms >= self.trading_mode_until_ms:
            self.trading_mode = TradingMode.NORMAL
            self.trading_mode_until_ms = None
        return self.trading_mode

    def take(self, counter: str) -> bool:
        """Consume one unit of a ``*_next_*`` counter; True when the fault applies now."""
        value = getattr(self, counter)
        if value > 0:
            setattr(self, counter, value - 1)
            return True
        return False

    def on_drop_sockets(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Register a socket-closing callback; returns the function that unregisters it."""
        self._drop_listeners.append(callback)
        return lambda: self._drop_listeners.remove(callback)

    def drop_sockets(self) -> None:
        """Close every open websocket (market and user) at once."""
        for callback in list(self._drop_listeners):
            callback()
