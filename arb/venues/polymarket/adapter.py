# Design note: the Polymarket venue adapter.
#
# Problem: the actors speak ``OrderRequest`` / ``OrderResult`` / ``Fill``; Polymarket speaks signed
# V2 orders whose id is their EIP-712 hash, answers ``live`` / ``matched`` / ``delayed`` /
# ``unmatched``, and settles trades asynchronously (MATCHED may still FAIL).
#
# Naive approach: build and post in one call. The order id would only be known after the POST,
# so a crash or timeout in between leaves an order the ledger cannot name.
#
# Chosen approach: ``prepare`` (synchronous) rounds the price onto the tick grid in the safe
# direction, computes the amounts (limit path for GTC, market path for FOK/FAK taker legs),
# checks every venue rule locally, signs, and serialises the body once: the order hash
# (``venue_order_id``) and the exact bytes are known before anything is sent. ``submit`` posts
# those bytes under a shielded, bounded deadline, so a cancellation of the caller cannot cut a
# sent order off from its answer: the call ends with a definitive result, Rejected, or
# OutcomeUnknown. ``delayed`` is reported as DELAYED (never as zero filled); a killed FOK and an
# ``unmatched`` answer are CANCELLED with nothing filled. ``INVALID_ORDER_DUPLICATED`` (the same
# signed order posted again, e.g. after an unknown outcome) means the order exists: it is
# answered with the order's current state from the venue, never as a Rejected (which says the
# order does not exist). A 425 / cancel-only / disabled answer
# raises TradingPaused and marks the venue not trading until ``PAUSE_HOLD_S`` passes or an
# order is accepted again.
#
# Market metadata (tick, min size, neg risk, fee) is registered per token before trading, from
# ``/clob-markets`` (``load_market``) or from discovery (``register_token``); ``update_tick``
# follows ``tick_size_change``. Prepare refuses unknown tokens rather than guess a contract.
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import attrs
import httpx
import trio

from arb.domain import Instrument, Side, TimeInForce, Venue
from arb.fees import PolyFeeSchedule
from arb.money import SCALE, Money, Price, Qty, Round, div_round
from arb.venues.polymarket import wire
from arb.venues.polymarket.amounts import amounts_for, price_to_tick
from arb.venues.polymarket.auth import ApiCredentials
from arb.venues.polymarket.convert import (
    UnknownStatus,
    fills_from_trade,
    result_from_order,
    taker_fee,
)
from arb.venues.polymarket.errors import PauseKind, TradingPaused
from arb.venues.polymarket.rest import (
    ClobMarketInfo,
    PolymarketRest,
    PostOrderResponse,
    open_polymarket_rest,
    qty_from_display,
)
from arb.venues.polymarket.signing import PolymarketSigner, SignedOrder
from arb.venues.protocol import (
    Balance,
    FillPage,
    OpenOrder,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OutcomeUnknown,
    Position,
    PreparedOrder,
    Rejected,
    Transient,
    VenueError,
    VenueStatus,
)

SUBMIT_DEADLINE_S = 15.0
"""Upper bound of one order POST, shielded from outer cancellation."""
PAUSE_HOLD_S = 30.0
"""How long a TradingPaused answer keeps ``status().trading_active`` false."""
MAX_BATCH_ORDERS = 15
"""``POST /orders`` accepts at most 15 orders (venues.md B5.2)."""
MAX_TRACKED_ORDERS = 10_000
"""Order hash -> client id entries kept in memory (oldest dropped first)."""
_V = Venue.POLYMARKET
_KILLED_MARKERS = ("NOT_FILLED", "fully filled or killed", "no orders found to match")
_DUPLICATE_MARKER = "INVALID_ORDER_DUPLICATED"


@attrs.frozen
class TokenSpec:
    """What ``prepare`` needs to know about one outcome token."""

    condition_id: str
    token_id: str
    tick: Price
    min_order_size: Qty
    neg_risk: bool
    fee: PolyFeeSchedule | None = None
    """None when unknown: fills then carry a zero fee estimate."""


@attrs.define(eq=False)
class PolymarketAdapter:
    """``VenueAdapter`` for the Polymarket CLOB V2. Build it with :func:`open_polymarket_adapter`."""

    rest: PolymarketRest
    signer: PolymarketSigner
    wall_clock: Callable[[], float] = time.time
    """Order timestamps (ms) come from this clock."""
    submit_deadline_s: float = SUBMIT_DEADLINE_S
    venue: Venue = attrs.field(default=_V, init=False)
    _tokens: dict[str, TokenSpec] = attrs.field(factory=dict, init=False)
    _client_ids: OrderedDict[str, str] = attrs.field(factory=OrderedDict, init=False)
    _pause: tuple[PauseKind, float] | None = attrs.field(default=None, init=False)

    @property
    def creds(self) -> ApiCredentials:
        if self.rest.creds is None:
            raise Rejected(_V, "no API credentials: derive them before trading")
        return self.rest.creds

    # -- market metadata ---------------------------------------------------------------------

    def register_token(self, spec: TokenSpec) -> None:
        self._tokens[spec.token_id] = spec

    def token(self, token_id: str) -> TokenSpec:
        try:
            return self._tokens[token_id]
        except KeyError:
            raise Rejected(_V, f"token {token_id} is not registered (tick, size, neg risk "
                               f"unknown)") from None

    def update_tick(self, token_id: str, tick: Price) -> None:
        """Follow a ``tick_size_change``; later orders round to the new grid."""
        self._tokens[token_id] = attrs.evolve(self.token(token_id), tick=tick)

    async def load_market(self, condition_id: str) -> ClobMarketInfo:
        """Fetch ``/clob-markets/{cid}`` and register both tokens."""
        info = await self.rest.clob_market(condition_id)
        for tok in info.tokens:
            self.register_token(TokenSpec(
                condition_id=info.condition_id, token_id=tok.token_id, tick=info.tick,
                min_order_size=info.min_order_size or Qty(5 * SCALE), neg_risk=info.neg_risk,
                fee=info.fee))
        return info

    def _fee_for(self, token_id: str, price: Price, qty: Qty) -> Money:
        spec = self._tokens.get(token_id)
        if spec is None or spec.fee is None:
            return Money(0)
        return taker_fee(spec.fee.rate, spec.fee.exponent, price, qty)

    def _remember(self, order_hash: str, client_id: str) -> None:
        self._client_ids[order_hash] = client_id
        self._client_ids.move_to_end(order_hash)
        while len(self._client_ids) > MAX_TRACKED_ORDERS:
            self._client_ids.popitem(last=False)

    def client_id_of(self, order_hash: str) -> str | None:
        return self._client_ids.get(order_hash)

    # -- orders ------------------------------------------------------------------------------

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Round, check, sign and serialise; the order hash is the ``venue_order_id``.

        Raises:
            Rejected: unknown token, wrong venue, or a venue rule broken (tick, size, precision).
        """
        inst = request.instrument
        if inst.venue is not _V:
            raise Rejected(_V, f"{inst} is not a Polymarket instrument")
        spec = self.token(inst.token)
        if spec.condition_id and inst.market and inst.market != spec.condition_id:
            raise Rejected(_V, f"{inst}: token belongs to market {spec.condition_id}")
        price = price_to_tick(request.price, spec.tick, request.side)
        amounts = amounts_for(request.side, price, request.qty, spec.tick, request.tif,
                              min_order_size=spec.min_order_size, token_id=inst.token)
        try:
            token_int = int(inst.token)
        except ValueError:
            raise Rejected(_V, f"token id {inst.token!r} is not a decimal integer") from None
        order = self.signer.build_order(
            token_id=token_int, side=request.side, maker_amount=amounts.maker_amount,
            taker_amount=amounts.taker_amount, timestamp_ms=int(self.wall_clock() * 1000))
        signed = self.signer.sign_order(order, neg_risk=spec.neg_risk)
        body = wire.dumps(order_body(signed, owner=self.creds.api_key, tif=request.tif))
        self._remember(signed.order_hash, request.client_id)
        return PreparedOrder(request=request, venue_order_id=signed.order_hash, price=price,
                             qty=amounts.shares, payload=body)

    async def submit(self, order: PreparedOrder) -> OrderResult:
        """Post the prepared bytes; raises Rejected, TradingPaused, Transient or OutcomeUnknown."""
        assert order.venue_order_id is not None
        existing: OrderResult | None = None
        with trio.move_on_after(self.submit_deadline_s, shield=True) as scope:
            try:
                response = await self.rest.post_order(order.payload)
            except TradingPaused as exc:
                self._pause = (exc.kind, self.wall_clock())
                raise
            except Rejected as exc:
                if any(m in exc.reason for m in _KILLED_MARKERS):
                    return _nothing_filled(order, OrderStatus.CANCELLED)
                if _DUPLICATE_MARKER not in exc.reason:
                    raise
                existing = await self._already_placed(order.venue_order_id)
        if scope.cancelled_caught:
            raise OutcomeUnknown(_V, f"order {order.venue_order_id}: no answer within "
                                     f"{self.submit_deadline_s} s")
        if existing is not None:
            return existing
        return self._result(order, response)

    async def _already_placed(self, venue_order_id: str) -> OrderResult:
        """The venue's state of an order it refused as a duplicate of itself."""
        existing = await self.get_order(venue_order_id)
        if existing is None:
            raise OutcomeUnknown(_V, f"order {venue_order_id}: refused as a duplicate, but the "
                                     "venue does not list it")
        return existing

    async def submit_batch(self, orders: Sequence[PreparedOrder]
                           ) -> list[OrderResult | VenueError]:
        """Post up to 15 prepared orders in one ``POST /orders`` (e.g. both tokens of a market).

        The body is the prepared payloads joined into a JSON array, byte for byte. Returns one
        entry per order, in order: its result, or the error of that order alone (``Rejected``,
        or ``OutcomeUnknown`` for an answer that cannot be read). A
        failure of the whole request raises like ``submit`` (every order is then UNKNOWN for
        ``OutcomeUnknown``).
        """
        if not 1 <= len(orders) <= MAX_BATCH_ORDERS:
            raise Rejected(_V, f"a batch holds 1..{MAX_BATCH_ORDERS} orders, got {len(orders)}")
        body = b"[" + b",".join(o.payload for o in orders) + b"]"
        out: list[OrderResult | VenueError] = []
        with trio.move_on_after(self.submit_deadline_s, shield=True) as scope:
            try:
                responses = await self.rest.post_orders(body)
            except TradingPaused as exc:
                self._pause = (exc.kind, self.wall_clock())
                raise
            if len(responses) != len(orders):
                raise OutcomeUnknown(_V, f"batch of {len(orders)} orders answered with "
                                         f"{len(responses)} results")
            for order, response in zip(orders, responses, strict=True):
                out.append(await self._batch_entry(order, response))
        if scope.cancelled_caught:
            raise OutcomeUnknown(_V, f"batch of {len(orders)} orders: no answer within "
                                     f"{self.submit_deadline_s} s")
        return out

    async def _batch_entry(self, order: PreparedOrder, response: PostOrderResponse
                           ) -> OrderResult | VenueError:
        try:
            return self._result(order, response)
        except OutcomeUnknown as exc:
            return exc
        except Rejected as exc:
            if _DUPLICATE_MARKER not in exc.reason:
                return exc
        try:
            return await self._already_placed(order.venue_order_id or "")
        except VenueError as exc:
            return exc

    def _result(self, order: PreparedOrder, response: PostOrderResponse) -> OrderResult:
        oid = order.venue_order_id or ""
        if not response.success:
            if any(m in response.error_msg for m in _KILLED_MARKERS):
                return _nothing_filled(order, OrderStatus.CANCELLED)
            raise Rejected(_V, f"order {oid} refused: {response.error_msg or 'no reason given'}")
        if response.order_id and response.order_id.lower() != oid.lower():
            raise OutcomeUnknown(_V, f"order {oid}: venue answered for a different order id "
                                     f"{response.order_id}")
        self._pause = None
        if response.status == "live":
            return _nothing_filled(order, OrderStatus.RESTING)
        if response.status == "delayed":
            return _nothing_filled(order, OrderStatus.DELAYED)
        if response.status == "unmatched":
            return _nothing_filled(order, OrderStatus.CANCELLED)
        if response.status != "matched":
            raise OutcomeUnknown(_V, f"order {oid}: unknown status {response.status!r}")
        side = order.request.side
        usdc_text, shares_text = ((response.making_amount, response.taking_amount)
                                  if side is Side.BUY else
                                  (response.taking_amount, response.making_amount))
        shares = qty_from_display(shares_text, f"order {oid} filled shares")
        usdc = qty_from_display(usdc_text, f"order {oid} filled amount")
        if shares >= order.qty:
            status = OrderStatus.FILLED
        elif order.request.tif is TimeInForce.GTC:
            status = OrderStatus.RESTING
        else:
            status = OrderStatus.CANCELLED
        avg = None
        if shares:
            avg = Price(div_round(usdc * SCALE, shares, Round.UP if side is Side.BUY else Round.DOWN))
        fee = self._fee_for(order.request.instrument.token, avg or order.price, Qty(shares))
        return OrderResult(venue_order_id=oid, client_id=order.request.client_id, status=status,
                           filled_qty=Qty(shares), avg_price=avg, fee=fee,
                           trade_ids=response.trade_ids)

    async def cancel(self, venue_order_id: str, instrument: Instrument) -> None:
        """Cancel one order; "already canceled or matched" is not an error."""
        await self.rest.cancel_order(venue_order_id)

    async def cancel_all(self) -> int:
        return len((await self.rest.cancel_all()).canceled)

    async def get_order(self, venue_order_id: str | None = None, *,
                        client_id: str | None = None) -> OrderResult | None:
        """Look up by order hash. Polymarket has no client ids: a ``client_id`` is resolved
        through the hashes prepared by this process, and an unknown one raises ValueError
        (the ledger holds the hash of every order ever prepared)."""
        if venue_order_id is None:
            matches = [h for h, c in self._client_ids.items() if c == client_id]
            if not matches:
                raise ValueError(f"polymarket: no order hash known for client id {client_id!r}; "
                                 f"look it up by the hash recorded in the ledger")
            venue_order_id = matches[-1]
        record = await self.rest.order(venue_order_id)
        if record is None:
            return None
        try:
            return result_from_order(record, client_id=self.client_id_of(venue_order_id))
        except UnknownStatus as exc:
            raise Transient(_V, str(exc)) from None

    async def open_orders(self) -> Sequence[OpenOrder]:
        return [
            OpenOrder(venue_order_id=o.order_id, client_id=self.client_id_of(o.order_id),
                      instrument=Instrument.polymarket(o.market, o.asset_id), side=o.side,
                      price=o.price, qty=o.original_size, filled_qty=o.size_matched)
            for o in await self.rest.open_orders()
        ]

    async def fills(self, cursor: str | None = None) -> FillPage:
        """One page of our fills from ``/data/trades`` (oldest first within the page)."""
        page = await self.rest.trades(cursor)
        fills = []
        for trade in page.trades:
            try:
                fills.extend(fills_from_trade(
                    trade, api_key=self.creds.api_key, funder=self.signer.funder,
                    client_ids=self.client_id_of, fee_for=self._fee_for))
            except UnknownStatus as exc:
                raise Transient(_V, str(exc)) from None
        fills.sort(key=lambda f: (f.ts_ms, f.trade_id))
        return FillPage(tuple(fills), page.next_cursor)

    async def positions(self) -> Sequence[Position]:
        """Token balances of every registered token (the CLOB has no positions endpoint)."""
        out = []
        for spec in list(self._tokens.values()):
            held = await self.rest.balance_allowance("CONDITIONAL", spec.token_id)
            if held.balance > 0:
                out.append(Position(Instrument.polymarket(spec.condition_id, spec.token_id),
                                    Qty(held.balance)))
        return out

    async def balance(self) -> Balance:
        cash = await self.rest.balance_allowance("COLLATERAL")
        return Balance(_V, available=Money(cash.balance), total=Money(cash.balance))

    def paused(self) -> PauseKind | None:
        """The pause signalled by the venue within the last ``PAUSE_HOLD_S`` seconds, if any."""
        if self._pause is None:
            return None
        kind, since = self._pause
        if self.wall_clock() - since > PAUSE_HOLD_S:
            self._pause = None
            return None
        return kind

    async def status(self) -> VenueStatus:
        try:
            skew_ms = await self.rest.sync_clock()
        except (Transient, OutcomeUnknown, Rejected) as exc:
            return VenueStatus(_V, reachable=False, trading_active=False, detail=exc.reason)
        pause = self.paused()
        return VenueStatus(_V, reachable=True, trading_active=pause is None,
                           detail=pause.value if pause else "", clock_skew_ms=skew_ms)


def order_body(signed: SignedOrder, *, owner: str, tif: TimeInForce) -> dict:
    """The ``POST /order`` JSON object, key for key as the official client emits it."""
    order = signed.order
    return {
        "order": {
            "salt": order.salt,
            "maker": order.maker,
            "signer": order.signer,
            "tokenId": str(order.token_id),
            "makerAmount": str(order.maker_amount),
            "takerAmount": str(order.taker_amount),
            "side": "BUY" if order.side is Side.BUY else "SELL",
            "expiration": "0",
            "signatureType": int(order.signature_type),
            "timestamp": str(order.timestamp_ms),
            "metadata": "0x" + order.metadata.hex(),
            "builder": "0x" + order.builder.hex(),
            "signature": signed.signature,
        },
        "owner": owner,
        "orderType": {TimeInForce.GTC: "GTC", TimeInForce.IOC: "FAK",
                      TimeInForce.FOK: "FOK"}[tif],
        "deferExec": False,
        "postOnly": False,
    }


def _nothing_filled(order: PreparedOrder, status: OrderStatus) -> OrderResult:
    return OrderResult(venue_order_id=order.venue_order_id or "",
                       client_id=order.request.client_id, status=status, filled_qty=Qty(0),
                       avg_price=None, fee=Money(0))


@asynccontextmanager
async def open_polymarket_adapter(signer: PolymarketSigner, *, base_url: str,
                                  creds: ApiCredentials | None = None, nonce: int = 0,
                                  transport: httpx.AsyncBaseTransport | None = None,
                                  wall_clock: Callable[[], float] = time.time,
                                  ) -> AsyncIterator[PolymarketAdapter]:
    """Connect, align the auth clock with the venue and create-or-derive API keys if none given.

    Raises:
        AuthError: bad key, signature, clock or geoblock (fail fast before trading).
    """
    async with open_polymarket_rest(base_url, signer=signer, creds=creds, transport=transport,
                                    wall_clock=wall_clock) as rest:
        await rest.sync_clock()
        if creds is None:
            await rest.create_or_derive_api_key(nonce)
        yield PolymarketAdapter(rest, signer, wall_clock)
