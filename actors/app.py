# Design note: assembling the running bot.
#
# Problem: the bot is a dozen parts (discovery, two market feeds, two user streams, two order
# paths, ledger, risk, reconciliation, supervisor, alerts, status, operator halts) that must start
# in the right order and fail closed: no order before the books, the ledger and a reconciliation
# pass exist; paper mode must be unable to place a real order; live mode must be asked for and
# must pass preflight.
#
# Naive approach: one function that opens everything and starts tasks as it goes. A discovery
# failure then leaves feeds running, paper mode quietly shares the live client, and a feed that
# never seeds leaves market actors waiting forever on a book that will never come.
#
# Chosen approach, in order:
#   1. logging into the state dir; the per-mode ledger (``ledger_path``; paper and live never
#      share a file); endpoints and keys for the target;
#   2. discovery of the configured leagues -> tradable pairs (basis risk only when accepted by the
#      overrides file or ``discovery.accept_basis_risk``);
#   3. live: preflight, then the real adapters (Kalshi market rules and Polymarket token specs
#      loaded for every pair). Paper: no order-capable client is ever built; ``PaperVenue`` fills
#      against the live books, with the Kalshi grids from discovery;
#   4. the two market feeds are started and must seed every book (bounded wait); their book
#      objects become each pair's ``PairBooks``; changes are routed to the ``BookRouter``;
#   5. user streams (live): Kalshi fill/user_orders ride the authenticated market socket;
#      Polymarket's user socket is a supervised, restartable task; both pump into ``FillRouter``;
#   6. the supervisor (reconciler as startup barrier), the status publisher, the operator halt
#      watch and the discovery refresh run until the supervisor returns a ``Shutdown``.
# The feeds keep their own reconnect policies (epoch, backoff, resubscribe). A feed giving up
# (``FeedDown``/``AuthError``) stops trading through the supervisor's stop path: books without a
# feed are not trusted. The discovery refresh (``PairRefresher``) keeps the supervised markets
# equal to the tradable pairs at run time: new pairs are subscribed on the running feeds and get
# an actor; dropped pairs stop theirs (after any in-flight execution), then lose their
# subscriptions; ended markets go to the reconciler. ``TradedPairs`` holds the lookups (fees,
# grids, books) the paper venues, the user stream and the status view read, updated in place.
from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import attrs
import httpx
import trio
from loguru import logger

from actors.alerts import Alert, AlertHub, Severity, Webhook, WebhookFormat
from actors.books import PairBooks
from actors.control import HaltWatch, reassert_halt, serve_halt_watch
from actors.execution import ExecutionParams
from actors.fills import FillRouter, serve_user_events
from actors.legs import LegParams, OrderDesk
from actors.market import Detector, ExecutionIds, MarketParams, edge_detector
from actors.messages import Halt
from actors.publisher import (
    DecisionTap,
    FeedView,
    HealthTap,
    Publisher,
    StatusSource,
    publish_logged,
    serve_publisher,
)
from actors.reconcile import ReconcileParams, Reconciler
from actors.risk import RiskActor, RiskLimits, open_risk_channel
from actors.router import BookRouter
from actors.stats_log import StatsLog, serve_stats_log
from actors.supervisor import (
    MarketChanges,
    MarketSpec,
    Shutdown,
    Supervisor,
    SupervisorParams,
    TaskSpec,
    first_leaf,
)
from actors.unwind import RepairParams
from arb.book import KalshiBook, PolyBook
from arb.config import ConfigError, Mode, Settings, Target
from arb.discovery.fetch import Listings, fetch_listings, match_listings
from arb.discovery.leagues import load_leagues
from arb.discovery.overrides import Overrides, load_overrides
from arb.domain import Instrument, TimeInForce, Venue
from arb.edge import EdgeParams
from arb.fees import KalshiFeeSchedule, PolyFeeSchedule
from arb.ledger import Ledger
from arb.logs import setup_logging
from arb.markets import (
    DecisionsWatcher,
    MarketDecisions,
    MarketsError,
    apply_decisions,
    decisions_path,
)
from arb.money import Money, Price, Qty
from arb.pairs import MarketPair, Verdict
from arb.stats import FeedStats
from arb.tradelog import ledger_path
from arb.venues.connect import (
    Endpoints,
    VenueSecrets,
    endpoints_for,
    kalshi_signer,
    poly_signer,
    secrets_for,
)
from arb.venues.kalshi.adapter import KalshiAdapter, open_kalshi_adapter
from arb.venues.kalshi.catalog import CatalogError
from arb.venues.kalshi.feed import FeedConfig, KalshiFeed, kalshi_ws_connector, serve_kalshi_feed
from arb.venues.kalshi.grid import MarketRules
from arb.venues.kalshi.limiter import Tier
from arb.venues.paper import PaperVenue
from arb.venues.polymarket.adapter import PolymarketAdapter, open_polymarket_adapter
from arb.venues.polymarket.convert import taker_fee
from arb.venues.polymarket.feed import PolyFeedConfig, PolymarketMarketFeed, serve_polymarket_feed
from arb.venues.polymarket.gamma import GammaError
from arb.venues.polymarket.user_feed import UserFeedConfig, serve_polymarket_user_feed
from arb.venues.protocol import (
    FeedState,
    Fill,
    OrderResult,
    OutcomeUnknown,
    Transient,
    VenueAdapter,
    VenueError,
)

ENV_WEBHOOKS = "ARB_ALERT_WEBHOOKS"
"""Comma-separated ``format=url`` (format: json, slack, discord, telegram)."""
ENV_TELEGRAM_CHAT = "ARB_TELEGRAM_CHAT_ID"
SEED_TIMEOUT_S = 30.0
"""How long the market feeds may take to deliver every first snapshot."""
USER_EVENTS = 1024


class StartupError(Exception):
    """The bot cannot start: names what is missing or refused."""


@attrs.frozen
class BotConfig:
    settings: Settings
    target: Target
    mode: Mode
    state_dir: Path
    sim_state: Path | None = None
    handle_signals: bool = True
    console_log: bool = True
    seed_timeout_s: float = SEED_TIMEOUT_S


@attrs.define(eq=False)
class Bot:
    """The running bot's parts, reported through ``task_status`` for tests and the demo."""

    config: BotConfig
    ledger: Ledger
    traded: TradedPairs
    venues: Mapping[Venue, VenueAdapter]
    supervisor: Supervisor
    risk: RiskActor
    alerts: AlertHub
    tap: DecisionTap
    publisher: Publisher
    halt_watch: HaltWatch
    endpoints: Endpoints
    refresher: PairRefresher
    started_at: float

    @property
    def pairs(self) -> tuple[MarketPair, ...]:
        """The pairs traded now."""
        return tuple(self.traded.by_id.values())

    @property
    def books(self) -> dict[str, PairBooks]:
        return self.traded.books

    def request_stop(self, reason: str) -> None:
        self.supervisor.request_stop(reason)


def webhooks_from_env(environ: Mapping[str, str] = os.environ) -> tuple[Webhook, ...]:
    """``ARB_ALERT_WEBHOOKS`` as webhooks; a bad entry names itself (never its URL)."""
    raw = environ.get(ENV_WEBHOOKS, "").strip()
    if not raw:
        return ()
    hooks = []
    for i, entry in enumerate(e.strip() for e in raw.split(",")):
        kind, sep, url = entry.partition("=")
        try:
            fmt = WebhookFormat(kind.strip().lower())
        except ValueError:
            raise ConfigError(f"${ENV_WEBHOOKS} entry {i + 1}: unknown format {kind.strip()!r} "
                              f"(known: {', '.join(f.value for f in WebhookFormat)})") from None
        if not sep or not url.startswith(("http://", "https://")):
            raise ConfigError(f"${ENV_WEBHOOKS} entry {i + 1} ({fmt.value}): expected "
                              f"{fmt.value}=https://...")
        chat = environ.get(ENV_TELEGRAM_CHAT) if fmt is WebhookFormat.TELEGRAM else None
        if fmt is WebhookFormat.TELEGRAM and not chat:
            raise ConfigError(f"${ENV_WEBHOOKS} entry {i + 1}: telegram needs "
                              f"${ENV_TELEGRAM_CHAT}")
        hooks.append(Webhook(f"{fmt.value}-{i + 1}", url, fmt, chat))
    return tuple(hooks)


def risk_limits(settings: Settings) -> RiskLimits:
    r = settings.risk
    return RiskLimits(
        max_market=r.max_market_exposure, max_event=r.max_event_exposure,
        max_total=r.max_total_exposure, max_venue=r.max_venue_exposure,
        min_trade=r.trade_min_usd, max_trade=r.trade_max_usd, max_daily_loss=r.max_daily_loss,
        max_consecutive_errors=r.max_consecutive_errors,
        max_consecutive_losses=r.max_consecutive_losses,
        max_orders_per_minute=r.orders_per_minute, max_trades_per_hour=r.trades_per_hour,
        enabled=r.enabled)


SIZE_HEADROOM_PCT = 90
"""Opportunities are sized to this share of ``risk.trade_max_usd``: the risk actor prices each
leg at its limit (the deepest level walked) with the larger of two fee estimates, so a detection
sized to the full limit would be denied as too large."""


def edge_params(settings: Settings) -> EdgeParams:
    e = settings.edge
    return EdgeParams(min_profit=Money(max(1, e.min_profit)),
                      min_profit_per_contract=e.min_profit_per_contract,
                      max_cost=Money(max(1, settings.risk.trade_max_usd * SIZE_HEADROOM_PCT
                                         // 100)),
                      min_edge_bps=e.min_edge_bps)


def market_params(settings: Settings) -> MarketParams:
    x = settings.execution
    tif = {"ioc": TimeInForce.IOC, "fok": TimeInForce.FOK, "fak": TimeInForce.IOC}
    repair = RepairParams(completion_loss_cap=x.complete_loss_cap, price_step=x.unwind_price_step,
                          max_loss_per_contract=x.unwind_max_discount,
                          ladder_attempts=x.unwind_attempts,
                          settlement_retries=x.settlement_retries,
                          settlement_wait_s=x.settlement_retry_s)
    return MarketParams(max_book_age_s=settings.edge.max_book_age_s,
                        scan_interval_s=settings.edge.scan_interval_s,
                        execution=ExecutionParams(tif[x.kalshi_tif], tif[x.poly_tif], repair),
                        mismatch_limit=max(1, x.mismatch_blacklist_after),
                        blacklist_s=x.blacklist_s)


def supervisor_params(settings: Settings) -> SupervisorParams:
    s = settings.supervisor
    return SupervisorParams(restart_limit=s.restart_intensity, restart_window_s=s.restart_window_s,
                            feed_backoff_max_s=settings.feeds.reconnect_max_s,
                            cleanup_s=settings.execution.cleanup_s,
                            drain_s=settings.execution.drain_s)


def leg_params(settings: Settings) -> LegParams:
    return LegParams(delayed_budget_s=settings.execution.delayed_wait_s)


def _overrides(settings: Settings) -> Overrides:
    path = settings.discovery.overrides_file
    return load_overrides(Path(path)) if path else Overrides()


def accept_configured(pairs: Sequence[MarketPair], accepted: Sequence[str]) -> list[MarketPair]:
    """Mark basis-risk pairs the config accepts by id (``discovery.accept_basis_risk``)."""
    wanted = set(accepted)
    return [attrs.evolve(p, basis_risk_accepted=True,
                         reason=f"{p.reason} (basis risk accepted in config)")
            if p.verdict is Verdict.BASIS_RISK and p.pair_id in wanted else p for p in pairs]


@attrs.frozen
class Discovered:
    pairs: tuple[MarketPair, ...]
    """Every matched pair (tradable or not)."""
    ended: frozenset[str]
    """Kalshi tickers and Polymarket condition ids listed as closed or settled."""
    listings: Listings | None = None
    """What discovery saw; lets the operator's manually added pairs be built."""

    @property
    def tradable(self) -> tuple[MarketPair, ...]:
        return tuple(p for p in self.pairs if p.tradable)


async def discover_pairs(settings: Settings, endpoints: Endpoints) -> Discovered:
    """One discovery run over the configured leagues."""
    catalog = load_leagues()
    if not settings.bot.leagues:
        raise ConfigError("bot.leagues is empty: nothing to trade (set it in the sport config)")
    leagues = [catalog.get(key) for key in settings.bot.leagues]
    listings = await fetch_listings(
        leagues, kalshi_url=endpoints.kalshi_rest, gamma_url=endpoints.poly_gamma,
        now=datetime.now(UTC), horizon=timedelta(hours=settings.discovery.start_window_h))
    result = match_listings(catalog, listings, _overrides(settings))
    return Discovered(tuple(accept_configured(result.pairs,
                                              settings.discovery.accept_basis_risk)),
                      result.ended, listings)


@attrs.define(eq=False)
class TradedPairs:
    """The pairs being traded now, and the lookups built from them (fees, Kalshi grids,
    books); updated in place by the discovery refresh, so the paper venues, the user stream
    and the status view always see the current set."""

    by_id: dict[str, MarketPair] = attrs.field(factory=dict)
    books: dict[str, PairBooks] = attrs.field(factory=dict)
    specs: dict[str, MarketSpec] = attrs.field(factory=dict)
    _fees: dict[str, KalshiFeeSchedule | PolyFeeSchedule] = attrs.field(factory=dict)
    _token_fees: dict[str, PolyFeeSchedule] = attrs.field(factory=dict)
    _rules: dict[str, MarketRules] = attrs.field(factory=dict)

    def set(self, pairs: Sequence[MarketPair]) -> None:
        self.by_id = {p.pair_id: p for p in pairs}
        self._fees = {}
        self._token_fees = {}
        self._rules = {}
        for pair in pairs:
            self._fees[pair.kalshi.ticker] = pair.kalshi.fees
            self._fees[pair.poly.condition_id] = pair.poly.fees
            self._token_fees[pair.poly.yes_token] = pair.poly.fees
            self._token_fees[pair.poly.no_token] = pair.poly.fees
            self._rules[pair.kalshi.ticker] = MarketRules(pair.kalshi.grid, pair.kalshi.fractional)

    @property
    def tickers(self) -> set[str]:
        return {p.kalshi.ticker for p in self.by_id.values()}

    @property
    def tokens(self) -> set[str]:
        return {t for p in self.by_id.values() for t in (p.poly.yes_token, p.poly.no_token)}

    def fees(self, instrument: Instrument) -> KalshiFeeSchedule | PolyFeeSchedule | None:
        return self._fees.get(instrument.market)

    def kalshi_rules(self, ticker: str) -> MarketRules:
        return self._rules.get(ticker, MarketRules.default())

    def poly_fee(self, token: str, price: Price, qty: Qty) -> Money:
        schedule = self._token_fees.get(token)
        if schedule is None:
            return Money(0)
        return taker_fee(schedule.rate, schedule.exponent, price, qty)


async def run_live_preflight(config: BotConfig) -> None:
    """Live trading is refused unless every preflight check passes."""
    from arb.commands.preflight import run_preflight
    checks = await run_preflight(argparse.Namespace(target=config.target.value,
                                                    sim_state=config.sim_state))
    failed = [f"{c.venue} {c.name}: {c.detail}" for c in checks if not c.ok]
    if failed:
        raise StartupError("live mode refused, preflight failed: " + "; ".join(failed))


@attrs.define(eq=False)
class _StopLine:
    """Where a feed that gave up reports; before the supervisor exists it fails start-up."""

    alerts: AlertHub
    supervisor: Supervisor | None = None

    def feed_down(self, name: str, problem: str) -> None:
        if self.supervisor is None:
            raise StartupError(f"{name} feed failed during start-up: {problem}")
        self.alerts.publish(Alert("feed_down", Severity.CRITICAL,
                                  f"{name} feed gave up ({problem}); stopping trading"))
        self.supervisor.request_stop(f"{name} feed down: {problem}")


async def _guarded_feed(name: str, serve, stop_line: _StopLine, *,
                        task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED) -> None:
    """Run a market feed; if it gives up, stop trading (its books can no longer be trusted)."""
    try:
        await serve(task_status=task_status)
        problem = "ended"
    except Exception as err:  # FeedDown, AuthError, or a bug: either way the books are gone
        problem = f"{type(err).__name__}: {err}"
    stop_line.feed_down(name, problem)


@attrs.define(eq=False)
class PairRefresher:
    """Keeps the supervised markets equal to what discovery says is tradable, without a
    restart: new pairs get book subscriptions (and, live, their venue metadata) and a market
    actor; pairs gone from discovery stop their actor (after any in-flight execution) and then
    their subscriptions; ended markets are reported to the reconciler."""

    settings: Settings
    endpoints: Endpoints
    traded: TradedPairs
    supervisor: Supervisor
    reconciler: Reconciler
    alerts: AlertHub
    detect: Detector
    kalshi_feed: KalshiFeed
    poly_feed: PolymarketMarketFeed
    kalshi_live: KalshiAdapter | None
    poly_live: PolymarketAdapter | None
    decisions_file: Path | None = None
    """The operator's pair decisions (``arb markets``); re-read about once a second."""
    refreshes: int = 0
    decisions: MarketDecisions = attrs.field(factory=MarketDecisions)
    _watcher: DecisionsWatcher | None = attrs.field(default=None, init=False)
    _last: Discovered | None = attrs.field(default=None, init=False)

    def _wanted(self, found: Discovered) -> tuple[MarketPair, ...]:
        """Discovery's pairs with the operator's decisions applied, tradable ones only."""
        catalog = load_leagues()

        def league_of(series: str) -> str:
            hit = catalog.by_series(series)
            return hit[0].key if hit is not None else ""

        pairs = apply_decisions(found.pairs, self.decisions, found.listings, league_of=league_of)
        return tuple(p for p in pairs if p.tradable)

    def poll_decisions(self) -> bool:
        """Re-read the decisions file; True when they changed (a bad file keeps the old ones)."""
        if self.decisions_file is None:
            return False
        if self._watcher is None:
            self._watcher = DecisionsWatcher(self.decisions_file)
        try:
            decisions = self._watcher.poll()
        except MarketsError as err:
            self.alerts.publish(Alert("markets_file_invalid", Severity.WARNING,
                                      f"{self.decisions_file}: {err}; previous decisions kept"))
            return False
        if decisions is None:
            return False
        self.decisions = decisions
        return True

    def spec_for(self, pair: MarketPair) -> MarketSpec:
        """The current spec of ``pair`` if unchanged (so the supervisor keeps its actor)."""
        current = self.traded.specs.get(pair.pair_id)
        if current is not None and current.pair == pair:
            return current
        k_book = self.kalshi_feed.book(pair.kalshi.ticker)
        yes_book = self.poly_feed.books.get(pair.poly.yes_token)
        no_book = self.poly_feed.books.get(pair.poly.no_token)
        if k_book is None or yes_book is None or no_book is None:
            raise StartupError(f"{pair.pair_id}: the feeds hold no book for it")
        return MarketSpec(pair, PairBooks(pair, k_book, yes_book, no_book), self.detect)

    async def apply(self, found: Discovered) -> MarketChanges:
        self._last = found
        self.reconciler.note_ended(found.ended)
        wanted = self._wanted(found)
        new_tickers = {p.kalshi.ticker for p in wanted} - self.traded.tickers
        new_tokens = {t for p in wanted for t in (p.poly.yes_token, p.poly.no_token)
                      } - self.traded.tokens
        new_markets = {p.poly.condition_id for p in wanted
                       if p.poly.yes_token in new_tokens or p.poly.no_token in new_tokens}
        if self.kalshi_live is not None and new_tickers:
            await self.kalshi_live.load_market_rules(sorted(new_tickers))
        if self.poly_live is not None:
            for condition_id in sorted(new_markets):
                await self.poly_live.load_market(condition_id)
        self.kalshi_feed.add_tickers(sorted(new_tickers))
        self.poly_feed.add_tokens(sorted(new_tokens))
        old_tickers, old_tokens = self.traded.tickers, self.traded.tokens
        specs = {p.pair_id: self.spec_for(p) for p in wanted}
        # Lookups first (new pairs' fees and grids, old ones kept while their actors finish),
        # then the supervisor; only once removed actors have stopped, their subscriptions.
        self.traded.set([*self.traded.by_id.values(),
                         *(p for p in wanted if p.pair_id not in self.traded.by_id)])
        changes = await self.supervisor.set_markets(
            list(specs.values()), reason="no longer listed, matched or tradable")
        self.traded.set(wanted)
        self.traded.specs = specs
        for pair_id in list(self.traded.books):
            if pair_id not in specs:
                del self.traded.books[pair_id]
        for pair_id, spec in specs.items():
            self.traded.books[pair_id] = spec.books
        self.kalshi_feed.remove_tickers(sorted(old_tickers - self.traded.tickers))
        self.poly_feed.remove_tokens(sorted(old_tokens - self.traded.tokens))
        self.refreshes += 1
        if changes.added or changes.replaced or changes.removed:
            self.alerts.publish(Alert(
                "pairs_changed", Severity.INFO,
                f"discovery refresh: +{len(changes.added)} ~{len(changes.replaced)} "
                f"-{len(changes.removed)} pairs; trading {len(specs)}"))
        return changes

    async def serve(self) -> None:
        """Rediscover every ``discovery.refresh_s`` and apply the operator's decisions as soon as
        the decisions file changes; a failed discovery keeps the current pairs."""
        next_discovery = trio.current_time() + self.settings.discovery.refresh_s
        while True:
            await trio.sleep(min(DECISIONS_POLL_S, max(0.0, next_discovery - trio.current_time())))
            if self.poll_decisions() and self._last is not None:
                await self.apply(self._last)
            if trio.current_time() < next_discovery:
                continue
            next_discovery = trio.current_time() + self.settings.discovery.refresh_s
            try:
                found = await discover_pairs(self.settings, self.endpoints)
            except (Transient, OutcomeUnknown, CatalogError, GammaError, httpx.HTTPError) as err:
                self.alerts.publish(Alert("discovery_failed", Severity.WARNING,
                                          f"discovery refresh failed: {err}"))
                continue
            await self.apply(found)


async def run_bot(config: BotConfig, *,
                  task_status: trio.TaskStatus[Bot] = trio.TASK_STATUS_IGNORED) -> Shutdown:
    """Run the bot until a stop (signal, breaker, operator halt, feed loss, pair change)."""
    settings = config.settings
    state_dir = Path(config.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before any task)
    setup_logging(state_dir, level=settings.logging.level, rotation=settings.logging.rotation,
                  retention=settings.logging.retention, console=config.console_log)
    log = logger.bind(actor="app")
    alerts = AlertHub(webhooks_from_env(), capacity=settings.alerts.queue_size)
    endpoints = endpoints_for(config.target, config.sim_state)
    secrets = secrets_for(config.target, config.sim_state)
    if config.mode is Mode.LIVE:
        await run_live_preflight(config)
    found = await discover_pairs(settings, endpoints)
    pairs = found.tradable
    log.info("discovery: {} pairs matched, {} tradable", len(found.pairs), len(pairs))
    if not pairs:
        raise StartupError(f"no tradable pairs for leagues {', '.join(settings.bot.leagues)}")
    ledger = Ledger.open(ledger_path(state_dir, config.mode.value), mode=config.mode.value)
    try:
        async with AsyncExitStack() as stack:
            return await _run(config, stack, ledger, alerts, endpoints, secrets, found,
                              task_status)
    except* (StartupError, ConfigError, VenueError) as group:
        # A refusal raised inside the task nursery: surface it as itself, not as a group.
        raise first_leaf(group) from None
    finally:
        ledger.close()


async def _open_order_clients(config: BotConfig, stack: AsyncExitStack, endpoints: Endpoints,
                              secrets: VenueSecrets, pairs: Sequence[MarketPair]
                              ) -> tuple[KalshiAdapter | None, PolymarketAdapter | None]:
    """The real order clients live mode uses; none in paper mode, and no Polymarket one where
    the target keeps Polymarket read-only (Kalshi demo): those venues trade on paper."""
    if config.mode is not Mode.LIVE:
        return None, None
    settings = config.settings
    kalshi = await stack.enter_async_context(open_kalshi_adapter(
        endpoints.kalshi_rest, kalshi_signer(secrets), tier=Tier[settings.kalshi.tier.upper()]))
    await kalshi.load_market_rules(sorted({p.kalshi.ticker for p in pairs}))
    if not endpoints.poly_orders:
        logger.bind(actor="app").warning("{}: Polymarket is read-only for this target; its legs "
                                         "trade on paper", config.target.value)
        return kalshi, None
    chain_id = settings.polymarket.chain_id
    if config.target is Target.SIM and config.sim_state is not None:
        from arb.sim.world import load_credentials  # the simulator only when targeted
        chain_id = load_credentials(config.sim_state).poly_chain_id
    poly = await stack.enter_async_context(open_polymarket_adapter(
        poly_signer(secrets, chain_id), base_url=endpoints.poly_clob))
    for condition_id in sorted({p.poly.condition_id for p in pairs}):
        await poly.load_market(condition_id)
    return kalshi, poly


def _paper_venues(settings: Settings, traded: TradedPairs, kalshi_feed: KalshiFeed,
                  poly_feed: PolymarketMarketFeed) -> dict[Venue, VenueAdapter]:
    """Paper venues filling against the feeds' live books (cash: the per-venue limit)."""
    def book_of(key: str) -> KalshiBook | PolyBook | None:
        return kalshi_feed.book(key) or poly_feed.books.get(key)

    cash = settings.risk.max_venue_exposure
    return {Venue.KALSHI: PaperVenue(Venue.KALSHI, book_of, traded.fees, cash,
                                     kalshi_rules=traded.kalshi_rules),
            Venue.POLYMARKET: PaperVenue(Venue.POLYMARKET, book_of, traded.fees, cash)}


async def _run(config: BotConfig, stack: AsyncExitStack, ledger: Ledger, alerts: AlertHub,
               endpoints: Endpoints, secrets: VenueSecrets, found: Discovered,
               task_status: trio.TaskStatus[Bot]) -> Shutdown:
    settings = config.settings
    pairs = found.tradable
    router = BookRouter()
    health = HealthTap(router)
    fills = FillRouter(ledger)
    signer = kalshi_signer(secrets)
    kalshi_events_send, kalshi_events = trio.open_memory_channel[Fill | OrderResult](USER_EVENTS)
    poly_events_send, poly_events = trio.open_memory_channel[Fill | OrderResult](USER_EVENTS)
    tickers = sorted({p.kalshi.ticker for p in pairs})
    tokens = sorted({t for p in pairs for t in (p.poly.yes_token, p.poly.no_token)})
    kalshi_live, poly_live = await _open_order_clients(config, stack, endpoints, secrets, pairs)
    kalshi_directory = kalshi_live.directory if kalshi_live is not None else None
    nursery = await stack.enter_async_context(trio.open_nursery())
    stop_line = _StopLine(alerts)
    # Market feeds first: their book objects are what every pair trades on.
    kalshi_feed: KalshiFeed = await _start_feed(
        nursery, "kalshi", partial(
            serve_kalshi_feed, kalshi_ws_connector(endpoints.kalshi_ws, signer), tickers, health,
            user_events=kalshi_events_send if kalshi_live else None, directory=kalshi_directory,
            config=FeedConfig(stale_after=settings.feeds.silent_after_s * 2,
                              backoff_cap=settings.feeds.reconnect_max_s)),
        stop_line, config.seed_timeout_s)
    poly_feed: PolymarketMarketFeed = await _start_feed(
        nursery, "polymarket", partial(
            serve_polymarket_feed, tokens, health,
            config=PolyFeedConfig(url=endpoints.poly_market_ws,
                                  max_silence=settings.feeds.silent_after_s * 2)),
        stop_line, config.seed_timeout_s)
    traded = TradedPairs()
    traded.set(pairs)
    venues: dict[Venue, VenueAdapter] = _paper_venues(settings, traded, kalshi_feed, poly_feed)
    if kalshi_live is not None:
        venues[Venue.KALSHI] = kalshi_live
    if poly_live is not None:
        venues[Venue.POLYMARKET] = poly_live
    client, inbox = open_risk_channel()
    halt_send, halt_receive = trio.open_memory_channel[Halt](1)
    risk = RiskActor(risk_limits(settings), ledger, inbox, halt_send, alerts)
    desk = OrderDesk(venues, ledger, client, fills, alerts, leg_params(settings))
    reconciler = Reconciler(venues, ledger, client, fills, alerts,
                            ReconcileParams(interval_s=settings.supervisor.reconcile_interval_s))
    tap = DecisionTap()
    detect = tap.wrap(edge_detector(edge_params(settings)))
    ids = ExecutionIds()
    supervisor = Supervisor(desk, risk, router, reconciler, alerts, halt_receive, [],
                            market_params(settings), [], supervisor_params(settings),
                            new_id=ids)
    refresher = PairRefresher(settings, endpoints, traded, supervisor, reconciler, alerts,
                              detect, kalshi_feed, poly_feed, kalshi_live, poly_live,
                              decisions_path(config.state_dir))
    refresher.poll_decisions()
    # Before the supervisor runs, its markets are queued until the startup barrier.
    await refresher.apply(found)
    if poly_live is not None:
        supervisor.feeds = (TaskSpec("polymarket-user", Venue.POLYMARKET, partial(
            serve_polymarket_user_feed, poly_live.creds, poly_live.signer.funder,
            poly_events_send, client_ids=poly_live.client_id_of,
            fee_for=traded.poly_fee, config=UserFeedConfig(url=endpoints.poly_user_ws))),)
    nursery.start_soon(serve_user_events, kalshi_events, fills)
    for venue in venues.values():
        if isinstance(venue, PaperVenue):
            nursery.start_soon(serve_paper_fills, venue, fills)
    nursery.start_soon(serve_user_events, poly_events, fills)
    stop_line.supervisor = supervisor
    source = StatusSource(settings.bot.name, config.mode.value, config.target.value, supervisor,
                          risk, router, alerts, ledger, traded.books, tap,
                          (FeedView(Venue.KALSHI, kalshi_feed.statistics,
                                    lambda: health.latest.get(Venue.KALSHI),
                                    lambda: len(kalshi_feed.tickers),
                                    lambda: sum(1 for t in kalshi_feed.tickers
                                                if (b := kalshi_feed.book(t)) and b.valid)),
                           FeedView(Venue.POLYMARKET, poly_feed.statistics,
                                    lambda: health.latest.get(Venue.POLYMARKET),
                                    lambda: len(poly_feed.books),
                                    lambda: sum(1 for b in poly_feed.books.values()
                                                if b.valid))))
    publisher = Publisher(source, Path(config.state_dir), settings.status.interval_s)
    await nursery.start(partial(serve_publisher, publisher, port=settings.status.http_port))
    watch = HaltWatch(ledger, supervisor)
    await nursery.start(serve_halt_watch, watch)
    stats_log = StatsLog(supervisor, ledger, tap.latency, feeds=(
        lambda: _feed_stats(Venue.KALSHI, health, len(kalshi_feed.tickers),
                            sum(1 for t in kalshi_feed.tickers
                                if (b := kalshi_feed.book(t)) and b.valid),
                            kalshi_feed.statistics().messages,
                            kalshi_feed.statistics().reconnects),
        lambda: _feed_stats(Venue.POLYMARKET, health, len(poly_feed.books),
                            sum(1 for b in poly_feed.books.values() if b.valid),
                            poly_feed.statistics().frames, poly_feed.statistics().reconnects)))
    await nursery.start(serve_stats_log, stats_log, settings.status.stats_every_s)
    nursery.start_soon(refresher.serve)
    bot = Bot(config, ledger, traded, venues, supervisor, risk, alerts, tap, publisher,
              watch, endpoints, refresher, trio.current_time())
    task_status.started(bot)
    shutdown = await supervisor.run(handle_signals=config.handle_signals)
    reassert_halt(watch)
    publish_logged(publisher)
    logger.bind(actor="app").info("stopped: {} (halted={}, cancelled {})", shutdown.reason,
                                  shutdown.halted,
                                  {v.value: n for v, n in shutdown.cancelled.items()})
    nursery.cancel_scope.cancel()
    return shutdown


PAPER_FILL_POLL_S = 0.05
DECISIONS_POLL_S = 1.0
"""How soon an ``arb markets`` change reaches the running bot."""


def _feed_stats(venue: Venue, health: HealthTap, subscribed: int, with_data: int,
                messages: int, reconnects: int) -> FeedStats:
    latest = health.latest.get(venue)
    return FeedStats(venue.value, latest is not None and latest.state is FeedState.LIVE,
                     subscribed, with_data, messages, reconnects)


async def serve_paper_fills(venue: PaperVenue, fills: FillRouter) -> None:
    """Paper mode's user stream: the paper venue's fills into the fill router, as the venues'
    user sockets do in live mode (legs settle only once their fills are booked)."""
    seen = 0
    while True:
        page = await venue.fills(str(seen))
        for fill in page.fills:
            fills.observe(fill)
        seen += len(page.fills)
        if page.cursor is None:
            await trio.sleep(PAPER_FILL_POLL_S)


async def _start_feed(nursery: trio.Nursery, name: str, serve, stop_line: _StopLine,
                      seed_within_s: float):
    with trio.move_on_after(seed_within_s):
        return await nursery.start(_guarded_feed, name, serve, stop_line)
    raise StartupError(f"{name} feed: not every book got its first snapshot within "
                       f"{seed_within_s:.0f}s")
