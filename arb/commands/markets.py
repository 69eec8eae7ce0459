"""``arb markets``: the operator's pair management (list, approve, add, remove, audit).

Decisions live in ``DIR/markets.json`` (see ``arb.markets``); the running bot picks up every
change at its next poll, without a restart. ``list`` shows the pairs the running bot trades (its
status snapshot) and/or a discovery run saved with ``arb discover --json > FILE``; ``audit``
fetches both venues' current listings and names pairs whose markets closed, are no longer listed
or stopped accepting orders. Exit codes: 0 fine, 1 a file or venue failed, 2 bad usage,
3 the audit found problems.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from arb.commands.discover import GAMMA_PROD_URL, KALSHI_PROD_URL, resolve_urls
from arb.discovery.fetch import fetch_listings
from arb.discovery.leagues import LeagueCatalog, LeagueDataError, load_leagues
from arb.markets import (
    ManualPair,
    MarketDecisions,
    MarketsError,
    audit,
    audited_ids,
    decisions_path,
    load_decisions,
    split_pair_id,
    update_decisions,
)
from arb.status import read_snapshot
from arb.venues.kalshi.catalog import CatalogError
from arb.venues.polymarket.gamma import GammaError
from arb.venues.protocol import Transient

NAME = "markets"
HELP = "list the traded pairs with the operator's decisions; approve, add, remove, audit"
AUDIT_FINDINGS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=Path("state"),
                        help="the bot's state directory holding markets.json (default ./state)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="pairs with their decision")
    listing.add_argument("--league", action="append", default=None, metavar="KEY")
    listing.add_argument("--date", default=None, help="games starting on this UTC date "
                                                      "(YYYY-MM-DD)")
    listing.add_argument("--discovery", type=Path, default=None,
                         help="a saved `arb discover --json` output to list as well")
    listing.add_argument("--json", action="store_true")
    approve = sub.add_parser("approve", help="accept a pair (e.g. its basis risk)")
    approve.add_argument("pair_id")
    approve.add_argument("--note", default="")
    add = sub.add_parser("add", help="add a pair discovery does not match")
    add.add_argument("--kalshi", required=True, metavar="TICKER", help="Kalshi market ticker")
    add.add_argument("--condition", required=True, metavar="ID",
                     help="Polymarket condition id")
    add.add_argument("--yes-token", required=True, metavar="TOKEN",
                     help="the Polymarket token that pays when the Kalshi YES pays")
    add.add_argument("--note", default="")
    remove = sub.add_parser("remove", help="stop trading a pair (blocks it)")
    remove.add_argument("pair_id")
    remove.add_argument("--reason", default="")
    check = sub.add_parser("audit", help="pairs whose markets closed or stopped trading, "
                                         "from a fresh discovery")
    check.add_argument("--league", action="append", default=None, metavar="KEY",
                       help="leagues to fetch (default: those of the listed pairs, else all)")
    check.add_argument("--kalshi-url", default=None, help=f"default {KALSHI_PROD_URL}")
    check.add_argument("--gamma-url", default=None, help=f"default {GAMMA_PROD_URL}")
    check.add_argument("--days", type=float, default=3.0, help="look this many days ahead")
    check.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    path = decisions_path(args.state_dir)
    try:
        if args.action == "approve":
            split_pair_id(args.pair_id)
            return _changed(update_decisions(path, lambda d: d.approve(args.pair_id, args.note)),
                            f"approved {args.pair_id}")
        if args.action == "add":
            manual = ManualPair(args.kalshi, args.condition, args.yes_token, args.note)
            MarketDecisions().add(manual)
            return _changed(update_decisions(path, lambda d: d.add(manual)),
                            f"added {manual.pair_id} (YES = token {manual.yes_token}); it trades "
                            f"once discovery sees both markets open")
        if args.action == "remove":
            split_pair_id(args.pair_id)
            return _changed(update_decisions(path, lambda d: d.remove(args.pair_id, args.reason)),
                            f"removed {args.pair_id}")
        decisions = load_decisions(path)
        if args.action == "list":
            return _list(args, decisions)
        return _audit(args, decisions)
    except MarketsError as exc:
        print(f"arb markets: {exc}", file=sys.stderr)
        return 2 if args.action in ("approve", "add", "remove") else 1


def _changed(decisions: MarketDecisions, what: str) -> int:
    print(f"{what}; markets.json revision {decisions.revision}")
    return 0


def _rows(args: argparse.Namespace, decisions: MarketDecisions) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    snapshot = read_snapshot(args.state_dir)
    if snapshot is not None:
        for p in snapshot.pairs:
            rows[p.pair_id] = {"pair_id": p.pair_id, "league": p.league, "start": p.start_time,
                               "title": p.title, "bot": p.state, "verdict": ""}
    if args.discovery is not None:
        for p in _discovery_pairs(args.discovery):
            row = rows.setdefault(p["pair_id"], {
                "pair_id": p["pair_id"], "league": p.get("league", ""),
                "start": p.get("start_time", ""),
                "title": f"{p.get('poly_yes_label', '')} / {p.get('poly_no_label', '')}",
                "bot": ""})
            row["verdict"] = p.get("verdict", "") + (" (tradable)" if p.get("tradable") else "")
    for pair_id in ({p for p, _ in decisions.approved} | {p for p, _ in decisions.removed}
                    | {m.pair_id for m in decisions.added}):
        rows.setdefault(pair_id, {"pair_id": pair_id, "league": "", "start": "", "title": "",
                                  "bot": "", "verdict": "not seen"})
    for pair_id, row in rows.items():
        row["decision"] = decisions.decision(pair_id)
        row["note"] = (decisions.removal(pair_id) or decisions.approval(pair_id)
                       or (decisions.manual(pair_id).note if decisions.manual(pair_id) else ""))
    return rows


def _discovery_pairs(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        pairs = doc["pairs"]
        if not isinstance(pairs, list) or not all(isinstance(p, dict) and "pair_id" in p
                                                  for p in pairs):
            raise ValueError("'pairs' must be a list of objects with a pair_id")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MarketsError(f"{path}: not an `arb discover --json` output: {exc}") from None
    return pairs


def _list(args: argparse.Namespace, decisions: MarketDecisions) -> int:
    rows = sorted(_rows(args, decisions).values(), key=lambda r: (r["league"], r["start"],
                                                                   r["pair_id"]))
    if args.league:
        rows = [r for r in rows if r["league"] in args.league]
    if args.date:
        rows = [r for r in rows if str(r["start"]).startswith(args.date)]
    if args.json:
        print(json.dumps({"revision": decisions.revision, "pairs": rows}, indent=1))
        return 0
    table = Table(title=f"Pairs ({len(rows)}; decisions revision {decisions.revision})")
    for column in ("league", "start (UTC)", "pair", "game", "bot", "discovery", "decision",
                   "note"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["league"], str(r["start"])[:16], r["pair_id"], r["title"], r["bot"],
                      r["verdict"], r["decision"], r["note"])
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)
    if read_snapshot(args.state_dir) is None and args.discovery is None:
        print(f"no status snapshot in {args.state_dir} (bot not running?); showing decisions "
              f"only. Pass --discovery FILE to list a saved discovery run.", file=sys.stderr)
    return 0


def _league_of(catalog: LeagueCatalog):
    def league_of(series: str) -> str:
        found = catalog.by_series(series)
        return "" if found is None else found[0].key
    return league_of


def _audit(args: argparse.Namespace, decisions: MarketDecisions) -> int:
    snapshot = read_snapshot(args.state_dir)
    pairs = {p.pair_id: p.league for p in snapshot.pairs} if snapshot is not None else {}
    try:
        catalog = load_leagues()
        keys = args.league or sorted({lg for lg in pairs.values() if lg}) \
            or [lg.key for lg in catalog]
        leagues = [catalog.get(k) for k in keys]
    except (LeagueDataError, KeyError) as exc:
        print(f"arb markets: {exc}", file=sys.stderr)
        return 2
    kalshi_url, gamma_url = resolve_urls(args)
    try:
        listings = asyncio.run(fetch_listings(
            leagues, kalshi_url=kalshi_url, gamma_url=gamma_url, now=datetime.now(UTC),
            horizon=timedelta(days=args.days)))
    except (Transient, CatalogError, GammaError) as exc:
        print(f"arb markets: listing failed: {exc}", file=sys.stderr)
        return 1
    findings = audit(pairs, listings, decisions, _league_of(catalog))
    audited = len(audited_ids(pairs, decisions))
    if args.json:
        print(json.dumps({"audited": audited, "findings": [
            {"pair_id": f.pair_id, "venue": f.venue, "problem": f.problem} for f in findings]},
            indent=1))
    else:
        print(f"audited {audited} pairs against {', '.join(keys)} listings: "
              f"{len(findings)} problems")
        for f in findings:
            print(f"  {f.pair_id}  [{f.venue}] {f.problem}")
    return AUDIT_FINDINGS if findings else 0
