# Design note: books that move, and arbitrage windows with known answers.
#
# A house market maker quotes every listed outcome on both simulated venues around one hidden
# "fair" probability per outcome (the outcomes of a game sum to 1), a few levels deep on each
# side. At baseline the two venues agree, so buying both sides costs 1 + 2 x half-spread plus
# fees: no arbitrage. Fair values drift in a bounded random walk, spreads widen and narrow, and
# the maker re-quotes the levels that changed (cancel what moved, place what is new, leave
# unchanged levels resting), which is what produces the websocket deltas.
#
# Arbitrage is injected the way it appears in real life: one venue lags. For a planned window,
# the Polymarket quotes of one outcome are displaced by `shift` against Kalshi; if the shift
# exceeds both half-spreads plus both taker fees, buying the cheap token on Polymarket and the
# opposite side on Kalshi pays less than $1. The plan (seeded) records each window's time,
# pair, direction, shift and the size at the displaced level: that is the ground truth the demo
# and the integration tests compare against. When the window ends the quotes snap back.
#
# The driver is deterministic given the seed except for wall-clock timing of the steps.
from __future__ import annotations

import random
from collections.abc import Iterable

import attrs
import trio
from loguru import logger

from arb.domain import Side
from arb.money import CENT, ONE, SCALE, Price, Qty, Round, round_to_step
from arb.sim.kalshi.core import KalshiExchange, NewOrder
from arb.sim.polymarket.core import Exchange as PolymarketExchange
from arb.sim.slate import Slate, TruthPair

POLY_YES_KALSHI_NO = "poly_yes_kalshi_no"
KALSHI_YES_POLY_NO = "kalshi_yes_poly_no"

LEVELS = 4
LEVEL_STEP = Price(CENT)
MAX_HALF_SPREAD = 3 * CENT
MIN_FAIR = Price(80_000)
MAX_FAIR = Price(920_000)


@attrs.frozen
class InjectedArb:
    at_s: float
    """Seconds after the scenario started."""
    duration_s: float
    kalshi_ticker: str
    condition_id: str
    kind: str
    """``poly_yes_kalshi_no``: the pair's YES token is cheap on Polymarket; or the reverse."""
    shift: Price
    """How far the Polymarket quotes are displaced from Kalshi's (per contract)."""
    edge: Price
    """Guaranteed pre-fee edge per contract at the displaced best levels: the shift minus the
    widest possible pair of half-spreads."""
    size: Qty
    """Contracts available at the displaced best Polymarket level."""


@attrs.frozen
class ScenarioPlan:
    seed: int
    seconds: float
    arbs: tuple[InjectedArb, ...]


@attrs.frozen
class GameOutcomes:
    """One game's tradable outcomes: Kalshi ticker and Polymarket tokens per outcome."""

    event_ticker: str
    pairs: tuple[TruthPair, ...]


def group_games(slate: Slate) -> tuple[GameOutcomes, ...]:
    event_of = {m.ticker: e.event_ticker for e in slate.kalshi_events for m in e.markets}
    groups: dict[str, list[TruthPair]] = {}
    for pair in slate.pairs:
        groups.setdefault(event_of[pair.kalshi_ticker], []).append(pair)
    return tuple(GameOutcomes(k, tuple(v)) for k, v in groups.items())


def plan_scenario(slate: Slate, *, seed: int, seconds: float, arb_every_s: float = 8.0,
                  window_s: float = 4.0, first_at_s: float = 5.0) -> ScenarioPlan:
    """Schedule arbitrage windows on equivalent pairs, one at a time, every ``arb_every_s``."""
    rng = random.Random(seed * 104_729 + 17)
    candidates = [p for p in slate.pairs if p.verdict == "equivalent"]
    arbs: list[InjectedArb] = []
    at = first_at_s
    while at + window_s <= seconds - 1.0 and candidates:
        pair = rng.choice(candidates)
        kind = rng.choice((POLY_YES_KALSHI_NO, KALSHI_YES_POLY_NO))
        edge = Price(rng.choice((50_000, 60_000, 70_000)))
        size = Qty(rng.choice((20, 40, 60, 100)) * SCALE)
        arbs.append(InjectedArb(round(at, 3), window_s, pair.kalshi_ticker, pair.condition_id,
                                kind, Price(2 * MAX_HALF_SPREAD + edge), edge, size))
        at += arb_every_s
    return ScenarioPlan(seed, seconds, tuple(arbs))


@attrs.define(eq=False)
class MarketMaker:
    """Quotes every outcome of the slate on both exchanges from a house account."""

    kalshi: KalshiExchange
    poly: PolymarketExchange
    slate: Slate
    seed: int
    games: tuple[GameOutcomes, ...] = attrs.field(init=False)
    fair: dict[str, int] = attrs.Factory(dict)
    """Kalshi ticker -> probability that its YES pays (micro-units)."""
    half_spread: dict[str, int] = attrs.Factory(dict)
    shift: dict[str, tuple[str, Price, Qty]] = attrs.Factory(dict)
    """Kalshi ticker -> (kind, shift, size) while an arbitrage window is open."""
    kalshi_house: str = ""
    _rng: random.Random = attrs.field(init=False)
    _kalshi_orders: dict[str, dict[tuple[str, int], tuple[str, int]]] = attrs.Factory(dict)
    """Kalshi ticker -> (book side, price) -> (resting house order id, size placed)."""
    _poly_orders: dict[str, dict[tuple[Side, int], tuple[str, int]]] = attrs.Factory(dict)
    """Condition id -> (side of the YES token, price) -> (house order id, size placed)."""
    requotes: int = 0
    _pairs: dict[str, TruthPair] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed * 31 + 5)
        self._pairs = {p.kalshi_ticker: p for p in self.slate.pairs}
        self.games = group_games(self.slate)
        self.kalshi_house = self.kalshi.register_account(cash=10**15, user_id="house-mm")
        for game in self.games:
            for pair, prob in zip(game.pairs, self._initial_probabilities(len(game.pairs)),
                                  strict=True):
                self.fair[pair.kalshi_ticker] = prob
                self.half_spread[pair.kalshi_ticker] = self._rng.choice((CENT, CENT, 2 * CENT))

    def _initial_probabilities(self, outcomes: int) -> list[int]:
        if outcomes == 2:
            p = round_to_step(self._rng.randrange(250_000, 750_000), CENT, Round.DOWN)
            return [p, SCALE - p]
        weights = [self._rng.randrange(20, 50) for _ in range(outcomes)]
        total = sum(weights)
        probs = [round_to_step(SCALE * w // total, CENT, Round.DOWN) for w in weights]
        probs[-1] = SCALE - sum(probs[:-1])
        return probs

    def game_of(self, kalshi_ticker: str) -> GameOutcomes:
        return next(g for g in self.games if any(p.kalshi_ticker == kalshi_ticker for p in g.pairs))

    def quote_all(self) -> None:
        for game in self.games:
            self.requote(game)

    def drift(self) -> GameOutcomes | None:
        """Move one random game's fair values a little and re-quote it.

        Games with an open arbitrage window hold still, so each window offers exactly its
        planned size and edge for its whole duration (the ground truth stays true).
        """
        frozen = {self.game_of(ticker).event_ticker for ticker in self.shift}
        movable = [g for g in self.games if g.event_ticker not in frozen]
        if not movable:
            return None
        game = self._rng.choice(movable)
        step = self._rng.choice((-2, -1, 1, 2)) * CENT
        first, *rest = game.pairs
        new = min(max(self.fair[first.kalshi_ticker] + step, MIN_FAIR), MAX_FAIR)
        moved = new - self.fair[first.kalshi_ticker]
        self.fair[first.kalshi_ticker] = new
        if len(game.pairs) == 2:
            self.fair[rest[0].kalshi_ticker] = SCALE - new
        elif rest:
            biggest = max(rest, key=lambda p: self.fair[p.kalshi_ticker])
            self.fair[biggest.kalshi_ticker] -= moved
        if self._rng.random() < 0.2:
            self.half_spread[first.kalshi_ticker] = self._rng.choice(
                (CENT, 2 * CENT, MAX_HALF_SPREAD))
        self.requote(game)
        return game

    def open_window(self, arb: InjectedArb) -> None:
        self.shift[arb.kalshi_ticker] = (arb.kind, arb.shift, arb.size)
        self.requote(self.game_of(arb.kalshi_ticker))

    def close_window(self, arb: InjectedArb) -> None:
        self.shift.pop(arb.kalshi_ticker, None)
        self.requote(self.game_of(arb.kalshi_ticker))

    def requote(self, game: GameOutcomes) -> None:
        self.requotes += 1
        for pair in game.pairs:
            self._quote_kalshi(pair)
        seen: set[str] = set()
        for pair in game.pairs:
            if pair.condition_id in seen:
                continue
            seen.add(pair.condition_id)
            self._quote_poly(pair)

    # -- venue quoting ---------------------------------------------------------------------

    def _ladder(self, fair: int, half: int, *, tick: int) -> tuple[list[int], list[int]]:
        best_bid = round_to_step(fair - half, tick, Round.DOWN)
        best_ask = round_to_step(fair + half, tick, Round.UP)
        bids = [best_bid - k * LEVEL_STEP for k in range(LEVELS)]
        asks = [best_ask + k * LEVEL_STEP for k in range(LEVELS)]
        return ([p for p in bids if 0 < p < ONE], [p for p in asks if 0 < p < ONE])

    def _size(self) -> Qty:
        return Qty(self._rng.choice((50, 80, 120, 200, 300)) * SCALE)

    def _quote_kalshi(self, pair: TruthPair) -> None:
        ticker = pair.kalshi_ticker
        bids, asks = self._ladder(self.fair[ticker], self.half_spread[ticker], tick=CENT)
        wanted = {("bid", p): None for p in bids} | {("ask", p): None for p in asks}
        current = self._kalshi_orders.setdefault(ticker, {})
        for key in [k for k in current if k not in wanted]:
            order_id, _size = current.pop(key)
            try:
                self.kalshi.cancel_order(self.kalshi_house, order_id)
            except Exception as err:  # noqa: BLE001 - an order filled by the bot is no longer resting
                logger.debug("house cancel skipped for {}: {}", order_id, err)
        if not (self.kalshi.exchange_active and self.kalshi.trading_active):
            return  # a trading pause stops the house too; it quotes again on a later requote
        for side, price in wanted:
            if (side, price) in current:
                continue
            size = self._size()
            result = self.kalshi.place_order(self.kalshi_house, NewOrder(
                ticker=ticker, book_side=side, price=Price(price), count=size,
                self_trade_prevention="maker"))
            if result.order.status == "resting":
                current[(side, price)] = (result.order.order_id, size)

    def _poly_quote(self, pair: TruthPair) -> tuple[int, Side | None, Qty]:
        """Fair of ``pair.yes_token`` on Polymarket, and which of its sides is the cheap one.

        During a window the owning pair's YES token (``poly_yes_kalshi_no``) or NO token is made
        cheap; when this market is quoted through the other pair of a US game, that token is
        our NO token, so the displacement and the cheap side flip.
        """
        fair = self.fair[pair.kalshi_ticker]
        for ticker, (kind, shift, size) in self.shift.items():
            owner = self._pairs[ticker]
            if owner.condition_id != pair.condition_id:
                continue
            yes_cheap = kind == POLY_YES_KALSHI_NO
            if owner.yes_token != pair.yes_token:
                yes_cheap = not yes_cheap
            return (fair - shift, Side.SELL, size) if yes_cheap else (fair + shift, Side.BUY, size)
        return fair, None, Qty(0)

    def _quote_poly(self, pair: TruthPair) -> None:
        market = self.poly.market(pair.condition_id)
        fair, cheap_side, cheap_size = self._poly_quote(pair)
        fair = min(max(fair, 2 * CENT), ONE - 2 * CENT)
        bids, asks = self._ladder(fair, self.half_spread[pair.kalshi_ticker], tick=market.tick)
        # Quote the YES token on both sides; in Polymarket's unified book a YES ask at p is the
        # NO token's bid at 1 - p, so this is the whole market. The displaced best level of an
        # open window carries exactly the planned size.
        wanted: dict[tuple[Side, int], int | None] = {}
        for side, prices in ((Side.BUY, bids), (Side.SELL, asks)):
            for index, price in enumerate(prices):
                wanted[(side, price)] = cheap_size if side is cheap_side and index == 0 else None
        current = self._poly_orders.setdefault(pair.condition_id, {})
        for key in list(current):
            size = wanted.get(key, -1)
            if size == -1 or (size is not None and size != current[key][1]):
                self.poly.cancel_house_order(current.pop(key)[0])
        for (side, price), size in wanted.items():
            if (side, price) in current:
                continue
            size = size or self._size()
            result = self.poly.place_house_order(pair.yes_token, side, Price(price), Qty(size))
            if result.status == "live":
                current[(side, price)] = (result.order_id, size)


async def run_market_maker(maker: MarketMaker, plan: ScenarioPlan, *, step_s: float = 0.25,
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Seed every book, then drift and open/close the planned windows until cancelled."""
    maker.quote_all()
    start = trio.current_time()
    task_status.started()
    pending = sorted(plan.arbs, key=lambda a: a.at_s)
    open_windows: list[InjectedArb] = []
    while True:
        now = trio.current_time() - start
        for arb in [a for a in open_windows if now >= a.at_s + a.duration_s]:
            open_windows.remove(arb)
            maker.close_window(arb)
        while pending and now >= pending[0].at_s:
            arb = pending.pop(0)
            logger.bind(actor="sim-mm", market=arb.kalshi_ticker).info(
                "arbitrage window opens: {} shift {} size {}", arb.kind, arb.shift, arb.size)
            maker.open_window(arb)
            open_windows.append(arb)
        maker.drift()
        await trio.sleep(step_s)


def truth_json(slate: Slate, plan: ScenarioPlan) -> dict:
    """The ground truth as plain JSON: matching pairs, decoys and injected windows."""
    def fmt(values: Iterable) -> list[dict]:
        return [{k: (str(v) if isinstance(v, int) and not isinstance(v, bool) and k in
                     ("shift", "edge", "size") else v) for k, v in attrs.asdict(x).items()} for x in values]
    return {"seed": plan.seed, "seconds": plan.seconds, "pairs": fmt(slate.pairs),
            "decoys": fmt(slate.decoys), "arbs": fmt(plan.arbs)}
