# Design note: the Kalshi venue adapter (``VenueAdapter`` for the actors).
#
# Problem: the bot thinks "buy 10 NO at 0.43"; Kalshi V2 only speaks the YES leg: that order is
# ``side=ask`` at ``price=0.57``. Getting the mapping or the rounding direction wrong sends an order
# at a worse price than the edge calculation assumed (or one the venue rejects as off-grid).
#
# Chosen: ``prepare`` is synchronous and pure apart from recording the intent: it maps
# (outcome, side) to the V2 book side, converts the limit to a YES price, rounds it on the
# market's grid in the safe direction (a YES bid rounds down: never pay more; a YES ask rounds up:
# never receive less; for a NO buy this means the NO price never exceeds the limit), rounds the
# count down to whole contracts (or 0.01 where the market allows fractions) and renders the exact
# JSON bytes with our ``client_order_id``. ``submit`` sends those bytes unchanged. Markets whose
# rules were not loaded use whole cents and whole contracts, which every Kalshi grid accepts.
#
# Venue facts (venues.md A5.1): buy YES p -> bid p; sell YES p -> ask p; buy NO q -> ask 1-q;
# sell NO q -> bid 1-q. ``count`` 0-2 decimals, ``price`` 2-4 decimals, ``time_in_force`` one of
# fill_or_kill / good_till_canceled / immediate_or_cancel, ``self_trade_prevention_type`` required.
from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import attrs
import httpx
import orjson

from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.money import ONE, MoneyError, Price, Round, complement, format_fixed
from arb.venues.kalshi.auth import KalshiSigner
from arb.venues.kalshi.directory import OrderDirectory
from arb.venues.kalshi.grid import GridError, MarketRules
from arb.venues.kalshi.limiter import KalshiRateLimiter, Tier
from arb.venues.kalshi.parse import KalshiBalance, OrderIntent
from arb.venues.kalshi.rest import KalshiRestClient, open_kalshi_rest
from arb.venues.protocol import (
    Balance,
    FillPage,
    OpenOrder,
    OrderRequest,
    OrderResult,
    OutcomeUnknown,
    Position,
    PreparedOrder,
    Rejected,
    Transient,
    VenueStatus,
)

_TIF = {TimeInForce.IOC: "immediate_or_cancel", TimeInForce.FOK: "fill_or_kill",
        TimeInForce.GTC: "good_till_canceled"}


def book_side(outcome: Outcome, side: Side) -> str:
    """The V2 ``side`` (YES leg only) for buying or selling ``outcome``."""
    buys_yes_leg = (outcome is Outcome.YES) == (side is Side.BUY)
    return "bid" if buys_yes_leg else "ask"


@attrs.define(eq=False)
class KalshiAdapter:
    """Kalshi order entry and account queries over ``KalshiRestClient``."""

    venue: ClassVar[Venue] = Venue.KALSHI
    rest: KalshiRestClient
    self_trade_prevention: str = "taker_at_cross"
    """Cancel our incoming order at a self-cross, keeping fills already done."""
    _rules: dict[str, MarketRules] = attrs.field(factory=dict, init=False)

    @property
    def directory(self) -> OrderDirectory:
        return self.rest.directory

    # -- market rules --------------------------------------------------------------------------

    def set_market_rules(self, ticker: str, rules: MarketRules) -> None:
        self._rules[ticker] = rules

    def market_rules(self, ticker: str) -> MarketRules:
        return self._rules.get(ticker) or MarketRules.default()

    async def load_market_rules(self, tickers: Iterable[str]) -> None:
        """Fetch grids, fractional flags and shards for ``tickers`` from ``GET /markets/{t}``."""
        for ticker in tickers:
            self._rules[ticker] = await self.rest.market_rules(ticker)

    # -- orders --------------------------------------------------------------------------------

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Round to the market's grid in the safe direction and build the exact V2 body.

        Raises:
            Rejected: not a Kalshi instrument, an empty client id, a limit outside (0, 1), no
                grid price on the safe side of the limit, or a size that rounds to zero.
        """
        inst = request.instrument
        if inst.venue is not Venue.KALSHI:
            raise Rejected(Venue.KALSHI, f"order {request.client_id}: {inst} is not a Kalshi "
                                         "instrument")
        if not request.client_id:
            raise Rejected(Venue.KALSHI, f"order on {inst}: empty client_order_id")
        try:
            outcome = inst.kalshi_outcome
        except ValueError:
            raise Rejected(Venue.KALSHI, f"order {request.client_id}: {inst} token must be "
                                         "'yes' or 'no'") from None
        what = f"order {request.client_id} {request.side.value} {inst}"
        if not 0 < request.price < ONE:
            raise Rejected(Venue.KALSHI, f"{what}: limit {request.price} is outside (0, 1)")
        rules = self.market_rules(inst.market)
        side = book_side(outcome, request.side)
        yes_limit = request.price if outcome is Outcome.YES else complement(request.price)
        try:
            yes_price = rules.round_price(yes_limit, Round.DOWN if side == "bid" else Round.UP)
            price_text = format_fixed(yes_price, 4)
        except (GridError, MoneyError) as exc:
            raise Rejected(Venue.KALSHI, f"{what}: {exc}") from None
        qty = rules.round_count(request.qty)
        if qty <= 0:
            raise Rejected(Venue.KALSHI, f"{what}: size {request.qty} rounds to zero contracts "
                                         f"(step {rules.count_step})")
        body: dict[str, Any] = {
            "ticker": inst.market,
            "client_order_id": request.client_id,
            "side": side,
            "count": format_fixed(qty, 2),
            "price": price_text,
            "time_in_force": _TIF[request.tif],
            "self_trade_prevention_type": self.self_trade_prevention,
        }
        if request.tif is TimeInForce.GTC:
            body["cancel_order_on_pause"] = True
        if rules.exchange_index is not None:
            body["exchange_index"] = rules.exchange_index
        self.directory.remember(request.client_id,
                                OrderIntent(inst.market, outcome, request.side, request.tif))
        sent_price = Price(yes_price if outcome is Outcome.YES else complement(yes_price))
        return PreparedOrder(request, None, sent_price, qty, orjson.dumps(body))

    async def submit(self, order: PreparedOrder) -> OrderResult:
        """Send a prepared order; raises Rejected, Transient or OutcomeUnknown."""
        inst = order.request.instrument
        return await self.rest.create_order(order, ticker=inst.market,
                                            outcome=inst.kalshi_outcome,
                                            shard=self.market_rules(inst.market).exchange_index)

    async def cancel(self, venue_order_id: str, instrument: Instrument) -> None:
        """Cancel one order; an order Kalshi no longer holds open is not an error."""
        await self.rest.cancel_order(venue_order_id, ticker=instrument.market,
                                     shard=self.market_rules(instrument.market).exchange_index)

    async def cancel_all(self) -> int:
        resting = await self.rest.list_orders(status="resting")
        done = await self.rest.batch_cancel([(o.order_id, o.ticker) for o in resting])
        return len(done)

    async def get_order(self, venue_order_id: str | None = None, *,
                        client_id: str | None = None) -> OrderResult | None:
        if venue_order_id is not None:
            order = await self.rest.get_order(venue_order_id)
        elif client_id is not None:
            order = await self.rest.find_order(client_id)
        else:
            raise ValueError("get_order needs a venue order id or a client id")
        return None if order is None else order.to_result()

    async def open_orders(self) -> Sequence[OpenOrder]:
        return [o.to_open_order() for o in await self.rest.list_orders(status="resting")]

    # -- account -------------------------------------------------------------------------------

    async def fills(self, cursor: str | None = None) -> FillPage:
        """One page of fills (sorted oldest first within the page; Kalshi pages newest first)."""
        return await self.rest.fills(cursor)

    async def positions(self) -> Sequence[Position]:
        return await self.rest.positions()

    async def balance(self) -> Balance:
        return (await self.rest.balance()).to_balance()

    async def shard_balance(self, exchange_index: int) -> KalshiBalance:
        """Cash on one shard (Kalshi balances are per shard; venues.md A10)."""
        return await self.rest.balance(exchange_index)

    async def status(self) -> VenueStatus:
        """Exchange status; an unreachable venue is reported, auth failures raise."""
        try:
            return await self.rest.exchange_status()
        except (Transient, OutcomeUnknown) as exc:
            return VenueStatus(Venue.KALSHI, reachable=False, trading_active=False,
                               detail=exc.reason)


@asynccontextmanager
async def open_kalshi_adapter(base_url: str, signer: KalshiSigner, *,
                              tier: Tier = Tier.BASIC,
                              limiter: KalshiRateLimiter | None = None,
                              transport: httpx.AsyncBaseTransport | None = None,
                              request_timeout: float = 10.0) -> AsyncIterator[KalshiAdapter]:
    """A ready adapter for ``base_url`` (``rest.PROD_URL``, ``rest.DEMO_URL`` or a simulator)."""
    async with open_kalshi_rest(base_url, signer,
                                limiter=limiter or KalshiRateLimiter.for_tier(tier),
                                transport=transport, request_timeout=request_timeout) as rest:
        yield KalshiAdapter(rest)
