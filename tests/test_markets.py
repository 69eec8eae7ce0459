"""Operator pair decisions: the file (atomic, locked, revisioned), applying them, audit, CLI."""
from __future__ import annotations

import json
import threading
import urllib.parse
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
import trio

from arb.cli import main
from arb.discovery.fetch import Listings
from arb.discovery.listings import (
    KalshiEventListing,
    KalshiMarketListing,
    PolyEventListing,
    PolyMarketListing,
    PolyOutcome,
)
from arb.fees import KalshiFeeSchedule, PolyFeeSchedule
from arb.markets import (
    MARKETS_FILE,
    AuditFinding,
    DecisionsWatcher,
    ManualPair,
    MarketDecisions,
    MarketsError,
    apply_decisions,
    audit,
    build_manual_pair,
    load_decisions,
    parse_decisions,
    update_decisions,
)
from arb.money import CENT, parse_qty
from arb.pairs import KalshiSide, MarketPair, PolySide, Verdict
from arb.sim.server import serve_asgi
from arb.status import PairRow, StatusSnapshot, write_snapshot

START = datetime(2026, 11, 25, 19, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def pair(ticker: str, condition: str, verdict: Verdict = Verdict.EQUIVALENT, *,
         yes: str = "tok-yes", league: str = "nba") -> MarketPair:
    kalshi = KalshiSide(ticker, ticker.rsplit("-", 1)[0], "KXNBAGAME", KalshiFeeSchedule())
    poly = PolySide(condition, yes, "tok-no", "Lakers", "Celtics", PolyFeeSchedule(30_000))
    return MarketPair(MarketPair.make_id(ticker, condition), league,
                      f"{league}:2026-11-25:BOS-LAL", "moneyline", START, kalshi, poly, verdict,
                      f"matcher: {verdict.value}")


EQUIV = pair("KXNBAGAME-26NOV25LALBOS-LAL", "0xeq")
BASIS = pair("KXNBAGAME-26NOV25LALBOS-BOS", "0xbasis", Verdict.BASIS_RISK)
REJECT = pair("KXNBAGAME-26NOV25NYKMIA-NYK", "0xrej", Verdict.REJECT)
MANUAL = ManualPair("KXNBAGAME-26NOV25PHXDEN-PHX", "0xman", "tok-suns", "alias Suns missing")


def listings(*, kalshi_status: str = "active", accepting: bool = True,
             fees: bool = True) -> Listings:
    kalshi = KalshiEventListing(
        "KXNBAGAME-26NOV25PHXDEN", "KXNBAGAME", "Phoenix at Denver", "PHX at DEN (Nov 25)",
        (KalshiMarketListing(MANUAL.kalshi_ticker, "KXNBAGAME-26NOV25PHXDEN", "Phoenix",
                             "Phoenix", kalshi_status),
         KalshiMarketListing(EQUIV.kalshi.ticker, "KXNBAGAME-26NOV25LALBOS", "Los Angeles L",
                             "Los Angeles L", "closed")))
    poly = PolyEventListing(
        "1", "nba-phx-den-2026-11-25", "Suns vs. Nuggets", ("nba",),
        (PolyMarketListing("0xman", "nba-phx-den-2026-11-25", "Suns vs. Nuggets", "rules",
                           (PolyOutcome("Nuggets", "tok-nuggets"), PolyOutcome("Suns", "tok-suns")),
                           "moneyline", START, CENT, parse_qty("5"), PolyFeeSchedule(30_000),
                           accepting_orders=accepting),
         PolyMarketListing("0xeq", "nba-lal-bos-2026-11-25", "Lakers vs. Celtics", "rules",
                           (PolyOutcome("Lakers", "tok-yes"), PolyOutcome("Celtics", "tok-no")),
                           "moneyline", START, CENT, parse_qty("5"), PolyFeeSchedule(30_000))),
        start_time=START)
    return Listings((kalshi,), (poly,), {"KXNBAGAME": KalshiFeeSchedule()} if fees else {}, ())


def test_decisions_are_pure_values():
    d = MarketDecisions().approve(BASIS.pair_id, "ties refunded on both").add(MANUAL)
    assert d.decision(BASIS.pair_id) == "approved" and d.decision(MANUAL.pair_id) == "added"
    assert d.decision(EQUIV.pair_id) == "" and d.revision == 0
    removed = d.remove(BASIS.pair_id, "bad rules").remove(MANUAL.pair_id)
    assert removed.decision(BASIS.pair_id) == "removed" and removed.approval(BASIS.pair_id) is None
    assert removed.added == () and removed.removal(MANUAL.pair_id) == "removed"
    again = removed.approve(BASIS.pair_id)
    assert again.decision(BASIS.pair_id) == "approved" and again.removal(BASIS.pair_id) is None
    replaced = d.add(attrs.evolve(MANUAL, yes_token="tok-nuggets"))
    assert [m.yes_token for m in replaced.added] == ["tok-nuggets"]
    for bad in ("no-bar", "|0xabc", "KX|", "KX|0x|y", " KX|0x"):
        with pytest.raises(MarketsError, match="is not '<kalshi ticker>|<condition id>'"):
            MarketDecisions().approve(bad)
    with pytest.raises(MarketsError, match="yes_token"):
        MarketDecisions().add(ManualPair("KX", "0x", ""))


def test_file_revision_bumps_and_round_trips(tmp_path):
    path = tmp_path / "state" / MARKETS_FILE
    assert load_decisions(path) == MarketDecisions()
    first = update_decisions(path, lambda d: d.approve(BASIS.pair_id, "ok"), now=NOW)
    assert first.revision == 1 and first.updated_at == "2026-11-25T14:30:00+00:00"
    second = update_decisions(path, lambda d: d.add(MANUAL))
    third = update_decisions(path, lambda d: d.remove(REJECT.pair_id, "wrong game"))
    assert (second.revision, third.revision) == (2, 3)
    assert load_decisions(path) == third
    doc = json.loads(path.read_text())
    assert doc["revision"] == 3 and doc["added"][0]["yes_token"] == "tok-suns"
    assert sorted(p.name for p in path.parent.iterdir()) == [MARKETS_FILE, MARKETS_FILE + ".lock"]


def test_concurrent_updates_lose_nothing(tmp_path):
    path = tmp_path / MARKETS_FILE
    ids = [f"KXT-{n}|0x{n}" for n in range(16)]
    threads = [threading.Thread(target=update_decisions,
                                args=(path, lambda d, i=i: d.approve(i))) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = load_decisions(path)
    assert final.revision == 16 and {p for p, _ in final.approved} == set(ids)


def test_malformed_files_are_named(tmp_path):
    path = tmp_path / MARKETS_FILE
    path.write_text("{not json")
    with pytest.raises(MarketsError, match=f"{path}: not valid JSON"):
        load_decisions(path)
    cases = {
        '{"format": 1, "revision": 1, "extra": 1}': "unknown keys",
        '{"format": 2, "revision": 1}': "format 2",
        '{"format": 1, "revision": -1}': "revision -1",
        '{"format": 1, "revision": 1, "approved": [{"pair_id": "nobar"}]}': "'nobar'",
        '{"format": 1, "revision": 1, "added": [{"kalshi_ticker": "K", "condition_id": "0x"}]}':
            r"added\[0\]\.yes_token",
        '{"format": 1, "revision": 1, "removed": {}}': "'removed' must be a list",
    }
    for text, message in cases.items():
        with pytest.raises(MarketsError, match=message):
            parse_decisions(text, where="m.json")


def test_watcher_reloads_only_on_a_new_revision(tmp_path):
    path = tmp_path / MARKETS_FILE
    watcher = DecisionsWatcher(path)
    assert watcher.poll() == MarketDecisions()  # no file: no decisions, once
    assert watcher.poll() is None
    update_decisions(path, lambda d: d.approve(BASIS.pair_id))
    got = watcher.poll()
    assert got is not None and got.revision == 1
    assert watcher.poll() is None
    # The running bot's whole reload: one call on the discovered pairs.
    assert apply_decisions([BASIS], got)[0].tradable
    good = path.read_text()
    path.write_text("{broken")
    with pytest.raises(MarketsError):
        watcher.poll()
    path.write_text(good + " ")  # same revision rewritten: nothing new to apply
    assert watcher.poll() is None
    update_decisions(path, lambda d: d.remove(BASIS.pair_id))
    latest = watcher.poll()
    assert latest is not None and latest.revision == 2
    assert not apply_decisions([BASIS], latest)[0].tradable


def test_apply_decisions_to_pairs():
    decisions = (MarketDecisions().approve(BASIS.pair_id, "checked the rules")
                 .approve(REJECT.pair_id, "try").remove(EQUIV.pair_id, "suspicious feed"))
    assert not BASIS.tradable
    out = {p.pair_id: p for p in apply_decisions([EQUIV, BASIS, REJECT], decisions)}
    assert list(out) == [EQUIV.pair_id, BASIS.pair_id, REJECT.pair_id]
    assert out[BASIS.pair_id].tradable and "approved by operator: checked the rules" in \
        out[BASIS.pair_id].reason
    assert out[REJECT.pair_id] == REJECT  # approval never lifts a matcher reject
    removed = out[EQUIV.pair_id]
    assert removed.verdict is Verdict.REJECT and not removed.tradable
    assert removed.reason.startswith("removed by operator (suspicious feed); was equivalent")
    assert apply_decisions([EQUIV, BASIS], MarketDecisions()) == (EQUIV, BASIS)


def test_manual_pairs_from_listings():
    decisions = MarketDecisions().add(MANUAL)
    assert apply_decisions([EQUIV], decisions) == (EQUIV,)  # no listings yet: not traded
    out = apply_decisions([EQUIV], decisions, listings(), league_of=lambda s: "nba")
    assert len(out) == 2
    built = out[1]
    assert built.pair_id == MANUAL.pair_id and built.tradable and built.league == "nba"
    assert (built.poly.yes_token, built.poly.no_token) == ("tok-suns", "tok-nuggets")
    assert (built.poly.yes_label, built.poly.no_label) == ("Suns", "Nuggets")
    assert built.kalshi.event_ticker == "KXNBAGAME-26NOV25PHXDEN"
    assert built.event_key == "kalshi:KXNBAGAME-26NOV25PHXDEN" and built.start_time == START
    assert "added by operator (alias Suns missing)" in built.reason
    for broken, message in ((listings(kalshi_status="closed"), "status is 'closed'"),
                            (listings(accepting=False), "not accepting orders"),
                            (listings(fees=False), "fee schedule"),
                            (Listings((), (), {}, ()), "is not listed")):
        assert apply_decisions([], decisions, broken) == ()
        with pytest.raises(MarketsError, match=message):
            build_manual_pair(MANUAL, broken, lambda s: "nba")
    wrong = attrs.evolve(MANUAL, yes_token="tok-heat")
    with pytest.raises(MarketsError, match="tok-heat is not an outcome of .*Nuggets, Suns"):
        build_manual_pair(wrong, listings(), lambda s: "nba")
    # A sibling pair on the same Kalshi event lends its event key (shared event limits).
    sibling = attrs.evolve(EQUIV, kalshi=attrs.evolve(EQUIV.kalshi,
                                                      event_ticker="KXNBAGAME-26NOV25PHXDEN"))
    assert build_manual_pair(MANUAL, listings(), lambda s: "nba", [sibling]).event_key == \
        sibling.event_key


def test_manual_pair_checked_against_discovery_orientation():
    seen = pair(MANUAL.kalshi_ticker, MANUAL.condition_id, Verdict.BASIS_RISK, yes="tok-suns")
    ok = apply_decisions([seen], MarketDecisions().add(MANUAL))
    assert ok[0].tradable and len(ok) == 1
    flipped = apply_decisions([seen], MarketDecisions().add(
        attrs.evolve(MANUAL, yes_token="tok-nuggets")))
    assert flipped[0].verdict is Verdict.REJECT
    assert "says YES is token tok-nuggets, discovery says tok-suns" in flipped[0].reason


def test_audit_finds_closed_unlisted_and_not_accepting():
    decisions = MarketDecisions().add(MANUAL).remove(REJECT.pair_id)
    found = audit([EQUIV.pair_id, BASIS.pair_id, REJECT.pair_id], listings(accepting=False),
                  decisions)
    assert found == (  # sorted by pair id
        AuditFinding(BASIS.pair_id, "kalshi", f"market {BASIS.kalshi.ticker} is not listed "
                                              "(closed, settled or outside the discovery window)"),
        AuditFinding(BASIS.pair_id, "polymarket", "market 0xbasis is not listed (closed or "
                                                  "outside the discovery window)"),
        AuditFinding(EQUIV.pair_id, "kalshi", f"market {EQUIV.kalshi.ticker} status is 'closed'"),
        AuditFinding(MANUAL.pair_id, "polymarket",
                     "market nba-phx-den-2026-11-25 is not accepting orders"),
    )  # the removed pair is not audited
    assert audit([], listings(), MarketDecisions().add(MANUAL)) == ()
    wrong = MarketDecisions().add(attrs.evolve(MANUAL, yes_token="tok-x"))
    (finding,) = audit([], listings(), wrong)
    assert finding.venue == "operator" and "tok-x is not an outcome" in finding.problem


def snapshot(state) -> None:
    rows = tuple(PairRow(p.pair_id, p.league, f"{p.poly.yes_label} @ {p.poly.no_label}",
                         p.start_time.isoformat(), "watching", (), None, None, None)
                 for p in (EQUIV, BASIS))
    write_snapshot(state, StatusSnapshot("nba", "paper", "sim", NOW.isoformat(), 5.0, rows))


def test_cli_changes_and_list(tmp_path, capsys):
    state = tmp_path / "state"
    base = ["markets", "--state-dir", str(state)]
    assert main(base + ["approve", BASIS.pair_id, "--note", "ties refunded"]) == 0
    assert capsys.readouterr().out.strip().endswith("markets.json revision 1")
    assert main(base + ["add", "--kalshi", MANUAL.kalshi_ticker, "--condition", "0xman",
                        "--yes-token", "tok-suns", "--note", "alias"]) == 0
    assert "revision 2" in capsys.readouterr().out
    assert main(base + ["remove", REJECT.pair_id, "--reason", "wrong game"]) == 0
    assert "revision 3" in capsys.readouterr().out
    assert main(base + ["approve", "not-a-pair"]) == 2
    assert "'not-a-pair' is not" in capsys.readouterr().err
    assert load_decisions(state / MARKETS_FILE).revision == 3  # the bad command wrote nothing

    snapshot(state)
    discovery = tmp_path / "discovery.json"
    discovery.write_text(json.dumps({"pairs": [
        {"pair_id": BASIS.pair_id, "league": "nba", "start_time": START.isoformat(),
         "verdict": "basis_risk", "tradable": False, "poly_yes_label": "Celtics",
         "poly_no_label": "Lakers"},
        {"pair_id": "KXNHLGAME-26NOV26BOSNYR-BOS|0xnhl", "league": "nhl",
         "start_time": "2026-11-26T00:00:00+00:00", "verdict": "equivalent", "tradable": True}],
        "unmatched_kalshi": [], "unmatched_poly": []}))
    assert main(base + ["list", "--json", "--discovery", str(discovery)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["revision"] == 3
    rows = {r["pair_id"]: r for r in out["pairs"]}
    assert set(rows) == {EQUIV.pair_id, BASIS.pair_id, REJECT.pair_id, MANUAL.pair_id,
                         "KXNHLGAME-26NOV26BOSNYR-BOS|0xnhl"}
    assert (rows[BASIS.pair_id]["bot"], rows[BASIS.pair_id]["verdict"],
            rows[BASIS.pair_id]["decision"], rows[BASIS.pair_id]["note"]) == (
        "watching", "basis_risk", "approved", "ties refunded")
    assert (rows[REJECT.pair_id]["decision"], rows[REJECT.pair_id]["note"]) == ("removed",
                                                                                "wrong game")
    assert rows[MANUAL.pair_id]["verdict"] == "not seen"
    assert rows["KXNHLGAME-26NOV26BOSNYR-BOS|0xnhl"]["verdict"] == "equivalent (tradable)"

    assert main(base + ["list", "--json", "--discovery", str(discovery), "--league", "nhl"]) == 0
    assert [r["league"] for r in json.loads(capsys.readouterr().out)["pairs"]] == ["nhl"]
    assert main(base + ["list", "--json", "--date", "2026-11-25"]) == 0
    dated = {r["pair_id"] for r in json.loads(capsys.readouterr().out)["pairs"]}
    assert dated == {EQUIV.pair_id, BASIS.pair_id}
    assert main(base + ["list"]) == 0
    table = capsys.readouterr().out
    assert "decisions revision 3" in table and "approved" in table and "removed" in table
    discovery.write_text("[]")
    assert main(base + ["list", "--discovery", str(discovery)]) == 1
    assert "not an `arb discover --json` output" in capsys.readouterr().err


def test_cli_list_without_a_running_bot(tmp_path, capsys):
    assert main(["markets", "--state-dir", str(tmp_path), "list"]) == 0
    captured = capsys.readouterr()
    assert "Pairs (0; decisions revision 0)" in captured.out
    assert "no status snapshot" in captured.err


# --- audit against loopback venues -----------------------------------------------------------

def json_app(route):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        query = {k: v[0] for k, v in urllib.parse.parse_qs(scope["query_string"].decode()).items()}
        status, body = route(scope["path"], query)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
    return app


def venue_route(shared_dir):
    """Kalshi: the real NBA events with two markets each, one closed; Gamma: the real NBA
    events, the Rockets-Kings market no longer accepting orders."""
    doc = json.loads((shared_dir / "data/real/kalshi_events_nba_2026-01.json").read_text(),
                     parse_float=Decimal)
    for event in doc["events"]:
        codes = event["sub_title"].split(" (")[0].split(" at ")
        cities = event["title"].split(" at ")
        event["markets"] = [{
            "ticker": f"{event['event_ticker']}-{code}", "event_ticker": event["event_ticker"],
            "yes_sub_title": city, "no_sub_title": city,
            "status": "closed" if code == "SAC" else "active",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]}
            for code, city in zip(codes, cities, strict=True)]
    gamma = json.loads((shared_dir / "data/real/gamma_events_nba_2026-01.json").read_text())
    for event in gamma:
        for market in event.get("markets", []):
            if market.get("slug") == "nba-hou-sac-2026-01-11":
                market["acceptingOrders"] = False
    hou = next(m for e in gamma for m in e.get("markets", [])
               if m.get("slug") == "nba-hou-sac-2026-01-11")

    def route(path, query):
        if path.startswith("/trade-api/v2/series/"):
            body = {"series": {"ticker": path.rsplit("/", 1)[1], "fee_type": "quadratic",
                               "fee_multiplier": 1}}
        elif path == "/trade-api/v2/events":
            body = {"events": doc["events"] if query["series_ticker"] == "KXNBAGAME" else [],
                    "cursor": ""}
        else:
            offset, limit = int(query["offset"]), int(query["limit"])
            body = gamma[offset:offset + limit] if query["tag_slug"] == "nba" else []
        return 200, json.dumps(body, default=str).encode()
    return route, hou["conditionId"]


async def test_cli_audit_against_loopback_venues(shared_dir, nursery, tmp_path, capsys):
    route, hou_condition = venue_route(shared_dir)
    url = await nursery.start(serve_asgi, json_app(route))
    state = tmp_path / "state"
    hou = f"KXNBAGAME-26JAN11HOUSAC-HOU|{hou_condition}"
    sac = f"KXNBAGAME-26JAN11HOUSAC-SAC|{hou_condition}"
    gone = "KXNBAGAME-26JAN30XXXYYY-XXX|0xgone"
    for argv in (["approve", hou], ["approve", sac], ["approve", gone]):
        assert main(["markets", "--state-dir", str(state), *argv]) == 0
    capsys.readouterr()
    argv = ["markets", "--state-dir", str(state), "audit", "--league", "nba", "--kalshi-url", url,
            "--gamma-url", url, "--json"]
    code = await trio.to_thread.run_sync(main, argv)
    assert code == 3
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert (gone, "kalshi") in {(f["pair_id"], f["venue"]) for f in findings}
    assert {"pair_id": sac, "venue": "kalshi",
            "problem": "market KXNBAGAME-26JAN11HOUSAC-SAC status is 'closed'"} in findings
    assert {"pair_id": hou, "venue": "polymarket",
            "problem": "market nba-hou-sac-2026-01-11 is not accepting orders"} in findings
    assert not any(f["pair_id"] == hou and f["venue"] == "kalshi" for f in findings)

    for argv in (["remove", gone], ["remove", sac], ["remove", hou]):
        assert main(["markets", "--state-dir", str(state), *argv]) == 0
    capsys.readouterr()
    code = await trio.to_thread.run_sync(main, ["markets", "--state-dir", str(state), "audit",
                                                "--league", "nba", "--kalshi-url", url,
                                                "--gamma-url", url])
    assert code == 0 and "audited 0 pairs against nba listings: 0 problems" in \
        capsys.readouterr().out
    code = await trio.to_thread.run_sync(main, ["markets", "--state-dir", str(state), "audit",
                                                "--league", "xfl"])
    assert code == 2 and "xfl" in capsys.readouterr().err
