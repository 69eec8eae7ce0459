# Design note: the cross-venue matcher.
#
# Problem: find, for every open Kalshi game market, the one Polymarket market that pays on exactly
# the same outcome, and say which Polymarket token pays when the Kalshi YES pays. A wrong match
# or a wrong orientation turns every "arb" into a guaranteed loss.
# Naive approaches and why they fail: fuzzy team names ("Tennessee" -> Patriots); splitting Kalshi
# tickers by length; slug-date equality (the slug carries the local date, gameStartTime is UTC);
# ``clobTokenIds[0]`` as YES (moneyline outcomes are team names in venue order); pairing Kalshi
# ``-ARS`` NO with the Chelsea token in soccer (draws exist).
# Chosen approach, in order, each step able to refuse with a specific reason:
#   1. Kalshi side: parse the event ticker by grammar (unique split into known codes), confirm the
#      teams by the event title/sub-title or each market's ``yes_sub_title`` (exact table labels);
#      any contradiction refuses the market. Market outcome from the ticker suffix.
#   2. Polymarket side: league from the slug prefix, teams from the slug codes, market kind from
#      ``sportsMarketType``; moneyline outcome labels must resolve to exactly the two slug teams;
#      soccer Yes/No markets name their team by slug suffix and question; neg-risk "Other",
#      props, halves, closed markets are refused by name.
#   3. Games join on (league, team set) with the Polymarket start (``gameStartTime``, UTC) inside
#      the Kalshi ticker's window (its US-Eastern date, or HHMM +- 2 h), before Kalshi's
#      ``expected_expiration_time`` and near its ``occurrence_datetime`` (Kalshi has no kickoff
#      field; venues.md C); two candidate games is ambiguity, refused.
#   4. Orientation by label: Kalshi ``-T`` YES = the token labelled T (no-draw) or the "Yes"
#      token of "Will T win" (soccer); NO = the other token of the same market. Lines must be
#      equal (Kalshi ``floor_strike`` vs Gamma ``line``) and non-integral (no push).
#   5. Rules compared (``rules.compare_rules``), then the operator's overrides.
# Output is sorted, so the same inputs always give the same pairs in the same order.
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from arb.discovery.kalshi_grammar import (
    EventTicker,
    MarketOutcome,
    TickerError,
    label_names_draw,
    parse_event_ticker,
    parse_market_outcome,
    split_title,
)
from arb.discovery.leagues import League, LeagueCatalog
from arb.discovery.listings import (
    KalshiEventListing,
    KalshiMarketListing,
    ListingProblem,
    PolyEventListing,
    PolyMarketListing,
    PolyOutcome,
)
from arb.discovery.overrides import Overrides
from arb.discovery.rules import compare_rules
from arb.discovery.teams import Team
from arb.fees import KalshiFeeSchedule
from arb.pairs import KalshiSide, MarketPair, PolySide, Verdict

MAX_EXPIRY_AFTER_START = timedelta(hours=16)
"""Kalshi ``expected_expiration_time`` is some hours after kickoff; more than this is suspect."""
MAX_OCCURRENCE_OFFSET = timedelta(hours=12)
"""Kalshi ``occurrence_datetime`` is near kickoff but not exact (3 h off for a college game)."""
_SLUG_RE = re.compile(r"^(?P<prefix>[a-z0-9]+)-(?P<teams>[a-z0-9]+-[a-z0-9]+)-"
                      r"(?P<date>\d{4}-\d{2}-\d{2})(?P<rest>-.+)?$")
_WILL_WIN_RE = re.compile(r"^\s*will\s+(?P<team>.+?)\s+win\b", re.IGNORECASE)
_SPREAD_TEAM_RE = re.compile(r"(?P<team>[^:()]+?)\s*\(\s*-\s*[\d.]+\s*\)")
KALSHI_ACTIVE = "active"
POLY_MARKET_TYPES = {"moneyline": "moneyline", "spreads": "spread", "totals": "total"}


@attrs.frozen
class Unmatched:
    venue: str
    """``kalshi`` or ``polymarket``."""
    ident: str
    """Kalshi market (or event) ticker; Polymarket market slug."""
    league: str
    reason: str


@attrs.frozen
class MatchResult:
    pairs: tuple[MarketPair, ...]
    unmatched_kalshi: tuple[Unmatched, ...]
    unmatched_poly: tuple[Unmatched, ...]
    ended: frozenset[str] = frozenset()
    """Kalshi tickers and Polymarket condition ids listed as closed/settled (for the cache)."""


@attrs.frozen
class _KMarket:
    game: _KGame
    market: KalshiMarketListing
    outcome: MarketOutcome


@attrs.frozen
class _KGame:
    event: KalshiEventListing
    ticker: EventTicker


@attrs.frozen
class _PMarket:
    event: PolyEventListing
    market: PolyMarketListing
    league: League
    teams: frozenset[str]
    kind: str
    """``moneyline`` (two team outcomes), ``team`` / ``draw`` (soccer Yes/No), ``spread``, ``total``."""
    team: Team | None
    start: datetime


class _Refused(Exception):
    """Internal: one market refused, with the reason for the report."""


def _unmatched_order(u: Unmatched) -> tuple[str, str]:
    return (u.league, u.ident)


def _resolve_label(league: League, label: str) -> Team | None:
    return league.teams.by_label(label) or league.teams.by_kalshi(label.strip().upper())


def _kalshi_games(events: Sequence[KalshiEventListing], catalog: LeagueCatalog,
                  unmatched: list[Unmatched], ended: set[str]) -> list[_KMarket]:
    markets: list[_KMarket] = []
    for event in events:
        try:
            ticker = parse_event_ticker(event.event_ticker, catalog)
        except TickerError as exc:
            found = catalog.by_series(event.series_ticker)
            league = found[0].key if found else "?"
            for ident in [m.ticker for m in event.markets] or [event.event_ticker]:
                unmatched.append(Unmatched("kalshi", ident, league, str(exc)))
            continue
        league = ticker.league
        teams = {ticker.first, ticker.second}
        title_confirmed, contradiction = False, None
        for text in (event.title, re.sub(r"\s*\(.*\)\s*$", "", event.sub_title)):
            split = split_title(text) if text else None
            if split is None:
                continue
            known = [t for t in (_resolve_label(league, split[0]), _resolve_label(league, split[1]))
                     if t is not None]
            strangers = [t.name for t in known if t not in teams]
            if strangers:
                contradiction = (f"event title {text!r} names {' and '.join(strangers)}, ticker "
                                 f"says {ticker.first.name} and {ticker.second.name}")
            elif len(known) == 2 and set(known) == teams:
                title_confirmed = True
        for market in event.markets:
            league_key = league.key
            if market.status != KALSHI_ACTIVE:
                ended.add(market.ticker)
                unmatched.append(Unmatched("kalshi", market.ticker, league_key,
                                           f"market status {market.status!r} is not active"))
                continue
            if contradiction:
                unmatched.append(Unmatched("kalshi", market.ticker, league_key, contradiction))
                continue
            try:
                outcome = parse_market_outcome(market.ticker, ticker)
                confirmed = _confirm_sub_title(market, outcome, league)
            except (TickerError, _Refused) as exc:
                unmatched.append(Unmatched("kalshi", market.ticker, league_key, str(exc)))
                continue
            if not (title_confirmed or confirmed):
                unmatched.append(Unmatched(
                    "kalshi", market.ticker, league_key,
                    f"teams unconfirmed: neither title {event.title!r} nor yes_sub_title "
                    f"{market.yes_sub_title!r} resolves to known {league_key} teams"))
                continue
            markets.append(_KMarket(_KGame(event, ticker), market, outcome))
    return markets


def _confirm_sub_title(market: KalshiMarketListing, outcome: MarketOutcome, league: League) -> bool:
    """True when ``yes_sub_title`` names the outcome; raises _Refused when it names another."""
    label = market.yes_sub_title.strip()
    if not label:
        return False
    if outcome.kind == "draw":
        if label_names_draw(label):
            return True
        raise _Refused(f"market suffix says draw but yes_sub_title is {label!r}")
    if outcome.kind == "team" and outcome.team is not None:
        team = _resolve_label(league, label)
        if team is None:
            return False
        if team is not outcome.team:
            raise _Refused(f"ticker says YES = {outcome.team.name} but yes_sub_title "
                           f"{label!r} is {team.name}")
        return True
    return False


def _poly_markets(events: Sequence[PolyEventListing], catalog: LeagueCatalog,
                  unmatched: list[Unmatched], ended: set[str]) -> list[_PMarket]:
    out: list[_PMarket] = []
    for event in events:
        m = _SLUG_RE.match(event.slug)
        league = catalog.by_poly_prefix(m["prefix"]) if m else None
        if m is None or league is None:
            reason = (f"event slug {event.slug!r} is not LEAGUE-TEAM-TEAM-DATE" if m is None
                      else f"slug prefix {m['prefix']!r} is not a traded league")
            for market in event.markets:
                unmatched.append(Unmatched("polymarket", market.slug, "?", reason))
            continue
        code_a, code_b = m["teams"].split("-")
        team_a, team_b = league.teams.by_poly(code_a), league.teams.by_poly(code_b)
        for market in event.markets:
            try:
                if team_a is None or team_b is None or team_a is team_b:
                    raise _Refused(f"slug team codes {code_a!r}/{code_b!r} are not two known "
                                   f"{league.key} teams")
                out.append(_classify(event, market, league, team_a, team_b, ended))
            except _Refused as exc:
                unmatched.append(Unmatched("polymarket", market.slug, league.key, str(exc)))
    return out


def _classify(event: PolyEventListing, market: PolyMarketListing, league: League, team_a: Team,
              team_b: Team, ended: set[str]) -> _PMarket:
    if market.closed or not market.active or not market.accepting_orders:
        ended.add(market.condition_id)
        raise _Refused("market is closed or not accepting orders")
    if market.neg_risk_other or any(o.label.casefold() == "other" for o in market.outcomes):
        raise _Refused("neg-risk 'Other' placeholder market: never traded")
    market_type = POLY_MARKET_TYPES.get(market.sports_market_type)
    if market_type is None:
        raise _Refused(f"market type {market.sports_market_type!r} has no Kalshi counterpart "
                       f"(props, halves and others are not traded)")
    start = market.game_start_time or event.start_time
    if start is None:
        raise _Refused("no gameStartTime or event startTime")
    teams = frozenset((team_a.key, team_b.key))
    labels = [o.label for o in market.outcomes]
    if market_type == "moneyline" and league.draws:
        if {label.casefold() for label in labels} != {"yes", "no"}:
            raise _Refused(f"soccer result market outcomes {labels} are not Yes/No")
        suffix = market.slug[len(event.slug) + 1:] if market.slug.startswith(event.slug + "-") else ""
        asks_draw = label_names_draw(market.question) and "win" not in market.question.lower()
        if suffix == "draw" or (not suffix and asks_draw):
            return _PMarket(event, market, league, teams, "draw", None, start)
        team = league.teams.by_poly(suffix) if suffix else None
        will = _WILL_WIN_RE.match(market.question)
        named = league.teams.by_label(will["team"]) if will else None
        if team is None and named is None:
            raise _Refused(f"cannot tell which team {market.question!r} is about "
                           f"(slug suffix {suffix!r})")
        if team is not None and named is not None and team is not named:
            raise _Refused(f"slug suffix {suffix!r} is {team.name} but question "
                           f"{market.question!r} names {named.name}")
        team = team or named
        if team.key not in teams:
            raise _Refused(f"{team.name} does not play in {event.slug}")
        return _PMarket(event, market, league, teams, "team", team, start)
    if market_type in ("moneyline", "spread"):
        resolved = {league.teams.by_label(label) for label in labels}
        if resolved != {team_a, team_b}:
            raise _Refused(f"outcome labels {labels} do not resolve to exactly "
                           f"{team_a.name} and {team_b.name}")
        if market_type == "moneyline":
            return _PMarket(event, market, league, teams, "moneyline", None, start)
        fav = _SPREAD_TEAM_RE.search(market.question)
        favourite = league.teams.by_label(fav["team"].replace("Spread", "").strip()) if fav else None
        if favourite is None:
            raise _Refused(f"cannot tell the favourite of spread {market.question!r}")
        return _PMarket(event, market, league, teams, "spread", favourite, start)
    if {label.casefold() for label in labels} != {"over", "under"}:
        raise _Refused(f"totals outcomes {labels} are not Over/Under")
    return _PMarket(event, market, league, teams, "total", None, start)


def _in_window(k: _KMarket, start: datetime) -> bool:
    low, high = k.game.ticker.start_window()
    if not low <= start < high:
        return False
    expiry = k.market.expected_expiration_time
    if expiry is not None and not start < expiry <= start + MAX_EXPIRY_AFTER_START:
        return False
    occurrence = k.market.occurrence_datetime
    return occurrence is None or abs(occurrence - start) <= MAX_OCCURRENCE_OFFSET


def _orientation(k: _KMarket, p: _PMarket) -> tuple[PolyOutcome, PolyOutcome, str]:
    """(token paying with Kalshi YES, token paying with Kalshi NO, pair market type)."""
    outcome, market = k.outcome, p.market
    if outcome.kind == "team" and p.kind == "moneyline" and not k.game.ticker.league.draws:
        yes = [o for o in market.outcomes if p.league.teams.by_label(o.label) is outcome.team]
        no = [o for o in market.outcomes if o not in yes]
        if len(yes) == 1 and len(no) == 1:
            return yes[0], no[0], "moneyline"
    if (outcome.kind == "team" and p.kind == "team" and p.team is outcome.team) or (
            outcome.kind == "draw" and p.kind == "draw"):
        yes_token, no_token = market.outcome("Yes"), market.outcome("No")
        if yes_token is not None and no_token is not None:
            return yes_token, no_token, "moneyline" if outcome.kind == "team" else "draw"
    if outcome.kind == "line" and p.kind in ("spread", "total") and outcome.team is p.team:
        strike, line = k.market.floor_strike, market.line
        if strike is None or line is None:
            raise _Refused("line unverifiable: Kalshi floor_strike or Gamma line missing")
        if abs(Decimal(line)) != Decimal(strike):
            raise _Refused(f"line differs: Kalshi {strike} vs Polymarket {line}")
        if Decimal(strike) == Decimal(strike).to_integral_value():
            raise _Refused(f"whole-number line {strike} can push")
        if p.kind == "total":
            over, under = market.outcome("Over"), market.outcome("Under")
            if over is not None and under is not None:
                return over, under, "total"
        else:
            yes = [o for o in market.outcomes if p.league.teams.by_label(o.label) is outcome.team]
            no = [o for o in market.outcomes if o not in yes]
            if len(yes) == 1 and len(no) == 1:
                return yes[0], no[0], "spread"
    raise _Refused("no orientation")


def _compatible(k: _KMarket, p: _PMarket) -> bool:
    kind = k.outcome.kind
    ktype = k.game.ticker.market_type
    if ktype == "moneyline":
        if kind == "draw":
            return p.kind == "draw"
        return p.kind == ("team" if k.game.ticker.league.draws else "moneyline") and (
            p.kind == "moneyline" or p.team is k.outcome.team)
    if ktype == "spread":
        return p.kind == "spread" and p.team is k.outcome.team
    if ktype == "total":
        return p.kind == "total"
    return False


def match(catalog: LeagueCatalog, kalshi_events: Sequence[KalshiEventListing],
          poly_events: Sequence[PolyEventListing], *,
          kalshi_fees: Mapping[str, KalshiFeeSchedule] | None = None,
          overrides: Overrides | None = None,
          problems: Sequence[ListingProblem] = ()) -> MatchResult:
    """Pair Kalshi game markets with Polymarket markets; report everything left over with why.

    ``kalshi_fees`` maps series ticker to its fee schedule (default: the general taker table).
    ``problems`` (records the listing clients could not parse) are reported as unmatched.
    """
    overrides = overrides or Overrides()
    kalshi_fees = kalshi_fees or {}
    unmatched_k: list[Unmatched] = []
    unmatched_p: list[Unmatched] = []
    ended: set[str] = set()
    for problem in problems:
        target = unmatched_k if problem.venue == "kalshi" else unmatched_p
        target.append(Unmatched(problem.venue, problem.ident, "?", f"unparseable: {problem.reason}"))
    kms = _kalshi_games(kalshi_events, catalog, unmatched_k, ended)
    pms = _poly_markets(poly_events, catalog, unmatched_p, ended)

    by_game: dict[tuple[str, frozenset[str]], list[_PMarket]] = {}
    for p in pms:
        by_game.setdefault((p.league.key, p.teams), []).append(p)
    used: dict[str, str] = {}
    pairs: list[MarketPair] = []
    for k in sorted(kms, key=lambda k: k.market.ticker):
        league = k.game.ticker.league
        same_teams = by_game.get((league.key, k.game.ticker.team_keys), [])
        in_window = [p for p in same_teams if _in_window(k, p.start)]
        slugs = sorted({p.event.slug for p in in_window})
        if not in_window:
            nearest = ", ".join(sorted({f"{p.event.slug} starts {p.start:%Y-%m-%d %H:%M}Z"
                                        for p in same_teams})) or "none listed"
            low, high = k.game.ticker.start_window()
            unmatched_k.append(Unmatched(
                "kalshi", k.market.ticker, league.key,
                f"no Polymarket game of these teams starting in [{low:%Y-%m-%d %H:%M}Z, "
                f"{high:%Y-%m-%d %H:%M}Z) (same teams: {nearest})"))
            continue
        if len(slugs) > 1:
            unmatched_k.append(Unmatched("kalshi", k.market.ticker, league.key,
                                         f"ambiguous: several Polymarket games fit: {slugs}"))
            continue
        candidates = [p for p in in_window if _compatible(k, p)]
        if len(candidates) != 1:
            what = "no" if not candidates else f"{len(candidates)}"
            unmatched_k.append(Unmatched(
                "kalshi", k.market.ticker, league.key,
                f"{what} Polymarket market in {slugs[0]} pays on {_describe(k)}"))
            continue
        p = candidates[0]
        try:
            yes, no, market_type = _orientation(k, p)
        except _Refused as exc:
            unmatched_k.append(Unmatched("kalshi", k.market.ticker, league.key,
                                         f"{p.market.slug}: {exc}"))
            continue
        verdict = compare_rules(league, market_type if market_type != "draw" else "moneyline",
                                f"{k.market.rules_primary}\n{k.market.rules_secondary}",
                                p.market.description)
        pair = _pair(k, p, yes, no, market_type, verdict.verdict, verdict.reason, kalshi_fees)
        pairs.append(overrides.apply(pair, verdict.risks))
        used[p.market.condition_id] = k.market.ticker

    matched_games = {(k.game.ticker.league.key, k.game.ticker.team_keys) for k in kms}
    for p in pms:
        if p.market.condition_id in used:
            continue
        if (p.league.key, p.teams) in matched_games:
            reason = "no open Kalshi market pays on this outcome, or it was refused (see Kalshi side)"
        else:
            reason = "no open Kalshi event for these teams"
        unmatched_p.append(Unmatched("polymarket", p.market.slug, p.league.key, reason))
    pairs.sort(key=lambda pr: (pr.league, pr.start_time, pr.kalshi.ticker, pr.poly.condition_id))
    return MatchResult(tuple(pairs), tuple(sorted(unmatched_k, key=_unmatched_order)),
                       tuple(sorted(unmatched_p, key=_unmatched_order)), frozenset(ended))


def _describe(k: _KMarket) -> str:
    outcome = k.outcome
    if outcome.kind == "team" and outcome.team is not None:
        return f"{outcome.team.name} winning"
    if outcome.kind == "draw":
        return "a draw"
    return f"{k.game.ticker.market_type} {outcome.team.name + ' ' if outcome.team else ''}" \
           f"{k.market.floor_strike or outcome.line}"


def _pair(k: _KMarket, p: _PMarket, yes: PolyOutcome, no: PolyOutcome, market_type: str,
          verdict: Verdict, reason: str, kalshi_fees: Mapping[str, KalshiFeeSchedule]) -> MarketPair:
    ticker = k.game.ticker
    event_key = (f"{ticker.league.key}:{ticker.game_date.isoformat()}:"
                 f"{ticker.first.key}-{ticker.second.key}")
    return MarketPair(
        pair_id=MarketPair.make_id(k.market.ticker, p.market.condition_id),
        league=ticker.league.key,
        event_key=event_key,
        market_type=market_type,
        start_time=p.start,
        kalshi=KalshiSide(
            ticker=k.market.ticker,
            event_ticker=k.game.event.event_ticker,
            series_ticker=k.game.event.series_ticker,
            fees=kalshi_fees.get(k.game.event.series_ticker, KalshiFeeSchedule()),
            grid=k.market.grid,
            fractional=k.market.fractional,
        ),
        poly=PolySide(
            condition_id=p.market.condition_id,
            yes_token=yes.token_id,
            no_token=no.token_id,
            yes_label=yes.label,
            no_label=no.label,
            fees=p.market.fees,
            tick=p.market.tick,
            min_order_size=p.market.min_order_size,
            neg_risk=p.market.neg_risk,
        ),
        verdict=verdict,
        reason=reason,
    )
