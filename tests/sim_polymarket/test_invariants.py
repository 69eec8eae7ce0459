"""Property test: random order flow never breaks the exchange's accounting invariants."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arb.domain import Side
from arb.money import SCALE
from arb.sim.polymarket.core import Exchange, ExchangeConfig, OrderError
from arb.sim.polymarket.model import OrderType

from .conftest import ALICE_KEY, BOB_KEY, GRIZZLIES, LAKERS, NBA_CID, T0_MS, make_trader, nba_event

TOKENS = (LAKERS, GRIZZLIES)

operation = st.one_of(
    st.tuples(st.just("house"), st.sampled_from(TOKENS), st.sampled_from(list(Side)),
              st.integers(40, 60), st.integers(5, 40),
              st.sampled_from([OrderType.GTC, OrderType.FAK])),
    st.tuples(st.sampled_from(["alice", "bob"]), st.sampled_from(TOKENS),
              st.sampled_from(list(Side)), st.integers(40, 60), st.integers(5, 40),
              st.sampled_from(list(OrderType))),
    st.tuples(st.just("cancel"), st.sampled_from(["alice", "bob"])),
    st.tuples(st.just("advance"), st.integers(1, 4_000)),
)


def _check(ex: Exchange, addresses: list[str]) -> None:
    holders = [ex.house.address, *addresses]
    market = ex.market(NBA_CID)
    for token in TOKENS:
        assert sum(ex.balances(a).tokens.get(token, 0) for a in holders) == market.complete_sets
    value = sum(ex.balances(a).collateral for a in holders) + ex.fees_collected
    assert value + market.complete_sets == 2_000 * SCALE  # what alice and bob were given
    for address in addresses:
        balances = ex.balances(address)
        assert balances.collateral >= balances.reserved_collateral >= 0
        assert all(q >= 0 for q in balances.tokens.values())
    bid, ask = market.book.best(0)
    assert bid is None or ask is None or bid < ask, "the book must never stay crossed"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=15, max_size=40), ghosts=st.integers(0, 3))
def test_random_flow_keeps_value_supply_and_book_consistent(ops, ghosts) -> None:
    ex = Exchange(config=ExchangeConfig(mined_after_ms=1_000, confirmed_after_ms=3_000))
    ex.advance(T0_MS)
    ex.add_event(nba_event())
    ex.faults.ghost_next_trades = ghosts
    traders = {"alice": make_trader(ex, ALICE_KEY), "bob": make_trader(ex, BOB_KEY)}
    addresses = [t.address for t in traders.values()]
    now = T0_MS
    for op in ops:
        match op:
            case ("house", token, side, cents, size, order_type):
                try:
                    ex.place_house_order(token, side, cents * SCALE // 100, size * SCALE,
                                         order_type=order_type)
                except OrderError:
                    pass
            case ("cancel", who):
                ex.cancel_all(traders[who].address)
            case ("advance", ms):
                now += ms
                ex.advance(now)
            case (who, token, side, cents, size, order_type):
                trader = traders[who]
                expiration = now // 1000 + 120 if order_type is OrderType.GTD else 0
                request = trader.limit(token, side, f"0.{cents:02d}", str(size),
                                       order_type=order_type, expiration=expiration)
                try:
                    trader.post(request)
                except OrderError as exc:
                    assert exc.status == 400 and exc.message
        _check(ex, addresses)
    ex.advance(now + 10_000)
    _check(ex, addresses)
    assert ex.statistics().unsettled_trades == 0
