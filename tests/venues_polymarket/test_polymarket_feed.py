"""Market feed logic under Trio's virtual clock with a scripted in-memory venue."""
from __future__ import annotations

import trio
import trio.testing
from polyfakes import FakeMarketServer, Recorder, level, wait_until

from arb.domain import Side
from arb.money import parse_price, parse_qty
from arb.venues.polymarket.feed import PolyFeedConfig, serve_polymarket_feed
from arb.venues.polymarket.ws import Backoff, FeedDown
from arb.venues.protocol import FeedState

P, Q = parse_price, parse_qty
YES, NO = "1111", "2222"


def _server() -> FakeMarketServer:
    server = FakeMarketServer()
    # Bids ascending and asks descending, as REST sends them: the feed must not trust order.
    server.set_book(YES, [("0.50", "10"), ("0.52", "5")], [("0.56", "7"), ("0.54", "3")],
                    tick_size="0.01", min_order_size="5")
    server.set_book(NO, [("0.44", "4")], [("0.48", "6")], tick_size="0.01")
    return server


def _leaves(group: BaseException) -> list[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        return [leaf for exc in group.exceptions for leaf in _leaves(exc)]
    return [group]


def _price_change(token: str, price: str, size: str, side: str, best_bid: str,
                  best_ask: str) -> dict:
    return {"event_type": "price_change", "market": "0xcond", "timestamp": "1767225601000",
            "price_changes": [{"asset_id": token, "price": price, "size": size, "side": side,
                               "hash": "x", "best_bid": best_bid, "best_ask": best_ask}]}


async def test_started_after_every_snapshot_and_books_sorted(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect)
        book = feed.books[YES]
        assert book.valid
        assert book.best_bid() == (P("0.52"), Q("5"))
        assert book.best_ask() == (P("0.54"), Q("3"))
        assert book.min_order_size == Q("5")
        assert book.venue_ts_ms == 1767225600000
        assert feed.books[NO].best_ask() == (P("0.48"), Q("6"))
        assert server.conns[0].subscriptions()[0] == {"assets_ids": [YES, NO], "type": "market"}
        assert set(rec.changed) == {YES, NO}
        assert rec.health[-1].state is FeedState.LIVE
        nursery.cancel_scope.cancel()


async def test_price_change_buy_is_bid_sell_is_ask_and_zero_deletes(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect)
        conn = server.conns[0]
        conn.push(_price_change(YES, "0.53", "8", "BUY", "0.53", "0.54"))
        conn.push(_price_change(YES, "0.54", "0", "SELL", "0.53", "0.56"))
        await trio.testing.wait_all_tasks_blocked()
        book = feed.books[YES]
        assert book.valid
        assert book.best_bid() == (P("0.53"), Q("8"))
        assert book.best_ask() == (P("0.56"), Q("7"))
        assert book.bids() == [(P("0.53"), Q("8")), (P("0.52"), Q("5")), (P("0.50"), Q("10"))]
        assert feed.statistics().price_changes == 2
        assert feed.statistics().mismatches == 0
        assert rec.changed[-2:] == [YES, YES]
        nursery.cancel_scope.cancel()


async def test_one_message_covering_both_tokens_and_legacy_format(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect)
        conn = server.conns[0]
        conn.push({"event_type": "price_change", "market": "0xcond", "timestamp": "1",
                   "price_changes": [
                       {"asset_id": YES, "price": "0.51", "size": "2", "side": "BUY",
                        "best_bid": "0.52", "best_ask": "0.54"},
                       {"asset_id": NO, "price": "0.47", "size": "9", "side": "SELL",
                        "best_bid": "0.44", "best_ask": "0.47"}]})
        conn.push({"event_type": "price_change", "asset_id": NO, "market": "0xcond",
                   "timestamp": "2", "changes": [{"price": "0.44", "side": "BUY", "size": "0"}]})
        await trio.testing.wait_all_tasks_blocked()
        assert feed.books[YES].bids(3)[-1] == (P("0.50"), Q("10"))
        assert (P("0.51"), Q("2")) in feed.books[YES].bids()
        assert feed.books[NO].best_ask() == (P("0.47"), Q("9"))
        assert feed.books[NO].best_bid() is None
        assert feed.books[NO].valid and feed.books[YES].valid
        nursery.cancel_scope.cancel()


async def test_best_level_mismatch_invalidates_and_resyncs(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect)
        conn = server.conns[0]
        # The venue says best bid 0.55: we must have missed a message.
        server.set_book(YES, [("0.55", "1")], [("0.56", "7")], tick_size="0.01")
        conn.push(_price_change(YES, "0.53", "8", "BUY", "0.55", "0.54"))
        await trio.sleep(1.0)  # resubscription batches are throttled to one per second
        assert feed.statistics().mismatches == 1
        assert rec.health[-1].state in (FeedState.GAP, FeedState.LIVE)
        assert any(h.state is FeedState.GAP and h.keys == (YES,) for h in rec.health)
        subs = conn.subscriptions()
        assert {"assets_ids": [YES], "operation": "unsubscribe"} in subs
        assert {"assets_ids": [YES], "operation": "subscribe"} in subs
        book = feed.books[YES]
        assert book.valid
        assert book.best_bid() == (P("0.55"), Q("1"))
        assert feed.books[NO].valid
        nursery.cancel_scope.cancel()


async def test_silent_freeze_invalidates_reconnects_and_resnapshots(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    config = PolyFeedConfig(probe_after=20.0, max_silence=40.0, ping_interval=10.0,
                            backoff=Backoff(base=1.0, cap=1.0))
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect,
                                   config)
        t0 = trio.current_time()
        epoch0 = feed.statistics().epoch
        server.frozen = True  # PONGs still flow, data stops
        await wait_until(lambda: not feed.books[NO].valid, step=0.5)
        invalid_at = trio.current_time() - t0
        # Probed at 20 s (no answer), declared stale at the 40 s mark (checked every 5 s).
        assert 40.0 <= invalid_at <= 45.0
        assert feed.statistics().resyncs == 1
        assert feed.statistics().pongs >= 3
        assert any(h.state is FeedState.STALE for h in rec.health)
        assert not feed.books[YES].valid
        server.frozen = False
        await wait_until(lambda: feed.books[YES].valid and feed.books[NO].valid, step=0.5)
        assert len(server.conns) == 2
        assert server.conns[1].subscriptions()[0]["assets_ids"] == [YES, NO]
        assert feed.statistics().epoch == epoch0 + 1
        assert feed.statistics().stale == 1
        nursery.cancel_scope.cancel()


async def test_quiet_but_healthy_socket_survives_via_probe(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    config = PolyFeedConfig(probe_after=20.0, max_silence=40.0)
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect,
                                   config)
        await trio.sleep(300)
        assert len(server.conns) == 1
        assert feed.statistics().stale == 0
        assert feed.books[YES].valid and feed.books[NO].valid
        nursery.cancel_scope.cancel()


async def test_server_close_reconnects_with_new_epoch(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect)
        epoch0 = feed.statistics().epoch
        server.frozen = True
        server.conns[0].close_from_server()
        await trio.testing.wait_all_tasks_blocked()
        assert not feed.books[YES].valid and not feed.books[NO].valid
        assert rec.health[-1].state is FeedState.RECONNECTING
        server.frozen = False
        await wait_until(lambda: feed.books[YES].valid)
        assert len(server.conns) == 2
        assert feed.statistics().epoch == epoch0 + 1
        assert feed.statistics().reconnects == 1
        nursery.cancel_scope.cancel()


async def test_connect_failures_back_off_then_feed_down(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    server.refuse = 10
    config = PolyFeedConfig(backoff=Backoff(base=1.0, cap=8.0, max_failures=5))
    t0 = trio.current_time()
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_polymarket_feed, [YES], rec, server.connect, config)
    except* FeedDown as group:
        leaves = _leaves(group)
        assert len(leaves) == 1
        assert "5 consecutive failed connections" in str(leaves[0])
    else:
        raise AssertionError("FeedDown not raised")
    elapsed = trio.current_time() - t0
    assert server.attempts == 5
    # Four sleeps of uniform(0.5, 1) * (2, 4, 8, 8) seconds.
    assert 11.0 <= elapsed <= 22.0
    assert rec.health[-1].state is FeedState.DOWN


async def test_recovers_after_refused_connections(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    server.refuse = 3
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect)
        assert server.attempts == 4
        assert feed.books[YES].valid
        nursery.cancel_scope.cancel()


async def test_malformed_frames_invalidate_only_what_they_touch(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect)
        conn = server.conns[0]
        server.frozen = True  # keep the resync from re-validating immediately
        conn.push(_price_change(YES, "0.5x", "8", "BUY", "", ""))
        await trio.testing.wait_all_tasks_blocked()
        assert not feed.books[YES].valid
        assert feed.books[NO].valid
        assert feed.statistics().malformed == 1
        conn.push("{not json")
        await trio.testing.wait_all_tasks_blocked()
        assert not feed.books[NO].valid
        assert feed.statistics().malformed == 2
        server.frozen = False
        conn.push({"event_type": "book", "asset_id": YES, "bids": [level("0.50", "1")],
                   "asks": [level("0.60", "1")]})
        await trio.testing.wait_all_tasks_blocked()
        assert feed.books[YES].valid
        nursery.cancel_scope.cancel()


async def test_unknown_types_and_foreign_tokens_ignored(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect)
        conn = server.conns[0]
        before = len(rec.changed)
        conn.push([{"event_type": "last_trade_price", "asset_id": YES, "price": "0.5"},
                   {"event_type": "brand_new_thing", "asset_id": YES},
                   _price_change("9999", "0.5", "1", "BUY", "0.5", "0.6")["price_changes"][0]
                   | {"event_type": "book", "bids": [], "asks": []}])
        await trio.testing.wait_all_tasks_blocked()
        assert feed.statistics().ignored == 3
        assert feed.statistics().malformed == 0
        assert len(rec.changed) == before
        assert feed.books[YES].valid
        nursery.cancel_scope.cancel()


async def test_empty_string_decimals_and_tick_change(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect)
        conn = server.conns[0]
        conn.push(_price_change(NO, "0.44", "0", "BUY", "", "0.48"))
        conn.push({"event_type": "tick_size_change", "asset_id": YES, "market": "0xcond",
                   "old_tick_size": "0.01", "new_tick_size": "0.001", "timestamp": "3"})
        await trio.testing.wait_all_tasks_blocked()
        assert feed.books[NO].valid and feed.books[NO].best_bid() is None
        assert feed.books[YES].tick == P("0.001")
        assert feed.statistics().tick_changes == 1
        nursery.cancel_scope.cancel()


async def test_assets_split_across_sockets_and_added_removed_live(autojump_clock) -> None:
    server, rec = FakeMarketServer(), Recorder()
    tokens = [str(100 + i) for i in range(5)]
    for t in [*tokens, "777"]:
        server.set_book(t, [("0.40", "1")], [("0.60", "1")])
    config = PolyFeedConfig(max_assets_per_socket=2)
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, tokens, rec, server.connect, config)
        assert len(server.conns) == 3
        firsts = [c.subscriptions()[0]["assets_ids"] for c in server.conns]
        assert sorted(map(len, firsts)) == [1, 2, 2]
        assert sorted(t for ids in firsts for t in ids) == tokens
        feed.add_tokens(["777"])
        await trio.sleep(1.0)
        assert len(server.conns) == 3
        small = next(c for c in server.conns if len(c.subscriptions()[0]["assets_ids"]) == 1)
        assert {"assets_ids": ["777"], "operation": "subscribe"} in small.subscriptions()
        assert feed.books["777"].valid
        feed.remove_tokens(["100"])
        await trio.sleep(2)
        assert "100" not in feed.books
        assert any({"assets_ids": ["100"], "operation": "unsubscribe"} in c.subscriptions()
                   for c in server.conns)
        assert feed.statistics().tokens == 5
        nursery.cancel_scope.cancel()


async def test_ping_every_ten_seconds(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES], rec, server.connect)
        await trio.sleep(35)
        assert server.conns[0].sent.count("PING") == 3
        assert feed.statistics().pongs == 3
        nursery.cancel_scope.cancel()


def test_book_side_mapping_is_explicit() -> None:
    from arb.venues.polymarket.feed import _book_side

    assert _book_side("BUY", "t") is Side.BUY
    assert _book_side("SELL", "t") is Side.SELL


async def test_token_without_snapshot_is_resubscribed_not_reconnected(autojump_clock) -> None:
    server, rec = _server(), Recorder()
    config = PolyFeedConfig(snapshot_timeout=10.0)
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], rec, server.connect,
                                   config)
        feed.add_tokens(["ghost"])  # the venue never sends a book for it
        await trio.sleep(36)
        subs = server.conns[0].subscriptions()
        assert sum(1 for m in subs if m.get("operation") == "subscribe"
                   and "ghost" in m["assets_ids"]) == 4
        assert feed.statistics().snapshot_timeouts == 3
        assert len(server.conns) == 1
        assert feed.books[YES].valid and not feed.books["ghost"].valid
        nursery.cancel_scope.cancel()
