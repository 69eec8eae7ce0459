"""Discovery over the wire against the simulated world, scored against the slate's ground truth."""
from datetime import UTC, datetime, timedelta

import trio

from arb.discovery.fetch import fetch_listings, match_listings
from arb.discovery.leagues import load_leagues
from arb.pairs import Verdict
from arb.sim.world import build_world, load_credentials, serve_world

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


async def _discover(tmp_path, seed: int):
    world = build_world(seed, seconds=30, now=NOW)
    catalog = load_leagues()
    leagues = [catalog.get(key) for key in sorted({g.league for g in world.slate.games})]
    async with trio.open_nursery() as nursery:
        creds = await nursery.start(serve_world, world, tmp_path)
        assert load_credentials(tmp_path) == creds
        listings = await fetch_listings(leagues, kalshi_url=creds.kalshi_rest,
                                        gamma_url=creds.poly_gamma, now=NOW,
                                        horizon=timedelta(days=4))
        nursery.cancel_scope.cancel()
    return world, match_listings(catalog, listings, None)


async def test_discovery_finds_every_truth_pair_with_orientation(tmp_path):
    world, result = await _discover(tmp_path, seed=1)
    found = {p.kalshi.ticker: p for p in result.pairs}
    truth = {p.kalshi_ticker: p for p in world.slate.pairs}
    correct = 0
    for ticker, expected in truth.items():
        pair = found.get(ticker)
        assert pair is not None, f"{ticker} ({expected.note}) not matched"
        assert pair.poly.condition_id == expected.condition_id
        assert (pair.poly.yes_token, pair.poly.no_token) == (expected.yes_token, expected.no_token)
        wanted = Verdict.EQUIVALENT if expected.verdict == "equivalent" else Verdict.BASIS_RISK
        assert pair.verdict is wanted, (ticker, pair.reason)
        correct += 1
    false_positives = [t for t in found if t not in truth]
    assert false_positives == []
    precision = correct / len(found)
    recall = correct / len(truth)
    print(f"slate seed 1: {len(found)} pairs found, {len(truth)} true, "
          f"precision {precision:.3f} recall {recall:.3f}")
    assert precision == recall == 1.0


async def test_decoys_stay_unmatched_with_a_reason(tmp_path):
    world, result = await _discover(tmp_path, seed=2)
    paired = {p.poly.condition_id for p in result.pairs}
    for decoy in world.slate.decoys:
        assert decoy.market not in paired, decoy
    assert result.unmatched_poly and all(u.reason for u in result.unmatched_poly)
