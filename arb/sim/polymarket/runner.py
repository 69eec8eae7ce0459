"""Run the simulated Polymarket venue on loopback, and make funded test accounts.

``serve_polymarket_sim`` serves two ASGI apps on real loopback ports: the CLOB (REST plus the
websocket channels ``/ws/market`` and ``/ws/user``) and Gamma, and drives the exchange clock so
settlement, taker delays, GTD expiry and the heartbeat dead-man switch progress without
requests. Pass ``clock_ms=trio_clock_ms(origin)`` to run on Trio's (virtual) clock instead of
wall time; the official clients sign with wall-clock timestamps, so keep the wall clock (the
default) when they are involved.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

import attrs
import trio
from eth_account import Account

from arb.money import Money, Qty
from arb.sim.polymarket.auth import ApiCredentials
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.gamma import GammaApp
from arb.sim.polymarket.rest import ClobApp, wall_clock_ms
from arb.sim.server import serve_asgi

CLOCK_TICK_S = 0.02
"""How often the runner advances the exchange clock when nothing else does."""


@attrs.frozen
class PolymarketSimUrls:
    clob: str
    """CLOB REST base URL, e.g. ``http://127.0.0.1:PORT``."""
    market_ws: str
    """``ws://127.0.0.1:PORT/ws/market``."""
    user_ws: str
    """``ws://127.0.0.1:PORT/ws/user``."""
    gamma: str
    """Gamma base URL on its own port."""


@attrs.frozen
class FundedAccount:
    private_key: str
    address: str
    creds: ApiCredentials | None
    """The L2 key for nonce 0, when it was created (``create_api_key=True``)."""


def trio_clock_ms(origin_ms: int) -> Callable[[], int]:
    """An exchange clock reading Trio's clock (virtual under ``autojump_clock``) from ``origin_ms``."""
    return lambda: origin_ms + int(trio.current_time() * 1000)


def open_funded_account(exchange: Exchange, private_key: str, *, collateral: Money,
                        tokens: dict[str, Qty] | None = None, create_api_key: bool = False,
                        signature_type: int = 0, funder: str | None = None) -> FundedAccount:
    """Open (or top up) the account of ``private_key`` with pUSD and shares.

    With ``create_api_key`` the nonce-0 key is created too; an official client calling
    ``create_or_derive_api_key`` then falls back to derive and gets the same key.
    """
    address = Account.from_key(private_key).address
    exchange.open_account(address, funder=funder, signature_type=signature_type)
    exchange.fund(address, collateral=collateral, tokens=tokens)
    creds = exchange.create_api_key(address, 0) if create_api_key else None
    return FundedAccount(private_key, address, creds)


async def serve_exchange_clock(exchange: Exchange, *, clock_ms: Callable[[], int] = wall_clock_ms,
                               interval_s: float = CLOCK_TICK_S,
                               task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                               ) -> None:
    """Advance ``exchange`` to ``clock_ms()`` every ``interval_s`` until cancelled."""
    exchange.advance(clock_ms())
    task_status.started()
    while True:
        await trio.sleep(interval_s)
        exchange.advance(clock_ms())


async def serve_polymarket_sim(exchange: Exchange, *, host: str = "127.0.0.1", port: int = 0,
                               gamma_port: int = 0, clock_ms: Callable[[], int] = wall_clock_ms,
                               max_clock_skew_s: int | None = 300, page_size: int = 500,
                               task_status: trio.TaskStatus[PolymarketSimUrls]
                               = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the CLOB (+ websockets) and Gamma for ``exchange`` until cancelled.

    Reports a ``PolymarketSimUrls`` once both ports listen and the clock runs.
    """
    app = ClobApp(exchange, clock_ms=clock_ms, max_clock_skew_s=max_clock_skew_s,
                  page_size=page_size)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(serve_exchange_clock, exchange, clock_ms=clock_ms))
        clob: str = await nursery.start(partial(serve_asgi, app, host=host, port=port))
        gamma: str = await nursery.start(partial(serve_asgi, GammaApp(exchange), host=host,
                                                 port=gamma_port))
        ws_base = "ws" + clob.removeprefix("http")
        task_status.started(PolymarketSimUrls(clob=clob, market_ws=f"{ws_base}/ws/market",
                                              user_ws=f"{ws_base}/ws/user", gamma=gamma))
