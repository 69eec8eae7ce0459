"""Regression: the team-code table never loaded (wrong JSON key), and event tickers split by
string length, which mangled ``LAL``, ``NYK`` and ``NOP`` (and any league mixing 2- and
3-letter codes).

The real grammar parses a game ticker for every ordered pair of teams of every league in the
shipped tables, plus the named NBA cases, and must give back exactly the two teams.
"""
from __future__ import annotations

import pytest

from arb.discovery.kalshi_grammar import TickerError, parse_event_ticker
from arb.discovery.leagues import load_leagues

CATALOG = load_leagues()


def test_shipped_tables_load_real_teams() -> None:
    nba = CATALOG.get("nba").teams
    assert len(nba.teams) == 30
    assert {nba.by_kalshi(c).name for c in ("LAL", "NYK", "NOP")} == {
        "Los Angeles Lakers", "New York Knicks", "New Orleans Pelicans"}


@pytest.mark.parametrize(("teams", "first", "second"), [
    ("NOPLAL", "NOP", "LAL"), ("LALNYK", "LAL", "NYK"), ("NYKNOP", "NYK", "NOP"),
    ("NOPNYK", "NOP", "NYK"), ("MILLAL", "MIL", "LAL")])
def test_named_nba_tickers_split_on_the_table(teams, first, second) -> None:
    event = parse_event_ticker(f"KXNBAGAME-26JAN09{teams}", CATALOG)
    assert (event.first.kalshi, event.second.kalshi) == (first, second)


@pytest.mark.parametrize("league", list(CATALOG),
                         ids=lambda lg: lg.key)
def test_every_ordered_pair_of_teams_round_trips_through_the_grammar(league) -> None:
    series = league.series_for("moneyline")
    teams = league.teams.teams
    assert len(teams) >= 12, league.key
    for a in teams:
        for b in teams:
            if a is b:
                continue
            event = parse_event_ticker(f"{series}-26JAN09{a.kalshi}{b.kalshi}", CATALOG)
            assert (event.first.key, event.second.key) == (a.key, b.key), (league.key, a, b)


def test_unknown_code_is_refused_not_guessed() -> None:
    with pytest.raises(TickerError, match="splits into known nba codes in 0 ways"):
        parse_event_ticker("KXNBAGAME-26JAN09LALXYZ", CATALOG)
