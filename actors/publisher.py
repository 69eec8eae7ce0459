# Design note: status publishing.
#
# Problem: operators (dashboard, `arb status`, Prometheus, the demo summary) want a live view of
# books, edges, positions, breaker and feeds, but nothing they do may ever slow trading.
#
# Naive approach: viewers ask the actors (an await on the risk actor, a query per pair). A slow
# viewer then holds actors, and a request storm becomes a latency problem on the trading path.
#
# Chosen approach: one publisher task reads plain in-memory state synchronously (book objects,
# actors' statistics, the alert history, the ledger's positions view) about once a second, builds
# one frozen ``StatusSnapshot``, writes it atomically to the state dir and keeps it as the value
# a tiny loopback ASGI app serves (``/status`` JSON, ``/metrics`` Prometheus text). HTTP requests
# only read the last snapshot; they never reach an actor.
#
# Tick-to-decision latency is measured by ``DecisionTap``, which wraps the market actors'
# detector: for every decision made on a tick not seen before for that pair, the latency is the
# time from the newest of the three books' receive stamps to the end of detection. Scan-timer
# passes over unchanged books are not counted (no tick triggered them). Samples go to a bounded
# ``LatencyRing``; recent opportunities to a bounded deque.
from __future__ import annotations

import collections
import datetime
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio
from loguru import logger

from actors.alerts import AlertHub
from actors.books import PairBooks
from actors.market import Detector
from actors.risk import RiskActor
from actors.router import BookRouter
from actors.supervisor import Supervisor
from arb.domain import Instrument, Outcome, Venue
from arb.edge import Opportunity
from arb.ledger import Ledger
from arb.money import SCALE, Round, div_round, format_trimmed
from arb.sim.server import serve_asgi
from arb.stats import LatencyRing
from arb.status import (
    FeedRow,
    OpportunityRow,
    PairRow,
    Quote,
    RiskRow,
    StatusSnapshot,
    prometheus_text,
    to_json,
    write_snapshot,
)
from arb.venues.protocol import FeedHealth

RECENT_OPPORTUNITIES = 50
ALERTS_SHOWN = 20


@attrs.frozen
class Detection:
    at: float
    """Trio time of the decision."""
    wall: str
    pair_id: str
    kind: str
    edge_bps: int
    qty: int
    profit: int
    cost_per_contract: int
    """All-in (prices + fees) per contract, micro-dollars, rounded up."""


@attrs.define(eq=False)
class DecisionTap:
    """Wraps a detector: records tick-to-decision latency and every opportunity found."""

    latency: LatencyRing = attrs.field(factory=LatencyRing)
    recent: collections.deque[Detection] = attrs.field(
        factory=lambda: collections.deque(maxlen=RECENT_OPPORTUNITIES))
    detections: collections.Counter[str] = attrs.field(factory=collections.Counter)
    """Opportunities found per pair id (all of them, not only the recent ones)."""
    first_detection: dict[str, list[float]] = attrs.field(factory=dict)
    """Pair id -> Trio times of detections (bounded per pair) for matching known windows."""
    _last_tick: dict[str, float] = attrs.field(factory=dict)

    def wrap(self, detect: Detector) -> Detector:
        def tapped(pair: Any, books: PairBooks) -> Opportunity | None:
            opportunity = detect(pair, books)
            now = trio.current_time()
            newest = max(books.kalshi.received_at, books.poly_yes.received_at,
                         books.poly_no.received_at)
            last = self._last_tick.get(pair.pair_id)
            if last is None or newest > last:
                self._last_tick[pair.pair_id] = newest
                if last is not None:  # a pair's first decision answers start-up, not a tick
                    self.latency.add(max(0.0, now - newest) * 1e6)
            if opportunity is not None:
                self._record(pair.pair_id, opportunity, now)
            return opportunity
        return tapped

    def _record(self, pair_id: str, opp: Opportunity, now: float) -> None:
        self.detections[pair_id] += 1
        times = self.first_detection.setdefault(pair_id, [])
        if len(times) < 1000:
            times.append(now)
        self.recent.append(Detection(
            now, datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            pair_id, str(opp.kind.value), opp.edge_bps, opp.qty, opp.profit,
            div_round(opp.capital * SCALE, opp.qty, Round.UP) if opp.qty else 0))


@attrs.define(eq=False)
class HealthTap:
    """A ``BookListener`` in front of the router that remembers each venue's latest health
    report (for a venue with several sockets: the most recent report of any of them)."""

    router: BookRouter
    latest: dict[Venue, FeedHealth] = attrs.field(factory=dict)

    def book_changed(self, venue: Venue, key: str) -> None:
        self.router.book_changed(venue, key)

    def feed_health(self, health: FeedHealth) -> None:
        self.latest[health.venue] = health
        self.router.feed_health(health)


@attrs.frozen
class FeedView:
    """How the publisher reads one venue's market feed without knowing its class."""

    venue: Venue
    statistics: Callable[[], Any]
    health: Callable[[], FeedHealth | None]
    subscribed: Callable[[], int]
    books_with_data: Callable[[], int]


@attrs.define(eq=False)
class StatusSource:
    """Everything the publisher reads; all of it synchronous, none of it awaited."""

    name: str
    mode: str
    target: str
    supervisor: Supervisor
    risk: RiskActor
    router: BookRouter
    alerts: AlertHub
    ledger: Ledger
    books: Mapping[str, PairBooks]
    tap: DecisionTap
    feeds: Sequence[FeedView] = ()
    started: float = attrs.field(factory=trio.current_time)


def _quote(books: PairBooks, instrument: Instrument, label: str, now: float) -> Quote:
    level = books.best_ask(instrument) if books.seeded() else None
    book = books.kalshi if instrument.venue is Venue.KALSHI else (
        books.poly_yes if instrument.token == books.poly_yes.token_id else books.poly_no)
    age = None if not book.valid else round(max(0.0, now - book.current_as_of()), 3)
    price, size = (None, None) if level is None else level
    return Quote(instrument.venue.value, label, price, size, age)


def _pair_row(source: StatusSource, pair_id: str, books: PairBooks, now: float,
              positions: Mapping[Instrument, int]) -> PairRow:
    pair = books.pair
    k_yes, k_no = pair.kalshi.instrument(Outcome.YES), pair.kalshi.instrument(Outcome.NO)
    p_yes, p_no = pair.poly.instrument(pair.poly.yes_token), pair.poly.instrument(pair.poly.no_token)
    quotes = (_quote(books, k_yes, f"{pair.kalshi.ticker} YES", now),
              _quote(books, k_no, f"{pair.kalshi.ticker} NO", now),
              _quote(books, p_yes, pair.poly.yes_label, now),
              _quote(books, p_no, pair.poly.no_label, now))
    actor = source.supervisor.actors.get(pair_id)
    if pair_id in source.supervisor.disabled:
        state = "disabled"
    elif actor is not None and actor.blacklisted_until is not None \
            and now < actor.blacklisted_until:
        state = "blacklisted"
    elif not books.fresh(now, 2.0):
        state = "stale"
    else:
        state = "watching"
    recent = next((d for d in reversed(source.tap.recent) if d.pair_id == pair_id), None)
    held = [(inst, positions[inst]) for inst in (k_yes, k_no, p_yes, p_no) if positions.get(inst)]
    position = ", ".join(f"{_label(pair, inst)} {format_trimmed(qty)}" for inst, qty in held)
    return PairRow(pair_id, pair.league, pair.event_key, pair.start_time.isoformat(), state,
                   quotes, recent.kind if recent else None,
                   recent.cost_per_contract if recent else None,
                   recent.edge_bps if recent else None, position)


def _label(pair: Any, inst: Instrument) -> str:
    if inst.venue is Venue.KALSHI:
        return f"K-{inst.token.upper()}"
    return pair.poly.yes_label if inst.token == pair.poly.yes_token else pair.poly.no_label


def _feed_row(view: FeedView) -> FeedRow:
    stats = view.statistics()
    health = view.health()
    state = health.state.value if health is not None else "starting"
    return FeedRow(view.venue.value, state, int(getattr(stats, "epoch", 0)), view.subscribed(),
                   int(getattr(stats, "messages", getattr(stats, "frames", 0))),
                   int(getattr(stats, "reconnects", 0)), int(getattr(stats, "gaps", 0)),
                   view.books_with_data())


def build_snapshot(source: StatusSource) -> StatusSnapshot:
    """One snapshot of the running bot; synchronous reads only."""
    now = trio.current_time()
    positions = source.ledger.positions()
    risk = source.risk.statistics()
    denials = sorted(((r.value, n) for r, n in risk.denials.items()), key=lambda x: -x[1])
    today = datetime.datetime.now(datetime.UTC).date()
    realised = source.ledger.daily_realised_pnl(today)
    risk_row = RiskRow(risk.breaker.value, risk.reason, risk.reserved + risk.committed,
                       realised, risk.granted, sum(risk.denials.values()), tuple(denials[:5]))
    opportunities = tuple(
        OpportunityRow(d.wall, d.pair_id, d.kind, d.edge_bps, "detected", "", "")
        for d in reversed(source.tap.recent))
    alerts = tuple(f"{a.severity.value} {a.kind}: {a.text}"
                   for a in source.alerts.history()[-ALERTS_SHOWN:])
    totals = source.supervisor.market_totals()  # ended and restarted actors included
    per_kind: collections.Counter[str] = collections.Counter()
    for outcome, n in totals.outcomes.items():
        per_kind[f"executions_{outcome.value}"] += n
    for reason, n in totals.skipped.items():
        per_kind[f"skipped_{reason}"] += n
    for reason, n in totals.filtered.items():
        per_kind[f"filtered_{reason}"] += n
    router = source.router.statistics()
    counters = (("detections", sum(source.tap.detections.values())),
                ("router_notified", router.notified), ("router_conflated", router.conflated),
                ("alerts_published", source.alerts.published),
                *sorted(per_kind.items()))
    rows = tuple(_pair_row(source, pid, books, now, positions)
                 for pid, books in source.books.items())
    return StatusSnapshot(
        source.name, source.mode, source.target,
        datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        round(now - source.started, 3), rows, tuple(_feed_row(f) for f in source.feeds),
        risk_row, opportunities, (), alerts, realised, source.tap.latency.percentiles(),
        counters)


@attrs.define(eq=False)
class Publisher:
    source: StatusSource
    state_dir: Path
    interval_s: float = 1.0
    latest: StatusSnapshot | None = None
    url: str | None = None
    published: int = 0
    failures: int = 0

    def publish_once(self) -> StatusSnapshot:
        snapshot = build_snapshot(self.source)
        write_snapshot(self.state_dir, snapshot)
        self.latest = snapshot
        self.published += 1
        return snapshot

    async def asgi(self, scope: dict, receive: Callable, send: Callable) -> None:
        """``/status`` (JSON) and ``/metrics`` (Prometheus text) from the latest snapshot."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        snapshot = self.latest
        path = scope.get("path", "")
        if snapshot is None:
            status, kind, body = 503, "text/plain", b"no snapshot yet\n"
        elif path == "/status":
            status, kind, body = 200, "application/json", to_json(snapshot).encode()
        elif path == "/metrics":
            status, kind, body = 200, "text/plain; version=0.0.4", \
                prometheus_text(snapshot).encode()
        else:
            status, kind, body = 404, "text/plain", b"try /status or /metrics\n"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


async def serve_publisher(publisher: Publisher, *, port: int = 0,
                          task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
    """Publish a snapshot every ``interval_s`` and serve the latest on loopback until cancelled."""
    publish_logged(publisher)
    async with trio.open_nursery() as nursery:
        publisher.url = await nursery.start(
            lambda task_status: serve_asgi(publisher.asgi, port=port, task_status=task_status))
        logger.bind(actor="publisher").info("status on {}/status and {}/metrics",
                                            publisher.url, publisher.url)
        task_status.started(publisher.url)
        while True:
            await trio.sleep(publisher.interval_s)
            publish_logged(publisher)


def publish_logged(publisher: Publisher) -> None:
    """A status problem is logged, never allowed to stop trading."""
    try:
        publisher.publish_once()
    except Exception:  # a viewer-side bug must not take the trading process down
        publisher.failures += 1
        logger.bind(actor="publisher").exception("status snapshot not published")
