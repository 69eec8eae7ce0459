"""Serve a simulator's ASGI app on a real loopback socket under Trio (hypercorn)."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

AsgiApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]],
                   Awaitable[None]]


async def serve_asgi(app: AsgiApp, *, host: str = "127.0.0.1", port: int = 0,
                     ping_interval: float | None = None,
                     task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
    """Run ``app`` until cancelled; report ``"http://host:port"`` through the start protocol.

    Args:
        port: 0 picks a free port.
        ping_interval: send websocket Ping control frames this often (Kalshi sends one every
            10 s); None disables server pings.
    """
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.websocket_ping_interval = ping_interval
    config.accesslog = None
    config.errorlog = logging.getLogger("arb.sim.server")
    config.graceful_timeout = 0.5

    async def _serve(*, task_status: trio.TaskStatus[list[str]]) -> None:
        await serve(app, config, task_status=task_status)

    async with trio.open_nursery() as nursery:
        bound: list[str] = await nursery.start(_serve)
        task_status.started(bound[0])
