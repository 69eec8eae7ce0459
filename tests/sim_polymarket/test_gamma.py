"""Gamma subset: structurally the same as the real January 2026 NBA payloads, plus filters."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from arb.domain import Side
from arb.money import parse_price, parse_qty
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.gamma import GammaApp

from .conftest import EPL_CID, GRIZZLIES, LAKERS, NBA_CID

GAME_START = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+00$")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    return {str: "string", list: "list", dict: "object", type(None): "null"}[type(value)]


def _always(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Keys present in every record, with the JSON kinds seen for each."""
    keys = set.intersection(*(set(r) for r in records))
    return {k: {_kind(r[k]) for r in records} for k in keys}


@pytest.fixture(scope="module")
def real_events(shared_dir: Path) -> list[dict[str, Any]]:
    return json.loads((shared_dir / "data/real/gamma_events_nba_2026-01.json").read_text(),
                      parse_float=Decimal)


@pytest.fixture
async def gamma(exchange: Exchange):
    exchange.place_house_order(LAKERS, Side.BUY, parse_price("0.40"), parse_qty("10"))
    exchange.place_house_order(LAKERS, Side.SELL, parse_price("0.44"), parse_qty("10"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=GammaApp(exchange)),
                                 base_url="http://gamma.test") as client:
        yield client


async def _json(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


async def test_events_and_markets_have_the_real_keys_and_types(
        gamma: httpx.AsyncClient, real_events: list[dict[str, Any]]) -> None:
    ours = await _json(gamma, "/events")
    real_markets = [m for e in real_events for m in e["markets"]]
    our_markets = [m for e in ours for m in e["markets"]]
    for real, mine, what in ((_always(real_events), _always(ours), "event"),
                             (_always(real_markets), _always(our_markets), "market")):
        missing = sorted(set(real) - set(mine))
        assert not missing, f"{what} keys missing: {missing}"
        wrong = {k: (real[k], mine[k]) for k in real if not mine[k] <= real[k]}
        assert not wrong, f"{what} fields with other JSON types: {wrong}"
    for nested in ("tags", "series"):
        real_keys = _always([t for e in real_events for t in e[nested]])
        our_keys = _always([t for e in ours for t in e[nested]])
        assert set(real_keys) - set(our_keys) <= {"publishedAt", "image", "icon", "createdAt",
                                                  "updatedAt", "volume", "liquidity",
                                                  "commentCount"}, nested
    assert all(GAME_START.match(m["gameStartTime"]) for m in real_markets
               if "gameStartTime" in m)
    assert all(GAME_START.match(m["gameStartTime"]) for m in our_markets)


async def test_json_string_fields_follow_outcome_order(gamma: httpx.AsyncClient) -> None:
    [market] = await _json(gamma, "/markets", slug="nba-lal-mem-2026-01-04")
    assert isinstance(market["outcomes"], str) and isinstance(market["clobTokenIds"], str)
    assert json.loads(market["outcomes"]) == ["Lakers", "Grizzlies"]
    assert json.loads(market["clobTokenIds"]) == [LAKERS, GRIZZLIES]
    assert json.loads(market["outcomePrices"]) == ["0.42", "0.58"]
    assert (market["bestBid"], market["bestAsk"]) == (Decimal("0.4"), Decimal("0.44"))
    assert market["orderPriceMinTickSize"] == Decimal("0.01") and market["orderMinSize"] == 5
    assert market["feesEnabled"] is True
    assert market["feeSchedule"] == {"rate": Decimal("0.05"), "exponent": 1,
                                     "taker_only": True, "rebate_rate": 0}
    assert market["events"][0]["slug"] == "nba-lal-mem-2026-01-04"
    assert market["conditionId"] == NBA_CID and market["negRisk"] is False


async def test_event_filters(gamma: httpx.AsyncClient) -> None:
    by_slug = await _json(gamma, "/events", slug="epl-ars-che-2026-03-01")
    assert [e["id"] for e in by_slug] == ["200001"]
    assert by_slug[0]["negRisk"] is True and by_slug[0]["markets"][0]["conditionId"] == EPL_CID
    assert by_slug[0]["eventDate"] == "2026-03-01"
    assert len(await _json(gamma, "/events", tag_slug="nba")) == 1
    assert len(await _json(gamma, "/events", tag_id="100639")) == 2
    assert await _json(gamma, "/events", tag_id="100639", closed="true") == []
    assert len(await _json(gamma, "/events", active="true", closed="false", limit=1)) == 1
    assert [e["id"] for e in await _json(gamma, "/events", limit=1, offset=1)] == ["200001"]
    window = await _json(gamma, "/events", end_date_min="2026-01-05T00:00:00Z",
                         end_date_max="2026-01-06T00:00:00Z")
    assert len(window) == 2
    assert await _json(gamma, "/events", end_date_min="2026-01-06") == []
    assert (await _json(gamma, "/events/slug/nba-lal-mem-2026-01-04"))["id"] == "131070"
    assert (await gamma.get("/events/slug/nope")).status_code == 404
    assert (await gamma.get("/events", params={"active": "maybe"})).status_code == 422


async def test_market_lookups(gamma: httpx.AsyncClient, exchange: Exchange) -> None:
    market = await _json(gamma, "/markets/slug/epl-ars-che-2026-03-01-ars")
    assert market["negRiskMarketID"] == "0x" + "d0" * 32 and market["feesEnabled"] is False
    assert [m["slug"] for m in await _json(gamma, "/markets", clob_token_ids=GRIZZLIES)] == [
        "nba-lal-mem-2026-01-04"]
    assert (await gamma.get("/markets/slug/none")).status_code == 404
    exchange.set_accepting_orders(NBA_CID, False)
    [live] = await _json(gamma, "/markets", condition_ids=NBA_CID)
    assert live["acceptingOrders"] is False
