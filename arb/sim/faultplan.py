"""Timed fault injection for a running simulated world, from the command line or a test.

A step is written ``AT:NAME[:ARG]``: at ``AT`` seconds after start, apply fault ``NAME``
(``ARG`` is a count or a duration in seconds, per fault). ``arb sim --fault 20:kalshi-gap
--fault 30:poly-freeze:10`` freezes the Polymarket market sockets from t=30 s to t=40 s.
"""
from __future__ import annotations

import attrs
import trio
from loguru import logger

from arb.sim.kalshi.core import KalshiExchange
from arb.sim.kalshi.faults import faults_of
from arb.sim.polymarket.core import Exchange as PolymarketExchange
from arb.sim.polymarket.faults import TradingMode

FAULTS: dict[str, str] = {
    "kalshi-drop": "close every Kalshi websocket",
    "kalshi-freeze": "silence Kalshi websocket data for ARG seconds (pings continue)",
    "kalshi-gap": "skip ARG orderbook seq numbers (default 1)",
    "kalshi-repeat": "repeat the next ARG orderbook frames with the same seq",
    "kalshi-terminal": "kill every orderbook subscription with error code 25",
    "kalshi-5xx": "answer the next ARG REST calls with 503",
    "kalshi-429": "answer the next ARG REST calls with 429",
    "kalshi-hang": "accept the next ARG orders and never answer",
    "kalshi-pause": "pause trading for ARG seconds",
    "poly-drop": "close every Polymarket websocket",
    "poly-freeze": "silence the Polymarket market sockets for ARG seconds (PONGs continue)",
    "poly-5xx": "answer the next ARG CLOB calls with 500",
    "poly-429": "answer the next ARG CLOB calls with 429",
    "poly-425": "answer the next ARG order posts with 425 (matching engine restart)",
    "poly-hang": "accept the next ARG orders and never answer",
    "poly-delayed": "answer `delayed` to the next ARG marketable orders",
    "poly-ghost": "the next ARG trades go MATCHED then FAILED",
    "poly-no-balance": "reject the next ARG orders with `not enough balance / allowance`",
    "poly-cancel-only": "cancel-only mode for ARG seconds",
}


class FaultPlanError(ValueError):
    """A fault step could not be parsed."""


@attrs.frozen
class FaultStep:
    at_s: float
    name: str
    arg: float = 1.0


def parse_fault(text: str) -> FaultStep:
    """Parse ``AT:NAME[:ARG]``."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise FaultPlanError(f"fault {text!r}: expected AT:NAME[:ARG]")
    try:
        at = float(parts[0])
        arg = float(parts[2]) if len(parts) == 3 else 1.0
    except ValueError:
        raise FaultPlanError(f"fault {text!r}: AT and ARG must be numbers") from None
    if parts[1] not in FAULTS:
        raise FaultPlanError(f"fault {text!r}: unknown fault {parts[1]!r} "
                             f"(known: {', '.join(sorted(FAULTS))})")
    if at < 0 or arg <= 0:
        raise FaultPlanError(f"fault {text!r}: AT must be >= 0 and ARG > 0")
    return FaultStep(at, parts[1], arg)


def _apply(step: FaultStep, kalshi: KalshiExchange, poly: PolymarketExchange,
                 nursery: trio.Nursery) -> None:
    k, p, n = faults_of(kalshi), poly.faults, max(1, int(step.arg))
    match step.name:
        case "kalshi-drop":
            k.drop_websockets()
        case "kalshi-freeze":
            k.freeze_feeds(True)
            nursery.start_soon(_later, step.arg, lambda: k.freeze_feeds(False))
        case "kalshi-gap":
            k.skip_next_seq(n)
        case "kalshi-repeat":
            k.repeat_next_seq(n)
        case "kalshi-terminal":
            k.send_terminal_error(None, 25)
        case "kalshi-5xx":
            k.fail_next_rest(n, 503)
        case "kalshi-429":
            k.fail_next_rest(n, 429)
        case "kalshi-hang":
            k.hang_next_orders(n)
        case "kalshi-pause":
            k.pause_trading(True)
            nursery.start_soon(_later, step.arg, lambda: k.pause_trading(False))
        case "poly-drop":
            p.drop_sockets()
        case "poly-freeze":
            p.market_ws_frozen = True
            nursery.start_soon(_later, step.arg, lambda: setattr(p, "market_ws_frozen", False))
        case "poly-5xx":
            p.fail_next_rest_calls(500, n)
        case "poly-429":
            p.fail_next_rest_calls(429, n)
        case "poly-425":
            p.fail_next_rest_calls(425, n, "/order")
        case "poly-hang":
            p.hang_next_order_responses += n
        case "poly-delayed":
            p.delay_next_orders += n
        case "poly-ghost":
            p.ghost_next_trades += n
        case "poly-no-balance":
            p.insufficient_balance_next_orders += n
        case "poly-cancel-only":
            p.set_trading_mode(TradingMode.CANCEL_ONLY,
                               until_ms=poly.now_ms + int(step.arg * 1000))


async def _later(delay_s: float, action) -> None:
    await trio.sleep(delay_s)
    action()


async def serve_fault_plan(kalshi: KalshiExchange, poly: PolymarketExchange,
                           steps: tuple[FaultStep, ...], *,
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Apply ``steps`` at their times (seconds after this task starts)."""
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        task_status.started()
        for step in sorted(steps, key=lambda s: s.at_s):
            await trio.sleep_until(start + step.at_s)
            logger.bind(actor="sim-faults").warning("injecting fault {} ({})", step.name, step.arg)
            _apply(step, kalshi, poly, nursery)
