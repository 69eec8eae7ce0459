"""The leagues the bot trades, loaded from ``data/leagues.json`` with their team tables.

Each league carries the Kalshi series per market type, the Polymarket slug prefix and tags, the
team order each venue uses, and the resolution-rule facts the matcher compares. Loading validates
everything up front and fails with a message naming the file, league and field.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import attrs

from arb.discovery.teams import TeamTable, TeamTableError, load_team_table

DATA_DIR = Path(__file__).resolve().parent / "data"

MARKET_TYPES = ("moneyline", "spread", "total", "btts")
"""Market types with a Kalshi series; the draw market lives in the moneyline (game) series."""
TEAM_ORDERS = ("away_home", "home_away")
TIE_POLICIES = ("impossible", "fifty_fifty", "no", "draw_market", "unknown")
POSTPONED_POLICIES = ("open_48h", "open_until_played", "no", "unknown")
CANCELED_POLICIES = ("fair_price", "fifty_fifty", "no", "unknown")


class LeagueDataError(ValueError):
    """``leagues.json`` or a team table is malformed (names the file, league and field)."""


@attrs.frozen
class VenuePolicy:
    """How one venue settles a game-winner market in the rare cases."""

    tie: str
    """``impossible``, ``fifty_fifty`` (each side pays half), ``no``, ``draw_market``, ``unknown``."""
    postponed: str
    """``open_48h``, ``open_until_played``, ``no``, ``unknown``."""
    canceled: str
    """``fair_price``, ``fifty_fifty``, ``no``, ``unknown``."""


@attrs.frozen
class LeagueRules:
    ties_possible: bool
    overtime_included: bool
    regulation_time_only: bool
    kalshi: VenuePolicy
    poly: VenuePolicy
    kalshi_verified: bool
    poly_verified: bool
    notes: str = ""


@attrs.frozen
class League:
    key: str
    name: str
    sport: str
    draws: bool
    """Three-way results (soccer): Kalshi team NO is not the other team's YES."""
    kalshi_series: tuple[tuple[str, str], ...]
    """``(market_type, series_ticker)`` pairs."""
    kalshi_team_order: str
    poly_prefix: str
    poly_tags: tuple[str, ...]
    poly_team_order: str
    rules: LeagueRules
    teams: TeamTable

    def series_for(self, market_type: str) -> str | None:
        return dict(self.kalshi_series).get(market_type)

    def market_type_of(self, series_ticker: str) -> str | None:
        for market_type, ticker in self.kalshi_series:
            if ticker == series_ticker:
                return market_type
        return None


@attrs.frozen
class LeagueCatalog:
    leagues: tuple[League, ...]

    def __iter__(self) -> Iterator[League]:
        return iter(self.leagues)

    def get(self, key: str) -> League:
        for league in self.leagues:
            if league.key == key:
                return league
        known = ", ".join(lg.key for lg in self.leagues)
        raise KeyError(f"unknown league {key!r} (known: {known})")

    def by_series(self, series_ticker: str) -> tuple[League, str] | None:
        """The league and market type of a Kalshi series ticker."""
        for league in self.leagues:
            market_type = league.market_type_of(series_ticker)
            if market_type is not None:
                return league, market_type
        return None

    def by_poly_prefix(self, prefix: str) -> League | None:
        for league in self.leagues:
            if league.poly_prefix == prefix:
                return league
        return None


def _field(raw: dict, name: str, kind: type | tuple[type, ...], where: str):
    value = raw.get(name)
    if not isinstance(value, kind) or (isinstance(value, str) and not value):
        raise LeagueDataError(f"{where}: field {name!r} missing or not {kind}: {value!r}")
    return value


def _choice(raw: dict, name: str, allowed: tuple[str, ...], where: str) -> str:
    value = raw.get(name)
    if value not in allowed:
        raise LeagueDataError(f"{where}: field {name!r} is {value!r}, expected one of {allowed}")
    return value


def _policy(raw: object, where: str) -> VenuePolicy:
    if not isinstance(raw, dict):
        raise LeagueDataError(f"{where}: expected an object, got {raw!r}")
    return VenuePolicy(
        tie=_choice(raw, "tie", TIE_POLICIES, where),
        postponed=_choice(raw, "postponed", POSTPONED_POLICIES, where),
        canceled=_choice(raw, "canceled", CANCELED_POLICIES, where),
    )


def _league(raw: object, data_dir: Path, where: str) -> League:
    if not isinstance(raw, dict):
        raise LeagueDataError(f"{where}: a league must be an object")
    key = _field(raw, "key", str, where)
    where = f"{where} league {key!r}"
    series = _field(raw, "kalshi_series", dict, where)
    for market_type, ticker in series.items():
        if market_type not in MARKET_TYPES or not isinstance(ticker, str) or not ticker.isupper():
            raise LeagueDataError(f"{where}: kalshi_series entry {market_type!r}: {ticker!r}")
    if "moneyline" not in series:
        raise LeagueDataError(f"{where}: kalshi_series has no moneyline (game) series")
    rules_raw = _field(raw, "rules", dict, where)
    rules = LeagueRules(
        ties_possible=_field(rules_raw, "ties_possible", bool, where),
        overtime_included=_field(rules_raw, "overtime_included", bool, where),
        regulation_time_only=_field(rules_raw, "regulation_time_only", bool, where),
        kalshi=_policy(rules_raw.get("kalshi"), f"{where} rules.kalshi"),
        poly=_policy(rules_raw.get("poly"), f"{where} rules.poly"),
        kalshi_verified=_field(rules_raw, "kalshi_verified", bool, where),
        poly_verified=_field(rules_raw, "poly_verified", bool, where),
        notes=rules_raw.get("notes", ""),
    )
    tags = _field(raw, "poly_tags", list, where)
    try:
        teams = load_team_table(data_dir / "teams" / f"{key}.json")
    except TeamTableError as exc:
        raise LeagueDataError(f"{where}: {exc}") from exc
    if teams.league != key:
        raise LeagueDataError(f"{where}: team table says league {teams.league!r}")
    return League(
        key=key,
        name=_field(raw, "name", str, where),
        sport=_field(raw, "sport", str, where),
        draws=_field(raw, "draws", bool, where),
        kalshi_series=tuple(sorted(series.items())),
        kalshi_team_order=_choice(raw, "kalshi_team_order", TEAM_ORDERS, where),
        poly_prefix=_field(raw, "poly_prefix", str, where),
        poly_tags=tuple(str(t) for t in tags),
        poly_team_order=_choice(raw, "poly_team_order", TEAM_ORDERS, where),
        rules=rules,
        teams=teams,
    )


def load_leagues(data_dir: Path = DATA_DIR) -> LeagueCatalog:
    """Load ``leagues.json`` and every league's team table from ``data_dir``.

    Raises:
        LeagueDataError: naming the file, league and field that is wrong, or a Kalshi series or
            Polymarket prefix claimed by two leagues.
    """
    path = data_dir / "leagues.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LeagueDataError(f"{path}: cannot read leagues: {exc}") from exc
    raw_leagues = doc.get("leagues") if isinstance(doc, dict) else None
    if not isinstance(raw_leagues, list) or not raw_leagues:
        raise LeagueDataError(f"{path}: 'leagues' must be a non-empty list")
    leagues = tuple(_league(raw, data_dir, str(path)) for raw in raw_leagues)
    seen: dict[str, str] = {}
    for league in leagues:
        claims = [("league key", league.key), ("poly prefix", league.poly_prefix)]
        claims += [("kalshi series", ticker) for _, ticker in league.kalshi_series]
        for what, value in claims:
            token = f"{what}:{value}"
            if token in seen:
                raise LeagueDataError(f"{path}: {what} {value!r} used by both {seen[token]!r} "
                                      f"and {league.key!r}")
            seen[token] = league.key
    return LeagueCatalog(leagues)
