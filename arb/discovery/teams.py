# Design note: team identity without fuzzy matching.
#
# Problem: both venues name the same team differently. Kalshi tickers carry upper-case codes
# ("LAL", "BMU", "M-OH") and titles carry city names ("Los Angeles L"); Polymarket slugs carry
# lower-case codes ("lal", "bay") and moneyline outcomes carry nicknames ("Lakers").
# Naive approach: substring or similarity matching. It shipped in earlier bots and mapped
# "Tennessee" and "New Orleans" to the Patriots and "Ohio State" to Golden State.
# Chosen approach: one table per league (``data/teams/<league>.json``) lists every team with both
# venues' codes and every label we accept. Lookups are exact after a fixed normalisation (accents
# dropped, case folded, periods removed, whitespace collapsed). A label that belongs to no team,
# or to two, resolves to nothing. Loading refuses a table with a collision, so "unique" is checked
# once at start-up instead of hoped for at match time.
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import attrs


class TeamTableError(ValueError):
    """A team table file is malformed or ambiguous (names the file, team and field)."""


def normalize_label(text: str) -> str:
    """The form labels are compared in: accents dropped, case folded, periods removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().replace(".", "").split())


@attrs.frozen
class Team:
    key: str
    """Stable project id within the league (usually the Kalshi code)."""
    name: str
    """Full name ("Los Angeles Lakers", "Arsenal FC")."""
    short: str
    """The label Polymarket outcomes use ("Lakers"; "Arsenal" for soccer)."""
    kalshi: str
    """Kalshi code as in tickers ("LAL")."""
    poly: str
    """Polymarket code as in slugs ("lal")."""
    aliases: tuple[str, ...] = ()
    kalshi_alt: tuple[str, ...] = ()
    """Other Kalshi codes seen for this team (Chelsea: CFC and CHE)."""
    poly_alt: tuple[str, ...] = ()
    verified: bool = True
    """False when either code is a guess rather than read from real venue data."""

    @property
    def kalshi_codes(self) -> tuple[str, ...]:
        return (self.kalshi, *self.kalshi_alt)

    @property
    def poly_codes(self) -> tuple[str, ...]:
        return (self.poly, *self.poly_alt)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every name this team answers to (codes excluded)."""
        return (self.name, self.short, *self.aliases)


@attrs.frozen
class TeamTable:
    """One league's teams with exact lookups by Kalshi code, Polymarket code and label."""

    league: str
    teams: tuple[Team, ...]
    _by_kalshi: dict[str, Team] = attrs.field(eq=False, repr=False)
    _by_poly: dict[str, Team] = attrs.field(eq=False, repr=False)
    _by_label: dict[str, Team] = attrs.field(eq=False, repr=False)
    _by_key: dict[str, Team] = attrs.field(eq=False, repr=False)

    @classmethod
    def build(cls, league: str, teams: tuple[Team, ...], *, source: str = "") -> TeamTable:
        """Index ``teams``; raise TeamTableError on any code or label shared by two teams."""
        where = source or f"team table {league!r}"
        by_kalshi: dict[str, Team] = {}
        by_poly: dict[str, Team] = {}
        by_label: dict[str, Team] = {}
        by_key: dict[str, Team] = {}

        def claim(index: dict[str, Team], value: str, team: Team, field: str) -> None:
            other = index.get(value)
            if other is not None and other is not team:
                raise TeamTableError(
                    f"{where}: {field} {value!r} of {team.key} ({team.name}) is already used by "
                    f"{other.key} ({other.name})")
            index[value] = team

        for team in teams:
            claim(by_key, team.key, team, "key")
            for code in team.kalshi_codes:
                claim(by_kalshi, code, team, "kalshi code")
            for code in team.poly_codes:
                claim(by_poly, code, team, "poly code")
            for label in team.labels:
                claim(by_label, normalize_label(label), team, "label")
        return cls(league, teams, by_kalshi, by_poly, by_label, by_key)

    def by_kalshi(self, code: str) -> Team | None:
        return self._by_kalshi.get(code)

    def by_poly(self, code: str) -> Team | None:
        return self._by_poly.get(code.lower())

    def by_label(self, label: str) -> Team | None:
        """Exact (normalised) name, short name or alias; None if unknown."""
        return self._by_label.get(normalize_label(label))

    def by_key(self, key: str) -> Team | None:
        return self._by_key.get(key)

    @property
    def kalshi_codes(self) -> tuple[str, ...]:
        return tuple(self._by_kalshi)


def _strings(value: object, *, where: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TeamTableError(f"{where}: {field} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _team_from_json(raw: object, *, where: str) -> Team:
    if not isinstance(raw, dict):
        raise TeamTableError(f"{where}: a team must be an object, got {raw!r}")
    required = {}
    for field in ("key", "name", "short", "kalshi", "poly"):
        value = raw.get(field)
        if not isinstance(value, str) or not value.strip():
            raise TeamTableError(f"{where}: team {raw.get('key')!r} field {field!r} missing or empty")
        required[field] = value
    if required["kalshi"] != required["kalshi"].upper():
        raise TeamTableError(f"{where}: team {required['key']}: kalshi code "
                             f"{required['kalshi']!r} must be upper case")
    if required["poly"] != required["poly"].lower():
        raise TeamTableError(f"{where}: team {required['key']}: poly code "
                             f"{required['poly']!r} must be lower case")
    verified = raw.get("verified", True)
    if not isinstance(verified, bool):
        raise TeamTableError(f"{where}: team {required['key']}: verified must be true/false")
    return Team(
        **required,
        aliases=_strings(raw.get("aliases"), where=where, field="aliases"),
        kalshi_alt=_strings(raw.get("kalshi_alt"), where=where, field="kalshi_alt"),
        poly_alt=_strings(raw.get("poly_alt"), where=where, field="poly_alt"),
        verified=verified,
    )


def load_team_table(path: Path) -> TeamTable:
    """Read ``data/teams/<league>.json``; raise TeamTableError naming what is wrong."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TeamTableError(f"{path}: cannot read team table: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("league"), str):
        raise TeamTableError(f"{path}: expected an object with a 'league' string")
    raw_teams = doc.get("teams")
    if not isinstance(raw_teams, list) or not raw_teams:
        raise TeamTableError(f"{path}: 'teams' must be a non-empty list")
    teams = tuple(_team_from_json(t, where=str(path)) for t in raw_teams)
    return TeamTable.build(doc["league"], teams, source=str(path))
