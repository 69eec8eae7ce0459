from collections import Counter
from datetime import UTC, datetime

from arb.discovery.leagues import load_leagues
from arb.sim.slate import DEFAULT_LEAGUES, build_slate

NOW = datetime(2026, 11, 25, 14, tzinfo=UTC)


def test_same_seed_same_slate_and_different_seed_differs():
    assert build_slate(7, now=NOW) == build_slate(7, now=NOW)
    assert build_slate(7, now=NOW) != build_slate(8, now=NOW)


def test_every_kalshi_market_has_exactly_one_truth_pair():
    slate = build_slate(3, now=NOW)
    tickers = [m.ticker for e in slate.kalshi_events for m in e.markets]
    assert Counter(p.kalshi_ticker for p in slate.pairs) == Counter(tickers)
    assert len(set(tickers)) == len(tickers)


def test_truth_tokens_exist_and_orientation_follows_labels():
    slate = build_slate(3, now=NOW)
    catalog = load_leagues()
    tokens = {t.token_id: (m, t) for e in slate.poly_events for m in e.markets for t in m.tokens}
    assert len(tokens) == sum(2 for e in slate.poly_events for m in e.markets)
    kalshi = {m.ticker: (e, m) for e in slate.kalshi_events for m in e.markets}
    for pair in slate.pairs:
        market, yes = tokens[pair.yes_token]
        _, no = tokens[pair.no_token]
        assert market.condition_id == pair.condition_id
        assert {yes.token_id, no.token_id} == {t.token_id for t in market.tokens}
        event, kmarket = kalshi[pair.kalshi_ticker]
        league = next(lg for lg in catalog if lg.series_for("moneyline") == event.series_ticker)
        if league.draws:
            assert (yes.outcome, no.outcome) == ("Yes", "No")
        else:
            team = league.teams.by_label(kmarket.yes_sub_title)
            assert team is not None and yes.outcome == team.short


def test_hard_cases_are_present():
    slate = build_slate(1, now=NOW)
    games = {g.hard_case: g for g in slate.games}
    slug_date = games["slug_date"]
    assert slug_date.start.date().isoformat() not in slug_date.poly_slug
    suffixes = {m.ticker.rsplit("-", 1)[1] for e in slate.kalshi_events for m in e.markets}
    assert {"TIE", "DRAW"} <= suffixes
    assert any(p.verdict == "basis_risk" for p in slate.pairs)
    reasons = {d.reason for d in slate.decoys}
    assert any("first-half" in r for r in reasons) and any("three days later" in r for r in reasons)
    bayern = load_leagues().get("bundesliga").teams.by_kalshi("BMU")
    assert bayern.kalshi != bayern.poly.upper()
    assert any("BMU" in e.event_ticker for e in slate.kalshi_events)
    order = games["outcome_order"]
    event = next(e for e in slate.poly_events if e.slug == order.poly_slug)
    assert event.markets[0].tokens[0].outcome == order.home.short


def test_all_default_leagues_listed_with_realistic_names():
    slate = build_slate(1, now=NOW)
    assert {g.league for g in slate.games} == set(DEFAULT_LEAGUES)
    for event in slate.kalshi_events:
        assert event.event_ticker.startswith(event.series_ticker + "-")
        assert " at " in event.title or event.title.startswith("Reg Time: ")
    for event in slate.poly_events:
        assert event.slug.split("-")[-3].isdigit()
        assert all(m.game_start_time.tzinfo is not None for m in event.markets)
