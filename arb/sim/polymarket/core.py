# Design note: the simulated Polymarket CLOB as a plain state machine.
#
# Problem: the bot must be tested against a venue that validates, matches and settles like the
# real one, under Trio's virtual clock as well as on a real socket. A simulator that does I/O or
# reads the wall clock cannot be driven deterministically, and one that answers "filled" without
# modelling settlement cannot produce the failures that cost money (delayed orders, ghost fills,
# balance locked by resting orders).
#
# Chosen: ``Exchange`` is synchronous and owns all state; time enters only through ``now_ms``
# (``advance(now_ms)`` moves settlement, taker delays, GTD expiry and the heartbeat dead-man
# switch forward). Front ends (REST, websockets, Gamma) parse the wire, call the core, and render
# the views and events it returns. Listeners are called synchronously, in order, with frozen
# events.
#
# Matching: a unified book per market (see model.py). An incoming order walks the opposite side
# best price first while the fill price in its own token satisfies its signed amounts
# (``Order.accepts``, exact integer comparison), at each maker's resting price, FIFO per level.
# One ``Trade`` per taker order and price level, listing its maker orders (the venue's trade
# shape). A fill between orders of the same token transfers shares against pUSD; between the two
# tokens it mints (two BUYs) or merges (two SELLs) complete sets.
#
# Amounts and rounding (venue facts B4.4 and B7, with the simulator's documented choices):
# - BUY: makerAmount = pUSD, takerAmount = shares; SELL the reverse; price = pUSD / shares.
#   Orders are sized in shares: a BUY fills at most takerAmount shares and, with price
#   improvement, spends less than makerAmount (UNCERTAIN on the venue: a market BUY may instead
#   spend the whole amount).
# - The pUSD leg of a fill is ``shares * price`` rounded DOWN to the micro-unit; in a mint or
#   merge the second leg is ``shares - first`` so complete sets always cost exactly $1.
# - Taker fee ``C * r * (p * (1 - p)) ** e`` at the fill price, in pUSD for both sides (a BUY pays
#   it on top, a SELL receives its proceeds less the fee), per trade, rounded half-up to
#   ``fee_decimals`` (default 5, i.e. 0.00001 pUSD). Makers pay nothing.
# - Balances move at MATCHED (the CLOB's own view); a trade that ends FAILED undoes every move
#   it made, fee included. Resting and delayed orders reserve their pUSD (BUY) or shares (SELL).
#   What a trade credits is not spendable until it is MINED (``settlement_lag``, on by default):
#   a quick unwind meets "not enough balance / allowance", and a ghost fill's shares or
#   proceeds can never have been spent when it fails, so no balance goes negative.
#
# Validation order (venues.md part E): shape (front end) -> owner == API key -> signer == API
# key's address -> market known -> EIP-712 signature -> market accepting -> duplicate ->
# price on tick and in [tick, 1 - tick] -> precision -> minimum size -> postOnly -> GTD
# expiration -> balance / allowance -> FOK fillable. Texts are the venue's where known; coded
# errors read "<CODE>: <text>" so a client can match either.
#
# Left out: order-book rewards, RFQ, builder fees, ExchangeV3 orders, POLY_1271 signatures,
# resolution and redemption.
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable

import attrs

from arb.domain import Side
from arb.money import SCALE, Money, Price, Qty, Round, decimals_of, div_round, format_trimmed, mul
from arb.sim.listing import PolyEvent
from arb.sim.polymarket.auth import (
    ApiCredentials,
    OrderStruct,
    SignatureError,
    checksum,
    derive_credentials,
    order_hash,
    recover_order_signer,
)
from arb.sim.polymarket.faults import PolymarketFaults
from arb.sim.polymarket.model import (
    COLLATERAL,
    Account,
    BookChanged,
    BookSide,
    ExchangeEvent,
    LastTradePrice,
    LevelChange,
    MakerFill,
    Market,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    OrderType,
    OrderView,
    TickSizeChanged,
    Trade,
    TradeEvent,
    TradeStatus,
    TradeView,
)

HOUSE_ADDRESS = checksum("0x" + "ab" * 20)
HOUSE_API_KEY = "00000000-0000-4000-8000-000000000000"
MAX_BOOK_PRICE_LEVELS = 10_000
"""Bound on distinct price levels per book side (a grid of 0.0001 has 9999)."""
MAX_OPEN_ORDERS_PER_ACCOUNT = 10_000
MAX_ACCOUNTS = 10_000
MAX_HISTORY = 200_000
"""Finished orders and settled trades kept for queries; the oldest are forgotten beyond this."""
GTD_SAFETY_S = 60
"""GTD orders need expiration > now + 60 s and leave the book 60 s before it (venues.md B4.4)."""

NOT_ENOUGH_BALANCE = "not enough balance / allowance"
INVALID_SIGNATURE = "invalid signature"
SIGNER_NOT_API_KEY = "the order signer address has to be the address of the API KEY"
OWNER_NOT_API_KEY = "the order owner has to be the owner of the API KEY"
FOK_NOT_FILLED = ("FOK_ORDER_NOT_FILLED_ERROR: order couldn't be fully filled. "
                  "FOK orders are fully filled or killed.")
FAK_NO_MATCH = ("no orders found to match with FAK order. FAK orders are partially filled or "
                "killed if no match is found.")
ORDER_DELAYED = "order match delayed due to market conditions"
MARKET_NOT_READY = "MARKET_NOT_READY: the market is not yet ready to process new orders"


class OrderError(Exception):
    """The venue refused an order or a request; ``message`` is the wire text."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AuthFailure(Exception):
    """An L1 key request failed (wrong nonce state, unknown address)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@attrs.frozen
class ExchangeConfig:
    chain_id: int = 137
    mined_after_ms: int = 2_000
    """MATCHED -> MINED (or RETRYING for a ghost fill) this long after the match."""
    confirmed_after_ms: int = 6_000
    """-> CONFIRMED (or FAILED) this long after the match."""
    heartbeat_timeout_ms: int = 10_000
    fee_decimals: int = 5
    settlement_lag: bool = True
    """What a trade credits (shares bought, pUSD from a sale) cannot be spent until the trade is
    MINED: the settlement lag behind "not enough balance / allowance" on a quick unwind. It
    also keeps balances non-negative when a ghost fill fails. False: spendable at MATCHED."""
    server_seed: bytes = b"arb-sim-polymarket"
    """Seed of the deterministic API-key derivation."""


@attrs.frozen
class SignedOrder:
    """A V2 order as posted (JSON shape already checked by the front end)."""

    salt: int
    maker: str
    signer: str
    token_id: str
    maker_amount: int
    taker_amount: int
    side: Side
    signature_type: int
    timestamp_ms: int
    metadata: bytes
    builder: bytes
    expiration_s: int
    signature: str


@attrs.frozen
class PostOrder:
    order: SignedOrder
    owner: str
    order_type: OrderType
    post_only: bool = False
    defer_exec: bool = False


@attrs.frozen
class OrderResult:
    """The body of a successful ``POST /order``."""

    order_id: str
    status: str
    """``live``, ``matched``, ``delayed`` or ``unmatched``."""
    making_amount: int
    taking_amount: int
    trade_ids: tuple[str, ...]
    error_msg: str = ""


@attrs.frozen
class CancelResult:
    canceled: tuple[str, ...]
    not_canceled: dict[str, str]


@attrs.frozen
class AccountBalances:
    """One account's holdings (copies; positions are per token id)."""

    collateral: Money
    tokens: dict[str, Qty]
    reserved_collateral: Money
    """pUSD held back by open BUY orders."""


@attrs.frozen
class ExchangeStatistics:
    orders: int
    open_orders: int
    delayed_orders: int
    trades: int
    unsettled_trades: int
    accounts: int
    listeners: int
    """Registered event listeners (one per open websocket session)."""
    fees_collected: Money


def taker_fee(size: Qty, price: Price, rate: int, exponent: int, decimals: int) -> Money:
    """``size * rate * (price * (1 - price)) ** exponent`` in pUSD, half-up to ``decimals``."""
    if rate == 0 or size == 0:
        return Money(0)
    numerator = size * rate * (price * (SCALE - price)) ** exponent
    denominator = SCALE ** (1 + 2 * exponent)
    step = 10 ** (6 - decimals)
    units = (2 * numerator + step * denominator) // (2 * step * denominator)
    return Money(units * step)


def _has_decimals(amount: int, decimals: int) -> bool:
    return amount % (10 ** (6 - decimals)) == 0


@attrs.define(eq=False)
class Exchange:
    """The simulated CLOB: listings, accounts, books, orders, trades and their lifecycles."""

    config: ExchangeConfig = attrs.Factory(ExchangeConfig)
    faults: PolymarketFaults = attrs.Factory(PolymarketFaults)
    now_ms: int = 0
    events: dict[str, PolyEvent] = attrs.Factory(dict)
    markets: dict[str, Market] = attrs.Factory(dict)
    fees_collected: Money = Money(0)
    _token_market: dict[str, Market] = attrs.Factory(dict)
    _accounts: dict[str, Account] = attrs.Factory(dict)
    _keys: dict[str, ApiCredentials] = attrs.Factory(dict)
    _keys_by_owner: dict[tuple[str, int], ApiCredentials] = attrs.Factory(dict)
    _orders: dict[str, Order] = attrs.Factory(dict)
    _trades: dict[str, Trade] = attrs.Factory(dict)
    _unsettled: dict[str, Trade] = attrs.Factory(dict)
    _delayed: dict[str, Order] = attrs.Factory(dict)
    _heartbeats: dict[str, tuple[str, int]] = attrs.Factory(dict)
    """api key -> (heartbeat id, deadline ms) once the dead-man switch is armed."""
    _listeners: list[Callable[[ExchangeEvent], None]] = attrs.Factory(list)
    _sequence: int = 0
    house: Account = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.house = Account(address=HOUSE_ADDRESS, funder=HOUSE_ADDRESS, unlimited=True)
        self._accounts[HOUSE_ADDRESS] = self.house

    # --- listings ------------------------------------------------------------------------

    def add_event(self, event: PolyEvent) -> None:
        """List an event and its markets; token and condition ids must be new."""
        if event.id in self.events:
            raise ValueError(f"polymarket event {event.id} ({event.slug}) is already listed")
        for listing in event.markets:
            if listing.condition_id in self.markets:
                raise ValueError(f"polymarket market {listing.condition_id} is already listed")
            for token in listing.tokens:
                if token.token_id in self._token_market:
                    raise ValueError(f"polymarket token {token.token_id} is already listed")
        self.events[event.id] = event
        for listing in event.markets:
            market = Market(listing=listing, event=event, tick=listing.tick_size,
                            min_order_size=listing.min_order_size, fee_rate=listing.fee_rate,
                            fee_exponent=listing.fee_exponent,
                            accepting_orders=listing.accepting_orders and not listing.closed)
            self.markets[listing.condition_id] = market
            for token in listing.tokens:
                self._token_market[token.token_id] = market

    def market(self, condition_id: str) -> Market:
        try:
            return self.markets[condition_id]
        except KeyError:
            raise KeyError(f"polymarket market {condition_id} is not listed") from None

    def market_for_token(self, token_id: str) -> Market | None:
        return self._token_market.get(token_id)

    def set_tick_size(self, condition_id: str, tick: Price) -> None:
        """Change a market's tick; publishes ``tick_size_change`` for both tokens."""
        market = self.market(condition_id)
        if tick <= 0 or SCALE % tick:
            raise ValueError(f"tick {tick} does not divide 1 (market {condition_id})")
        old, market.tick = market.tick, tick
        for index in (0, 1):
            self._emit(TickSizeChanged(condition_id, market.token_id(index), old, tick,
                                       self.now_ms))

    def set_taker_delay(self, condition_id: str, delay_ms: int) -> None:
        """Make marketable orders on this market answer ``delayed`` (0 disables)."""
        if delay_ms < 0:
            raise ValueError(f"delay must be >= 0, got {delay_ms}")
        self.market(condition_id).taker_delay_ms = delay_ms

    def set_accepting_orders(self, condition_id: str, accepting: bool) -> None:
        self.market(condition_id).accepting_orders = accepting

    # --- accounts and keys ---------------------------------------------------------------

    def open_account(self, address: str, *, funder: str | None = None, signature_type: int = 0,
                     collateral: int = 0) -> Account:
        """Create (or return) the account of an EOA. Types 1/2 need a funder distinct from it."""
        addr = checksum(address)
        if addr in self._accounts:
            return self._accounts[addr]
        if signature_type not in (0, 1, 2):
            raise ValueError(f"signature type {signature_type} is not supported by the simulator")
        maker = checksum(funder) if funder else addr
        if (signature_type == 0) != (maker == addr):
            raise ValueError(f"signature type {signature_type} with funder {maker} for {addr}: "
                             "type 0 trades from the EOA itself, types 1/2 from a funder")
        account = Account(address=addr, funder=maker, signature_type=signature_type,
                          collateral=Money(collateral))
        self._accounts[addr] = account
        return account

    def account(self, address: str) -> Account:
        try:
            return self._accounts[checksum(address)]
        except KeyError:
            raise KeyError(f"no polymarket account for {address}") from None

    def fund(self, address: str, *, collateral: int = 0,
             tokens: dict[str, Qty] | None = None) -> None:
        """Credit pUSD and/or shares (as if deposited or bought elsewhere)."""
        account = self.account(address)
        account.move(COLLATERAL, collateral)
        for token_id, qty in (tokens or {}).items():
            if token_id not in self._token_market:
                raise KeyError(f"polymarket token {token_id} is not listed")
            account.move(token_id, qty)

    def create_api_key(self, address: str, nonce: int) -> ApiCredentials:
        """``POST /auth/api-key``: fails if a key already exists for (address, nonce)."""
        addr = checksum(address)
        if (addr, nonce) in self._keys_by_owner:
            raise AuthFailure("Could not create api key")
        if addr not in self._accounts and len(self._accounts) >= MAX_ACCOUNTS:
            raise AuthFailure(f"Could not create api key: the simulator holds {MAX_ACCOUNTS} "
                              "accounts")
        creds = derive_credentials(self.config.server_seed, addr, nonce)
        self.open_account(addr)
        self._keys[creds.api_key] = creds
        self._keys_by_owner[(addr, nonce)] = creds
        return creds

    def derive_api_key(self, address: str, nonce: int) -> ApiCredentials:
        """``GET /auth/derive-api-key``: the existing key for (address, nonce)."""
        creds = self._keys_by_owner.get((checksum(address), nonce))
        if creds is None:
            raise AuthFailure("Could not derive api key!")
        return creds

    def credentials(self, api_key: str) -> ApiCredentials | None:
        return self._keys.get(api_key)

    def api_keys_of(self, address: str) -> list[str]:
        addr = checksum(address)
        return [c.api_key for (a, _), c in self._keys_by_owner.items() if a == addr]

    def balances(self, address: str) -> AccountBalances:
        """Holdings of ``address`` (positions include MATCHED, not yet settled, trades)."""
        account = self.account(address)
        return AccountBalances(account.collateral,
                               {t: q for t, q in account.tokens.items() if q},
                               account.reserved_collateral())

    def statistics(self) -> ExchangeStatistics:
        return ExchangeStatistics(
            orders=len(self._orders), open_orders=len(self._orders_open()),
            delayed_orders=len(self._delayed), trades=len(self._trades),
            unsettled_trades=len(self._unsettled), accounts=len(self._accounts),
            listeners=len(self._listeners), fees_collected=self.fees_collected)

    def available(self, address: str, asset: str) -> int:
        """Balance minus what open orders reserve (``asset`` = ``COLLATERAL`` or a token id)."""
        return self._spendable(self.account(address), asset)

    def _spendable(self, account: Account, asset: str) -> int:
        """Balance minus open-order reservations minus credits still settling."""
        if asset == COLLATERAL:
            held = account.collateral - account.reserved_collateral()
        else:
            held = account.token_balance(asset) - account.reserved_tokens(asset)
        if self.config.settlement_lag:
            held -= sum(delta for trade in self._unsettled.values()
                        if trade.status in (TradeStatus.MATCHED, TradeStatus.RETRYING)
                        for owner, moved, delta in trade.moves
                        if owner is account and moved == asset and delta > 0)
        return held

    # --- listeners -----------------------------------------------------------------------

    def add_listener(self, listener: Callable[[ExchangeEvent], None]) -> Callable[[], None]:
        """Register a synchronous event callback; returns its remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: ExchangeEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # --- orders --------------------------------------------------------------------------

    def post_order(self, request: PostOrder, *, api_key: str) -> OrderResult:
        """Validate, accept and execute a signed order posted with ``api_key``.

        Raises:
            OrderError: the venue's refusal, in the documented validation order.
        """
        creds = self._keys.get(api_key)
        if creds is None:
            raise OrderError("Unauthorized/Invalid api key", status=401)
        account = self._accounts[creds.address]
        signed = request.order
        if request.owner != api_key:
            raise OrderError(OWNER_NOT_API_KEY)
        try:
            signer = checksum(signed.signer)
            maker = checksum(signed.maker)
        except SignatureError as exc:
            raise OrderError(f"Invalid order payload: {exc}") from None
        if signer != creds.address:
            raise OrderError(SIGNER_NOT_API_KEY)
        market = self._token_market.get(signed.token_id)
        if market is None:
            raise OrderError(f"Invalid order payload: unknown tokenId {signed.token_id}")
        struct = OrderStruct(
            salt=signed.salt, maker=maker, signer=signer, token_id=int(signed.token_id),
            maker_amount=signed.maker_amount, taker_amount=signed.taker_amount,
            side=0 if signed.side is Side.BUY else 1, signature_type=signed.signature_type,
            timestamp=signed.timestamp_ms, metadata=signed.metadata, builder=signed.builder)
        chain_id = self.config.chain_id
        try:
            recovered = recover_order_signer(struct, signed.signature, chain_id=chain_id,
                                             neg_risk=market.neg_risk)
        except SignatureError:
            raise OrderError(INVALID_SIGNATURE) from None
        if recovered != signer:
            raise OrderError(INVALID_SIGNATURE)
        if signed.signature_type != account.signature_type or maker != account.funder:
            raise OrderError({1: "invalid POLY_PROXY signature",
                              2: "invalid POLY_GNOSIS_SAFE signature"}.get(
                                  signed.signature_type, INVALID_SIGNATURE))
        order_id = order_hash(struct, chain_id=chain_id, neg_risk=market.neg_risk)
        return self._accept(account, api_key, market, order_id, signed.side,
                            market.token_index(signed.token_id), signed.maker_amount,
                            signed.taker_amount, request.order_type, signed.expiration_s,
                            request.post_only)

    def place_house_order(self, token_id: str, side: Side, price: Price, size: Qty, *,
                          order_type: OrderType = OrderType.GTC) -> OrderResult:
        """Market-maker API: place liquidity from the house account, no signature needed."""
        market = self._token_market.get(token_id)
        if market is None:
            raise KeyError(f"polymarket token {token_id} is not listed")
        usdc = mul(size, price, Round.DOWN)
        maker_amount, taker_amount = (usdc, size) if side is Side.BUY else (size, usdc)
        self._sequence += 1
        order_id = "0x" + hashlib.sha256(f"house-order-{self._sequence}".encode()).hexdigest()
        return self._accept(self.house, HOUSE_API_KEY, market, order_id, side,
                            market.token_index(token_id), maker_amount, taker_amount,
                            order_type, 0, False)

    def _accept(self, account: Account, owner: str, market: Market, order_id: str, side: Side,
                token_index: int, maker_amount: int, taker_amount: int, order_type: OrderType,
                expiration_s: int, post_only: bool) -> OrderResult:
        if not market.accepting_orders:
            raise OrderError(MARKET_NOT_READY)
        if order_id in self._orders:
            raise OrderError(f"INVALID_ORDER_DUPLICATED: order {order_id} is invalid. Duplicated.")
        if maker_amount <= 0 or taker_amount <= 0:
            raise OrderError(f"invalid amounts, makerAmount ({maker_amount}) and takerAmount "
                             f"({taker_amount}) must be positive")
        usdc, shares = (maker_amount, taker_amount) if side is Side.BUY else (taker_amount,
                                                                            maker_amount)
        price = self._check_price(market, order_id, usdc, shares, order_type)
        self._check_precision(market, side, maker_amount, taker_amount, order_type)
        probe = Order(id=order_id, account=account, owner=owner, market=market,
                      token_index=token_index, side=side, price=price,
                      maker_amount=maker_amount, taker_amount=taker_amount,
                      original_size=Qty(shares), order_type=order_type,
                      expiration_s=expiration_s, created_ms=self.now_ms, post_only=post_only)
        crosses = self._fillable(probe, stop_at=1) > 0
        if order_type.is_market or crosses:
            if usdc < SCALE:
                raise OrderError(f"INVALID_ORDER_MIN_SIZE: order {order_id} is invalid. Amount "
                                 f"(${format_trimmed(usdc)}) lower than the minimum: $1")
        if not order_type.is_market and shares < market.min_order_size:
            raise OrderError(f"INVALID_ORDER_MIN_SIZE: order {order_id} is invalid. Size "
                             f"({format_trimmed(shares)}) lower than the minimum: "
                             f"{format_trimmed(market.min_order_size)}")
        if post_only:
            if order_type.is_market:
                raise OrderError("invalid post-only order: only GTC and GTD orders can be "
                                 "post-only")
            if crosses:
                raise OrderError("invalid post-only order: order crosses book")
        if order_type is OrderType.GTD:
            if expiration_s <= self.now_ms // 1000 + GTD_SAFETY_S:
                raise OrderError(f"INVALID_ORDER_EXPIRATION: order {order_id} is invalid. "
                                 f"Expiration ({expiration_s}) must be more than "
                                 f"{GTD_SAFETY_S} s in the future")
        elif expiration_s != 0:
            raise OrderError(f"INVALID_ORDER_EXPIRATION: order {order_id} is invalid. "
                             f"{order_type.value} orders take expiration 0")
        self._check_balance(account, market, probe, crosses)
        if len(account.open_orders) >= MAX_OPEN_ORDERS_PER_ACCOUNT and not account.unlimited:
            raise OrderError(f"INSERT_ORDER_ERROR: too many open orders "
                             f"(limit {MAX_OPEN_ORDERS_PER_ACCOUNT})")
        delay = market.taker_delay_ms
        if crosses and (delay > 0 or self.faults.take("delay_next_orders")):
            return self._accept_delayed(probe, max(delay, 1))
        if order_type is OrderType.FOK and self._fillable(probe) < probe.original_size:
            raise OrderError(FOK_NOT_FILLED)
        if order_type is OrderType.FAK and not crosses:
            raise OrderError(FAK_NO_MATCH)
        if not order_type.is_market and not crosses and market.book.side(
                probe.book_side).get(probe.book_price) is None and len(
                market.book.side(probe.book_side)) >= MAX_BOOK_PRICE_LEVELS:
            raise OrderError(f"INSERT_ORDER_ERROR: book of market {market.condition_id} "
                             f"has {MAX_BOOK_PRICE_LEVELS} levels on that side")
        self._remember(probe)
        self._emit_order(OrderEventKind.PLACEMENT, probe)
        trades = self._execute(probe)
        making, taking = self._amounts(trades, probe)
        return OrderResult(order_id=order_id, status="matched" if trades else "live",
                           making_amount=making, taking_amount=taking,
                           trade_ids=tuple(t.id for t in trades))

    def _check_price(self, market: Market, order_id: str, usdc: int, shares: int,
                     order_type: OrderType) -> Price:
        tick = market.tick
        if order_type.is_market:
            ratio = div_round(usdc * SCALE, shares, Round.DOWN)
            price = Price(div_round(2 * ratio + tick, 2 * tick, Round.DOWN) * tick)
        else:
            # Compare at tick decimals + 4: an exact off-grid price (0.555 on 0.01) breaks the
            # tick, while float dust from a client's amount rounding (0.56000005) is left to
            # the precision check, which names the amount at fault.
            step = 10 ** (6 - min(6, decimals_of(tick) + 4))
            price = Price(div_round(2 * usdc * SCALE + step * shares, 2 * step * shares,
                                    Round.DOWN) * step)
            if price % tick:
                raise OrderError(f"INVALID_ORDER_MIN_TICK_SIZE: order {order_id} is invalid. "
                                 f"Price ({format_trimmed(price)}) breaks minimum tick size "
                                 f"rule: {format_trimmed(tick)}")
        if not tick <= price <= SCALE - tick:
            raise OrderError(f"INVALID_ORDER_MIN_TICK_SIZE: order {order_id} is invalid. Price "
                             f"({format_trimmed(price)}) is outside [{format_trimmed(tick)}, "
                             f"{format_trimmed(SCALE - tick)}]")
        return price

    @staticmethod
    def _check_precision(market: Market, side: Side, maker_amount: int, taker_amount: int,
                         order_type: OrderType) -> None:
        if order_type.is_market:
            # The venue's texts say "maker ... 2 decimals, taker ... 4" for both sides.
            maker_dp, taker_dp, kind = 2, 4, f"market {side.value} orders"
        else:
            usdc_dp, kind = decimals_of(market.tick) + 2, f"{side.value} orders"
            maker_dp, taker_dp = (usdc_dp, 2) if side is Side.BUY else (2, usdc_dp)
        if not (_has_decimals(maker_amount, maker_dp) and _has_decimals(taker_amount, taker_dp)):
            raise OrderError(f"invalid amounts, the {kind} maker amount supports a max accuracy "
                             f"of {maker_dp} decimals, taker amount a max of {taker_dp} decimals")

    def _check_balance(self, account: Account, market: Market, order: Order,
                       crosses: bool) -> None:
        if account.unlimited:
            return  # the house market maker: client faults are not aimed at it
        if self.faults.take("insufficient_balance_next_orders"):
            raise OrderError(NOT_ENOUGH_BALANCE)
        if order.side is Side.BUY:
            cost = mul(order.original_size, order.price, Round.UP)
            if order.order_type.is_market:
                cost = max(cost, order.maker_amount)
            if crosses:
                worst = Price(min(order.price, SCALE // 2))
                cost += taker_fee(order.original_size, worst, market.fee_rate,
                                  market.fee_exponent, self.config.fee_decimals)
            ok = account.collateral_approved and self._spendable(account, COLLATERAL) >= cost
        else:
            ok = (account.conditional_approved
                  and self._spendable(account, order.token_id) >= order.original_size)
        if not ok:
            raise OrderError(NOT_ENOUGH_BALANCE)

    def _accept_delayed(self, order: Order, delay_ms: int) -> OrderResult:
        order.status = OrderStatus.DELAYED
        order.delayed_until_ms = self.now_ms + delay_ms
        self._remember(order)
        self._delayed[order.id] = order
        order.account.open_orders[order.id] = order
        self._emit_order(OrderEventKind.PLACEMENT, order)
        return OrderResult(order_id=order.id, status="delayed", making_amount=0,
                           taking_amount=0, trade_ids=(), error_msg=ORDER_DELAYED)

    def _remember(self, order: Order) -> None:
        """Record a new order; forget the oldest finished orders and settled trades if full."""
        self._orders[order.id] = order
        if len(self._orders) > MAX_HISTORY:
            for old in [o for o in self._orders.values()
                        if o.id not in o.account.open_orders][:MAX_HISTORY // 10]:
                del self._orders[old.id]
        if len(self._trades) > MAX_HISTORY:
            for trade in [t for t in self._trades.values()
                          if t.id not in self._unsettled][:MAX_HISTORY // 10]:
                del self._trades[trade.id]

    def _resolve_delayed(self, order: Order) -> None:
        del self._delayed[order.id]
        del order.account.open_orders[order.id]
        order.delayed_until_ms = None
        order.status = OrderStatus.LIVE
        unfillable = ((order.order_type is OrderType.FOK
                       and self._fillable(order) < order.original_size)
                      or (order.order_type is OrderType.FAK and self._fillable(order, 1) == 0))
        if unfillable:
            order.status = OrderStatus.UNMATCHED
            self._emit_order(OrderEventKind.UPDATE, order)
            return
        if not self._execute(order):
            self._emit_order(OrderEventKind.UPDATE, order)

    def _fillable(self, order: Order, stop_at: int | None = None) -> Qty:
        """Shares this order could take from the book now (stops early once ``stop_at``)."""
        book = order.market.book
        total = 0
        for level_price in book.crossing_levels(order.book_side):
            own = level_price if order.token_index == 0 else Price(SCALE - level_price)
            if not order.accepts(own):
                break
            total += book.level_size(BookSide.ASK if order.book_side is BookSide.BID
                                     else BookSide.BID, level_price)
            if stop_at is not None and total >= stop_at:
                break
        return Qty(min(total, order.original_size))

    def _execute(self, order: Order) -> list[Trade]:
        """Match ``order`` against the book, rest or finish it, publish everything."""
        market = order.market
        book = market.book
        opposite = BookSide.ASK if order.book_side is BookSide.BID else BookSide.BID
        touched: set[tuple[BookSide, Price]] = set()
        trades: list[Trade] = []
        for level_price in book.crossing_levels(order.book_side):
            if order.remaining == 0:
                break
            own = level_price if order.token_index == 0 else Price(SCALE - level_price)
            if not order.accepts(own):
                break
            fills: list[MakerFill] = []
            for maker in list(book.side(opposite)[level_price]):
                if order.remaining == 0:
                    break
                qty = Qty(min(order.remaining, maker.remaining))
                maker_price = level_price if maker.token_index == 0 else Price(
                    SCALE - level_price)
                fills.append(MakerFill(maker, qty, maker_price))
                order.size_matched = Qty(order.size_matched + qty)
                maker.size_matched = Qty(maker.size_matched + qty)
                if maker.remaining == 0:
                    maker.status = OrderStatus.MATCHED
                    book.remove(maker)
                    del maker.account.open_orders[maker.id]
            touched.add((opposite, level_price))
            trades.append(self._settle(order, own, fills))
        if order.remaining and not order.order_type.is_market:
            book.add(order)
            order.account.open_orders[order.id] = order
            touched.add((order.book_side, order.book_price))
        else:
            order.status = OrderStatus.MATCHED if order.size_matched else OrderStatus.CANCELED
        self._publish_book(market, touched, traded=bool(trades))
        for trade in trades:
            self._emit(TradeEvent(trade.view(), self.now_ms))
            for fill in trade.makers:
                self._emit_order(OrderEventKind.UPDATE, fill.order)
        if trades:
            self._emit_order(OrderEventKind.UPDATE, order)
        return trades

    def _settle(self, taker: Order, price: Price, fills: list[MakerFill]) -> Trade:
        market = taker.market
        moves: list[tuple[Account, str, int]] = []
        sets_delta = 0

        def move(account: Account, asset: str, delta: int) -> None:
            account.move(asset, delta)
            moves.append((account, asset, delta))

        for fill in fills:
            maker, qty = fill.order, fill.size
            taker_usdc = mul(qty, price, Round.DOWN)
            if maker.token_index == taker.token_index:
                buyer, seller = (taker, maker) if taker.side is Side.BUY else (maker, taker)
                move(buyer.account, COLLATERAL, -taker_usdc)
                move(buyer.account, buyer.token_id, qty)
                move(seller.account, seller.token_id, -qty)
                move(seller.account, COLLATERAL, taker_usdc)
            else:
                sign = 1 if taker.side is Side.BUY else -1
                for party, usdc in ((taker, taker_usdc), (maker, qty - taker_usdc)):
                    move(party.account, COLLATERAL, -sign * usdc)
                    move(party.account, party.token_id, sign * qty)
                sets_delta += sign * qty
        size = Qty(sum(f.size for f in fills))
        fee = taker_fee(size, price, market.fee_rate, market.fee_exponent,
                        self.config.fee_decimals)
        if fee:
            move(taker.account, COLLATERAL, -fee)
            self.fees_collected = Money(self.fees_collected + fee)
        market.complete_sets = Qty(market.complete_sets + sets_delta)
        self._sequence += 1
        trade = Trade(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"polymarket-sim-trade-{self._sequence}")),
            taker=taker, makers=tuple(fills), size=size, price=price, fee=Money(fee),
            match_ms=self.now_ms, mined_at_ms=self.now_ms + self.config.mined_after_ms,
            confirmed_at_ms=self.now_ms + self.config.confirmed_after_ms,
            ghost=self.faults.take("ghost_next_trades"), moves=moves, sets_delta=Qty(sets_delta),
            last_update_ms=self.now_ms)
        self._trades[trade.id] = trade
        self._unsettled[trade.id] = trade
        taker.trade_ids.append(trade.id)
        for fill in fills:
            fill.order.trade_ids.append(trade.id)
        market.last_trade[taker.token_index] = (price, taker.side)
        market.last_trade[1 - taker.token_index] = (Price(SCALE - price),
                                                    Side.SELL if taker.side is Side.BUY
                                                    else Side.BUY)
        self._emit(LastTradePrice(market.condition_id, taker.token_id, price, size, taker.side,
                                  str(market.fee_rate * 10_000 // SCALE), self.now_ms))
        return trade

    @staticmethod
    def _amounts(trades: list[Trade], order: Order) -> tuple[int, int]:
        shares = sum(t.size for t in trades)
        usdc = sum(mul(f.size, t.price, Round.DOWN) for t in trades for f in t.makers)
        return (usdc, shares) if order.side is Side.BUY else (shares, usdc)

    def _publish_book(self, market: Market, touched: Iterable[tuple[BookSide, Price]], *,
                      traded: bool) -> None:
        touched = sorted(touched, key=lambda sp: (sp[0].value, sp[1]))
        if not touched:
            return
        book = market.book
        best = [book.best(0), book.best(1)]
        changes: list[LevelChange] = []
        for side, price in touched:
            size = book.level_size(side, price)
            changes.append(LevelChange(market.token_id(0), side, price, size, *best[0]))
        for side, price in touched:
            size = book.level_size(side, price)
            flipped = BookSide.ASK if side is BookSide.BID else BookSide.BID
            changes.append(LevelChange(market.token_id(1), flipped, Price(SCALE - price), size,
                                       *best[1]))
        self._emit(BookChanged(market.condition_id, tuple(changes), traded, self.now_ms))

    def _emit_order(self, kind: OrderEventKind, order: Order) -> None:
        self._emit(OrderEvent(kind, order.view(), self.now_ms))

    # --- cancels -------------------------------------------------------------------------

    def cancel_orders(self, address: str, order_ids: Iterable[str]) -> CancelResult:
        """Cancel the caller's orders by id; unknown, foreign or finished ids are reported."""
        account = self.account(address)
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        for order_id in order_ids:
            order = self._orders.get(order_id)
            if order is None or order.account is not account:
                not_canceled[order_id] = "order not found"
            elif order.id not in account.open_orders:
                not_canceled[order_id] = "already canceled or matched"
            else:
                self._cancel(order)
                canceled.append(order_id)
        return CancelResult(tuple(canceled), not_canceled)

    def cancel_all(self, address: str, *, condition_id: str | None = None,
                   asset_id: str | None = None) -> CancelResult:
        account = self.account(address)
        ids = [o.id for o in account.open_orders.values()
               if (condition_id is None or o.market.condition_id == condition_id)
               and (asset_id is None or o.token_id == asset_id)]
        return self.cancel_orders(address, ids)

    def cancel_house_order(self, order_id: str) -> bool:
        return bool(self.cancel_orders(HOUSE_ADDRESS, [order_id]).canceled)

    def _cancel(self, order: Order) -> None:
        del order.account.open_orders[order.id]
        order.status = OrderStatus.CANCELED
        if order.id in self._delayed:
            del self._delayed[order.id]
            order.delayed_until_ms = None
        else:
            order.market.book.remove(order)
            self._publish_book(order.market, [(order.book_side, order.book_price)],
                               traded=False)
        self._emit_order(OrderEventKind.CANCELLATION, order)

    # --- heartbeats ----------------------------------------------------------------------

    def heartbeat(self, api_key: str, heartbeat_id: str) -> str:
        """Arm or refresh the dead-man switch of ``api_key``; returns the heartbeat id."""
        current = self._heartbeats.get(api_key)
        if current is not None and heartbeat_id and heartbeat_id != current[0]:
            raise OrderError(f"Invalid heartbeat id {heartbeat_id}")
        hb_id = current[0] if current else str(uuid.uuid5(
            uuid.NAMESPACE_URL, f"polymarket-sim-heartbeat-{api_key}-{self.now_ms}"))
        self._heartbeats[api_key] = (hb_id, self.now_ms + self.config.heartbeat_timeout_ms)
        return hb_id

    # --- time ----------------------------------------------------------------------------

    def advance(self, now_ms: int) -> None:
        """Move the exchange clock forward and run everything that is due by then."""
        if now_ms <= self.now_ms:
            return
        self.now_ms = now_ms
        for order in sorted(self._delayed.values(), key=lambda o: o.delayed_until_ms or 0):
            if order.delayed_until_ms is not None and order.delayed_until_ms <= now_ms:
                self._resolve_delayed(order)
        for api_key, (_, deadline) in list(self._heartbeats.items()):
            if deadline < now_ms:
                del self._heartbeats[api_key]
                self.cancel_all(self._keys[api_key].address)
        expiring = [o for o in self._orders_open() if o.order_type is OrderType.GTD
                    and o.expiration_s - GTD_SAFETY_S <= now_ms // 1000]
        for order in expiring:
            self._cancel(order)
        for trade in list(self._unsettled.values()):
            self._advance_trade(trade)

    def _orders_open(self) -> list[Order]:
        return [o for a in self._accounts.values() for o in a.open_orders.values()]

    def _advance_trade(self, trade: Trade) -> None:
        now = self.now_ms
        if trade.status is TradeStatus.MATCHED and now >= trade.mined_at_ms:
            if trade.ghost:
                self._set_trade_status(trade, TradeStatus.RETRYING)
            else:
                trade.transaction_hash = "0x" + hashlib.sha256(trade.id.encode()).hexdigest()
                self._set_trade_status(trade, TradeStatus.MINED)
        if now >= trade.confirmed_at_ms:
            if trade.status is TradeStatus.RETRYING:
                for account, asset, delta in reversed(trade.moves):
                    account.move(asset, -delta)
                self.fees_collected = Money(self.fees_collected - trade.fee)
                market = trade.taker.market
                market.complete_sets = Qty(market.complete_sets - trade.sets_delta)
                self._set_trade_status(trade, TradeStatus.FAILED)
                del self._unsettled[trade.id]
            elif trade.status is TradeStatus.MINED:
                self._set_trade_status(trade, TradeStatus.CONFIRMED)
                del self._unsettled[trade.id]

    def _set_trade_status(self, trade: Trade, status: TradeStatus) -> None:
        trade.status = status
        trade.last_update_ms = self.now_ms
        self._emit(TradeEvent(trade.view(), self.now_ms))

    # --- queries -------------------------------------------------------------------------

    def order(self, order_id: str) -> OrderView | None:
        order = self._orders.get(order_id)
        return order.view() if order else None

    def orders_of(self, address: str, *, open_only: bool = True) -> list[OrderView]:
        account = self.account(address)
        if open_only:
            return [o.view() for o in account.open_orders.values()]
        return [o.view() for o in self._orders.values() if o.account is account]

    def order_owned_by(self, order_id: str, address: str) -> bool:
        order = self._orders.get(order_id)
        return order is not None and order.account is self.account(address)

    def trades_of(self, address: str) -> list[TradeView]:
        """Trades where ``address`` was the taker or a maker, oldest first."""
        addr = checksum(address)
        out = []
        for trade in self._trades.values():
            view = trade.view()
            if view.involves(addr):
                out.append(view)
        return out

    def trade(self, trade_id: str) -> TradeView | None:
        trade = self._trades.get(trade_id)
        return trade.view() if trade else None


__all__ = [
    "AccountBalances", "AuthFailure", "CancelResult", "ExchangeStatistics", "Exchange", "ExchangeConfig", "HOUSE_ADDRESS", "OrderError",
    "OrderResult", "OrderType", "OrderView", "PostOrder", "SignedOrder", "TradeView",
    "taker_fee",
]
