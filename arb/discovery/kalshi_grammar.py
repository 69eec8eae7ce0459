# Design note: reading Kalshi sports tickers by grammar.
#
# Problem: a Kalshi game event ticker packs series, date, optional start time and both teams into
# one string with no separator between the teams: ``KXNBAGAME-26JAN11HOUSAC``,
# ``KXMLBGAME-26APR291840SFPHI``, ``KXNCAAFGAME-25DEC27M-OHFRES``. Team codes are 2 to 5 characters
# and may contain digits or a hyphen (``B04``, ``M-OH``).
# Naive approach: split the team part in the middle or at three characters. A public bot did this
# and mangled ``LAL``, ``NYK``, ``NOP`` pairs against two- and four-letter codes.
# Chosen approach: ``{SERIES}-{YY}{MON}{DD}[{HHMM}]{TEAMS}`` by regular expression, then try every
# split of TEAMS into two codes known to the league's table and require exactly one (the team
# tables are tested so that every pair of codes splits one way only). The market outcome is the
# market ticker minus ``{EVENT}-``: a team code, ``TIE``/``DRAW``, or a line (``NJ2``, ``219``).
# Titles ("X at Y", "X vs Y", "Reg Time: X vs Y") and ``yes_sub_title`` are resolved through the
# same tables (exact labels only) and used to confirm or contradict what the codes say.
# Venue facts (venues.md A11): the date is the US game date (MLB HHMM is a 24 h local start time,
# UNCERTAIN zone, taken as US Eastern); "X at Y" is away at home; draw suffix TIE (2025) or DRAW
# (2026).
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

from arb.discovery.leagues import League, LeagueCatalog
from arb.discovery.teams import Team

EASTERN = ZoneInfo("America/New_York")
MONTHS = {m: i + 1 for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
DRAW_SUFFIXES = ("TIE", "DRAW")
_EVENT_RE = re.compile(
    r"^(?P<series>[A-Z0-9]+)-(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})(?P<hhmm>\d{4})?"
    r"(?P<teams>[A-Z][A-Z0-9-]*)$")
_LINE_RE = re.compile(r"^\d+(\.\d+)?$")
_TITLE_PREFIX_RE = re.compile(r"^\s*reg(ulation)? time:\s*", re.IGNORECASE)
_TITLE_SUFFIX_RE = re.compile(r"\s*(:.*|winner\??|\?)\s*$", re.IGNORECASE)
_TITLE_SPLIT_RE = re.compile(r"\s+(at|vs\.?|v\.?|@)\s+", re.IGNORECASE)

DAY_LENGTH = timedelta(hours=30)
"""An untimed ticker date D covers starts from 00:00 US Eastern of D to 06:00 Eastern of D+1
(late West Coast and Hawaii starts). It never reaches back into D-1, so yesterday's game between
the same teams (a series, a back-to-back) cannot fall into today's window."""
TIMED_SLACK = timedelta(hours=2)
"""Around an explicit HHMM start time."""


class TickerError(ValueError):
    """A Kalshi ticker does not follow the grammar or names unknown or ambiguous teams."""


@attrs.frozen
class EventTicker:
    ticker: str
    series: str
    league: League
    market_type: str
    game_date: date
    local_time: time | None
    first: Team
    """The team whose code comes first in the ticker."""
    second: Team

    @property
    def team_keys(self) -> frozenset[str]:
        return frozenset((self.first.key, self.second.key))

    def start_window(self) -> tuple[datetime, datetime]:
        """The UTC interval a game with this ticker must start in."""
        if self.local_time is not None:
            start = datetime.combine(self.game_date, self.local_time, EASTERN).astimezone(UTC)
            return start - TIMED_SLACK, start + TIMED_SLACK
        midnight = datetime.combine(self.game_date, time(0, 0), EASTERN).astimezone(UTC)
        return midnight, midnight + DAY_LENGTH

    def other(self, team: Team) -> Team:
        return self.second if team is self.first else self.first


@attrs.frozen
class MarketOutcome:
    """What a Kalshi market's YES pays on."""

    kind: str
    """``team`` (that team wins), ``draw``, ``line`` (spread: team + line; total: line only)."""
    team: Team | None = None
    line: str | None = None


def parse_event_ticker(ticker: str, catalog: LeagueCatalog) -> EventTicker:
    """Parse a game event ticker against the league tables.

    Raises:
        TickerError: unknown series, bad date, or a team part that splits into known codes in
            zero or several ways (both named in the message).
    """
    m = _EVENT_RE.match(ticker)
    if m is None:
        raise TickerError(f"kalshi event {ticker!r}: not SERIES-YYMONDD[HHMM]TEAMS")
    found = catalog.by_series(m["series"])
    if found is None:
        raise TickerError(f"kalshi event {ticker!r}: series {m['series']!r} is not a known league")
    league, market_type = found
    month = MONTHS.get(m["mon"])
    try:
        if month is None:
            raise ValueError(m["mon"])
        game_date = date(2000 + int(m["yy"]), month, int(m["dd"]))
        local_time = None
        if m["hhmm"]:
            local_time = time(int(m["hhmm"][:2]), int(m["hhmm"][2:]))
    except ValueError:
        raise TickerError(f"kalshi event {ticker!r}: invalid date/time "
                          f"{m['yy']}{m['mon']}{m['dd']}{m['hhmm'] or ''}") from None
    teams = m["teams"]
    table = league.teams
    splits = [(table.by_kalshi(teams[:i]), table.by_kalshi(teams[i:]))
              for i in range(1, len(teams))]
    splits = [(a, b) for a, b in splits if a is not None and b is not None and a is not b]
    if len(splits) != 1:
        shown = ", ".join(f"{a.kalshi}+{b.kalshi}" for a, b in splits) or "none"
        raise TickerError(f"kalshi event {ticker!r}: team part {teams!r} splits into known "
                          f"{league.key} codes in {len(splits)} ways ({shown}); need exactly one")
    first, second = splits[0]
    return EventTicker(ticker, m["series"], league, market_type, game_date, local_time, first,
                       second)


def parse_market_outcome(market_ticker: str, event: EventTicker) -> MarketOutcome:
    """The outcome of a market of ``event`` from its ticker suffix.

    Raises:
        TickerError: the market does not belong to the event or its suffix is not an outcome of
            this game (e.g. a third team's code).
    """
    prefix = event.ticker + "-"
    if not market_ticker.startswith(prefix) or len(market_ticker) == len(prefix):
        raise TickerError(f"kalshi market {market_ticker!r} is not a market of {event.ticker}")
    suffix = market_ticker[len(prefix):]
    if suffix in DRAW_SUFFIXES:
        return MarketOutcome("draw")
    own = {code: team for team in (event.first, event.second) for code in team.kalshi_codes}
    if event.market_type == "moneyline":
        team = own.get(suffix)
        if team is None:
            raise TickerError(f"kalshi market {market_ticker!r}: outcome {suffix!r} is neither "
                              f"team of {event.ticker} nor TIE/DRAW")
        return MarketOutcome("team", team=team)
    if event.market_type == "total":
        if not _LINE_RE.match(suffix):
            raise TickerError(f"kalshi market {market_ticker!r}: total suffix {suffix!r} is not a line")
        return MarketOutcome("line", line=suffix)
    if event.market_type == "spread":
        for code, team in own.items():
            rest = suffix[len(code):]
            if suffix.startswith(code) and _LINE_RE.match(rest):
                return MarketOutcome("line", team=team, line=rest)
        raise TickerError(f"kalshi market {market_ticker!r}: spread suffix {suffix!r} is not "
                          f"TEAM+line for {event.ticker}")
    return MarketOutcome(event.market_type)


def split_title(title: str) -> tuple[str, str, bool] | None:
    """``("X", "Y", away_home)`` from "X at Y" (True) or "X vs Y" / "Reg Time: X vs Y" (False)."""
    text = _TITLE_SUFFIX_RE.sub("", _TITLE_PREFIX_RE.sub("", title))
    parts = _TITLE_SPLIT_RE.split(text)
    if len(parts) != 3:
        return None
    left, sep, right = parts
    return left.strip(), right.strip(), sep.lower() in ("at", "@")


def title_teams(title: str, league: League) -> tuple[Team, Team] | None:
    """Both teams of an event title resolved by exact label, or None if either is unknown."""
    split = split_title(title)
    if split is None:
        return None
    a, b = league.teams.by_label(split[0]), league.teams.by_label(split[1])
    if a is None or b is None or a is b:
        return None
    return a, b


def label_names_draw(label: str) -> bool:
    words = set(re.findall(r"[a-z]+", label.casefold()))
    return bool(words & {"tie", "draw", "tied"})
