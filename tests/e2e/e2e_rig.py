"""Helpers for the end-to-end tests: a small seeded simulated world on loopback, the real bot
(``actors.app.run_bot``) against it in-process or as an ``arb run`` subprocess, and read-outs
of what the simulated exchanges hold for the bot's accounts. Named ``e2e_rig`` so it cannot
shadow another suite's helper module."""
from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import trio

from actors.app import Bot, BotConfig, run_bot
from actors.supervisor import Shutdown
from arb.commands.demo import demo_settings
from arb.config import Mode, Settings, Target
from arb.sim.kalshi.ratelimit import RateLimiter
from arb.sim.kalshi.runner import serve_kalshi_sim
from arb.sim.polymarket.runner import serve_polymarket_sim
from arb.sim.scenario import run_market_maker
from arb.sim.world import CREDENTIALS_FILE, KALSHI_KEY_FILE, SimCredentials, SimWorld, build_world

LEAGUES = ("nba", "epl")
"""Two leagues keep discovery and subscriptions small (8 pairs); one has draws."""


def small_world(seed: int, *, seconds: float = 60.0, arb_every_s: float = 4.0) -> SimWorld:
    return build_world(seed, seconds=seconds, leagues=LEAGUES, arb_every_s=arb_every_s)


@attrs.define(eq=False)
class CountingLimiter(RateLimiter):
    """The Kalshi simulator's rate limiter, also counting requests per (client, is-write)."""

    requests: dict[tuple[str, bool], int] = attrs.Factory(dict)

    def allow(self, client: str, *, write: bool, cost: int) -> bool:
        self.requests[(client, write)] = self.requests.get((client, write), 0) + 1
        return super().allow(client, write=write, cost=cost)


async def serve_counted_world(world: SimWorld, state_dir: Path, limiter: RateLimiter, *,
                              task_status: trio.TaskStatus[SimCredentials]) -> None:
    """``serve_world`` with our own Kalshi rate limiter (to count the bot's write requests)."""
    state_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (test set-up)
    key_path = state_dir / KALSHI_KEY_FILE
    key_path.write_text(world.kalshi_key_pem)
    async with trio.open_nursery() as nursery:
        k = await nursery.start(lambda task_status: serve_kalshi_sim(
            world.kalshi, limiter=limiter, task_status=task_status))
        p = await nursery.start(serve_polymarket_sim, world.poly)
        await nursery.start(run_market_maker, world.maker, world.plan)
        creds = SimCredentials(k.rest, k.ws, world.kalshi_key_id, str(key_path.resolve()),
                               p.clob, p.market_ws, p.user_ws, p.gamma, world.poly_private_key,
                               world.poly_address, world.poly.config.chain_id)
        (state_dir / CREDENTIALS_FILE).write_text(creds.to_json())
        task_status.started(creds)


@attrs.define(eq=False)
class Running:
    bot: Bot
    finished: trio.Event
    shutdown: Shutdown | None = None

    async def stop(self, reason: str = "test stop", *, within_s: float = 60.0) -> Shutdown:
        self.bot.request_stop(reason)
        with trio.fail_after(within_s):
            await self.finished.wait()
        assert self.shutdown is not None
        return self.shutdown


@contextlib.asynccontextmanager
async def open_bot(nursery: trio.Nursery, world: SimWorld, sim_dir: Path, bot_dir: Path, *,
                   mode: Mode = Mode.LIVE, settings: Settings | None = None
                   ) -> AsyncIterator[Running]:
    """Run the bot against an already served world; stops it (if still running) on exit."""
    config = BotConfig(settings or demo_settings(world), Target.SIM, mode, bot_dir, sim_dir,
                       handle_signals=False, console_log=False)
    finished = trio.Event()
    holder: list[Running] = []

    async def run(task_status: trio.TaskStatus[Bot]) -> None:
        try:
            shutdown = await run_bot(config, task_status=task_status)
            if holder:
                holder[0].shutdown = shutdown
        finally:
            finished.set()

    bot = await nursery.start(run)
    running = Running(bot, finished)
    holder.append(running)
    try:
        yield running
    finally:
        if not finished.is_set():
            with trio.move_on_after(30, shield=True):
                await running.stop("test finished")


async def poll_until(predicate, *, within_s: float, every_s: float = 0.05) -> None:
    """Wait until ``predicate()`` holds (state in SQLite or a simulator core has no event)."""
    with trio.fail_after(within_s):
        while not predicate():  # noqa: ASYNC110 (polled state has no event to wait on)
            await trio.sleep(every_s)


def executions_in_flight(ledger_file: Path) -> int:
    """Executions the ledger shows started and not finished (read-only, another process ok)."""
    if not ledger_file.is_file():
        return 0
    conn = sqlite3.connect(f"{ledger_file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT COUNT(*) FROM executions WHERE outcome IS NULL").fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()
    return int(row[0])


def executions_total(ledger_file: Path) -> int:
    if not ledger_file.is_file():
        return 0
    conn = sqlite3.connect(f"{ledger_file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM executions").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def intents_in(ledger_file: Path) -> dict[str, str | None]:
    """Client id -> venue order id of every intent the ledger holds (read-only)."""
    conn = sqlite3.connect(f"{ledger_file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT client_id, venue_order_id FROM intents").fetchall())
    finally:
        conn.close()


def unresolved_in(ledger_file: Path) -> int:
    """Intents whose order is not final (read-only; the bot may be writing)."""
    from arb.ledger import _TERMINAL_VALUES
    conn = sqlite3.connect(f"{ledger_file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        marks = ", ".join("?" * len(_TERMINAL_VALUES))
        return int(conn.execute(f"SELECT COUNT(*) FROM intents WHERE state NOT IN ({marks})",
                                tuple(_TERMINAL_VALUES)).fetchone()[0])
    finally:
        conn.close()


def kalshi_client_ids(world: SimWorld) -> list[str]:
    """Client order ids of every order the bot's Kalshi account ever sent (with repeats)."""
    account = world.kalshi.account_for_key(world.kalshi_key_id)
    return [] if account is None else [o.client_order_id for o in account.orders.values()]
