"""Run the simulated Kalshi exchange on a loopback port (REST and websocket on one server)."""
from __future__ import annotations

from functools import partial
from typing import Any

import attrs
import trio

from arb.sim.kalshi.core import KalshiExchange
from arb.sim.kalshi.rest import PREFIX, WS_PATH
from arb.sim.kalshi.ws import kalshi_app
from arb.sim.server import serve_asgi

PING_INTERVAL_S = 10.0
"""Kalshi sends a websocket Ping control frame every 10 s."""


@attrs.frozen
class KalshiSimUrls:
    rest: str
    """``http://127.0.0.1:PORT/trade-api/v2``"""
    ws: str
    """``ws://127.0.0.1:PORT/trade-api/ws/v2``"""


async def serve_kalshi_sim(exchange: KalshiExchange, *, host: str = "127.0.0.1", port: int = 0,
                           ping_interval: float | None = PING_INTERVAL_S,
                           task_status: trio.TaskStatus[KalshiSimUrls] = trio.TASK_STATUS_IGNORED,
                           **app_options: Any) -> None:
    """Serve ``exchange`` until cancelled; report its REST and websocket URLs when listening.

    ``app_options`` go to ``KalshiSimApp`` (``limiter``, ``auth_window_ms``).
    """
    app = kalshi_app(exchange, **app_options)
    async with trio.open_nursery() as nursery:
        base: str = await nursery.start(
            partial(serve_asgi, app, host=host, port=port, ping_interval=ping_interval))
        task_status.started(KalshiSimUrls(rest=base + PREFIX,
                                          ws=base.replace("http://", "ws://", 1) + WS_PATH))
