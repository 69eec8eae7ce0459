"""Fault hooks of the simulated Kalshi exchange, set from tests (and later the CLI).

Plain state, no I/O: the REST and websocket front ends consult it on every request and frame.
Attach one to an exchange with ``faults_of(exchange)`` (created on first use).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs

from arb.sim.kalshi.core import KalshiExchange


class FaultTarget(Protocol):
    """What a websocket session exposes to the fault hooks."""

    def drop(self) -> None: ...

    def kill_subscriptions(self, sid: int | None, code: int) -> int: ...


@attrs.define(eq=False)
class KalshiFaults:
    exchange: KalshiExchange
    rest_failures: list[int] = attrs.Factory(list)
    """Statuses to answer the next REST calls with, in order (e.g. [500, 503, 429])."""
    hang_orders: int = 0
    """The next N order creations are placed, but their HTTP response never comes."""
    fail_after_accept: list[int] = attrs.Factory(list)
    """The next order creations are placed, then answered with these 5xx statuses."""
    feeds_frozen: bool = False
    """Websocket data silently dropped (sequence numbers still consumed); pings continue."""
    skip_seq: int = 0
    """The next orderbook frame's seq jumps by this many extra numbers (a gap)."""
    repeat_seq: int = 0
    """The next N orderbook frames are each sent twice with the same seq."""
    refusing: bool = False
    """The venue is down: every REST call answers 503 and websocket handshakes are refused."""
    _sessions: list[FaultTarget] = attrs.Factory(list)

    def fail_next_rest(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` REST calls with ``status``: 5xx, 429, or 403 (an HTML
        CloudFront-style page, as a geoblock or a bad host produces)."""
        if status not in (403, 429, 500, 502, 503, 504):
            raise ValueError(f"unsupported injected status {status}")
        self.rest_failures.extend([status] * count)

    def refuse_connections(self, refusing: bool = True) -> None:
        """Take the venue down (or bring it back); open websockets are dropped too."""
        self.refusing = refusing
        if refusing:
            self.drop_websockets()

    def take_rest_failure(self) -> int | None:
        return self.rest_failures.pop(0) if self.rest_failures else None

    def hang_next_orders(self, count: int = 1) -> None:
        self.hang_orders += count

    def fail_next_orders_after_accept(self, count: int, status: int = 502) -> None:
        """The next ``count`` order creations are placed (and may fill), but answered with a 5xx
        ``status``, as when a gateway fails after the venue accepted the order."""
        if status not in (500, 502, 503, 504):
            raise ValueError(f"unsupported status after accept {status}")
        self.fail_after_accept.extend([status] * count)

    def take_failure_after_accept(self) -> int | None:
        return self.fail_after_accept.pop(0) if self.fail_after_accept else None

    def take_hang(self) -> bool:
        if self.hang_orders:
            self.hang_orders -= 1
            return True
        return False

    def freeze_feeds(self, frozen: bool = True) -> None:
        self.feeds_frozen = frozen

    def skip_next_seq(self, count: int = 1) -> None:
        self.skip_seq += count

    def repeat_next_seq(self, count: int = 1) -> None:
        self.repeat_seq += count

    def send_terminal_error(self, sid: int | None = None, code: int = 25) -> int:
        """Kill orderbook subscriptions with a terminal error frame (``code`` 10, 17 or 25).

        ``sid`` picks one subscription id (in every open session); None kills every orderbook
        subscription. Returns how many subscriptions were killed.
        """
        if code not in (10, 17, 25):
            raise ValueError(f"code {code} is not a terminal websocket error")
        return sum(session.kill_subscriptions(sid, code) for session in list(self._sessions))

    def pause_trading(self, paused: bool = True) -> None:
        """Exchange-wide trading pause (``trading_active=false``): no new orders, cancels allowed."""
        self.exchange.set_trading_active(not paused)

    def register_session(self, session: FaultTarget) -> Callable[[], None]:
        """Make a websocket session reachable by the hooks; returns its unregister function."""
        self._sessions.append(session)
        return lambda: self._sessions.remove(session) if session in self._sessions else None

    def drop_websockets(self) -> int:
        """Close every open websocket now; returns how many were dropped."""
        sessions = list(self._sessions)
        for session in sessions:
            session.drop()
        return len(sessions)


def faults_of(exchange: KalshiExchange) -> KalshiFaults:
    """The exchange's fault hooks, created on first use."""
    if not isinstance(exchange.faults, KalshiFaults):
        exchange.faults = KalshiFaults(exchange)
    return exchange.faults
