# Design note: seeded chaos against the whole live bot.
#
# Problem: each fault of reliability.md has its own scenario test, but real trouble comes in
# piles: a socket drop while an order hangs, a ghost fill while a market actor restarts. The
# invariants (nothing open, ledger positions == venue positions, no order twice, no reservation
# held by nobody, a clean restart from the ledger) must hold after any such pile.
#
# Naive approach: random faults from an unseeded RNG. A failure then cannot be reproduced, and
# CI draws a different schedule every run.
#
# Chosen approach: ``draw_schedule(seed)`` draws every fault kind once (plus a few repeats) at
# seeded times and arguments, so a seed names its whole schedule. Simulator faults go through
# the simulator's own hooks (``arb.sim.faultplan`` names, plus the Kalshi "5xx after accept"
# hook and a Polymarket tick-size change); market-actor faults go through the supervisor's API
# (remove and re-add a pair) or a detector wrapper that raises inside the actor (once before a
# detection, once on the re-price after the risk reservation was granted). Wall-clock timing is
# real (loopback servers), so what the bot does in between is not deterministic; the schedule is.
from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import attrs
import pytest
import trio

import actors.app
from actors.books import PairBooks
from actors.market import Detector, edge_detector
from arb.edge import EdgeParams, Opportunity
from arb.money import Price
from arb.pairs import MarketPair
from arb.sim.faultplan import FaultStep, serve_fault_plan
from arb.sim.kalshi.faults import faults_of
from arb.sim.world import SimWorld

SIM_FAULTS: dict[str, tuple[float, float]] = {
    # name -> (min arg, max arg) for ``arb.sim.faultplan`` steps
    "kalshi-drop": (1, 1),
    "poly-drop": (1, 1),
    "kalshi-freeze": (1.5, 3.5),
    "poly-freeze": (1.5, 3.5),
    "kalshi-gap": (1, 3),
    "kalshi-repeat": (1, 2),
    "kalshi-5xx": (1, 2),
    "kalshi-429": (1, 3),
    "poly-429": (1, 3),
    "kalshi-hang": (1, 1),
    "poly-hang": (1, 1),
    "poly-delayed": (1, 2),
    "poly-ghost": (1, 1),
    "kalshi-terminal": (1, 1),
    "kalshi-pause": (1.0, 2.5),
    "poly-5xx": (1, 2),
    "poly-no-balance": (1, 1),
}
"""Not drawn: ``poly-425`` and ``poly-cancel-only``. An order meeting either keeps Polymarket
inactive for the adapter's ``PAUSE_HOLD_S`` (30 s, by design), longer than a seed's run."""
PAIR_FAULTS = ("poly-tick", "actor-cancel", "actor-crash", "actor-crash-reserved")
"""Faults aimed at one pair (by index into the bot's pairs): a sibling is not hit."""
OTHER_FAULTS = ("kalshi-5xx-after-accept",)
ALL_FAULTS = (*SIM_FAULTS, *PAIR_FAULTS, *OTHER_FAULTS)
REPEATABLE = ("kalshi-drop", "poly-drop", "kalshi-gap", "kalshi-429", "poly-ghost",
              "kalshi-5xx-after-accept", "poly-delayed")


@attrs.frozen
class ChaosFault:
    at_s: float
    """Seconds after the bot's startup barrier."""
    kind: str
    arg: float = 1.0
    pair_index: int | None = None
    """For pair faults: which pair (index into the bot's pairs sorted by id)."""


def draw_schedule(seed: int, *, window_s: float, pairs: int, extra: int = 4
                  ) -> tuple[ChaosFault, ...]:
    """Every fault kind once, plus ``extra`` repeats, at seeded times in ``[0.5, window_s]``.
    Pair faults hit distinct pairs, so the other pairs are siblings that must keep trading."""
    rng = random.Random(seed)
    kinds = [*ALL_FAULTS, *(rng.choice(REPEATABLE) for _ in range(extra))]
    targets = rng.sample(range(pairs), len(PAIR_FAULTS))
    out = []
    for kind in kinds:
        at = round(rng.uniform(0.5, window_s), 2)
        if kind in SIM_FAULTS:
            low, high = SIM_FAULTS[kind]
            arg = round(rng.uniform(low, high), 1) if high > low else low
            out.append(ChaosFault(at, kind, arg))
        elif kind in PAIR_FAULTS:
            out.append(ChaosFault(at, kind, 1.0, targets[PAIR_FAULTS.index(kind)]))
        else:
            out.append(ChaosFault(at, kind, float(rng.randint(1, 2))))
    return tuple(sorted(out, key=lambda f: f.at_s))


@attrs.define(eq=False)
class CrashSwitch:
    """Armed per pair: the wrapped detector raises ``InjectedCrash`` inside the market actor,
    either on its next call (``now``) or on the call after one that found an opportunity (the
    re-price, after the risk reservation was granted)."""

    now: set[str] = attrs.field(factory=set)
    after_detection: set[str] = attrs.field(factory=set)
    _detected: set[str] = attrs.field(factory=set)
    fired: list[tuple[str, str]] = attrs.field(factory=list)
    """(pair id, "now" | "reserved") for every crash actually raised."""

    def wrap(self, detect: Detector) -> Detector:
        def chaotic(pair: MarketPair, books: PairBooks) -> Opportunity | None:
            pid = pair.pair_id
            if pid in self.now:
                self.now.discard(pid)
                self.fired.append((pid, "now"))
                raise InjectedCrash(f"chaos: crash in {pid}'s detector")
            if pid in self._detected:
                self._detected.discard(pid)
                self.fired.append((pid, "reserved"))
                raise InjectedCrash(f"chaos: crash in {pid}'s re-price")
            found = detect(pair, books)
            if found is not None and pid in self.after_detection:
                self.after_detection.discard(pid)
                self._detected.add(pid)
            return found
        return chaotic


class InjectedCrash(RuntimeError):
    """Raised by the chaos detector wrapper inside a market actor."""


@contextlib.contextmanager
def crashable_detector(monkeypatch: pytest.MonkeyPatch) -> Iterator[CrashSwitch]:
    """Make every bot started in this test build its detector through a ``CrashSwitch``."""
    switch = CrashSwitch()

    def factory(params: EdgeParams) -> Detector:
        return switch.wrap(edge_detector(params))

    monkeypatch.setattr(actors.app, "edge_detector", factory)
    yield switch


def armed_order_faults(world: SimWorld) -> dict[str, int]:
    """Order faults drawn but not yet consumed: they wait for the bot's next orders/trades."""
    k, p = faults_of(world.kalshi), world.poly.faults
    armed = {"kalshi-hang": k.hang_orders, "kalshi-5xx-after-accept": len(k.fail_after_accept),
             "poly-hang": p.hang_next_order_responses, "poly-delayed": p.delay_next_orders,
             "poly-ghost": p.ghost_next_trades,
             "poly-no-balance": p.insufficient_balance_next_orders}
    return {name: n for name, n in armed.items() if n}


@attrs.define(eq=False)
class ChaosLog:
    applied: list[ChaosFault] = attrs.field(factory=list)
    hit_pairs: set[str] = attrs.field(factory=set)


async def _cancel_actor(supervisor, pair_id: str) -> None:
    """Stop a pair's market actor through the supervisor's API and supervise it again."""
    spec = next(s for s in supervisor.market_specs() if s.pair.pair_id == pair_id)
    await supervisor.remove_market(pair_id, "chaos: market actor cancelled")
    await supervisor.add_market(spec)


async def serve_chaos(schedule: tuple[ChaosFault, ...], world: SimWorld, bot, switch: CrashSwitch,
                      log: ChaosLog, *,
                      task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Apply ``schedule`` against the served world and the running bot, then return."""
    pairs = sorted(bot.pairs, key=lambda p: p.pair_id)
    sim_steps = tuple(FaultStep(f.at_s, f.kind, f.arg) for f in schedule if f.kind in SIM_FAULTS)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_fault_plan, world.kalshi, world.poly, sim_steps)
        task_status.started()
        for fault in schedule:
            await trio.sleep_until(start + fault.at_s)
            log.applied.append(fault)
            if fault.pair_index is None:
                if fault.kind == "kalshi-5xx-after-accept":
                    faults_of(world.kalshi).fail_next_orders_after_accept(int(fault.arg), 502)
                continue
            pair = pairs[fault.pair_index]
            log.hit_pairs.add(pair.pair_id)
            match fault.kind:
                case "poly-tick":
                    market = world.poly.market(pair.poly.condition_id)
                    world.poly.set_tick_size(pair.poly.condition_id,
                                             Price(1_000 if market.tick != 1_000 else 10_000))
                case "actor-cancel":
                    nursery.start_soon(_cancel_actor, bot.supervisor, pair.pair_id)
                case "actor-crash":
                    switch.now.add(pair.pair_id)
                case "actor-crash-reserved":
                    switch.after_detection.add(pair.pair_id)
