"""The real January 2026 NBA payloads: Gamma parses completely, and every Kalshi game that also
appears in the Gamma file is matched to its moneyline market with the right orientation.

The Kalshi file holds events only (no nested markets). We synthesize each event's two team
markets the way the venue names them: ``{event_ticker}-{CODE}`` for both codes of the sub-title
"HOU at SAC (Jan 11)", with ``yes_sub_title`` the city from the title ("Houston").
"""
from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from arb.discovery.leagues import load_leagues
from arb.discovery.matcher import match
from arb.money import parse_price
from arb.venues.kalshi.catalog import parse_events_page
from arb.venues.polymarket.gamma import loads, parse_events

CATALOG = load_leagues()


@pytest.fixture(scope="module")
def raw_gamma(shared_dir):
    return loads((shared_dir / "data/real/gamma_events_nba_2026-01.json").read_bytes(), what="file")


@pytest.fixture(scope="module")
def raw_kalshi(shared_dir):
    doc = json.loads((shared_dir / "data/real/kalshi_events_nba_2026-01.json").read_text(),
                     parse_float=Decimal)
    for event in doc["events"]:
        codes = event["sub_title"].split(" (")[0].split(" at ")
        cities = event["title"].split(" at ")
        event["markets"] = [
            {"ticker": f"{event['event_ticker']}-{code}", "event_ticker": event["event_ticker"],
             "yes_sub_title": city, "no_sub_title": city, "status": "active"}
            for code, city in zip(codes, cities, strict=True)]
    return doc


def expected_pairs(raw_kalshi, raw_gamma):
    """Derived from the raw JSON only: sub-title codes, Gamma ``eventDate``, slug order."""
    expected = set()
    for event in raw_kalshi["events"]:
        codes = [c.lower() for c in event["sub_title"].split(" (")[0].split(" at ")]
        yymmdd = event["event_ticker"].split("-")[1][:7]
        for gamma_event in raw_gamma:
            slug_codes = gamma_event["slug"].split("-")[1:3]
            same_day = gamma_event["eventDate"] == _date_of(yymmdd)
            if sorted(slug_codes) != sorted(codes) or not same_day:
                continue
            (moneyline,) = [m for m in gamma_event["markets"]
                            if m["sportsMarketType"] == "moneyline"]
            tokens = json.loads(moneyline["clobTokenIds"])
            for code in codes:
                i = slug_codes.index(code)
                expected.add((f"{event['event_ticker']}-{code.upper()}", moneyline["conditionId"],
                              tokens[i], tokens[1 - i]))
    return expected


def _date_of(yymmdd: str) -> str:
    months = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
    return f"20{yymmdd[:2]}-{months.index(yymmdd[2:5]) + 1:02d}-{yymmdd[5:7]}"


def precision_recall(found: set, expected: set) -> tuple[float, float]:
    """Helper the report quotes: share of found pairs that are right, share of right ones found."""
    hits = len(found & expected)
    return (hits / len(found) if found else 1.0, hits / len(expected) if expected else 1.0)


def test_gamma_file_parses_completely(raw_gamma):
    page = parse_events(raw_gamma)
    assert page.problems == ()
    assert len(page.events) == 50
    assert sum(len(e.markets) for e in page.events) == 738
    for raw_event, event in zip(raw_gamma, page.events, strict=True):
        assert event.slug == raw_event["slug"] and "nba" in event.tags
        for raw, market in zip(raw_event["markets"], event.markets, strict=True):
            labels, tokens = json.loads(raw["outcomes"]), json.loads(raw["clobTokenIds"])
            assert [(o.label, o.token_id) for o in market.outcomes] == list(zip(labels, tokens, strict=True))
            assert market.tick == parse_price(str(raw["orderPriceMinTickSize"]))
            assert market.min_order_size == int(raw["orderMinSize"]) * 1_000_000
            assert market.fees.rate == 0  # feesEnabled is false throughout this file
            assert (market.line is None) == (raw.get("line") is None)
            assert market.sports_market_type == raw["sportsMarketType"]
    assert {m.tick for e in page.events for m in e.markets} == {1_000, 10_000}


def test_every_shared_game_matches_its_moneyline_with_the_right_orientation(raw_kalshi, raw_gamma):
    kalshi = parse_events_page(raw_kalshi)
    poly = parse_events(raw_gamma)
    result = match(CATALOG, kalshi.events, poly.events)
    found = {(p.kalshi.ticker, p.poly.condition_id, p.poly.yes_token, p.poly.no_token)
             for p in result.pairs}
    expected = expected_pairs(raw_kalshi, raw_gamma)
    precision, recall = precision_recall(found, expected)
    print(f"real NBA data: {len(found)} pairs, {len(expected)} expected, "
          f"precision {precision:.3f}, recall {recall:.3f}")
    assert len(expected) == 54  # all 27 Kalshi games are in the Gamma file
    assert found == expected
    assert result.unmatched_kalshi == ()
    for pair in result.pairs:
        assert pair.market_type == "moneyline" and pair.league == "nba"
        team = CATALOG.get("nba").teams.by_kalshi(pair.kalshi.ticker.rsplit("-", 1)[1])
        assert pair.poly.yes_label == team.short


def test_no_prop_spread_or_half_is_paired_with_a_game_winner(raw_kalshi, raw_gamma):
    result = match(CATALOG, parse_events_page(raw_kalshi).events, parse_events(raw_gamma).events)
    types = {m["conditionId"]: m["sportsMarketType"] for e in raw_gamma for m in e["markets"]}
    assert {types[p.poly.condition_id] for p in result.pairs} == {"moneyline"}
    reasons = {u.ident: u.reason for u in result.unmatched_poly}
    halves = [m["slug"] for e in raw_gamma for m in e["markets"]
              if m["sportsMarketType"].startswith("first_half") and not m["closed"]]
    assert halves and all("no Kalshi counterpart" in reasons[s] for s in halves)


def test_matching_is_deterministic_and_order_independent(raw_kalshi, raw_gamma):
    kalshi = parse_events_page(raw_kalshi).events
    poly = parse_events(raw_gamma).events
    first = match(CATALOG, kalshi, poly)
    assert match(CATALOG, kalshi, poly) == first
    rng = random.Random(7)
    shuffled_k, shuffled_p = list(kalshi), list(poly)
    rng.shuffle(shuffled_k)
    rng.shuffle(shuffled_p)
    assert match(CATALOG, shuffled_k, shuffled_p) == first
