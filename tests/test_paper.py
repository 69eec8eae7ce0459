"""The paper venue: book walks, exact fees, FOK, virtual consumption, no way to the network."""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import attrs
import pytest

from arb.book import KalshiBook, PolyBook
from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.fees import (
    KalshiFeeAccumulator,
    KalshiFeeSchedule,
    PolyFeeSchedule,
    fee_upper_bound,
    poly_fee,
)
from arb.ledger import Ledger
from arb.money import parse_money, parse_price, parse_qty
from arb.venues.kalshi.grid import MarketRules
from arb.venues.paper import PaperVenue
from arb.venues.protocol import FillStatus, OrderRequest, OrderStatus, Rejected

REPO = Path(__file__).resolve().parents[1]
TICKER = "KXNBAGAME-26NOV25LALBOS-LAL"
KALSHI_NO = Instrument.kalshi(TICKER, Outcome.NO)
KALSHI_YES = Instrument.kalshi(TICKER, Outcome.YES)
TOKEN = "71321045679252212594626385532706912750332728571942"
POLY_YES = Instrument.polymarket("0xcond", TOKEN)
KALSHI_FEES = KalshiFeeSchedule()
POLY_FEES = PolyFeeSchedule(rate=50_000)


def p(text: str):
    return parse_price(text)


def q(text: str):
    return parse_qty(text)


def kalshi_book() -> KalshiBook:
    book = KalshiBook(TICKER, no_in_yes_prices=False)
    # YES bids 0.55 x 3, 0.54 x 4, 0.52 x 10: the NO asks are 0.45 x 3, 0.46 x 4, 0.48 x 10.
    book.apply_snapshot([(p("0.52"), q("10")), (p("0.54"), q("4")), (p("0.55"), q("3"))],
                        [(p("0.40"), q("8"))], received_at=0.0)
    return book


def poly_book() -> PolyBook:
    book = PolyBook(TOKEN, tick=p("0.01"), min_order_size=q("5"))
    book.apply_snapshot([(p("0.38"), q("50"))], [(p("0.41"), q("20")), (p("0.40"), q("10"))],
                        received_at=0.0)
    return book


def kalshi_paper(book: KalshiBook, cash: str = "100") -> PaperVenue:
    return PaperVenue(Venue.KALSHI, {TICKER: book}.get, lambda inst: KALSHI_FEES,
                      parse_money(cash), clock_ms=lambda: 1_000)


def poly_paper(book: PolyBook, cash: str = "100") -> PaperVenue:
    return PaperVenue(Venue.POLYMARKET, {TOKEN: book}.get, lambda inst: POLY_FEES,
                      parse_money(cash), clock_ms=lambda: 1_000)


def order(client_id, instrument, side, price, qty, tif=TimeInForce.IOC):
    return OrderRequest(client_id, instrument, side, p(price), q(qty), tif)


async def test_kalshi_ioc_buy_walks_the_book_with_exact_fees():
    paper = kalshi_paper(kalshi_book())
    prepared = paper.prepare(order("c-1", KALSHI_NO, Side.BUY, "0.47", "10"))
    assert prepared.venue_order_id is None  # Kalshi assigns it on create, as live
    result = await paper.submit(prepared)
    assert result.status is OrderStatus.CANCELLED and result.filled_qty == q("7")
    page = await paper.fills()
    assert [(f.price, f.qty) for f in page.fills] == [(p("0.45"), q("3")), (p("0.46"), q("4"))]
    assert all(f.is_taker and f.status is FillStatus.CONFIRMED and f.client_id == "c-1"
               and f.venue_order_id == result.venue_order_id for f in page.fills)
    assert result.trade_ids == tuple(f.trade_id for f in page.fills)
    # Per fill, Kalshi's exchange rule (venues.md A8.2): 3 @ 0.45 -> trade fee 0.0520, balance
    # -1.402 floored to -1.41 (rounding 0.008); 4 @ 0.46 -> 0.0696, -1.9096 floored to -1.91.
    assert [f.fee for f in page.fills] == [parse_money("0.06"), parse_money("0.07")]
    assert result.fee == parse_money("0.13")
    assert result.fee == fee_upper_bound(KALSHI_FEES, [(p("0.45"), q("3")), (p("0.46"), q("4"))])
    accumulator = KalshiFeeAccumulator(KALSHI_FEES)
    expected = [accumulator.charge_fill(f.price, f.qty, buy=True, maker=False)
                for f in page.fills]
    assert [c.net_fee for c in expected] == [f.fee for f in page.fills]
    assert (await paper.balance()).available == parse_money("100") - parse_money("3.32")
    assert result.avg_price == parse_price("0.455715")  # 3.19 / 7, rounded up (we pay)
    assert [(x.instrument, x.qty) for x in await paper.positions()] == [(KALSHI_NO, q("7"))]


async def test_taken_liquidity_is_not_filled_twice_until_the_feed_changes_it():
    book = kalshi_book()
    paper = kalshi_paper(book)
    await paper.submit(paper.prepare(order("c-1", KALSHI_NO, Side.BUY, "0.47", "10")))
    again = await paper.submit(paper.prepare(order("c-2", KALSHI_NO, Side.BUY, "0.47", "10")))
    assert again.status is OrderStatus.CANCELLED and again.filled_qty == 0
    assert again.trade_ids == () and again.avg_price is None
    # The venue updates the 0.55 YES level (the 0.45 NO ask): it is fresh again; 0.46 is not.
    book.apply_delta(Outcome.YES, p("0.55"), q("2"), received_at=1.0)
    third = await paper.submit(paper.prepare(order("c-3", KALSHI_NO, Side.BUY, "0.47", "10")))
    assert third.filled_qty == q("5")
    assert [(f.price, f.qty) for f in (await paper.fills("2")).fills] == [(p("0.45"), q("5"))]
    # Deeper levels are still there beyond the limit.
    fourth = await paper.submit(paper.prepare(order("c-4", KALSHI_NO, Side.BUY, "0.48", "4")))
    assert fourth.status is OrderStatus.FILLED and fourth.avg_price == p("0.48")


async def test_kalshi_no_buy_and_yes_sell_share_the_same_resting_bids():
    paper = kalshi_paper(kalshi_book())
    held = await paper.submit(paper.prepare(order("c-1", KALSHI_YES, Side.BUY, "0.60", "5")))
    assert held.filled_qty == q("5") and held.avg_price == p("0.60")  # 1 - the 0.40 NO bid
    await paper.submit(paper.prepare(order("c-2", KALSHI_NO, Side.BUY, "0.45", "3")))
    # Buying NO at 0.45 took the 0.55 YES bid; selling YES must not take it again.
    sold = await paper.submit(paper.prepare(order("c-3", KALSHI_YES, Side.SELL, "0.54", "5")))
    assert sold.filled_qty == q("4") and sold.avg_price == p("0.54")
    assert {x.instrument: x.qty for x in await paper.positions()} == {KALSHI_YES: q("1"),
                                                                      KALSHI_NO: q("3")}


async def test_kalshi_fok_fails_whole_when_depth_is_short_and_fills_when_it_is_not():
    paper = kalshi_paper(kalshi_book())
    with pytest.raises(Rejected) as refused:
        await paper.submit(paper.prepare(order("c-1", KALSHI_NO, Side.BUY, "0.46", "8",
                                               TimeInForce.FOK)))
    assert refused.value.code == "FOK_ORDER_NOT_FILLED_ERROR" and "c-1" in str(refused.value)
    assert (await paper.fills()).fills == () and await paper.positions() == []
    assert (await paper.balance()).available == parse_money("100")
    assert await paper.get_order(client_id="c-1") is None
    filled = await paper.submit(paper.prepare(order("c-2", KALSHI_NO, Side.BUY, "0.46", "7",
                                                    TimeInForce.FOK)))
    assert filled.status is OrderStatus.FILLED and filled.filled_qty == q("7")
    assert await paper.get_order(client_id="c-2") == filled


async def test_polymarket_fok_fails_whole_when_depth_is_short():
    paper = poly_paper(poly_book())
    prepared = paper.prepare(order("c-1", POLY_YES, Side.BUY, "0.41", "40", TimeInForce.FOK))
    assert prepared.venue_order_id.startswith("0x")  # known before sending, like the hash
    with pytest.raises(Rejected) as refused:
        await paper.submit(prepared)
    assert refused.value.code == "FOK_ORDER_NOT_FILLED_ERROR"
    assert (await paper.fills()).fills == () and await paper.positions() == []


async def test_polymarket_ioc_buy_then_sell_with_taker_fees():
    paper = poly_paper(poly_book())
    bought = await paper.submit(paper.prepare(order("c-1", POLY_YES, Side.BUY, "0.41", "25")))
    assert bought.status is OrderStatus.FILLED and bought.filled_qty == q("25")
    fills = (await paper.fills()).fills
    assert [(f.price, f.qty) for f in fills] == [(p("0.40"), q("10")), (p("0.41"), q("15"))]
    # 10 x 0.05 x 0.4 x 0.6 = 0.12; 15 x 0.05 x 0.41 x 0.59 = 0.181425 -> 0.18143 (up, 5 dp).
    assert [f.fee for f in fills] == [parse_money("0.12"), parse_money("0.18143")]
    assert [f.fee for f in fills] == [poly_fee(POLY_FEES, f.price, f.qty) for f in fills]
    assert (await paper.balance()).available == parse_money("100") - parse_money("10.15") \
        - parse_money("0.30143")
    sold = await paper.submit(paper.prepare(order("c-2", POLY_YES, Side.SELL, "0.38", "25")))
    assert sold.filled_qty == q("25") and sold.avg_price == p("0.38")
    sell_fee = poly_fee(POLY_FEES, p("0.38"), q("25"))
    assert sold.fee == sell_fee
    assert (await paper.balance()).available == parse_money("100") - parse_money("10.15") \
        - parse_money("0.30143") + parse_money("9.5") - sell_fee
    assert await paper.positions() == []


async def test_sell_limit_and_holdings_are_respected():
    paper = poly_paper(poly_book())
    with pytest.raises(Rejected, match="holding 0"):
        await paper.submit(paper.prepare(order("c-1", POLY_YES, Side.SELL, "0.38", "10")))
    await paper.submit(paper.prepare(order("c-2", POLY_YES, Side.BUY, "0.40", "10")))
    nothing = await paper.submit(paper.prepare(order("c-3", POLY_YES, Side.SELL, "0.39", "10")))
    assert nothing.status is OrderStatus.CANCELLED and nothing.filled_qty == 0


async def test_order_entry_rules_are_the_live_ones():
    kalshi = kalshi_paper(kalshi_book())
    # Off-grid limit: a buy rounds down (never pays more than asked), as the live adapter does.
    assert kalshi.prepare(order("c-1", KALSHI_NO, Side.BUY, "0.4675", "10")).price == p("0.46")
    assert kalshi.prepare(order("c-2", KALSHI_NO, Side.BUY, "0.47", "2.5")).qty == q("2")
    fractional = attrs.evolve(kalshi, kalshi_rules=lambda t: MarketRules(fractional=True))
    assert fractional.prepare(order("c-3", KALSHI_NO, Side.BUY, "0.47", "2.5")).qty == q("2.5")
    poly = poly_paper(poly_book())
    with pytest.raises(Rejected, match=r"\$1 minimum"):
        poly.prepare(order("c-4", POLY_YES, Side.BUY, "0.41", "2"))
    for bad, why in [
        (order("c-5", KALSHI_NO, Side.BUY, "0.47", "10", TimeInForce.GTC), "taker orders"),
        (order("c-6", POLY_YES, Side.BUY, "0.47", "10"), "not a kalshi instrument"),
        (order("", KALSHI_NO, Side.BUY, "0.47", "10"), "empty client id"),
    ]:
        with pytest.raises(Rejected, match=why):
            kalshi.prepare(bad)
    assert kalshi.statistics().refused == 3


async def test_refusals_name_the_problem():
    book = kalshi_book()
    paper = kalshi_paper(book)
    await paper.submit(paper.prepare(order("c-1", KALSHI_NO, Side.BUY, "0.45", "1")))
    with pytest.raises(Rejected, match="duplicate client id"):
        await paper.submit(paper.prepare(order("c-1", KALSHI_NO, Side.BUY, "0.45", "1")))
    book.invalidate("seq gap 41 -> 43")
    with pytest.raises(Rejected, match="seq gap 41 -> 43"):
        await paper.submit(paper.prepare(order("c-2", KALSHI_NO, Side.BUY, "0.45", "1")))
    unknown_fee = PaperVenue(Venue.KALSHI, {TICKER: kalshi_book()}.get, lambda inst: None,
                             parse_money("100"))
    with pytest.raises(Rejected, match="fee schedule unknown"):
        await unknown_fee.submit(unknown_fee.prepare(order("c-3", KALSHI_NO, Side.BUY, "0.45",
                                                           "1")))
    flat_fee = attrs.evolve(unknown_fee, fee_schedule=lambda i: KalshiFeeSchedule("flat"))
    with pytest.raises(Rejected, match="flat"):
        await flat_fee.submit(flat_fee.prepare(order("c-4", KALSHI_NO, Side.BUY, "0.45", "1")))
    no_book = PaperVenue(Venue.KALSHI, {}.get, lambda inst: KALSHI_FEES, parse_money("100"))
    with pytest.raises(Rejected, match="no book"):
        await no_book.submit(no_book.prepare(order("c-5", KALSHI_YES, Side.BUY, "0.45", "1")))
    poor = kalshi_paper(kalshi_book(), cash="1")
    with pytest.raises(Rejected, match="not enough balance"):
        await poor.submit(poor.prepare(order("c-6", KALSHI_NO, Side.BUY, "0.47", "7")))
    assert await poor.positions() == []


async def test_paper_results_go_into_the_same_ledger(tmp_path):
    paper = poly_paper(poly_book())
    await paper.submit(paper.prepare(order("c-1", POLY_YES, Side.BUY, "0.41", "25")))
    await paper.submit(paper.prepare(order("c-2", POLY_YES, Side.SELL, "0.38", "5")))
    with Ledger.open(tmp_path / "paper.sqlite", mode="paper") as ledger:
        cursor = None
        while True:
            page = await paper.fills(cursor)
            for fill in page.fills:
                assert ledger.record_fill(fill)
            if page.cursor is None:
                break
            cursor = page.cursor
        venue_positions = {x.instrument: x.qty for x in await paper.positions()}
        assert ledger.positions() == venue_positions == {POLY_YES: q("20")}


async def test_fill_pages_follow_the_cursor():
    book = PolyBook(TOKEN, tick=p("0.001"), min_order_size=q("5"))
    book.apply_snapshot([], [(p("0.1") + i * p("0.001"), q("1")) for i in range(600)],
                        received_at=0.0)
    paper = poly_paper(book, cash="100000")
    results = [await paper.submit(paper.prepare(order(f"c-{i}", POLY_YES, Side.BUY, "0.699",
                                                      "50")))
               for i in range(5)]
    seen, cursor = [], None
    while True:
        page = await paper.fills(cursor)
        seen.extend(page.fills)
        if page.cursor is None:
            break
        cursor = page.cursor
    assert len(seen) == paper.statistics().fills == 250
    assert len({f.trade_id for f in seen}) == len(seen)
    assert [f.price for f in seen] == [p("0.1") + i * p("0.001") for i in range(250)]
    assert sum(f.qty for f in seen) == sum(r.filled_qty for r in results) == q("250")


NETWORK_MODULES = ("httpx", "trio_websocket", "requests", "urllib3", "aiohttp", "websockets",
                   "arb.venues.kalshi.rest", "arb.venues.polymarket.rest")


def test_paper_venue_imports_no_network_client():
    """Importing and trading with the paper venue works with every network client blocked."""
    script = textwrap.dedent(f"""
        import sys
        for name in {NETWORK_MODULES!r}:
            sys.modules[name] = None  # any import of it now raises ImportError
        import arb.venues.paper
        loaded = [m for m, mod in sys.modules.items()
                  if mod is not None and m.split('.')[0] in ('httpx', 'trio_websocket')]
        assert not loaded, loaded
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


async def test_no_network_object_exists_on_the_paper_venue():
    import socket
    import ssl

    import httpx
    import trio

    paper = poly_paper(poly_book())
    await paper.submit(paper.prepare(order("c-1", POLY_YES, Side.BUY, "0.41", "25")))
    forbidden = (httpx.Client, httpx.AsyncClient, socket.socket, ssl.SSLContext,
                 trio.SocketStream, trio.SSLStream)
    seen: set[int] = set()

    def walk(value, path):
        if id(value) in seen or isinstance(value, str | bytes | int | bool | type(None)):
            return
        seen.add(id(value))
        assert not isinstance(value, forbidden), f"{path} is a {type(value).__name__}"
        if attrs.has(type(value)):
            for field in attrs.fields(type(value)):
                walk(getattr(value, field.name), f"{path}.{field.name}")
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k, f"{path}[{k!r}]")
                walk(v, f"{path}[{k!r}]")
        elif isinstance(value, list | tuple | set | frozenset | collections.deque):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        elif isinstance(value, types.MethodType | types.BuiltinMethodType):
            walk(getattr(value, "__self__", None), f"{path}.__self__")
        elif isinstance(value, types.FunctionType):
            for i, cell in enumerate(value.__closure__ or ()):
                walk(cell.cell_contents, f"{path}.<closure {i}>")

    walk(paper, "paper")
    names = {field.name for field in attrs.fields(PaperVenue)}
    assert not names & {"client", "http", "session", "rest", "creds", "signer", "url"}
    assert id(paper.books.__self__[TOKEN]) in seen  # the walk reached the book through lookup
    assert len(seen) > 20  # and went through the fills and orders
