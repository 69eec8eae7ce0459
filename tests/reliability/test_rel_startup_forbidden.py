"""Reliability row 7 (startup half): an HTTP 403 (a CloudFront geoblock page on Kalshi, a
forbidden answer on Polymarket) fails ``arb preflight`` fast with a clear auth/geoblock message.

Runs the real preflight against the simulated world on loopback with the fault injected in the
simulator. (A Polymarket failure at connect time ends the preflight before Kalshi's checks.)
"""
from __future__ import annotations

import argparse

import pytest
import trio

from arb.commands.preflight import run_preflight
from arb.sim.kalshi.faults import faults_of
from arb.sim.world import build_world, serve_world

pytestmark = pytest.mark.timeout(30)


async def _preflight(world, state_dir):
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, world, state_dir)
        checks = await run_preflight(argparse.Namespace(target="sim", sim_state=state_dir))
        nursery.cancel_scope.cancel()
    return checks


async def test_kalshi_cloudfront_403_fails_preflight_naming_the_geoblock(tmp_path):
    world = build_world(7, seconds=10)
    faults_of(world.kalshi).fail_next_rest(50, 403)
    checks = await _preflight(world, tmp_path)
    failed = [c for c in checks if not c.ok]
    assert [c.venue for c in failed] == ["kalshi"]
    assert "403" in failed[0].detail and "geoblock" in failed[0].detail
    assert "CloudFront" in failed[0].detail
    assert not any(c.venue == "kalshi" and c.name == "auth + balance" and c.ok for c in checks)


async def test_polymarket_403_fails_preflight_as_forbidden(tmp_path):
    world = build_world(7, seconds=10)
    world.poly.faults.fail_next_rest_calls(403, 50)
    checks = await _preflight(world, tmp_path)
    failed = [c for c in checks if not c.ok]
    assert [c.venue for c in failed] == ["polymarket"]
    assert "403" in failed[0].detail and "geoblocked or forbidden" in failed[0].detail
    assert not any(c.venue == "polymarket" and c.ok for c in checks)
