"""Polymarket-specific refusals that the actors must tell apart from an ordinary reject."""
from __future__ import annotations

import enum

from arb.domain import Venue
from arb.venues.protocol import VenuePaused


class PauseKind(enum.Enum):
    MATCHING_ENGINE_RESTART = "matching_engine_restart"
    """HTTP 425: the matching engine is restarting; orders are refused for a short while."""
    CANCEL_ONLY = "cancel_only"
    """HTTP 503 "Trading is currently cancel-only": cancels work, new orders do not."""
    TRADING_DISABLED = "trading_disabled"
    """HTTP 503 "Trading is currently disabled"."""
    POST_ONLY = "post_only"
    """HTTP 503 "Trading is currently post-only" (the window after a matching-engine restart):
    only post-only orders rest; taker legs, so two-leg entries, are refused."""


class TradingPaused(VenuePaused):
    """The venue refused the request because trading is paused; nothing was placed.

    A definitive refusal (safe to release the reservation) that also means: do not start a
    two-leg entry on Polymarket until the venue trades again (reliability row 8).
    """

    def __init__(self, kind: PauseKind, reason: str, *, status: int) -> None:
        super().__init__(Venue.POLYMARKET, reason, status=status, code=kind.value)
        self.kind = kind
