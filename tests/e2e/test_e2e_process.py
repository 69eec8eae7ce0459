"""`arb run` as a real process against a simulated world served by the test: SIGKILL during an
execution and restart from the ledger, SIGINT during an execution; the ledger is then checked
against the simulated exchanges (no duplicate or unknown orders, positions equal, nothing open)."""
from __future__ import annotations

import collections
import signal
import subprocess
import sys
from pathlib import Path

import trio
from e2e_rig import (
    executions_in_flight,
    intents_in,
    kalshi_client_ids,
    poll_until,
    small_world,
    unresolved_in,
)

from arb.commands.demo import position_drift, venue_open_orders
from arb.ledger import Ledger
from arb.sim.world import SimWorld, serve_world

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[bot]
name = "e2e"
leagues = ["nba", "epl"]

[edge]
scan_interval_s = 1.0

[risk]
trade_min_usd = "1.00"
trade_max_usd = "100.00"
trades_per_hour = 500
orders_per_minute = 600
max_total_exposure = "5000.00"
max_venue_exposure = "5000.00"

[discovery]
start_window_h = 96.0

[supervisor]
reconcile_interval_s = 3.0
"""


def _command(tmp_path: Path) -> list[str]:
    config = tmp_path / "e2e.toml"
    config.write_text(CONFIG)
    return [sys.executable, "-m", "arb.cli", "run", "--config", str(config), "--target", "sim",
            "--sim-state", str(tmp_path / "sim"), "--state-dir", str(tmp_path / "bot"),
            "--profile", "live", "--yes-live"]


async def _start(tmp_path: Path, name: str) -> trio.Process:
    log = (tmp_path / f"{name}.log").open("w")
    return await trio.lowlevel.open_process(_command(tmp_path), cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT)


def _check_against_simulators(world: SimWorld, ledger_file: Path, *,
                              unresolved_allowed: bool = False) -> None:
    recorded = intents_in(ledger_file)
    # Every order the simulated Kalshi account received was written to the ledger first, and no
    # client id reached the exchange twice.
    sent = kalshi_client_ids(world)
    assert [cid for cid, n in collections.Counter(sent).items() if n > 1] == []
    assert set(sent) <= set(recorded), set(sent) - set(recorded)
    # Every Polymarket order of the bot's address is an order hash the ledger recorded.
    hashes = {h for h in recorded.values() if h}
    poly_orders = world.poly.orders_of(world.poly_address, open_only=False)
    assert sent or poly_orders, "the bot sent orders"
    assert {o.id for o in poly_orders} <= hashes
    with Ledger.open(ledger_file, mode="live") as ledger:
        assert position_drift(ledger, world) == []
        for stored in ledger.unresolved_intents():
            # Cut off while its request was in flight: neither venue ever saw it, and the
            # next start's reconciliation marks it never placed once it is old enough.
            assert unresolved_allowed, stored
            assert stored.intent.client_id not in sent
            assert stored.intent.venue_order_id not in {o.id for o in poly_orders}
    assert venue_open_orders(world) == {"kalshi": 0, "polymarket": 0}


async def test_sigkill_during_an_execution_then_restart_from_the_ledger(tmp_path):
    world = small_world(7, seconds=120, arb_every_s=3.0)
    ledger_file = tmp_path / "bot" / "ledger-live.sqlite3"
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, world, tmp_path / "sim")
        first = await _start(tmp_path, "first")
        # Kill while an execution is in flight and at least one of its orders has reached a
        # venue (reliability row 15: between sending a leg and recording the answer).
        await poll_until(lambda: executions_in_flight(ledger_file) > 0 and bool(
            kalshi_client_ids(world) or world.poly.orders_of(world.poly_address, open_only=False)),
            within_s=60, every_s=0.005)
        first.kill()
        assert await first.wait() == -signal.SIGKILL
        sent_before = len(kalshi_client_ids(world))
        # The restarted process reconciles the interrupted execution before trading again.
        second = await _start(tmp_path, "second")
        await poll_until(lambda: "status on" in (tmp_path / "second.log").read_text(),
                         within_s=30, every_s=0.1)
        # Reconciliation (every 3 s here) resolves what the killed process left in flight.
        await poll_until(lambda: unresolved_in(ledger_file) == 0, within_s=30, every_s=0.2)
        await trio.sleep(1)
        second.send_signal(signal.SIGINT)
        with trio.fail_after(30):
            code = await second.wait()
        assert code == 0, (tmp_path / "second.log").read_text()[-3000:]
        assert len(kalshi_client_ids(world)) >= sent_before
        _check_against_simulators(world, ledger_file)
        nursery.cancel_scope.cancel()


async def test_sigint_during_an_execution_exits_cleanly_with_nothing_open(tmp_path):
    world = small_world(8, seconds=120, arb_every_s=3.0)
    ledger_file = tmp_path / "bot" / "ledger-live.sqlite3"
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, world, tmp_path / "sim")
        proc = await _start(tmp_path, "bot")
        await poll_until(lambda: executions_in_flight(ledger_file) > 0, within_s=60,
                         every_s=0.01)
        proc.send_signal(signal.SIGINT)
        started = trio.current_time()
        with trio.fail_after(25):
            code = await proc.wait()
        log = (tmp_path / "bot.log").read_text()
        assert code == 0, log[-3000:]
        assert trio.current_time() - started < 25
        assert "stopped: signal SIGINT" in log
        _check_against_simulators(world, ledger_file, unresolved_allowed=True)
        nursery.cancel_scope.cancel()
