"""Kalshi catalog and Gamma clients against a loopback HTTP server, and ``arb discover`` end to end."""
from __future__ import annotations

import json
import sys
import urllib.parse
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from arb.sim.server import serve_asgi
from arb.venues.kalshi.catalog import CatalogError, open_kalshi_catalog
from arb.venues.polymarket.gamma import GammaError, open_gamma
from arb.venues.protocol import Transient

REPO = Path(__file__).resolve().parents[2]



def json_app(route):
    """A tiny ASGI app: ``route(path, query) -> (status, json-able body)``; requests recorded."""
    requests: list[tuple[str, dict[str, str]]] = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        query = {k: v[0] for k, v in urllib.parse.parse_qs(scope["query_string"].decode()).items()}
        requests.append((scope["path"], query))
        status, body = route(scope["path"], query)
        payload = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    return app, requests


def kalshi_events(shared_dir):
    doc = json.loads((shared_dir / "data/real/kalshi_events_nba_2026-01.json").read_text(),
                     parse_float=Decimal)
    for event in doc["events"]:
        codes = event["sub_title"].split(" (")[0].split(" at ")
        cities = event["title"].split(" at ")
        event["markets"] = [{
            "ticker": f"{event['event_ticker']}-{code}", "event_ticker": event["event_ticker"],
            "yes_sub_title": city, "no_sub_title": city, "status": "active",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
            "expected_expiration_time": None} for code, city in zip(codes, cities, strict=True)]
    return doc["events"]


def kalshi_route(events, page_size=10, *, bad_cursor=False, fee_type="quadratic_with_maker_fees"):
    def route(path, query):
        if path.startswith("/trade-api/v2/series/"):
            return 200, {"series": {"ticker": path.rsplit("/", 1)[1], "fee_type": fee_type,
                                    "fee_multiplier": 1}}
        assert path == "/trade-api/v2/events"
        if query["series_ticker"] != "KXNBAGAME":
            return 200, {"events": [], "cursor": ""}
        start = int(query.get("cursor", "0"))
        chunk = events[start:start + page_size]
        nxt = start + page_size
        cursor = "0" if bad_cursor else (str(nxt) if nxt < len(events) else "")
        return 200, {"events": chunk, "cursor": cursor}
    return route


async def test_kalshi_catalog_follows_cursors(shared_dir, nursery):
    events = kalshi_events(shared_dir)
    events[3] = {"event_ticker": "KXNBAGAME-BROKEN", "title": "x"}  # no series_ticker
    app, requests = json_app(kalshi_route(events))
    url = await nursery.start(serve_asgi, app)
    async with open_kalshi_catalog(url) as client:
        page = await client.open_events("KXNBAGAME")
        series = await client.series("KXNBAGAME")
    assert len(page.events) == 26 and page.cursor == ""
    assert [p.ident for p in page.problems] == ["KXNBAGAME-BROKEN"]
    assert "series_ticker" in page.problems[0].reason
    assert [q.get("cursor") for _, q in requests[:3]] == [None, "10", "20"]
    assert all(q["status"] == "open" and q["with_nested_markets"] == "true" and q["limit"] == "200"
               for _, q in requests[:3])
    assert series.fees.fee_type == "quadratic_with_maker_fees" and series.fees.multiplier == 1_000_000
    assert page.events[0].markets[0].grid[0].step == 10_000


async def test_kalshi_catalog_refuses_loops_and_reports_outages(shared_dir, nursery):
    app, _ = json_app(kalshi_route(kalshi_events(shared_dir), bad_cursor=True))
    url = await nursery.start(serve_asgi, app)
    async with open_kalshi_catalog(url) as client:
        with pytest.raises(CatalogError, match="cursor '0' repeated"):
            await client.open_events("KXNBAGAME")
    app, _ = json_app(lambda path, query: (200, {"events": [], "cursor": str(len(query))}))
    url = await nursery.start(serve_asgi, app)
    async with open_kalshi_catalog(url, max_pages=2) as client:
        with pytest.raises(CatalogError, match="more than 2 pages"):
            await client.open_events("KXNBAGAME")
    app, _ = json_app(lambda path, query: (503, {"error": "down"}))
    url = await nursery.start(serve_asgi, app)
    async with open_kalshi_catalog(url) as client:
        with pytest.raises(Transient, match="HTTP 503"):
            await client.open_events("KXNBAGAME")


def raw_spans(text: str) -> list[str]:
    """The exact source text of each element of a top-level JSON array (numbers untouched)."""
    decoder = json.JSONDecoder(parse_float=Decimal)
    spans, index = [], text.index("[") + 1
    while True:
        while text[index] in " \n\r\t,":
            index += 1
        if text[index] == "]":
            return spans
        _, end = decoder.raw_decode(text, index)
        spans.append(text[index:end])
        index = end


def gamma_route(spans: list[str], *, tag="nba"):
    def route(path, query):
        assert path == "/events"
        if query["tag_slug"] != tag:
            return 200, b"[]"
        offset, limit = int(query["offset"]), int(query["limit"])
        return 200, ("[" + ",".join(spans[offset:offset + limit]) + "]").encode()
    return route


async def test_gamma_pages_with_offsets(shared_dir, nursery):
    spans = raw_spans((shared_dir / "data/real/gamma_events_nba_2026-01.json").read_text())
    app, requests = json_app(gamma_route(spans))
    url = await nursery.start(serve_asgi, app)
    async with open_gamma(url, page_limit=20) as gamma:
        page = await gamma.events("nba", start=datetime(2026, 1, 4, tzinfo=UTC),
                                  end=datetime(2026, 1, 15, 12, tzinfo=UTC))
    assert len(page.events) == 50 and page.problems == ()
    assert (requests[0][1]["start_time_min"], requests[0][1]["start_time_max"]) == (
        "2026-01-04T00:00:00Z", "2026-01-15T12:00:00Z")
    assert [(q["offset"], q["limit"], q["closed"]) for _, q in requests] == [
        ("0", "20", "false"), ("20", "20", "false"), ("40", "20", "false")]
    async with open_gamma(url, page_limit=10, max_pages=3) as gamma:
        with pytest.raises(GammaError, match="more than 3 pages"):
            await gamma.events("nba")


async def test_gamma_bad_market_becomes_a_named_problem(nursery):
    event = {"slug": "nba-mil-lal-2026-01-09", "markets": [
        {"conditionId": "0x01", "slug": "nba-mil-lal-2026-01-09", "outcomes": "[\"Bucks\"]",
         "clobTokenIds": "[\"1\", \"2\"]"},
        {"conditionId": "0x02", "slug": "fee-less", "outcomes": "[\"Yes\", \"No\"]",
         "clobTokenIds": "[\"3\", \"4\"]", "feesEnabled": True}]}
    app, _ = json_app(lambda path, query: (200, [event]))
    url = await nursery.start(serve_asgi, app)
    async with open_gamma(url) as gamma:
        page = await gamma.events("nba")
    assert page.events[0].markets == ()
    reasons = {p.ident: p.reason for p in page.problems}
    assert "expected 2 outcomes" in reasons["nba-mil-lal-2026-01-09"]
    assert "fee is unknown" in reasons["fee-less"]


async def test_arb_discover_json_end_to_end(shared_dir, nursery):
    events = kalshi_events(shared_dir)
    kalshi = kalshi_route(events)
    gamma = gamma_route(raw_spans(
        (shared_dir / "data/real/gamma_events_nba_2026-01.json").read_text()))
    app, _ = json_app(lambda path, query: (kalshi if path.startswith("/trade-api") else gamma)(
        path, query))
    url = await nursery.start(serve_asgi, app)
    done = await trio.run_process(
        [sys.executable, "-m", "arb.cli", "discover", "--league", "nba", "--kalshi-url", url,
         "--gamma-url", url, "--json"], capture_stdout=True, capture_stderr=True, cwd=REPO,
        check=False)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    assert len(out["pairs"]) == 54 and out["unmatched_kalshi"] == []
    hou = next(p for p in out["pairs"] if p["kalshi_ticker"] == "KXNBAGAME-26JAN11HOUSAC-HOU")
    assert (hou["poly_yes_label"], hou["poly_no_label"]) == ("Rockets", "Kings")
    assert hou["kalshi_fee_type"] == "quadratic_with_maker_fees" and hou["poly_tick"] == "0.01"
    assert any("no Kalshi counterpart" in u["reason"] for u in out["unmatched_poly"])
    text = await trio.run_process(
        [sys.executable, "-m", "arb.cli", "discover", "--league", "nba", "--kalshi-url", url,
         "--gamma-url", url], capture_stdout=True, cwd=REPO)
    assert b"54 matched pairs" in text.stdout and b"Rockets / Kings" in text.stdout
    bad = await trio.run_process(
        [sys.executable, "-m", "arb.cli", "discover", "--league", "xfl", "--kalshi-url", url],
        capture_stderr=True, cwd=REPO, check=False)
    assert bad.returncode == 2 and b"unknown league 'xfl'" in bad.stderr
