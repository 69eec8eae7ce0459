# Design note: the operator's pair decisions.
#
# Problem: discovery proposes pairs; the operator must be able to approve a basis-risk pair,
# add a pair discovery cannot match (an alias missing from the team table), and remove or block
# a pair, while the bot runs, without a restart, and without two edits or a crash mid-write ever
# losing a decision or leaving half a file.
#
# Naive approaches: editing the sport's TOML config (needs a restart, and a typo stops the bot);
# a file rewritten in place (a reader can see half of it); read-modify-write without a lock (two
# `arb markets` commands at once lose one edit); a running bot re-reading and re-applying the
# file on every scan (work for nothing, and a half-typed manual edit applied at once).
#
# Chosen approach: one JSON file, ``DIR/markets.json`` (JSON because the standard library can
# write it; TOML it can only read). Every change goes through ``update_decisions``: an exclusive
# ``flock`` on ``markets.json.lock`` around read, change, write to a temp file, fsync, rename; the
# revision goes up by one per change. The running bot holds a ``DecisionsWatcher``: ``poll()`` is
# a stat call until the file changes, then returns the new decisions only if the revision moved;
# ``apply_decisions(pairs, decisions, listings)`` turns the discovered pairs into the pairs to
# trade. Semantics, in order: removed wins (the pair stays visible, verdict REJECT, so the actor
# side sees a changed pair and stops entries); approval accepts a BASIS_RISK pair (it never lifts
# a matcher REJECT: use discovery overrides for that); a manually added pair is built from the
# latest listings once discovery sees both markets open, with the operator's YES token checked
# against the Polymarket market's outcomes, and traded as operator-accepted basis risk.
#
# Venue facts relied on: a pair id is ``<Kalshi market ticker>|<Polymarket condition id>``; a
# Kalshi market trades only while its status is ``active``; a Polymarket market only while it is
# active, not closed and accepting orders.
from __future__ import annotations

import datetime
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from arb.discovery.fetch import Listings
from arb.discovery.listings import KalshiEventListing, KalshiMarketListing, PolyMarketListing
from arb.pairs import KalshiSide, MarketPair, PolySide, Verdict

MARKETS_FILE = "markets.json"
FORMAT_VERSION = 1
KALSHI_ACTIVE = "active"


class MarketsError(ValueError):
    """A decisions file, pair id or manual pair is invalid; the message names what and where."""


def split_pair_id(pair_id: str) -> tuple[str, str]:
    """(Kalshi ticker, Polymarket condition id) of ``"<ticker>|<condition id>"``."""
    ticker, sep, condition = pair_id.partition("|")
    if not sep or not ticker or not condition or "|" in condition or pair_id != pair_id.strip():
        raise MarketsError(f"pair id {pair_id!r} is not '<kalshi ticker>|<condition id>'")
    return ticker, condition


@attrs.frozen
class ManualPair:
    """A pair the operator adds by hand; traded once discovery sees both markets open."""

    kalshi_ticker: str
    condition_id: str
    yes_token: str
    """The Polymarket token that pays exactly when the Kalshi market's YES pays."""
    note: str = ""

    @property
    def pair_id(self) -> str:
        return MarketPair.make_id(self.kalshi_ticker, self.condition_id)


@attrs.frozen
class MarketDecisions:
    """Everything the operator decided, at one revision."""

    revision: int = 0
    approved: tuple[tuple[str, str], ...] = ()
    """(pair id, note), sorted."""
    added: tuple[ManualPair, ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    """(pair id, reason), sorted."""
    updated_at: str = ""
    """UTC time of the last change (ISO 8601)."""

    def approval(self, pair_id: str) -> str | None:
        return dict(self.approved).get(pair_id)

    def removal(self, pair_id: str) -> str | None:
        return dict(self.removed).get(pair_id)

    def manual(self, pair_id: str) -> ManualPair | None:
        return next((m for m in self.added if m.pair_id == pair_id), None)

    def decision(self, pair_id: str) -> str:
        """``removed``, ``added``, ``approved`` or ``""`` (none)."""
        if self.removal(pair_id) is not None:
            return "removed"
        if self.manual(pair_id) is not None:
            return "added"
        return "approved" if self.approval(pair_id) is not None else ""

    def approve(self, pair_id: str, note: str = "") -> MarketDecisions:
        """Approve a pair (undoes an earlier removal)."""
        split_pair_id(pair_id)
        approved = dict(self.approved) | {pair_id: note or "approved"}
        removed = {k: v for k, v in self.removed if k != pair_id}
        return attrs.evolve(self, approved=tuple(sorted(approved.items())),
                            removed=tuple(sorted(removed.items())))

    def add(self, pair: ManualPair) -> MarketDecisions:
        """Add (or replace) a manual pair; undoes an earlier removal of the same id."""
        for name in ("kalshi_ticker", "condition_id", "yes_token"):
            value = getattr(pair, name)
            if not isinstance(value, str) or not value.strip() or value != value.strip():
                raise MarketsError(f"manual pair: {name} {value!r} must be a non-empty string")
        split_pair_id(pair.pair_id)
        added = [m for m in self.added if m.pair_id != pair.pair_id] + [pair]
        removed = {k: v for k, v in self.removed if k != pair.pair_id}
        return attrs.evolve(self, added=tuple(sorted(added, key=lambda m: m.pair_id)),
                            removed=tuple(sorted(removed.items())))

    def remove(self, pair_id: str, reason: str = "") -> MarketDecisions:
        """Block a pair: no entries, whatever discovery says. A manual pair is dropped."""
        split_pair_id(pair_id)
        removed = dict(self.removed) | {pair_id: reason or "removed"}
        approved = {k: v for k, v in self.approved if k != pair_id}
        return attrs.evolve(self, approved=tuple(sorted(approved.items())),
                            added=tuple(m for m in self.added if m.pair_id != pair_id),
                            removed=tuple(sorted(removed.items())))


# --- the file ----------------------------------------------------------------------------------

def decisions_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / MARKETS_FILE


def _to_json(d: MarketDecisions) -> str:
    doc = {
        "format": FORMAT_VERSION, "revision": d.revision, "updated_at": d.updated_at,
        "approved": [{"pair_id": p, "note": n} for p, n in d.approved],
        "added": [attrs.asdict(m) for m in d.added],
        "removed": [{"pair_id": p, "reason": r} for p, r in d.removed],
    }
    return json.dumps(doc, indent=1) + "\n"


def _field(entry: Any, name: str, where: str, *, optional: bool = False) -> str:
    if not isinstance(entry, dict):
        raise MarketsError(f"{where}: expected an object, got {entry!r}")
    value = entry.get(name, "" if optional else None)
    if not isinstance(value, str) or (not optional and not value):
        raise MarketsError(f"{where}.{name}: expected a non-empty string, got {value!r}")
    return value


def parse_decisions(text: str, *, where: str = MARKETS_FILE) -> MarketDecisions:
    """Read the file's JSON; every problem names the file and the entry.

    Raises:
        MarketsError: not JSON, unknown format or keys, a bad pair id or field.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MarketsError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise MarketsError(f"{where}: expected a JSON object at the top level")
    unknown = set(doc) - {"format", "revision", "updated_at", "approved", "added", "removed"}
    if unknown:
        raise MarketsError(f"{where}: unknown keys {sorted(unknown)}")
    if doc.get("format") != FORMAT_VERSION:
        raise MarketsError(f"{where}: format {doc.get('format')!r} is not {FORMAT_VERSION}")
    revision = doc.get("revision")
    if type(revision) is not int or revision < 0:
        raise MarketsError(f"{where}: revision {revision!r} must be a non-negative integer")
    lists = {}
    for key in ("approved", "added", "removed"):
        value = doc.get(key, [])
        if not isinstance(value, list):
            raise MarketsError(f"{where}: {key!r} must be a list")
        lists[key] = value
    decisions = MarketDecisions(revision, updated_at=_field(doc, "updated_at", where,
                                                            optional=True))
    try:
        for i, e in enumerate(lists["approved"]):
            decisions = decisions.approve(_field(e, "pair_id", f"{where}: approved[{i}]"),
                                          _field(e, "note", f"{where}: approved[{i}]", optional=True))
        for i, e in enumerate(lists["added"]):
            at = f"{where}: added[{i}]"
            decisions = decisions.add(ManualPair(
                _field(e, "kalshi_ticker", at), _field(e, "condition_id", at),
                _field(e, "yes_token", at), _field(e, "note", at, optional=True)))
        for i, e in enumerate(lists["removed"]):
            at = f"{where}: removed[{i}]"
            decisions = decisions.remove(_field(e, "pair_id", at),
                                         _field(e, "reason", at, optional=True))
    except MarketsError as exc:
        message = str(exc)
        raise MarketsError(message if message.startswith(where) else f"{where}: {message}") \
            from None
    return decisions


def load_decisions(path: str | Path) -> MarketDecisions:
    """The decisions in ``path``; a missing file is no decisions at revision 0."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return MarketDecisions()
    except OSError as exc:
        raise MarketsError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_decisions(text, where=str(path))


def update_decisions(path: str | Path, change: Callable[[MarketDecisions], MarketDecisions], *,
                     now: datetime.datetime | None = None) -> MarketDecisions:
    """Apply ``change`` to the file's decisions under an exclusive lock and write the result
    atomically with the next revision; returns what was written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = load_decisions(path)
        moment = now or datetime.datetime.now(datetime.UTC)
        new = attrs.evolve(change(current), revision=current.revision + 1,
                           updated_at=moment.isoformat(timespec="seconds"))
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".markets-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(_to_json(new))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return new


@attrs.define(eq=False)
class DecisionsWatcher:
    """The running bot's view of the decisions file.

    Call ``poll()`` periodically: it costs one ``stat`` while the file is unchanged and returns
    the new ``MarketDecisions`` when its revision moved (the first call returns the current
    decisions). Feed them to ``apply_decisions``; that is the whole reload.

    Raises (from ``poll``):
        MarketsError: the file is malformed; the previous decisions stay in force.
    """

    path: Path = attrs.field(converter=Path)
    _signature: tuple[int, int] | None = attrs.field(init=False, default=None)
    _revision: int | None = attrs.field(init=False, default=None)

    def poll(self) -> MarketDecisions | None:
        try:
            stat = self.path.stat()
            signature = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            signature = (0, 0)
        if signature == self._signature:
            return None
        decisions = load_decisions(self.path)
        self._signature = signature
        if decisions.revision == self._revision:
            return None
        self._revision = decisions.revision
        return decisions


# --- applying decisions --------------------------------------------------------------------------

def _kalshi_market(listings: Listings, ticker: str
                   ) -> tuple[KalshiEventListing, KalshiMarketListing] | None:
    for event in listings.kalshi:
        for market in event.markets:
            if market.ticker == ticker:
                return event, market
    return None


def _poly_market(listings: Listings, condition_id: str):
    for event in listings.poly:
        for market in event.markets:
            if market.condition_id == condition_id:
                return event, market
    return None


def poly_problem(market: PolyMarketListing) -> str | None:
    """Why a Polymarket market cannot be traded now, or None."""
    if market.closed:
        return "closed"
    if not market.active:
        return "not active"
    if not market.accepting_orders:
        return "not accepting orders"
    return None


def build_manual_pair(manual: ManualPair, listings: Listings, league_of: Callable[[str], str],
                      known: Sequence[MarketPair] = ()) -> MarketPair:
    """The tradable pair for a manual entry, from the latest listings.

    ``league_of`` maps a Kalshi series ticker to a league key. ``known`` pairs lend their
    ``event_key`` to a manual pair on the same Kalshi event (shared per-event limits).

    Raises:
        MarketsError: a market is not listed or not open, the YES token is not one of the
            Polymarket market's, or a fee or start time is unknown.
    """
    where = f"manual pair {manual.pair_id}"
    found_k = _kalshi_market(listings, manual.kalshi_ticker)
    if found_k is None:
        raise MarketsError(f"{where}: Kalshi market {manual.kalshi_ticker} is not listed")
    event, market = found_k
    if market.status != KALSHI_ACTIVE:
        raise MarketsError(f"{where}: Kalshi market status is {market.status!r}")
    found_p = _poly_market(listings, manual.condition_id)
    if found_p is None:
        raise MarketsError(f"{where}: Polymarket market {manual.condition_id} is not listed")
    poly_event, poly = found_p
    problem = poly_problem(poly)
    if problem:
        raise MarketsError(f"{where}: Polymarket market is {problem}")
    tokens = {o.token_id: o for o in poly.outcomes}
    if manual.yes_token not in tokens:
        raise MarketsError(f"{where}: YES token {manual.yes_token} is not an outcome of "
                           f"{poly.slug} ({', '.join(o.label for o in poly.outcomes)})")
    yes = tokens[manual.yes_token]
    no = next(o for o in poly.outcomes if o.token_id != manual.yes_token)
    fees = listings.kalshi_fees.get(event.series_ticker)
    if fees is None:
        raise MarketsError(f"{where}: Kalshi fee schedule of series {event.series_ticker} "
                           f"is unknown")
    start = poly.game_start_time or poly_event.start_time or market.occurrence_datetime
    if start is None:
        raise MarketsError(f"{where}: no start time listed on either venue")
    sibling = next((p for p in known if p.kalshi.event_ticker == event.event_ticker), None)
    return MarketPair(
        pair_id=manual.pair_id, league=league_of(event.series_ticker),
        event_key=sibling.event_key if sibling else f"kalshi:{event.event_ticker}",
        market_type=sibling.market_type if sibling and sibling.kalshi.ticker == market.ticker
        else "manual", start_time=start,
        kalshi=KalshiSide(market.ticker, event.event_ticker, event.series_ticker, fees,
                          grid=market.grid, fractional=market.fractional),
        poly=PolySide(poly.condition_id, yes.token_id, no.token_id, yes.label, no.label,
                      poly.fees, tick=poly.tick, min_order_size=poly.min_order_size,
                      neg_risk=poly.neg_risk),
        verdict=Verdict.BASIS_RISK, basis_risk_accepted=True,
        reason=f"added by operator ({manual.note or 'no note'}); rules not verified by the "
               f"matcher")


def apply_decisions(pairs: Iterable[MarketPair], decisions: MarketDecisions,
                    listings: Listings | None = None, *,
                    league_of: Callable[[str], str] = lambda series: "") -> tuple[MarketPair, ...]:
    """The pairs to trade: ``pairs`` (from discovery) with the operator's decisions applied,
    plus every manual pair the ``listings`` can already build. Pure; call it again whenever
    the decisions or the discovery change.

    Removed pairs stay in the result as REJECT (not tradable) so the change is visible; a
    manual pair whose YES token contradicts discovery's orientation is rejected.
    """
    out: list[MarketPair] = []
    seen: set[str] = set()
    for pair in pairs:
        seen.add(pair.pair_id)
        out.append(_decide(pair, decisions))
    if listings is not None:
        for manual in decisions.added:
            if manual.pair_id in seen:
                continue
            try:
                out.append(build_manual_pair(manual, listings, league_of, out))
            except MarketsError:
                continue  # not visible yet: shown by `arb markets audit`, retried next time
    return tuple(out)


def _decide(pair: MarketPair, decisions: MarketDecisions) -> MarketPair:
    removed = decisions.removal(pair.pair_id)
    if removed is not None:
        return attrs.evolve(pair, verdict=Verdict.REJECT, basis_risk_accepted=False,
                            reason=f"removed by operator ({removed}); was {pair.verdict.value}: "
                                   f"{pair.reason}")
    manual = decisions.manual(pair.pair_id)
    if manual is not None and manual.yes_token != pair.poly.yes_token:
        return attrs.evolve(pair, verdict=Verdict.REJECT, basis_risk_accepted=False,
                            reason=f"operator's manual pair says YES is token "
                                   f"{manual.yes_token}, discovery says {pair.poly.yes_token}")
    note = decisions.approval(pair.pair_id) if manual is None else manual.note or "added"
    if note is None or pair.verdict is not Verdict.BASIS_RISK or pair.basis_risk_accepted:
        return pair
    return attrs.evolve(pair, basis_risk_accepted=True,
                        reason=f"{pair.reason} (approved by operator: {note})")


# --- audit --------------------------------------------------------------------------------------

@attrs.frozen
class AuditFinding:
    pair_id: str
    venue: str
    """``kalshi``, ``polymarket`` or ``operator`` (a manual pair that cannot be built)."""
    problem: str


def audited_ids(pair_ids: Iterable[str], decisions: MarketDecisions) -> set[str]:
    """The pairs an audit checks: those given (the bot's), approved and added, not removed."""
    ids = set(pair_ids) | {p for p, _ in decisions.approved} | {m.pair_id for m in decisions.added}
    return ids - {p for p, _ in decisions.removed}


def audit(pair_ids: Iterable[str], listings: Listings, decisions: MarketDecisions = MarketDecisions(),
          league_of: Callable[[str], str] = lambda series: "") -> tuple[AuditFinding, ...]:
    """Pairs whose markets closed, are no longer listed, or stopped accepting orders, and
    manual pairs the listings cannot build yet; sorted by pair id."""
    findings: list[AuditFinding] = []
    for pair_id in sorted(audited_ids(pair_ids, decisions)):
        ticker, condition = split_pair_id(pair_id)
        before = len(findings)
        found_k = _kalshi_market(listings, ticker)
        if found_k is None:
            findings.append(AuditFinding(pair_id, "kalshi", f"market {ticker} is not listed "
                                         f"(closed, settled or outside the discovery window)"))
        elif found_k[1].status != KALSHI_ACTIVE:
            findings.append(AuditFinding(pair_id, "kalshi",
                                         f"market {ticker} status is {found_k[1].status!r}"))
        found_p = _poly_market(listings, condition)
        if found_p is None:
            findings.append(AuditFinding(pair_id, "polymarket", f"market {condition} is not "
                                         f"listed (closed or outside the discovery window)"))
        elif problem := poly_problem(found_p[1]):
            findings.append(AuditFinding(pair_id, "polymarket",
                                         f"market {found_p[1].slug} is {problem}"))
        manual = decisions.manual(pair_id)
        if manual is not None and len(findings) == before:
            try:
                build_manual_pair(manual, listings, league_of)
            except MarketsError as exc:
                findings.append(AuditFinding(pair_id, "operator", str(exc)))
    return tuple(findings)
