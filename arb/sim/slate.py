# Design note: the simulated slate of games.
#
# The simulators list a seeded slate of games on both venues, named the way each venue names
# them (Kalshi tickers and city titles, Polymarket slugs, nicknames and JSON-string outcome
# lists), built from the same team tables discovery uses. Because the slate is built from one
# list of games, it knows the ground truth: which Kalshi market and which Polymarket token are
# the same bet, and what the matcher must reject. The hard cases are deliberate:
#   - team codes that differ between venues (Bayern BMU / bay, the table's alt codes);
#   - evening US games whose slug carries the local date while gameStartTime is the next UTC day;
#   - Polymarket outcome lists in home/away order while Kalshi lists away/home (never "YES first");
#   - soccer three-way markets with the draw under both TIE (2025 style) and DRAW suffixes;
#   - one NFL game whose tie rules differ between the venues (basis risk);
#   - decoys that must stay unmatched: the same teams on another date, first-half moneylines.
# Same seed and reference time, same slate, byte for byte.
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import attrs

from arb.discovery.leagues import League, load_leagues
from arb.discovery.teams import Team
from arb.money import CENT, Price
from arb.sim.listing import (
    KalshiEvent,
    KalshiMarket,
    KalshiSeries,
    PolyEvent,
    PolyMarket,
    PolyToken,
)

ET = timedelta(hours=-5)
"""Eastern time offset used for local dates in tickers and slugs (standard time, late November)."""

DEFAULT_LEAGUES = ("nba", "nfl", "nhl", "mlb", "cfb", "epl", "laliga", "bundesliga", "ucl")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@attrs.frozen
class TruthPair:
    """A Kalshi market and the Polymarket token that pays exactly when its YES pays."""

    kalshi_ticker: str
    condition_id: str
    yes_token: str
    no_token: str
    verdict: str
    """``equivalent`` or ``basis_risk``."""
    note: str


@attrs.frozen
class TruthDecoy:
    """A market that exists on one venue only, or must never be paired."""

    venue: str
    market: str
    """Kalshi ticker or Polymarket condition id."""
    reason: str


@attrs.frozen
class Game:
    league: str
    home: Team
    away: Team
    start: datetime
    kalshi_event: str
    poly_slug: str
    hard_case: str = ""


@attrs.frozen
class Slate:
    series: tuple[KalshiSeries, ...]
    kalshi_events: tuple[KalshiEvent, ...]
    poly_events: tuple[PolyEvent, ...]
    games: tuple[Game, ...]
    pairs: tuple[TruthPair, ...]
    decoys: tuple[TruthDecoy, ...]


def _local(dt: datetime) -> datetime:
    return (dt + ET).replace(tzinfo=None)


def _kalshi_date(dt: datetime) -> str:
    local = _local(dt)
    return f"{local:%y}{MONTHS[local.month - 1]}{local:%d}"


def _city(team: Team, league: League) -> str:
    """The label Kalshi titles use: the longest known label that prefixes the full name
    ("Houston" for "Houston Rockets", "Penn State" for "Penn State Nittany Lions"), else the name."""
    candidates = [label for label in (team.short, *team.aliases)
                  if team.name.startswith(label + " ") and league.teams.by_label(label) == team]
    return max(candidates, key=len) if candidates else team.name


@attrs.define
class _Ids:
    rng: random.Random
    counter: int = 100_000

    def hex32(self) -> str:
        return "0x" + "".join(self.rng.choice("0123456789abcdef") for _ in range(64))

    def token(self) -> str:
        return str(self.rng.randrange(10**75, 10**77))

    def event_id(self) -> str:
        self.counter += 1
        return str(self.counter)


def _kalshi_rules(subject: str, title: str, when: str, *, tie: str, overtime: bool,
                  regulation: bool) -> tuple[str, str]:
    primary = (f"If {subject} wins the {title} game originally scheduled for {when}, then the "
               f"market resolves to Yes.")
    scope = ("The result is based on regulation time (90 minutes plus stoppage time) only."
             if regulation else
             "The result is based on the final score including any overtime periods."
             if overtime else "The result is based on the final score.")
    secondary = (f"{scope} {tie + ' ' if tie else ''}If the game is postponed, the market will remain open until the "
                 f"game has been completed. If the game is canceled entirely, with no make-up "
                 f"game, the market resolves 50-50.")
    return primary, secondary


def _poly_description(lines: list[str], *, overtime: bool, regulation: bool, tie: str) -> str:
    body = "\n".join(lines)
    scope = ("The result will be determined based on regulation time (90 minutes plus stoppage "
             "time) only." if regulation else
             "The result will be determined based on the final score including any overtime "
             "periods." if overtime else "The result will be determined based on the final score.")
    return (f"{body}\n{tie}If the game is postponed, this market will remain open until the game "
            f"has been completed.\nIf the game is canceled entirely, with no make-up game, this "
            f"market will resolve 50-50.\n{scope}")


def build_slate(seed: int = 1, *, now: datetime | None = None,
                leagues: tuple[str, ...] = DEFAULT_LEAGUES, games_per_league: int = 2) -> Slate:
    """Build the seeded slate. ``now`` anchors start times (default: the current hour, UTC)."""
    rng = random.Random(seed)
    ids = _Ids(random.Random(seed * 7919 + 1))
    if now is None:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    catalog = load_leagues()
    series: list[KalshiSeries] = []
    kalshi_events: list[KalshiEvent] = []
    poly_events: list[PolyEvent] = []
    games: list[Game] = []
    pairs: list[TruthPair] = []
    decoys: list[TruthDecoy] = []

    for key in leagues:
        league = catalog.get(key)
        moneyline_series = league.series_for("moneyline")
        if moneyline_series is None:
            continue
        fee_type = ("quadratic_with_maker_fees" if key in ("nba", "nfl") else "quadratic")
        series.append(KalshiSeries(ticker=moneyline_series, title=f"{league.name} game winner",
                                   tags=(league.sport,), fee_type=fee_type))
        teams = list(league.teams.teams)
        rng.shuffle(teams)
        bayern = league.teams.by_kalshi("BMU")
        if key == "bundesliga" and bayern is not None:
            teams.remove(bayern)
            teams.insert(0, bayern)
        for index in range(games_per_league):
            home, away = teams[2 * index], teams[2 * index + 1]
            hard = _hard_case(key, index)
            hours = 2 + rng.randrange(0, 10)
            if hard == "slug_date":
                start = (now + timedelta(days=1)).replace(hour=1, minute=30)
            else:
                start = now + timedelta(hours=hours, minutes=rng.choice((0, 30)))
            game = _list_game(league, home, away, start, hard, moneyline_series, ids, rng,
                              kalshi_events, poly_events, pairs, decoys)
            games.append(game)
        if key == "nba":
            _add_rematch_decoy(league, games[-1], ids, poly_events, decoys)
    return Slate(tuple(series), tuple(kalshi_events), tuple(poly_events), tuple(games),
                 tuple(pairs), tuple(decoys))


def _hard_case(league: str, index: int) -> str:
    if index != 0:
        return "outcome_order" if league in ("nba", "nhl") else ""
    return {"nba": "slug_date", "nfl": "tie_rules", "bundesliga": "alias", "epl": "tie_suffix",
            "cfb": "first_half", "mlb": "start_time"}.get(league, "")


def _list_game(league: League, home: Team, away: Team, start: datetime, hard: str,
               series_ticker: str, ids: _Ids, rng: random.Random,
               kalshi_events: list[KalshiEvent], poly_events: list[PolyEvent],
               pairs: list[TruthPair], decoys: list[TruthDecoy]) -> Game:
    away_home = league.kalshi_team_order == "away_home"
    first, second = (away, home) if away_home else (home, away)
    time_part = f"{_local(start):%H%M}" if hard == "start_time" or league.key == "mlb" else ""
    event_ticker = f"{series_ticker}-{_kalshi_date(start)}{time_part}{first.kalshi}{second.kalshi}"
    local_date = f"{_local(start):%Y-%m-%d}"
    p_first, p_second = (away, home) if league.poly_team_order == "away_home" else (home, away)
    slug = f"{league.poly_prefix}-{p_first.poly}-{p_second.poly}-{local_date}"
    when = f"{_local(start):%b %d, %Y}"
    close = start + timedelta(hours=6)
    opened = start - timedelta(days=3)
    overtime = league.rules.overtime_included
    neg_risk = league.draws
    poly_markets: list[PolyMarket] = []
    kalshi_markets: list[KalshiMarket] = []
    tick = Price(1_000) if league.key == "nba" else Price(CENT)

    if league.draws:
        title = f"Reg Time: {_city(home, league)} vs {_city(away, league)}"
        draw_suffix = "TIE" if hard == "tie_suffix" else "DRAW"
        for team in (home, away, None):
            suffix = team.kalshi if team else draw_suffix
            subject = _city(team, league) if team else "Tie"
            primary, secondary = _kalshi_rules(
                subject if team else "neither team", title, when, tie="", overtime=False,
                regulation=True)
            if team is None:
                primary = (f"If the {title} game originally scheduled for {when} ends in a draw "
                           f"after regulation time, then the market resolves to Yes.")
            ticker = f"{event_ticker}-{suffix}"
            kalshi_markets.append(KalshiMarket(
                ticker=ticker, event_ticker=event_ticker, yes_sub_title=subject,
                no_sub_title=subject, rules_primary=primary, rules_secondary=secondary,
                open_time=opened, close_time=close, expected_expiration_time=start + timedelta(hours=3),
                occurrence_datetime=start))
            yes, no = PolyToken(ids.token(), "Yes"), PolyToken(ids.token(), "No")
            if team is not None:
                question = f"Will {team.name} win on {local_date}?"
                market_slug = f"{slug}-{team.poly}"
                line = f'If {team.name} wins the match, the market will resolve to "Yes". Otherwise, "No".'
            else:
                question = f"Will {home.name} vs. {away.name} end in a draw?"
                market_slug = f"{slug}-draw"
                line = 'If the match ends in a draw, the market will resolve to "Yes". Otherwise, "No".'
            cid = ids.hex32()
            poly_markets.append(PolyMarket(
                condition_id=cid, question_id=ids.hex32(), slug=market_slug, question=question,
                description=_poly_description([f"This market is about the {league.name} match "
                                               f"{home.name} vs. {away.name} on {local_date}.",
                                               line], overtime=False, regulation=True, tie=""),
                tokens=(yes, no), sports_market_type="moneyline", game_start_time=start,
                tick_size=tick, neg_risk=True, group_item_title=team.short if team else "Draw"))
            pairs.append(TruthPair(ticker, cid, yes.token_id, no.token_id, "equivalent",
                                   f"soccer three-way: {'draw' if team is None else team.short} "
                                   f"Yes/No" + (f" ({hard})" if hard else "")))
    else:
        title = f"{_city(away, league)} at {_city(home, league)}"
        tie_kalshi = tie_poly = ""
        verdict, note = "equivalent", hard or "moneyline"
        if league.rules.ties_possible:
            tie_poly = "If the game ends in a tie, this market will resolve 50-50.\n"
            tie_kalshi = "If the game ends in a tie, the market resolves 50-50."
            if hard == "tie_rules":
                tie_kalshi = "If the game ends in a tie, the market resolves to No."
                verdict, note = "basis_risk", "tie rules differ: Kalshi No vs Polymarket 50-50"
        outcome_teams = (home, away) if hard == "outcome_order" else (p_first, p_second)
        tokens = tuple(PolyToken(ids.token(), t.short) for t in outcome_teams)
        cid = ids.hex32()
        poly_markets.append(PolyMarket(
            condition_id=cid, question_id=ids.hex32(), slug=slug,
            question=f"{outcome_teams[0].short} vs. {outcome_teams[1].short}",
            description=_poly_description(
                [f"In the upcoming {league.name} game, scheduled for {_local(start):%B %d at %I:%M%p} ET:",
                 *[f'If the {t.short} win, the market will resolve to "{t.short}".'
                   for t in outcome_teams]], overtime=overtime, regulation=False, tie=tie_poly),
            tokens=(tokens[0], tokens[1]), sports_market_type="moneyline",
            game_start_time=start, tick_size=tick))
        token_of = {t.short: tok for t, tok in zip(outcome_teams, tokens, strict=True)}
        for team, other in ((first, second), (second, first)):
            primary, secondary = _kalshi_rules(_city(team, league), title, when, tie=tie_kalshi,
                                               overtime=overtime, regulation=False)
            ticker = f"{event_ticker}-{team.kalshi}"
            kalshi_markets.append(KalshiMarket(
                ticker=ticker, event_ticker=event_ticker, yes_sub_title=_city(team, league),
                no_sub_title=_city(team, league), rules_primary=primary,
                rules_secondary=secondary, open_time=opened, close_time=close,
                expected_expiration_time=start + timedelta(hours=3), occurrence_datetime=start))
            pairs.append(TruthPair(ticker, cid, token_of[team.short].token_id,
                                   token_of[other.short].token_id, verdict, note))
        if hard == "first_half":
            half = tuple(PolyToken(ids.token(), t.short) for t in (p_first, p_second))
            half_cid = ids.hex32()
            poly_markets.append(PolyMarket(
                condition_id=half_cid, question_id=ids.hex32(), slug=f"{slug}-1h-moneyline",
                question=f"1H Moneyline: {p_first.short} vs. {p_second.short}",
                description=_poly_description(
                    ["This market resolves on the score at the end of the first half."],
                    overtime=False, regulation=False, tie=""),
                tokens=(half[0], half[1]), sports_market_type="first_half_moneyline",
                game_start_time=start, tick_size=tick))
            decoys.append(TruthDecoy("polymarket", half_cid, "first-half moneyline is not the game"))
    kalshi_events.append(KalshiEvent(
        event_ticker=event_ticker, series_ticker=series_ticker, title=title,
        sub_title=f"{first.kalshi} {'at' if away_home and not league.draws else 'vs'} "
                  f"{second.kalshi} ({_local(start):%b %d})",
        mutually_exclusive=True, markets=tuple(kalshi_markets), strike_date=close))
    poly_events.append(PolyEvent(
        id=ids.event_id(), slug=slug, title=f"{p_first.short} vs. {p_second.short}",
        tags=("sports", *league.poly_tags, "games"), start_time=start,
        markets=tuple(poly_markets), neg_risk=neg_risk))
    return Game(league.key, home, away, start, event_ticker, slug, hard)


def _add_rematch_decoy(league: League, game: Game, ids: _Ids, poly_events: list[PolyEvent],
                       decoys: list[TruthDecoy]) -> None:
    """The same two teams three days later, listed on Polymarket only."""
    start = game.start + timedelta(days=3)
    local_date = f"{_local(start):%Y-%m-%d}"
    slug = f"{league.poly_prefix}-{game.away.poly}-{game.home.poly}-{local_date}"
    tokens = (PolyToken(ids.token(), game.away.short), PolyToken(ids.token(), game.home.short))
    cid = ids.hex32()
    market = PolyMarket(
        condition_id=cid, question_id=ids.hex32(), slug=slug,
        question=f"{game.away.short} vs. {game.home.short}",
        description=_poly_description(
            [f"In the upcoming {league.name} game:",
             *[f'If the {t.outcome} win, the market will resolve to "{t.outcome}".' for t in tokens]],
            overtime=True, regulation=False, tie=""),
        tokens=tokens, sports_market_type="moneyline", game_start_time=start,
        tick_size=Price(1_000))
    poly_events.append(PolyEvent(id=ids.event_id(), slug=slug,
                                 title=f"{game.away.short} vs. {game.home.short}",
                                 tags=("sports", *league.poly_tags, "games"), start_time=start,
                                 markets=(market,)))
    decoys.append(TruthDecoy("polymarket", cid, "same teams three days later: no Kalshi event"))
