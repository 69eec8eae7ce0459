import argparse
import json

import trio

from arb.commands.preflight import run_preflight
from arb.sim.world import build_world, serve_world


def _args(state) -> argparse.Namespace:
    return argparse.Namespace(target="sim", sim_state=state)


async def test_preflight_passes_against_the_simulator(tmp_path):
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, build_world(1, seconds=10), tmp_path)
        checks = await run_preflight(_args(tmp_path))
        nursery.cancel_scope.cancel()
    assert {(c.venue, c.name) for c in checks} >= {
        ("kalshi", "reachable"), ("kalshi", "auth + balance"), ("kalshi", "clock skew"),
        ("polymarket", "auth + balance"), ("polymarket", "clock skew")}
    assert all(c.ok for c in checks), checks


async def test_preflight_reports_a_wrong_key_in_plain_language(tmp_path):
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, build_world(1, seconds=10), tmp_path)
        creds = json.loads((tmp_path / "credentials.json").read_text())
        creds["kalshi_key_id"] = "00000000-0000-0000-0000-000000000000"
        (tmp_path / "credentials.json").write_text(json.dumps(creds))
        checks = await run_preflight(_args(tmp_path))
        nursery.cancel_scope.cancel()
    failed = [c for c in checks if not c.ok]
    assert failed and failed[0].venue == "kalshi"
    assert "401" in failed[0].detail and "key id" in failed[0].detail
