"""League and team tables: complete, and every team resolves both ways, uniquely."""
from __future__ import annotations

import json

import pytest

from arb.discovery.leagues import LeagueDataError, load_leagues
from arb.discovery.teams import Team, TeamTable, TeamTableError, load_team_table

CATALOG = load_leagues()

DESIGN_LEAGUES = {
    # design.md section 1 -> (our key, minimum team count)
    "NBA": ("nba", 30), "NFL": ("nfl", 32), "college football": ("cfb", 68), "NHL": ("nhl", 32),
    "MLB": ("mlb", 30), "EPL": ("epl", 20), "La Liga": ("laliga", 20), "Bundesliga": ("bundesliga", 18),
    "Serie A": ("seriea", 20), "Ligue 1": ("ligue1", 18), "Champions League": ("ucl", 36),
    "Europa League": ("uel", 36), "MLS": ("mls", 30), "EFL Championship": ("efl", 24),
    "college basketball": ("cbb", 68),
}
POLY_PREFIXES = {"nba": "nba", "nfl": "nfl", "cfb": "cfb", "nhl": "nhl", "mlb": "mlb", "epl": "epl",
                 "laliga": "lal", "bundesliga": "bun", "seriea": "sea", "ligue1": "fl1", "ucl": "ucl",
                 "uel": "uel", "mls": "mls", "efl": "elc", "cbb": "cbb"}


def test_every_design_league_is_listed_with_its_teams():
    keys = {lg.key for lg in CATALOG}
    assert keys == {key for key, _ in DESIGN_LEAGUES.values()}
    for label, (key, minimum) in DESIGN_LEAGUES.items():
        league = CATALOG.get(key)
        assert len(league.teams.teams) >= minimum, (label, len(league.teams.teams))
        assert league.poly_prefix == POLY_PREFIXES[key]
        assert league.series_for("moneyline").startswith("KX")
        assert league.draws == (league.sport == "soccer")
        assert league.rules.regulation_time_only == league.draws


def test_exact_team_counts_of_fixed_size_leagues():
    sizes = {lg.key: len(lg.teams.teams) for lg in CATALOG}
    assert sizes["nba"] == 30 and sizes["nfl"] == 32 and sizes["nhl"] == 32 and sizes["mlb"] == 30
    assert sizes["epl"] == 20 and sizes["seriea"] == 20 and sizes["bundesliga"] == 18
    assert sizes["ligue1"] == 18 and sizes["efl"] == 24 and sizes["mls"] == 30


@pytest.mark.parametrize("league", CATALOG.leagues, ids=lambda lg: lg.key)
def test_every_team_resolves_both_ways_uniquely(league):
    table = league.teams
    for team in table.teams:
        for code in team.kalshi_codes:
            assert table.by_kalshi(code) is team
        for code in team.poly_codes:
            assert table.by_poly(code) is team
            assert table.by_poly(code.upper()) is team
        for label in team.labels:
            assert table.by_label(label) is team, label
            assert table.by_label(label.upper()) is team
    assert len({t.kalshi for t in table.teams}) == len(table.teams)
    assert len({t.poly for t in table.teams}) == len(table.teams)


@pytest.mark.parametrize("league", CATALOG.leagues, ids=lambda lg: lg.key)
def test_every_pair_of_kalshi_codes_splits_one_way_only(league):
    codes = league.teams.kalshi_codes
    for a in codes:
        for b in codes:
            joined = a + b
            splits = [(joined[:i], joined[i:]) for i in range(1, len(joined))
                      if joined[:i] in codes and joined[i:] in codes]
            assert splits == [(a, b)], (league.key, joined, splits)


def test_series_and_prefixes_belong_to_one_league():
    assert CATALOG.by_series("KXNBAGAME")[0].key == "nba"
    assert CATALOG.by_series("KXEPLBTTS") == (CATALOG.get("epl"), "btts")
    assert CATALOG.by_series("KXNBATOTAL") == (CATALOG.get("nba"), "total")
    assert CATALOG.by_series("KXNOPE") is None
    assert CATALOG.by_poly_prefix("bun").key == "bundesliga"


def test_name_traps_do_not_resolve_across_teams():
    nfl, nba, cfb = (CATALOG.get(k).teams for k in ("nfl", "nba", "cfb"))
    assert nfl.by_label("Tennessee").key == "TEN"
    assert nfl.by_label("New Orleans").key == "NO"
    assert nfl.by_label("New York") is None  # Giants or Jets: ambiguous, so nothing
    assert nba.by_label("New York").key == "NYK"
    assert nba.by_label("Tennessee") is None
    assert nba.by_label("Ohio State") is None
    assert nba.by_label("Golden State").key == "GSW"
    assert cfb.by_label("Ohio State").key == "OSU"
    assert cfb.by_label("Tennessee").key == "TENN"
    assert nfl.by_label("Patriots").key == "NE"
    assert nfl.by_label("Pats") is None


def test_bundesliga_codes_differ_per_venue():
    bun = CATALOG.get("bundesliga").teams
    assert bun.by_kalshi("BMU") is bun.by_poly("bay")
    assert bun.by_kalshi("BVB") is bun.by_poly("dor")
    assert bun.by_kalshi("BMU").verified


def test_real_kalshi_and_gamma_nba_labels_resolve(shared_dir):
    nba = CATALOG.get("nba").teams
    kalshi = json.loads((shared_dir / "data/real/kalshi_events_nba_2026-01.json").read_text())
    for event in kalshi["events"]:
        away_code, home_code = event["sub_title"].split(" (")[0].split(" at ")
        away_city, home_city = event["title"].split(" at ")
        assert nba.by_kalshi(away_code) is nba.by_label(away_city) is not None
        assert nba.by_kalshi(home_code) is nba.by_label(home_city) is not None
    gamma = json.loads((shared_dir / "data/real/gamma_events_nba_2026-01.json").read_text())
    for event in gamma:
        codes = event["slug"].split("-")[1:3]
        moneyline = [m for m in event["markets"] if m["sportsMarketType"] == "moneyline"]
        outcomes = json.loads(moneyline[0]["outcomes"])
        assert [nba.by_poly(c) for c in codes] == [nba.by_label(o) for o in outcomes]
        assert all(nba.by_poly(c).verified for c in codes)


def test_collision_is_refused_with_both_team_names(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"league": "x", "teams": [
        {"key": "A", "name": "Alpha", "short": "Al", "kalshi": "AA", "poly": "aa"},
        {"key": "B", "name": "Beta", "short": "Be", "kalshi": "BB", "poly": "bb", "aliases": ["alpha"]},
    ]}))
    with pytest.raises(TeamTableError, match="label 'alpha' of B \\(Beta\\) is already used by A"):
        load_team_table(path)


def test_malformed_team_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"league": "x", "teams": [
        {"key": "A", "name": "Alpha", "short": "Al", "kalshi": "aa", "poly": "aa"}]}))
    with pytest.raises(TeamTableError, match="kalshi code 'aa' must be upper case"):
        load_team_table(path)
    with pytest.raises(TeamTableError, match="already used"):
        TeamTable.build("x", (Team("A", "A", "A", "AA", "aa"), Team("B", "B", "B", "AA", "bb")))


def test_missing_team_file_names_the_league(tmp_path):
    (tmp_path / "leagues.json").write_text(json.dumps({"leagues": [
        {"key": "zz", "name": "Z", "sport": "x", "draws": False,
         "kalshi_series": {"moneyline": "KXZZGAME"}, "kalshi_team_order": "away_home",
         "poly_prefix": "zz", "poly_tags": [], "poly_team_order": "away_home",
         "rules": {"ties_possible": False, "overtime_included": True, "regulation_time_only": False,
                   "kalshi": {"tie": "impossible", "postponed": "unknown", "canceled": "unknown"},
                   "poly": {"tie": "impossible", "postponed": "unknown", "canceled": "unknown"},
                   "kalshi_verified": False, "poly_verified": False}}]}))
    with pytest.raises(LeagueDataError, match="league 'zz'.*cannot read team table"):
        load_leagues(tmp_path)
