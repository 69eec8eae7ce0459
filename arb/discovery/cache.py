"""Discovered pairs with a time-to-live, and the diff a refresh produces.

Pure data: the caller owns the clock (``now`` in seconds, e.g. ``trio.current_time()``) and starts
or stops market actors from the ``PairDiff``. A pair disappears when the new discovery no longer
lists it; its reason says whether either market was seen closed/settled or is simply gone.
"""
from __future__ import annotations

from collections.abc import Mapping

import attrs

from arb.discovery.matcher import MatchResult
from arb.pairs import MarketPair


@attrs.frozen
class RemovedPair:
    pair: MarketPair
    reason: str


@attrs.frozen
class PairDiff:
    added: tuple[MarketPair, ...] = ()
    removed: tuple[RemovedPair, ...] = ()
    changed: tuple[MarketPair, ...] = ()
    """Same pair id, different content (verdict, orientation, fees, grid): restart its actor."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@attrs.define(eq=False)
class PairCache:
    ttl: float
    """Seconds a discovery stays fresh."""
    _pairs: dict[str, MarketPair] = attrs.field(factory=dict)
    _refreshed_at: float | None = None

    def __attrs_post_init__(self) -> None:
        if not self.ttl > 0:
            raise ValueError(f"PairCache ttl must be positive, got {self.ttl}")

    @property
    def pairs(self) -> tuple[MarketPair, ...]:
        return tuple(self._pairs.values())

    def get(self, pair_id: str) -> MarketPair | None:
        return self._pairs.get(pair_id)

    def is_stale(self, now: float) -> bool:
        return self._refreshed_at is None or now - self._refreshed_at >= self.ttl

    def refresh(self, result: MatchResult, now: float) -> PairDiff:
        """Replace the cached pairs with ``result``'s and say what changed."""
        fresh: Mapping[str, MarketPair] = {p.pair_id: p for p in result.pairs}
        added = tuple(p for pid, p in fresh.items() if pid not in self._pairs)
        changed = tuple(p for pid, p in fresh.items()
                        if pid in self._pairs and self._pairs[pid] != p)
        removed = []
        for pid, old in self._pairs.items():
            if pid in fresh:
                continue
            if old.kalshi.ticker in result.ended:
                reason = f"Kalshi market {old.kalshi.ticker} closed or settled"
            elif old.poly.condition_id in result.ended:
                reason = f"Polymarket market {old.poly.condition_id} closed"
            else:
                reason = "no longer listed or no longer matched"
            removed.append(RemovedPair(old, reason))
        self._pairs = dict(fresh)
        self._refreshed_at = now
        return PairDiff(added, tuple(removed), changed)
