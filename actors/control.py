# Design note: operator halt / resume plumbing.
#
# Problem: `arb halt` runs in another process and must stop a running bot within about a second;
# `arb resume` must be the only way to clear HALTED, including across restarts.
#
# Naive approach: a signal or a socket to the running bot. Nothing then survives a restart (a
# halted bot that crashes comes back trading), and a bot that is not running misses the command.
#
# Chosen approach: the ledger is the mailbox. `arb halt` writes the breaker state HALTED with the
# operator's reason (persisted, appended to the append-only breaker history). The running bot
# polls the history every ``poll_s``: a new HALTED entry requests the supervisor's stop path as
# a breaker halt (cancel the trading scope, cancel every order, reconcile). Reading the history,
# not only the current row, means a halt is seen even if the risk actor persisted its own state
# in between. Because the risk actor restores HALTED at start-up and halts at once, a halted bot
# stays halted until `arb resume` writes ACTIVE. After the stop, ``reassert_halt`` writes HALTED
# again in case the risk actor's last persist overwrote the operator's row.
from __future__ import annotations

import attrs
import trio
from loguru import logger

from actors.supervisor import Supervisor
from arb.ledger import Ledger, RiskState

OPERATOR_PREFIX = "operator halt: "
RESUME_REASON = "resumed by operator"


def halt(ledger: Ledger, reason: str) -> None:
    """Persist an operator halt (what `arb halt` does)."""
    ledger.set_risk_state(RiskState.HALTED, OPERATOR_PREFIX + (reason or "no reason given"))


def resume(ledger: Ledger, note: str = "") -> RiskState | None:
    """Clear HALTED/REDUCING (what `arb resume` does); returns the state it replaced."""
    current = ledger.risk_state()
    previous = None if current is None else current.state
    ledger.set_risk_state(RiskState.ACTIVE, RESUME_REASON + (f": {note}" if note else ""))
    return previous


@attrs.define(eq=False)
class HaltWatch:
    ledger: Ledger
    supervisor: Supervisor
    poll_s: float = 0.5
    seen: int = 0
    """Breaker history entries already looked at."""
    operator_halt: str | None = None

    def check(self) -> str | None:
        """The reason of an operator halt written since the last check, if any."""
        history = self.ledger.breaker_history()
        fresh, self.seen = history[self.seen:], len(history)
        for change in fresh:
            if change.new is RiskState.HALTED and change.reason.startswith(OPERATOR_PREFIX):
                return change.reason
        return None


async def serve_halt_watch(watch: HaltWatch, *,
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Poll the ledger for operator halts and turn one into the supervisor's stop path."""
    watch.seen = len(watch.ledger.breaker_history())
    task_status.started()
    while True:
        await trio.sleep(watch.poll_s)
        reason = watch.check()
        if reason is not None:
            watch.operator_halt = reason
            logger.bind(actor="control").warning("{}: stopping trading", reason)
            watch.supervisor.request_stop(reason, halted=True)
            return


def reassert_halt(watch: HaltWatch) -> None:
    """After the stop path: make sure the persisted state still says HALTED."""
    if watch.operator_halt is None:
        return
    current = watch.ledger.risk_state()
    if current is None or current.state is not RiskState.HALTED:
        watch.ledger.set_risk_state(RiskState.HALTED, watch.operator_halt)
