# Design note: the state the simulated CLOB keeps, and the values it publishes.
#
# Problem: Polymarket lists two outcome tokens per market, and a naive simulator keeps one
# independent book per token. The real venue does not: its exchange contract matches
# complementary tokens "across a unified order book" (a BUY of token B at q rests as an offer to
# sell token A at 1 - q; two BUYs of A and B at p and 1 - p match by minting a complete set; two
# SELLs merge one). Independent books would let ask(A) + ask(B) < 1 persist, which is exactly the
# phantom same-venue arbitrage a bot must not see on a healthy venue.
#
# Chosen: one ``UnifiedBook`` per market, priced in token 0. Bids hold BUY-token-0 and
# SELL-token-1 orders, asks hold SELL-token-0 and BUY-token-1 orders; each token's public book
# is a view (token 1's bids are token 0's asks at 1 - p). Levels are FIFO lists (price-time
# priority). Mutable objects (``Account``, ``Order``, ``Trade``, ``Market``) live only inside the
# core; listeners and queries receive frozen views (``OrderView``, ``TradeView``) and frozen
# events, so nothing outside can change the exchange by accident.
from __future__ import annotations

import enum

import attrs

from arb.domain import Side
from arb.money import SCALE, Money, Price, Qty, Round, mul
from arb.sim.listing import PolyEvent, PolyMarket


class OrderType(enum.Enum):
    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"

    @property
    def is_market(self) -> bool:
        """FOK/FAK: never rest; precision and minimum follow the market-order rules."""
        return self in (OrderType.FOK, OrderType.FAK)


class OrderStatus(enum.Enum):
    LIVE = "LIVE"
    MATCHED = "MATCHED"
    CANCELED = "CANCELED"
    DELAYED = "DELAYED"
    UNMATCHED = "UNMATCHED"


class TradeStatus(enum.Enum):
    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


class BookSide(enum.Enum):
    BID = "BUY"
    ASK = "SELL"


COLLATERAL = ""
"""Asset key of pUSD in balance maps (token ids are non-empty decimal strings)."""


@attrs.define(eq=False)
class Account:
    """A trading identity: the EOA that signs, the funder that holds the money."""

    address: str
    """Checksummed signer EOA."""
    funder: str
    """The order ``maker``: the EOA itself (type 0) or its proxy/Safe (types 1 and 2)."""
    signature_type: int = 0
    collateral: Money = Money(0)
    tokens: dict[str, Qty] = attrs.Factory(dict)
    collateral_approved: bool = True
    conditional_approved: bool = True
    unlimited: bool = False
    """House account: balance checks are skipped and balances may go negative."""
    open_orders: dict[str, Order] = attrs.Factory(dict)
    """Resting and delayed orders, which reserve balance."""

    def token_balance(self, token_id: str) -> Qty:
        return self.tokens.get(token_id, Qty(0))

    def reserved_collateral(self) -> Money:
        return Money(sum(mul(o.remaining, o.price, Round.UP) for o in self.open_orders.values()
                         if o.side is Side.BUY))

    def reserved_tokens(self, token_id: str) -> Qty:
        return Qty(sum(o.remaining for o in self.open_orders.values()
                       if o.side is Side.SELL and o.token_id == token_id))

    def move(self, asset: str, delta: int) -> None:
        if asset == COLLATERAL:
            self.collateral = Money(self.collateral + delta)
        else:
            self.tokens[asset] = Qty(self.tokens.get(asset, 0) + delta)


@attrs.define(eq=False)
class Market:
    """One listed condition with its two tokens, trading parameters and unified book."""

    listing: PolyMarket
    event: PolyEvent
    tick: Price
    min_order_size: Qty
    fee_rate: int
    fee_exponent: int
    accepting_orders: bool
    taker_delay_ms: int = 0
    """Marketable orders answer ``delayed`` and execute this much later (0: no delay)."""
    book: UnifiedBook = attrs.Factory(lambda: UnifiedBook())
    last_trade: list[tuple[Price, Side] | None] = attrs.Factory(lambda: [None, None])
    """Per token index: the last trade's price and taker side in that token's terms."""
    complete_sets: Qty = Qty(0)
    """Minted minus merged complete sets: the supply of each of the two tokens."""

    @property
    def condition_id(self) -> str:
        return self.listing.condition_id

    @property
    def neg_risk(self) -> bool:
        return self.listing.neg_risk

    def token_id(self, index: int) -> str:
        return self.listing.tokens[index].token_id

    def token_index(self, token_id: str) -> int:
        for i, token in enumerate(self.listing.tokens):
            if token.token_id == token_id:
                return i
        raise KeyError(f"token {token_id} is not in market {self.condition_id}")


@attrs.define(eq=False)
class Order:
    id: str
    account: Account
    owner: str
    """The API key that posted it."""
    market: Market
    token_index: int
    side: Side
    price: Price
    """On-tick limit price in this order's own token (FOK/FAK: the ratio rounded to the tick)."""
    maker_amount: int
    taker_amount: int
    original_size: Qty
    order_type: OrderType
    expiration_s: int
    created_ms: int
    post_only: bool = False
    size_matched: Qty = Qty(0)
    status: OrderStatus = OrderStatus.LIVE
    trade_ids: list[str] = attrs.Factory(list)
    delayed_until_ms: int | None = None

    @property
    def remaining(self) -> Qty:
        return Qty(self.original_size - self.size_matched)

    @property
    def token_id(self) -> str:
        return self.market.token_id(self.token_index)

    @property
    def book_side(self) -> BookSide:
        buys_token0 = (self.side is Side.BUY) == (self.token_index == 0)
        return BookSide.BID if buys_token0 else BookSide.ASK

    @property
    def book_price(self) -> Price:
        return self.price if self.token_index == 0 else Price(SCALE - self.price)

    def accepts(self, own_price: Price) -> bool:
        """Whether a fill at ``own_price`` (this order's token) respects the signed amounts."""
        if self.side is Side.BUY:
            return own_price * self.taker_amount <= self.maker_amount * SCALE
        return own_price * self.maker_amount >= self.taker_amount * SCALE

    def view(self) -> OrderView:
        listing = self.market.listing
        return OrderView(
            id=self.id, owner=self.owner, signer=self.account.address,
            maker_address=self.account.funder, condition_id=self.market.condition_id,
            asset_id=self.token_id, outcome=listing.tokens[self.token_index].outcome,
            side=self.side, price=self.price, original_size=self.original_size,
            size_matched=self.size_matched, order_type=self.order_type, status=self.status,
            associate_trades=tuple(self.trade_ids), created_ms=self.created_ms,
            expiration_s=self.expiration_s)


@attrs.define(eq=False)
class UnifiedBook:
    """Both tokens' resting orders in token-0 prices; FIFO per level."""

    bids: dict[Price, list[Order]] = attrs.Factory(dict)
    asks: dict[Price, list[Order]] = attrs.Factory(dict)

    def side(self, side: BookSide) -> dict[Price, list[Order]]:
        return self.bids if side is BookSide.BID else self.asks

    def add(self, order: Order) -> None:
        self.side(order.book_side).setdefault(order.book_price, []).append(order)

    def remove(self, order: Order) -> None:
        levels = self.side(order.book_side)
        level = levels[order.book_price]
        level.remove(order)
        if not level:
            del levels[order.book_price]

    def level_size(self, side: BookSide, price: Price) -> Qty:
        return Qty(sum(o.remaining for o in self.side(side).get(price, ())))

    def crossing_levels(self, incoming: BookSide) -> list[Price]:
        """Opposite levels, best first, for an order resting on ``incoming``."""
        if incoming is BookSide.BID:
            return sorted(self.asks)
        return sorted(self.bids, reverse=True)

    def token_levels(self, token_index: int) -> tuple[list[tuple[Price, Qty]],
                                                       list[tuple[Price, Qty]]]:
        """(bids, asks) of one token as (price, size), bids descending, asks ascending."""
        def levels(side: BookSide, flip: bool) -> list[tuple[Price, Qty]]:
            return [(Price(SCALE - p) if flip else p, self.level_size(side, p))
                    for p in self.side(side)]

        if token_index == 0:
            bids, asks = levels(BookSide.BID, False), levels(BookSide.ASK, False)
        else:
            bids, asks = levels(BookSide.ASK, True), levels(BookSide.BID, True)
        bids.sort(key=lambda lv: lv[0], reverse=True)
        asks.sort(key=lambda lv: lv[0])
        return bids, asks

    def best(self, token_index: int) -> tuple[Price | None, Price | None]:
        """(best bid, best ask) of one token."""
        bid0 = max(self.bids) if self.bids else None
        ask0 = min(self.asks) if self.asks else None
        if token_index == 0:
            return bid0, ask0
        return (Price(SCALE - ask0) if ask0 is not None else None,
                Price(SCALE - bid0) if bid0 is not None else None)


@attrs.frozen
class MakerFill:
    order: Order
    size: Qty
    price: Price
    """In the maker order's own token."""


@attrs.define(eq=False)
class Trade:
    """One taker order's execution against one price level (one or more maker orders)."""

    id: str
    taker: Order
    makers: tuple[MakerFill, ...]
    size: Qty
    price: Price
    """In the taker's token."""
    fee: Money
    """Taker fee in pUSD."""
    match_ms: int
    mined_at_ms: int
    confirmed_at_ms: int
    ghost: bool
    moves: list[tuple[Account, str, int]]
    """Every balance change this trade made, for reverting a FAILED trade."""
    sets_delta: Qty
    status: TradeStatus = TradeStatus.MATCHED
    last_update_ms: int = 0
    transaction_hash: str = ""

    def view(self) -> TradeView:
        market = self.taker.market
        fee_rate_bps = str(market.fee_rate * 10_000 // SCALE)
        return TradeView(
            id=self.id, taker_order_id=self.taker.id, condition_id=market.condition_id,
            asset_id=self.taker.token_id,
            outcome=market.listing.tokens[self.taker.token_index].outcome,
            side=self.taker.side, size=self.size, price=self.price, fee=self.fee,
            fee_rate_bps=fee_rate_bps, status=self.status, match_ms=self.match_ms,
            last_update_ms=self.last_update_ms, owner=self.taker.owner,
            taker_address=self.taker.account.address,
            maker_address=self.taker.account.funder, transaction_hash=self.transaction_hash,
            maker_orders=tuple(MakerOrderView(
                order_id=m.order.id, owner=m.order.owner, maker_address=m.order.account.funder,
                signer=m.order.account.address, matched_amount=m.size, price=m.price,
                fee_rate_bps=fee_rate_bps, asset_id=m.order.token_id,
                outcome=market.listing.tokens[m.order.token_index].outcome, side=m.order.side)
                for m in self.makers))


# --- views and events published to the front ends --------------------------------------------


@attrs.frozen
class OrderView:
    id: str
    owner: str
    signer: str
    maker_address: str
    condition_id: str
    asset_id: str
    outcome: str
    side: Side
    price: Price
    original_size: Qty
    size_matched: Qty
    order_type: OrderType
    status: OrderStatus
    associate_trades: tuple[str, ...]
    created_ms: int
    expiration_s: int


@attrs.frozen
class MakerOrderView:
    order_id: str
    owner: str
    maker_address: str
    signer: str
    matched_amount: Qty
    price: Price
    fee_rate_bps: str
    asset_id: str
    outcome: str
    side: Side


@attrs.frozen
class TradeView:
    id: str
    taker_order_id: str
    condition_id: str
    asset_id: str
    outcome: str
    side: Side
    size: Qty
    price: Price
    fee: Money
    fee_rate_bps: str
    status: TradeStatus
    match_ms: int
    last_update_ms: int
    owner: str
    taker_address: str
    maker_address: str
    transaction_hash: str
    maker_orders: tuple[MakerOrderView, ...]

    def involves(self, address: str) -> bool:
        return self.taker_address == address or any(m.signer == address
                                                    for m in self.maker_orders)

    def role_of(self, address: str) -> str:
        return "TAKER" if self.taker_address == address else "MAKER"


@attrs.frozen
class LevelChange:
    asset_id: str
    side: BookSide
    price: Price
    size: Qty
    """New total at this level (0 removes it)."""
    best_bid: Price | None
    best_ask: Price | None


@attrs.frozen
class BookChanged:
    """An order placement, cancel or match changed one market's book."""

    condition_id: str
    changes: tuple[LevelChange, ...]
    traded: bool
    timestamp_ms: int


@attrs.frozen
class LastTradePrice:
    condition_id: str
    asset_id: str
    price: Price
    size: Qty
    side: Side
    fee_rate_bps: str
    timestamp_ms: int


@attrs.frozen
class TickSizeChanged:
    condition_id: str
    asset_id: str
    old_tick: Price
    new_tick: Price
    timestamp_ms: int


class OrderEventKind(enum.Enum):
    PLACEMENT = "PLACEMENT"
    UPDATE = "UPDATE"
    CANCELLATION = "CANCELLATION"


@attrs.frozen
class OrderEvent:
    kind: OrderEventKind
    order: OrderView
    timestamp_ms: int


@attrs.frozen
class TradeEvent:
    """A trade was created or changed status; sent to its taker and every maker."""

    trade: TradeView
    timestamp_ms: int


ExchangeEvent = BookChanged | LastTradePrice | TickSizeChanged | OrderEvent | TradeEvent
