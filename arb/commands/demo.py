# Design note: `arb demo`.
#
# Problem: show the whole bot working, end to end, on one machine with nothing but Python: real
# websockets, real signed orders, real fills, and an honest scorecard against a known truth.
#
# Approach: build a seeded simulated world (both exchanges, a house market maker with planned
# arbitrage windows = the ground truth) and serve it on loopback in-process; run the real bot
# (`actors.app.run_bot`) against it in LIVE mode at the simulator, so orders go through the real
# adapters to the simulated venues; draw the dashboard while it runs when stdout is a terminal;
# stop the bot through its normal stop path (cancel-all + reconciliation) and then score it from
# the outside: which injected windows were detected and executed (by pair and time), what the
# ledger says happened, and whether the ledger's positions equal what the simulated exchanges hold
# for the bot's accounts (queried from the exchange cores, not from the bot). Exit non-zero when
# an order is left open or the ledger disagrees with the venues.
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

import attrs
import trio

from actors.app import BotConfig, StartupError, run_bot
from actors.supervisor import Shutdown
from arb.config import ConfigError, Mode, Settings, Target, load_settings
from arb.domain import Instrument, Outcome, Side
from arb.ledger import Ledger
from arb.money import Money, Round, format_fixed, mul, parse_money
from arb.pairs import MarketPair
from arb.sim.world import SimWorld, build_world, serve_world
from arb.venues.protocol import FillStatus

NAME = "demo"
HELP = "run the bot against the simulated exchanges and print a summary"

DETECTION_SLACK_S = 1.0
"""A detection this long after a window's planned end still counts: the world's start-up and
the market maker's 0.25 s steps delay a window's real opening and closing by up to this."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the bot trades")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the simulator, ledger, logs and status go (default: temp)")
    parser.add_argument("--arb-every", type=float, default=6.0,
                        help="seconds between injected arbitrage windows")


def demo_settings(world: SimWorld) -> Settings:
    """Defaults, trading the slate's leagues with limits sized to the simulated windows."""
    base = load_settings()
    leagues = tuple(sorted({g.league for g in world.slate.games}))
    return attrs.evolve(
        base,
        bot=attrs.evolve(base.bot, name="demo", leagues=leagues),
        risk=attrs.evolve(base.risk, trade_min_usd=parse_money("1"),
                          trade_max_usd=parse_money("100"), trades_per_hour=500,
                          orders_per_minute=600, max_total_exposure=parse_money("5000"),
                          max_venue_exposure=parse_money("5000")),
        edge=attrs.evolve(base.edge, scan_interval_s=1.0),
        discovery=attrs.evolve(base.discovery, start_window_h=96.0, refresh_s=3600.0),
        logging=attrs.evolve(base.logging, level="INFO"))


# --- what the simulated exchanges hold -----------------------------------------------------------


def venue_positions(world: SimWorld) -> dict[Instrument, int]:
    """The bot accounts' positions, read from the exchange cores (not through the bot)."""
    held: dict[Instrument, int] = {}
    account = world.kalshi.account_for_key(world.kalshi_key_id)
    if account is not None:
        for ticker, pos in account.positions.items():
            if pos.position > 0:
                held[Instrument.kalshi(ticker, Outcome.YES)] = pos.position
            elif pos.position < 0:
                held[Instrument.kalshi(ticker, Outcome.NO)] = -pos.position
    condition_of = {}
    for listed in world.slate.pairs:
        condition_of[listed.yes_token] = listed.condition_id
        condition_of[listed.no_token] = listed.condition_id
    for token, qty in world.poly.balances(world.poly_address).tokens.items():
        if qty:
            held[Instrument.polymarket(condition_of.get(token, "?"), token)] = qty
    return held


def venue_open_orders(world: SimWorld) -> dict[str, int]:
    account = world.kalshi.account_for_key(world.kalshi_key_id)
    kalshi = 0 if account is None else len(account.resting)
    return {"kalshi": kalshi, "polymarket": len(world.poly.orders_of(world.poly_address))}


def ledger_positions(ledger: Ledger) -> dict[Instrument, int]:
    return {inst: qty for inst, qty in ledger.positions().items() if qty}


def position_drift(ledger: Ledger, world: SimWorld) -> list[str]:
    """Every instrument where the ledger and the simulated exchange disagree."""
    ours, theirs = ledger_positions(ledger), venue_positions(world)
    return [f"{inst}: ledger {format_fixed(ours.get(inst, 0), 2)} venue "
            f"{format_fixed(theirs.get(inst, 0), 2)}"
            for inst in sorted(set(ours) | set(theirs), key=str)
            if ours.get(inst, 0) != theirs.get(inst, 0)]


def locked_in_pnl(ledger: Ledger, pairs: tuple[MarketPair, ...]) -> Money:
    """Cash paid and received so far plus $1 for every contract pair that settles to $1.

    Hedged lots (the pair's YES-side and NO-side instruments held in equal size) pay exactly $1
    whatever the result; unhedged remainders are valued at zero (conservative)."""
    cash = 0
    for fill in ledger.fills():
        if fill.status is FillStatus.FAILED:
            continue
        notional = mul(fill.price, fill.qty, Round.UP if fill.side is Side.BUY else Round.DOWN)
        cash += (-notional if fill.side is Side.BUY else notional) - fill.fee
    held = ledger.positions()
    settles = 0
    for pair in pairs:
        k_yes = held.get(pair.kalshi.instrument(Outcome.YES), 0)
        k_no = held.get(pair.kalshi.instrument(Outcome.NO), 0)
        p_yes = held.get(pair.poly.instrument(pair.poly.yes_token), 0)
        p_no = held.get(pair.poly.instrument(pair.poly.no_token), 0)
        settles += min(k_yes, p_no) + min(k_no, p_yes) + min(k_yes, k_no) + min(p_yes, p_no)
    return Money(cash + settles)


# --- scoring -------------------------------------------------------------------------------------


def summarize(world: SimWorld, ledger: Ledger, pairs: tuple[MarketPair, ...],
              detections: dict[str, list[float]], scenario_start: float, wall_start: float,
              latency: tuple[tuple[str, float], ...], shutdown: Shutdown,
              seconds: float) -> dict:
    traded = {p.pair_id for p in pairs}
    executions = ledger.executions(limit=100_000)
    outcomes = collections.Counter(e.outcome or "in_flight" for e in executions)
    windows = [a for a in world.plan.arbs if a.at_s < seconds]
    detected = executed = 0
    missed: list[str] = []
    for arb in windows:
        pair_id = MarketPair.make_id(arb.kalshi_ticker, arb.condition_id)
        lo, hi = arb.at_s, arb.at_s + arb.duration_s + DETECTION_SLACK_S
        seen = any(lo <= t - scenario_start <= hi for t in detections.get(pair_id, ()))
        done = any(e.start.pair_id == pair_id and e.outcome == "hedged"
                   and lo <= e.started_ms / 1000 - wall_start <= hi for e in executions)
        detected += seen
        executed += done
        if not seen:
            why = "pair not traded" if pair_id not in traded else "not detected"
            missed.append(f"{arb.kalshi_ticker} at {arb.at_s:.0f}s: {why}")
    drift = position_drift(ledger, world)
    open_orders = venue_open_orders(world)
    realised = sum(e.realised_pnl for e in executions)
    return {
        "seed": world.seed,
        "seconds": seconds,
        "pairs_traded": len(pairs),
        "injected_arbs": len(windows),
        "detected": detected,
        "executed": executed,
        "missed": missed,
        "executions": dict(sorted(outcomes.items())),
        "one_sided_fills": outcomes["unwound"] + outcomes["exposed"],
        "unwound": outcomes["unwound"],
        "exposed": outcomes["exposed"],
        "realised_pnl": format_fixed(realised, 6),
        "locked_in_pnl": format_fixed(locked_in_pnl(ledger, pairs), 6),
        "open_orders_left": sum(open_orders.values()),
        "open_orders_by_venue": open_orders,
        "ledger_matches_venues": not drift,
        "position_drift": drift,
        "positions": {str(i): format_fixed(q, 2)
                      for i, q in sorted(ledger_positions(ledger).items(), key=lambda x: str(x[0]))},
        "unresolved_intents": len(ledger.unresolved_intents()),
        "tick_to_decision_us": {name: round(value, 1) for name, value in latency},
        "stop_reason": shutdown.reason,
        "halted": shutdown.halted,
    }


def render_text(summary: dict) -> str:
    lat = summary["tick_to_decision_us"]
    lines = [
        f"arb demo (seed {summary['seed']}, {summary['seconds']:.0f}s, "
        f"{summary['pairs_traded']} pairs)",
        f"  injected arbitrage windows  {summary['injected_arbs']}",
        f"  detected                    {summary['detected']}",
        f"  executed (hedged)           {summary['executed']}",
        f"  executions by outcome       {summary['executions']}",
        f"  one-sided fills             {summary['one_sided_fills']} "
        f"(unwound {summary['unwound']}, exposed {summary['exposed']})",
        f"  realised P&L                ${summary['realised_pnl']}",
        f"  locked-in P&L (at $1/pair)  ${summary['locked_in_pnl']}",
        f"  open orders left            {summary['open_orders_left']}",
        f"  ledger matches venues       {summary['ledger_matches_venues']}",
        "  tick-to-decision            " + (", ".join(f"{k} {v:.0f}us" for k, v in lat.items())
                                            or "no samples"),
        f"  stopped                     {summary['stop_reason']}",
    ]
    lines += [f"  missed: {m}" for m in summary["missed"]]
    lines += [f"  DRIFT: {d}" for d in summary["position_drift"]]
    return "\n".join(lines)


async def run_demo(seconds: float, seed: int, state_dir: Path, *, arb_every_s: float = 6.0,
                   dashboard: bool = False) -> dict:
    """The demo as a function (the command and the tests call this)."""
    world = build_world(seed, seconds=seconds, arb_every_s=arb_every_s)
    settings = demo_settings(world)
    sim_dir, bot_dir = state_dir / "sim", state_dir / "bot"
    outcome: dict = {}
    finished = trio.Event()
    async with trio.open_nursery() as nursery:
        # Taken before the world starts: every window opens at or after start + at_s.
        scenario_start, wall_start = trio.current_time(), time.time()
        await nursery.start(serve_world, world, sim_dir)
        config = BotConfig(settings, Target.SIM, Mode.LIVE, bot_dir, sim_dir,
                           handle_signals=True, console_log=not dashboard)

        async def bot_task(task_status: trio.TaskStatus) -> None:
            try:
                outcome["shutdown"] = await run_bot(config, task_status=task_status)
            finally:
                finished.set()

        bot = await nursery.start(bot_task)
        remaining = seconds - (trio.current_time() - scenario_start)
        with trio.move_on_after(max(0.0, remaining)):
            if dashboard:
                await _show_dashboard(bot, finished)
            else:
                await finished.wait()
        bot.request_stop("demo finished")
        await finished.wait()
        nursery.cancel_scope.cancel()
    with Ledger.open(bot.ledger.path, mode="live") as ledger:
        return summarize(world, ledger, bot.pairs, bot.tap.first_detection, scenario_start,
                         wall_start, bot.tap.latency.percentiles(), outcome["shutdown"], seconds)


async def _show_dashboard(bot, finished: trio.Event) -> None:
    """Redraw the dashboard from the bot's latest snapshot until the bot stops."""
    from rich.console import Console
    from rich.live import Live

    from arb.dashboard import safe_render
    with Live(console=Console(), screen=False, refresh_per_second=2) as live:
        while not finished.is_set():
            if bot.publisher.latest is not None:
                live.update(safe_render(bot.publisher.latest))
            with trio.move_on_after(1.0):
                await finished.wait()


def run(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="arb-demo-"))
    dashboard = sys.stdout.isatty() and not args.json
    try:
        summary = trio.run(lambda: run_demo(args.seconds, args.seed, Path(state_dir),
                                            arb_every_s=args.arb_every, dashboard=dashboard))
    except (ConfigError, StartupError) as err:
        print(f"arb demo: {err}", file=sys.stderr)
        return 2
    summary["state_dir"] = str(state_dir)
    print(json.dumps(summary, indent=1) if args.json else render_text(summary))
    ok = summary["open_orders_left"] == 0 and summary["ledger_matches_venues"]
    return 0 if ok else 1


