"""``arb discover``: list both venues' open games, match them, print pairs and leftovers."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from arb.discovery.fetch import fetch_listings, match_listings
from arb.discovery.leagues import LeagueDataError, load_leagues
from arb.discovery.matcher import MatchResult
from arb.discovery.overrides import OverridesError, load_overrides
from arb.money import format_trimmed
from arb.venues.kalshi.catalog import CatalogError
from arb.venues.polymarket.gamma import GammaError
from arb.venues.protocol import Transient

NAME = "discover"
HELP = "match open Kalshi and Polymarket sports markets and show pairs, verdicts and leftovers"

KALSHI_PROD_URL = "https://external-api.kalshi.com"
GAMMA_PROD_URL = "https://gamma-api.polymarket.com"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--league", action="append", default=None, metavar="KEY",
                        help="league key (repeatable; default: every league)")
    parser.add_argument("--kalshi-url", default=None, help=f"Kalshi REST base (default {KALSHI_PROD_URL})")
    parser.add_argument("--gamma-url", default=None, help=f"Gamma base (default {GAMMA_PROD_URL})")
    parser.add_argument("--days", type=float, default=3.0, help="look this many days ahead")
    parser.add_argument("--overrides", type=Path, default=None,
                        help="TOML/JSON file forcing or accepting pairs (see arb.discovery.overrides)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def resolve_urls(args: argparse.Namespace) -> tuple[str, str]:
    """The Kalshi and Gamma base URLs for this run: the one place targets are resolved."""
    return (args.kalshi_url or KALSHI_PROD_URL, args.gamma_url or GAMMA_PROD_URL)


def run(args: argparse.Namespace) -> int:
    try:
        catalog = load_leagues()
        keys = args.league or [lg.key for lg in catalog]
        leagues = [catalog.get(k) for k in keys]
        overrides = load_overrides(args.overrides) if args.overrides else None
    except (LeagueDataError, OverridesError, KeyError) as exc:
        print(f"arb discover: {exc}", file=sys.stderr)
        return 2
    kalshi_url, gamma_url = resolve_urls(args)
    try:
        listings = trio.run(lambda: fetch_listings(
            leagues, kalshi_url=kalshi_url, gamma_url=gamma_url, now=datetime.now(UTC),
            horizon=timedelta(days=args.days)))
    except (Transient, CatalogError, GammaError) as exc:
        print(f"arb discover: listing failed: {exc}", file=sys.stderr)
        return 1
    result = match_listings(catalog, listings, overrides)
    print(render_json(result) if args.json else render_text(result))
    return 0


def result_to_dict(result: MatchResult) -> dict:
    return {
        "pairs": [{
            "pair_id": p.pair_id, "league": p.league, "event_key": p.event_key,
            "market_type": p.market_type, "start_time": p.start_time.isoformat(),
            "kalshi_ticker": p.kalshi.ticker, "kalshi_event": p.kalshi.event_ticker,
            "kalshi_fee_type": p.kalshi.fees.fee_type,
            "poly_condition_id": p.poly.condition_id,
            "poly_yes_token": p.poly.yes_token, "poly_no_token": p.poly.no_token,
            "poly_yes_label": p.poly.yes_label, "poly_no_label": p.poly.no_label,
            "poly_tick": format_trimmed(p.poly.tick),
            "poly_fee_rate": format_trimmed(p.poly.fees.rate),
            "poly_neg_risk": p.poly.neg_risk,
            "verdict": p.verdict.value, "tradable": p.tradable, "reason": p.reason,
        } for p in result.pairs],
        "unmatched_kalshi": [{"ident": u.ident, "league": u.league, "reason": u.reason}
                             for u in result.unmatched_kalshi],
        "unmatched_poly": [{"ident": u.ident, "league": u.league, "reason": u.reason}
                           for u in result.unmatched_poly],
    }


def render_json(result: MatchResult) -> str:
    return json.dumps(result_to_dict(result), indent=1)


def render_text(result: MatchResult) -> str:
    lines = [f"{len(result.pairs)} matched pairs "
             f"({sum(p.tradable for p in result.pairs)} tradable)"]
    header = ("league", "start (UTC)", "kalshi ticker", "polymarket", "kalshi YES = / NO =",
              "verdict", "reason")
    rows = [header] + [(
        p.league, f"{p.start_time:%Y-%m-%d %H:%M}", p.kalshi.ticker, p.poly.condition_id[:12] + "…",
        f"{p.poly.yes_label} / {p.poly.no_label}",
        p.verdict.value + (" (accepted)" if p.basis_risk_accepted else ""), p.reason,
    ) for p in result.pairs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    for venue, items in (("Kalshi", result.unmatched_kalshi), ("Polymarket", result.unmatched_poly)):
        lines.append("")
        lines.append(f"{len(items)} unmatched {venue} markets")
        for u in items:
            lines.append(f"  {u.league:<10} {u.ident}  {u.reason}")
    return "\n".join(lines)
