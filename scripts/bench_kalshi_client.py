"""Benchmark building and signing one Kalshi order: ``prepare`` + the three auth headers.

This is the CPU work between "send this leg" and bytes on the wire: grid rounding, V2 side
mapping, the exact JSON body, and an RSA-PSS-SHA256 signature with a 2048-bit key (the size of
Kalshi's downloaded keys). Prints microseconds per order (median, p99, max), and each part alone.

    .venv/bin/python scripts/bench_kalshi_client.py [--n 5000] [--bits 2048]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from arb.domain import Instrument, Outcome, Side, TimeInForce  # noqa: E402
from arb.money import parse_price, parse_qty  # noqa: E402
from arb.pairs import PriceBand  # noqa: E402
from arb.venues.kalshi.adapter import KalshiAdapter  # noqa: E402
from arb.venues.kalshi.auth import REST_PREFIX, KalshiSigner  # noqa: E402
from arb.venues.kalshi.directory import OrderDirectory  # noqa: E402
from arb.venues.kalshi.grid import MarketRules  # noqa: E402
from arb.venues.kalshi.limiter import KalshiRateLimiter, Tier  # noqa: E402
from arb.venues.kalshi.rest import KalshiRestClient  # noqa: E402
from arb.venues.protocol import OrderRequest  # noqa: E402

TICKER = "KXNBAGAME-26JAN11HOUSAC-SAC"
ORDER_PATH = REST_PREFIX + "/portfolio/events/orders"


def _summary(name: str, samples_ns: list[int]) -> str:
    us = sorted(s / 1000 for s in samples_ns)
    p99 = us[min(len(us) - 1, int(len(us) * 0.99))]
    return (f"{name:<28} median {statistics.median(us):8.1f} us   p99 {p99:8.1f} us   "
            f"max {us[-1]:8.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--bits", type=int, default=2048)
    args = parser.parse_args()

    key = rsa.generate_private_key(public_exponent=65537, key_size=args.bits)
    signer = KalshiSigner("bench-key", key)
    rest = KalshiRestClient(httpx.AsyncClient(), signer, KalshiRateLimiter.for_tier(Tier.BASIC),
                            OrderDirectory())
    adapter = KalshiAdapter(rest)
    adapter.set_market_rules(TICKER, MarketRules((
        PriceBand(parse_price("0"), parse_price("0.10"), parse_price("0.001")),
        PriceBand(parse_price("0.10"), parse_price("0.90"), parse_price("0.01")),
        PriceBand(parse_price("0.90"), parse_price("1"), parse_price("0.001"))),
        fractional=True, exchange_index=0))
    requests = [OrderRequest(f"bench-{i}", Instrument.kalshi(TICKER, (Outcome.YES, Outcome.NO)[i % 2]),
                             Side.BUY, parse_price(f"0.{35 + i % 30}7"), parse_qty("12.34"),
                             TimeInForce.IOC) for i in range(args.n)]

    for request in requests[:200]:  # warm up
        adapter.prepare(request)
        signer.headers("POST", ORDER_PATH)

    prepare_ns, sign_ns, total_ns = [], [], []
    for request in requests:
        t0 = time.perf_counter_ns()
        prepared = adapter.prepare(request)
        t1 = time.perf_counter_ns()
        headers = signer.headers("POST", ORDER_PATH)
        t2 = time.perf_counter_ns()
        prepare_ns.append(t1 - t0)
        sign_ns.append(t2 - t1)
        total_ns.append(t2 - t0)
        assert prepared.payload and headers
    print(f"Kalshi order build + sign, {args.n} orders, RSA-{args.bits} key")
    print(_summary("prepare (round + JSON)", prepare_ns))
    print(_summary("auth headers (RSA-PSS)", sign_ns))
    print(_summary("prepare + headers", total_ns))


if __name__ == "__main__":
    main()
