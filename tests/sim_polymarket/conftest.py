"""Fixtures for the simulated Polymarket exchange: a listing, funded traders, signed orders.

Orders are signed with the official py-clob-client-v2 order builder (not the simulator's own
code), so a test passes only when the simulator agrees with the venue's published client.
"""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

import attrs
import pytest
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils import Side as ClientSide
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2
from py_clob_client_v2.signer import Signer

from arb.domain import Side
from arb.money import CENT, Price, Qty, parse_price, parse_qty
from arb.sim.listing import PolyEvent, PolyMarket, PolyToken
from arb.sim.polymarket.auth import CTF_EXCHANGE_V2, NEG_RISK_CTF_EXCHANGE_V2, ApiCredentials
from arb.sim.polymarket.core import Exchange, ExchangeConfig, PostOrder, SignedOrder
from arb.sim.polymarket.model import OrderType

ALICE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
BOB_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
LAKERS = "40374828728556401897123405667318202986560858057991807205936503296617019557660"
GRIZZLIES = "98333126012043232639874805499592097094545421345364763701385819404466153206546"
ARS_YES = "11111111111111111111111111111111111111111111111111111111111111111111111111111"
ARS_NO = "22222222222222222222222222222222222222222222222222222222222222222222222222222"
NBA_CID = "0x9b2aad260f6b5dea10af0b03d5e4788adf261f0eea9db9616a3581e06bdaef0e"
EPL_CID = "0x" + "3c" * 32
START = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
T0_MS = 1_767_225_600_000
"""2026-01-01T00:00:00Z: the exchange clock at the start of every test."""


def nba_event(*, tick: int = CENT, fee_rate: int = 50_000) -> PolyEvent:
    market = PolyMarket(
        condition_id=NBA_CID, question_id="0x" + "c0" * 32, slug="nba-lal-mem-2026-01-04",
        question="Lakers vs. Grizzlies", description="If the Lakers win, ...",
        tokens=(PolyToken(LAKERS, "Lakers"), PolyToken(GRIZZLIES, "Grizzlies")),
        sports_market_type="moneyline", game_start_time=START, tick_size=Price(tick),
        fee_rate=fee_rate)
    return PolyEvent(id="131070", slug="nba-lal-mem-2026-01-04", title="Lakers vs. Grizzlies",
                     tags=("sports", "nba", "games"), start_time=START, markets=(market,))


def epl_event() -> PolyEvent:
    market = PolyMarket(
        condition_id=EPL_CID, question_id="0x" + "c1" * 32, slug="epl-ars-che-2026-03-01-ars",
        question="Will Arsenal FC win on 2026-03-01?", description="Resolves Yes if ...",
        tokens=(PolyToken(ARS_YES, "Yes"), PolyToken(ARS_NO, "No")),
        sports_market_type="moneyline", game_start_time=START, neg_risk=True,
        neg_risk_market_id="0x" + "d0" * 32, fee_rate=0)
    return PolyEvent(id="200001", slug="epl-ars-che-2026-03-01", title="Arsenal vs. Chelsea",
                     tags=("sports", "epl", "games"), start_time=START, markets=(market,),
                     neg_risk=True)


@attrs.define(eq=False)
class Trader:
    """A funded account with an API key that signs orders with the official builder."""

    exchange: Exchange
    private_key: str
    creds: ApiCredentials
    _salts: itertools.count = attrs.Factory(lambda: itertools.count(1000))

    @property
    def address(self) -> str:
        return self.creds.address

    def signed(self, token_id: str, side: Side, maker_amount: int, taker_amount: int, *,
               neg_risk: bool = False, expiration: int = 0,
               key: str | None = None, funder: str | None = None,
               signature_type: int = 0) -> SignedOrder:
        signer = Signer(key or self.private_key, self.exchange.config.chain_id)
        salt = next(self._salts)
        builder = ExchangeOrderBuilderV2(
            NEG_RISK_CTF_EXCHANGE_V2 if neg_risk else CTF_EXCHANGE_V2,
            self.exchange.config.chain_id, signer, generate_salt=lambda: str(salt))
        order = builder.build_signed_order(OrderDataV2(
            maker=funder or signer.address(), tokenId=token_id, makerAmount=str(maker_amount),
            takerAmount=str(taker_amount),
            side=ClientSide.BUY if side is Side.BUY else ClientSide.SELL,
            signer=signer.address(), signatureType=signature_type,
            timestamp=str(self.exchange.now_ms),
            expiration=str(expiration)))
        return SignedOrder(
            salt=int(order.salt), maker=order.maker, signer=order.signer, token_id=token_id,
            maker_amount=maker_amount, taker_amount=taker_amount, side=side,
            signature_type=int(order.signatureType), timestamp_ms=int(order.timestamp),
            metadata=bytes(32), builder=bytes(32), expiration_s=expiration,
            signature=order.signature)

    def limit(self, token_id: str, side: Side, price: str, size: str, *,
              order_type: OrderType = OrderType.GTC, post_only: bool = False,
              expiration: int = 0, neg_risk: bool = False) -> PostOrder:
        """A limit order built like the official client: amounts = size and size * price."""
        shares = parse_qty(size)
        usdc = shares * parse_price(price) // 1_000_000
        maker, taker = (usdc, shares) if side is Side.BUY else (shares, usdc)
        return PostOrder(self.signed(token_id, side, maker, taker, neg_risk=neg_risk,
                                     expiration=expiration),
                         owner=self.creds.api_key, order_type=order_type, post_only=post_only)

    def signed_limit_raw(self, token_id: str, side: Side, maker_amount: int,
                         taker_amount: int) -> PostOrder:
        """A GTC order with exactly these amounts."""
        return PostOrder(self.signed(token_id, side, maker_amount, taker_amount),
                         owner=self.creds.api_key, order_type=OrderType.GTC)

    def post(self, request: PostOrder):
        return self.exchange.post_order(request, api_key=self.creds.api_key)


@pytest.fixture
def exchange() -> Exchange:
    ex = Exchange(config=ExchangeConfig(mined_after_ms=2_000, confirmed_after_ms=6_000))
    ex.advance(T0_MS)
    ex.add_event(nba_event())
    ex.add_event(epl_event())
    return ex


def make_trader(exchange: Exchange, key: str, *, collateral: int = 1_000_000_000,
                tokens: dict[str, Qty] | None = None) -> Trader:
    address = Signer(key, exchange.config.chain_id).address()
    creds = exchange.create_api_key(address, 0)
    exchange.fund(address, collateral=collateral, tokens=tokens)
    return Trader(exchange, key, creds)


@pytest.fixture
def alice(exchange: Exchange) -> Trader:
    return make_trader(exchange, ALICE_KEY)


@pytest.fixture
def bob(exchange: Exchange) -> Trader:
    return make_trader(exchange, BOB_KEY)
