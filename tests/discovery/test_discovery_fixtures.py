"""Hand-written games built from venues.md's real ticker and slug examples: the traps."""
from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from arb.discovery.cache import PairCache
from arb.discovery.kalshi_grammar import TickerError, parse_event_ticker
from arb.discovery.leagues import load_leagues
from arb.discovery.listings import (
    KalshiEventListing,
    KalshiMarketListing,
    PolyEventListing,
    PolyMarketListing,
    PolyOutcome,
)
from arb.discovery.matcher import match
from arb.discovery.overrides import OverridesError, load_overrides, parse_overrides
from arb.fees import PolyFeeSchedule
from arb.money import CENT, Price, Qty
from arb.pairs import Verdict

CATALOG = load_leagues()
US_POLY_RULES = ("If the game is postponed, this market will remain open until the game has "
                 "been completed. If the game is canceled entirely, with no make-up game, this "
                 "market will resolve 50-50. The result will be determined based on the final "
                 "score including any overtime periods.")
US_KALSHI_RULES = ("If the game is postponed, the market will remain open until the game has been "
                   "played. If the game is canceled, the market resolves 50-50. Includes overtime.")
SOCCER_RULES = ("Settles on the result after regulation time (90 minutes plus stoppage time). If "
                "the match is postponed, the market will remain open until the match is played. "
                "If the match is canceled, the market will resolve to No.")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def k_market(ticker: str, yes: str = "", *, rules: str = US_KALSHI_RULES, status: str = "active",
             strike: str | None = None, expiry: str | None = None) -> KalshiMarketListing:
    return KalshiMarketListing(ticker=ticker, event_ticker=ticker.rsplit("-", 1)[0]
                               if not ticker.endswith("-M-OH") else ticker[:-5],
                               yes_sub_title=yes, no_sub_title=yes, status=status,
                               rules_primary=rules, floor_strike=strike,
                               expected_expiration_time=utc(expiry) if expiry else None)


def k_event(event_ticker: str, title: str, markets, sub_title: str = "") -> KalshiEventListing:
    return KalshiEventListing(event_ticker, event_ticker.split("-")[0], title, sub_title,
                              tuple(markets))


_token_seq = iter(range(10**6, 10**7))


def p_market(slug: str, outcomes: tuple[str, str], *, kind: str = "moneyline",
             start: str = "2026-01-10T03:30:00", question: str = "", rules: str = US_POLY_RULES,
             line: str | None = None, other: bool = False, neg_risk: bool = False,
             closed: bool = False) -> PolyMarketListing:
    tokens = (str(next(_token_seq)), str(next(_token_seq)))
    return PolyMarketListing(
        condition_id="0x" + format(abs(hash(slug)), "064x")[-64:], slug=slug, question=question,
        description=rules,
        outcomes=(PolyOutcome(outcomes[0], tokens[0]), PolyOutcome(outcomes[1], tokens[1])),
        sports_market_type=kind, game_start_time=utc(start), tick=Price(CENT),
        min_order_size=Qty(5_000_000), fees=PolyFeeSchedule(50_000), neg_risk=neg_risk,
        neg_risk_other=other, line=line, closed=closed)


def p_event(slug: str, markets, tags=("sports",)) -> PolyEventListing:
    return PolyEventListing(id=slug, slug=slug, title=slug, tags=tuple(tags), markets=tuple(markets))


def token(market: PolyMarketListing, label: str) -> str:
    return market.outcome(label).token_id


def by_ticker(result):
    return {p.kalshi.ticker: p for p in result.pairs}


def unmatched(result, ident):
    found = [u.reason for u in (*result.unmatched_kalshi, *result.unmatched_poly) if u.ident == ident]
    assert found, f"{ident} not reported"
    return found[0]


def test_outcome_order_decides_nothing_labels_decide_orientation():
    # Home team listed first and tokens in that order: clobTokenIds[0] is the Lakers, not "YES".
    ml = p_market("nba-mil-lal-2026-01-09", ("Lakers", "Bucks"))
    kalshi = k_event("KXNBAGAME-26JAN09MILLAL", "Milwaukee at Los Angeles L", [
        k_market("KXNBAGAME-26JAN09MILLAL-MIL", "Milwaukee"),
        k_market("KXNBAGAME-26JAN09MILLAL-LAL", "Los Angeles L")])
    pairs = by_ticker(match(CATALOG, [kalshi], [p_event("nba-mil-lal-2026-01-09", [ml])]))
    mil, lal = pairs["KXNBAGAME-26JAN09MILLAL-MIL"], pairs["KXNBAGAME-26JAN09MILLAL-LAL"]
    assert (mil.poly.yes_token, mil.poly.no_token) == (token(ml, "Bucks"), token(ml, "Lakers"))
    assert (lal.poly.yes_token, lal.poly.no_token) == (token(ml, "Lakers"), token(ml, "Bucks"))
    assert lal.poly.yes_label == "Lakers" and lal.verdict is Verdict.EQUIVALENT
    assert lal.event_key == mil.event_key == "nba:2026-01-09:MIL-LAL"
    assert lal.kalshi.fees.fee_type == "quadratic" and lal.poly.fees.rate == 50_000


def test_slug_date_a_day_off_still_matches_on_start_time():
    # A 22:30 ET Jan 9 game: gameStartTime is Jan 10 UTC, and this slug carries the UTC date.
    ml = p_market("nba-mil-lal-2026-01-10", ("Bucks", "Lakers"), start="2026-01-10T03:30:00")
    kalshi = k_event("KXNBAGAME-26JAN09MILLAL", "Milwaukee at Los Angeles L",
                     [k_market("KXNBAGAME-26JAN09MILLAL-LAL", "Los Angeles L")])
    result = match(CATALOG, [kalshi], [p_event("nba-mil-lal-2026-01-10", [ml])])
    assert [p.poly.condition_id for p in result.pairs] == [ml.condition_id]


def test_back_to_back_games_pick_the_right_day():
    day1 = p_market("nba-phi-tor-2026-01-11", ("76ers", "Raptors"), start="2026-01-11T23:00:00")
    day2 = p_market("nba-phi-tor-2026-01-12", ("76ers", "Raptors"), start="2026-01-13T00:30:00")
    kalshi = k_event("KXNBAGAME-26JAN11PHITOR", "Philadelphia at Toronto",
                     [k_market("KXNBAGAME-26JAN11PHITOR-TOR", "Toronto")])
    result = match(CATALOG, [kalshi], [p_event("nba-phi-tor-2026-01-11", [day1]),
                                       p_event("nba-phi-tor-2026-01-12", [day2])])
    assert [p.poly.condition_id for p in result.pairs] == [day1.condition_id]
    assert "no open Kalshi event" not in unmatched(result, day2.slug)


def test_wrong_day_is_refused_and_says_where_the_game_is():
    ml = p_market("nba-mil-lal-2026-01-12", ("Bucks", "Lakers"), start="2026-01-13T03:30:00")
    kalshi = k_event("KXNBAGAME-26JAN09MILLAL", "Milwaukee at Los Angeles L",
                     [k_market("KXNBAGAME-26JAN09MILLAL-LAL", "Los Angeles L")])
    result = match(CATALOG, [kalshi], [p_event("nba-mil-lal-2026-01-12", [ml])])
    assert result.pairs == ()
    reason = unmatched(result, "KXNBAGAME-26JAN09MILLAL-LAL")
    assert "no Polymarket game" in reason and "nba-mil-lal-2026-01-12 starts 2026-01-13 03:30Z" in reason


def soccer_event(draw_suffix: str = "DRAW", *, kalshi_rules: str = SOCCER_RULES,
                 poly_rules: str = SOCCER_RULES, other: bool = False):
    ev = "KXEPLGAME-26AUG01ARSCHE"
    kalshi = k_event(ev, "Reg Time: Arsenal vs Chelsea", [
        k_market(f"{ev}-ARS", "Arsenal", rules=kalshi_rules),
        k_market(f"{ev}-CHE", "Chelsea", rules=kalshi_rules),
        k_market(f"{ev}-{draw_suffix}", "Tie", rules=kalshi_rules)])
    slug = "epl-ars-che-2026-08-01"
    start = "2026-08-01T16:30:00"
    markets = [
        p_market(f"{slug}-ars", ("Yes", "No"), question="Will Arsenal FC win on 2026-08-01?",
                 start=start, rules=poly_rules, neg_risk=True),
        p_market(f"{slug}-draw", ("No", "Yes"),
                 question="Will Arsenal FC vs. Chelsea FC end in a draw?", start=start,
                 rules=poly_rules, neg_risk=True),
        p_market(f"{slug}-che", ("No", "Yes"), question="Will Chelsea FC win on 2026-08-01?",
                 start=start, rules=poly_rules, neg_risk=True)]
    if other:
        markets.append(p_market(f"{slug}-other", ("Yes", "No"), question="Other", start=start,
                                rules=poly_rules, neg_risk=True, other=True))
    return kalshi, p_event(slug, markets), markets


@pytest.mark.parametrize("draw_suffix", ["DRAW", "TIE"])
def test_soccer_maps_team_no_to_the_same_markets_no_and_draw_to_draw(draw_suffix):
    kalshi, poly, (ars, draw, che) = soccer_event(draw_suffix)
    pairs = by_ticker(match(CATALOG, [kalshi], [poly]))
    ev = "KXEPLGAME-26AUG01ARSCHE"
    assert (pairs[f"{ev}-ARS"].poly.yes_token, pairs[f"{ev}-ARS"].poly.no_token) == (
        token(ars, "Yes"), token(ars, "No"))  # NOT the Chelsea token: draws exist
    assert (pairs[f"{ev}-CHE"].poly.yes_token, pairs[f"{ev}-CHE"].poly.no_token) == (
        token(che, "Yes"), token(che, "No"))  # outcomes listed No-first: still by label
    drawn = pairs[f"{ev}-{draw_suffix}"]
    assert drawn.market_type == "draw"
    assert (drawn.poly.yes_token, drawn.poly.no_token) == (token(draw, "Yes"), token(draw, "No"))
    assert {p.verdict for p in pairs.values()} == {Verdict.EQUIVALENT}
    assert all(p.poly.neg_risk for p in pairs.values())


def test_neg_risk_other_is_never_paired():
    kalshi, poly, markets = soccer_event(other=True)
    result = match(CATALOG, [kalshi], [poly])
    assert len(result.pairs) == 3
    assert "Other" in unmatched(result, "epl-ars-che-2026-08-01-other")


def test_la_liga_tie_suffix_from_a_real_2025_ticker():
    ev = "KXLALIGAGAME-25DEC08OSALEV"
    kalshi = k_event(ev, "Reg Time: Osasuna vs Levante",
                     [k_market(f"{ev}-TIE", "Tie", rules=SOCCER_RULES)])
    draw = p_market("lal-osa-lev-2025-12-08-draw", ("Yes", "No"), start="2025-12-08T20:00:00",
                    question="Will CA Osasuna vs. Levante UD end in a draw?", rules=SOCCER_RULES)
    result = match(CATALOG, [kalshi], [p_event("lal-osa-lev-2025-12-08", [draw])])
    assert [(p.kalshi.ticker, p.market_type) for p in result.pairs] == [(f"{ev}-TIE", "draw")]


def test_soccer_extra_time_versus_regulation_is_rejected():
    kalshi, poly, _ = soccer_event(poly_rules="Includes extra time and overtime is included.")
    result = match(CATALOG, [kalshi], [poly])
    assert {p.verdict for p in result.pairs} == {Verdict.REJECT}
    assert not any(p.tradable for p in result.pairs)


NFL_EV = "KXNFLGAME-26SEP13TENNE"


def nfl_game(kalshi_rules: str, poly_rules: str, labels=("Titans", "Patriots")):
    kalshi = k_event(NFL_EV, "Tennessee at New England", [
        k_market(f"{NFL_EV}-TEN", "Tennessee", rules=kalshi_rules),
        k_market(f"{NFL_EV}-NE", "New England", rules=kalshi_rules)])
    ml = p_market("nfl-ten-ne-2026-09-13", labels, start="2026-09-13T17:00:00", rules=poly_rules)
    return kalshi, p_event("nfl-ten-ne-2026-09-13", [ml]), ml


def test_nfl_tie_policy_mismatch_is_basis_risk_and_not_tradable():
    kalshi_rules = US_KALSHI_RULES + " If the game ends in a tie, the market resolves to No."
    poly_rules = US_POLY_RULES + " If the game ends in a tie, this market will resolve 50-50."
    kalshi, poly, ml = nfl_game(kalshi_rules, poly_rules)
    pairs = by_ticker(match(CATALOG, [kalshi], [poly]))
    ten = pairs[f"{NFL_EV}-TEN"]
    assert ten.verdict is Verdict.BASIS_RISK and not ten.tradable
    assert "tie: Kalshi no [rules text] vs Polymarket fifty_fifty [rules text]" in ten.reason
    assert ten.poly.yes_token == token(ml, "Titans")  # "Tennessee" is the Titans, never the Patriots


def test_nfl_same_tie_policy_is_equivalent():
    tie = " If the game ends in a tie, the market will resolve 50-50."
    kalshi, poly, _ = nfl_game(US_KALSHI_RULES + tie, US_POLY_RULES + tie)
    assert {p.verdict for p in match(CATALOG, [kalshi], [poly]).pairs} == {Verdict.EQUIVALENT}


def test_nfl_silent_tie_rules_fall_back_to_league_facts_and_are_flagged():
    kalshi, poly, _ = nfl_game("", US_POLY_RULES)
    (ten, _) = match(CATALOG, [kalshi], [poly]).pairs
    assert ten.verdict is Verdict.BASIS_RISK
    assert "league default, unverified" in ten.reason


def test_ambiguous_city_labels_are_refused_not_guessed():
    kalshi, poly, ml = nfl_game(US_KALSHI_RULES, US_POLY_RULES, labels=("New York", "Patriots"))
    result = match(CATALOG, [kalshi], [poly])
    assert result.pairs == ()
    assert "do not resolve" in unmatched(result, ml.slug)


def test_ohio_state_never_becomes_golden_state():
    ml = p_market("nba-gsw-sac-2026-01-09", ("Ohio State", "Kings"), start="2026-01-10T03:00:00")
    kalshi = k_event("KXNBAGAME-26JAN09SACGSW", "Sacramento at Golden State",
                     [k_market("KXNBAGAME-26JAN09SACGSW-GSW", "Golden State")])
    result = match(CATALOG, [kalshi], [p_event("nba-gsw-sac-2026-01-09", [ml])])
    assert result.pairs == ()
    cfb = CATALOG.get("cfb")
    assert cfb.teams.by_label("Ohio State").kalshi == "OSU"


def test_new_york_title_is_confirmed_through_yes_sub_title():
    ev = "KXNFLGAME-26SEP21NYGLAR"
    kalshi = k_event(ev, "New York at Los Angeles", [k_market(f"{ev}-NYG", "New York G")])
    ml = p_market("nfl-nyg-lar-2026-09-21", ("Giants", "Rams"), start="2026-09-21T20:25:00")
    result = match(CATALOG, [kalshi], [p_event("nfl-nyg-lar-2026-09-21", [ml])])
    assert by_ticker(result)[f"{ev}-NYG"].poly.yes_token == token(ml, "Giants")
    unconfirmed = k_event(ev, "New York at Los Angeles", [k_market(f"{ev}-NYG", "New York")])
    result = match(CATALOG, [unconfirmed], [p_event("nfl-nyg-lar-2026-09-21", [ml])])
    assert "teams unconfirmed" in unmatched(result, f"{ev}-NYG")


def test_yes_sub_title_contradicting_the_ticker_is_refused():
    kalshi = k_event("KXNBAGAME-26JAN09MILLAL", "Milwaukee at Los Angeles L",
                     [k_market("KXNBAGAME-26JAN09MILLAL-LAL", "Milwaukee")])
    ml = p_market("nba-mil-lal-2026-01-09", ("Bucks", "Lakers"))
    result = match(CATALOG, [kalshi], [p_event("nba-mil-lal-2026-01-09", [ml])])
    assert result.pairs == ()
    assert "yes_sub_title 'Milwaukee' is Milwaukee Bucks" in unmatched(
        result, "KXNBAGAME-26JAN09MILLAL-LAL")


def test_title_naming_other_teams_refuses_the_event():
    kalshi = k_event("KXNBAGAME-26JAN09MILLAL", "Boston at Los Angeles L",
                     [k_market("KXNBAGAME-26JAN09MILLAL-LAL", "Los Angeles L")])
    ml = p_market("nba-mil-lal-2026-01-09", ("Bucks", "Lakers"))
    result = match(CATALOG, [kalshi], [p_event("nba-mil-lal-2026-01-09", [ml])])
    assert result.pairs == () and "names Boston Celtics, ticker says" in unmatched(
        result, "KXNBAGAME-26JAN09MILLAL-LAL")
    half_known = k_event("KXNBAGAME-26JAN09MILLAL", "Boston at Somewhere",
                         [k_market("KXNBAGAME-26JAN09MILLAL-LAL", "Los Angeles L")])
    result = match(CATALOG, [half_known], [p_event("nba-mil-lal-2026-01-09", [ml])])
    assert result.pairs == () and "Boston Celtics" in unmatched(result, "KXNBAGAME-26JAN09MILLAL-LAL")


def test_regulation_only_hockey_market_is_rejected_against_overtime():
    ev = "KXNHLGAME-26OCT03NJNYI"
    kalshi = k_event(ev, "New Jersey at New York I",
                     [k_market(f"{ev}-NJ", "New Jersey", rules="Settles on regulation time only.")])
    ml = p_market("nhl-njd-nyi-2026-10-03", ("Devils", "Islanders"), start="2026-10-03T23:00:00")
    (pair,) = match(CATALOG, [kalshi], [p_event("nhl-njd-nyi-2026-10-03", [ml])]).pairs
    assert pair.verdict is Verdict.REJECT and "regulation time" in pair.reason


def test_totals_match_on_equal_lines_only():
    ev = "KXNBATOTAL-26APR10CLEATL"
    over_218 = k_market(f"{ev}-219", strike="218.5")
    kalshi = k_event(ev, "Cleveland at Atlanta: Total Points", [over_218])
    total = p_market("nba-cle-atl-2026-04-10-total-218pt5", ("Over", "Under"), kind="totals",
                     line="218.5", start="2026-04-10T23:30:00")
    other = p_market("nba-cle-atl-2026-04-10-total-221pt5", ("Under", "Over"), kind="totals",
                     line="221.5", start="2026-04-10T23:30:00")
    result = match(CATALOG, [kalshi], [p_event("nba-cle-atl-2026-04-10", [total])])
    (pair,) = result.pairs
    assert pair.market_type == "total"
    assert (pair.poly.yes_token, pair.poly.no_token) == (token(total, "Over"), token(total, "Under"))
    result = match(CATALOG, [kalshi], [p_event("nba-cle-atl-2026-04-10", [other])])
    assert result.pairs == () and "line differs" in unmatched(result, f"{ev}-219")


def test_spreads_match_favourite_and_line():
    ev = "KXNBASPREAD-26JAN04MEMLAL"
    lakers_by_4 = k_market(f"{ev}-LAL3", strike="3.5")
    grizzlies = k_market(f"{ev}-MEM3", strike="3.5")
    kalshi = k_event(ev, "Memphis at Los Angeles L: Spread", [lakers_by_4, grizzlies])
    spread = p_market("nba-mem-lal-2026-01-04-spread-home-3pt5", ("Lakers", "Grizzlies"),
                      kind="spreads", line="-3.5", question="Spread: Lakers (-3.5)",
                      start="2026-01-05T02:30:00")
    result = match(CATALOG, [kalshi], [p_event("nba-mem-lal-2026-01-04", [spread])])
    (pair,) = result.pairs
    assert (pair.kalshi.ticker, pair.market_type) == (f"{ev}-LAL3", "spread")
    assert (pair.poly.yes_token, pair.poly.no_token) == (token(spread, "Lakers"),
                                                         token(spread, "Grizzlies"))
    assert "no Polymarket market" in unmatched(result, f"{ev}-MEM3")


def test_kalshi_occurrence_far_from_the_start_is_refused():
    market = attrs.evolve(k_market("KXNBAGAME-26JAN09MILLAL-LAL", "Los Angeles L"),
                          occurrence_datetime=utc("2026-01-09T12:00:00"))
    kalshi = k_event("KXNBAGAME-26JAN09MILLAL", "Milwaukee at Los Angeles L", [market])
    ml = p_market("nba-mil-lal-2026-01-09", ("Bucks", "Lakers"))
    assert match(CATALOG, [kalshi], [p_event("nba-mil-lal-2026-01-09", [ml])]).pairs == ()
    near = attrs.evolve(market, occurrence_datetime=utc("2026-01-10T06:00:00"))
    kalshi = k_event("KXNBAGAME-26JAN09MILLAL", "Milwaukee at Los Angeles L", [near])
    assert len(match(CATALOG, [kalshi], [p_event("nba-mil-lal-2026-01-09", [ml])]).pairs) == 1


def test_kalshi_expected_expiration_before_the_start_is_refused():
    kalshi = k_event("KXNBAGAME-26JAN09MILLAL", "Milwaukee at Los Angeles L",
                     [k_market("KXNBAGAME-26JAN09MILLAL-LAL", "Los Angeles L",
                               expiry="2026-01-10T01:00:00")])
    ml = p_market("nba-mil-lal-2026-01-09", ("Bucks", "Lakers"))
    assert match(CATALOG, [kalshi], [p_event("nba-mil-lal-2026-01-09", [ml])]).pairs == ()


def test_closed_markets_are_reported_as_ended():
    kalshi = k_event("KXNBAGAME-26JAN09MILLAL", "Milwaukee at Los Angeles L",
                     [k_market("KXNBAGAME-26JAN09MILLAL-LAL", "Los Angeles L", status="finalized")])
    ml = p_market("nba-mil-lal-2026-01-09", ("Bucks", "Lakers"), closed=True)
    result = match(CATALOG, [kalshi], [p_event("nba-mil-lal-2026-01-09", [ml])])
    assert result.ended == {"KXNBAGAME-26JAN09MILLAL-LAL", ml.condition_id}


@pytest.mark.parametrize("ticker", ["KXNBAGAME-26JAN09MILLAX", "KXNBAGAME-26JAX09MILLAL",
                                    "KXNOPE-26JAN09MILLAL", "KXNBAGAME-26JAN09LAL"])
def test_bad_tickers_are_refused_with_a_reason(ticker):
    with pytest.raises(TickerError, match="kalshi event"):
        parse_event_ticker(ticker, CATALOG)


def test_mlb_ticker_with_start_time_uses_a_narrow_window():
    parsed = parse_event_ticker("KXMLBGAME-26APR291840SFPHI", CATALOG)
    low, high = parsed.start_window()
    assert (low, high) == (utc("2026-04-29T20:40:00"), utc("2026-04-30T00:40:00"))
    assert (parsed.first.name, parsed.second.name) == ("San Francisco Giants", "Philadelphia Phillies")


def test_overrides_force_and_accept_by_league(tmp_path):
    kalshi, poly, _ = nfl_game("", US_POLY_RULES)
    base = match(CATALOG, [kalshi], [poly])
    ten_id = by_ticker(base)[f"{NFL_EV}-TEN"].pair_id
    ne_id = by_ticker(base)[f"{NFL_EV}-NE"].pair_id
    path = tmp_path / "overrides.toml"
    path.write_text(f'[[force_accept]]\npair_id = "{ten_id}"\nnote = "checked"\n'
                    f'[[force_reject]]\npair_id = "{ne_id}"\n')
    pairs = by_ticker(match(CATALOG, [kalshi], [poly], overrides=load_overrides(path)))
    assert pairs[f"{NFL_EV}-TEN"].tradable and "forced accept" in pairs[f"{NFL_EV}-TEN"].reason
    assert pairs[f"{NFL_EV}-NE"].verdict is Verdict.REJECT
    league_wide = parse_overrides({"accept_basis_risk": [
        {"league": "nfl", "kinds": ["tie", "postponement", "cancellation"]}]})
    assert all(p.tradable for p in match(CATALOG, [kalshi], [poly], overrides=league_wide).pairs)
    only_tie = parse_overrides({"accept_basis_risk": [{"league": "nfl", "kinds": ["tie"]}]})
    assert not any(p.tradable for p in match(CATALOG, [kalshi], [poly], overrides=only_tie).pairs)
    with pytest.raises(OverridesError, match="kinds"):
        parse_overrides({"accept_basis_risk": [{"league": "nfl", "kinds": ["weather"]}]})
    with pytest.raises(OverridesError, match="unknown keys"):
        parse_overrides({"force_acept": []})


def test_cache_diff_reports_added_changed_and_removed_with_reasons():
    kalshi, poly, ml = soccer_event()
    cache = PairCache(ttl=60.0)
    assert cache.is_stale(0.0)
    first = match(CATALOG, [kalshi], [poly])
    diff = cache.refresh(first, now=0.0)
    assert len(diff.added) == 3 and not diff.removed and not cache.is_stale(59.0)
    assert cache.is_stale(60.0)
    assert cache.refresh(first, now=60.0).empty
    ev = "KXEPLGAME-26AUG01ARSCHE"
    settled = k_event(ev, kalshi.title, [
        kalshi.markets[0], k_market(f"{ev}-CHE", "Chelsea", rules=SOCCER_RULES, status="finalized")])
    changed_rules = [p_market(m.slug, tuple(o.label for o in m.outcomes), question=m.question,
                              start="2026-08-01T16:30:00", rules="Includes extra time.")
                     if m.slug.endswith("-ars") else m for m in poly.markets]
    diff = cache.refresh(match(CATALOG, [settled], [p_event(poly.slug, changed_rules)]), now=61.0)
    assert [r.pair.kalshi.ticker for r in diff.removed] == [f"{ev}-CHE", f"{ev}-DRAW"]
    assert "closed or settled" in diff.removed[0].reason
    assert "no longer" in diff.removed[1].reason
    assert diff.added == ()
    assert [(p.kalshi.ticker, p.verdict) for p in diff.changed] == [(f"{ev}-ARS", Verdict.REJECT)]
    assert PairCache(ttl=1).pairs == ()
    with pytest.raises(ValueError):
        PairCache(ttl=0)
