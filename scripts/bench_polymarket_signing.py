"""Benchmark Polymarket V2 order hashing + signing, and the whole ``prepare`` path.

Three timings per order, in microseconds (median, p99, max):
  hash+sign   ``PolymarketSigner.sign_order`` (EIP-712 digest + secp256k1 signature)
  prepare     ``PolymarketAdapter.prepare`` (tick rounding, amounts, checks, sign, JSON body)
  official    py_clob_client_v2's ExchangeOrderBuilderV2.build_signed_order, for reference

    .venv/bin/python scripts/bench_polymarket_signing.py [--n 5000] [--seed 7]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arb.domain import Instrument, Side, TimeInForce  # noqa: E402
from arb.money import CENT, SCALE  # noqa: E402
from arb.venues.polymarket.adapter import PolymarketAdapter, TokenSpec  # noqa: E402
from arb.venues.polymarket.auth import ApiCredentials  # noqa: E402
from arb.venues.polymarket.rest import PolymarketRest  # noqa: E402
from arb.venues.polymarket.signing import EXCHANGE_V2, PolymarketSigner  # noqa: E402
from arb.venues.protocol import OrderRequest  # noqa: E402

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


def _report(name: str, samples: list[float]) -> None:
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"{name:<10} median {statistics.median(samples):8.1f} us   p99 {p99:8.1f} us   "
          f"max {samples[-1]:8.1f} us   (n={len(samples)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    signer = PolymarketSigner.from_private_key(KEY)
    rest = PolymarketRest(None, signer, ApiCredentials("bench", "YmVuY2g=", "bench"))  # type: ignore[arg-type]
    adapter = PolymarketAdapter(rest, signer)
    adapter.register_token(TokenSpec("0xbench", TOKEN, tick=CENT, min_order_size=5 * SCALE,
                                     neg_risk=False))

    sign_us, prepare_us = [], []
    for _ in range(args.n):
        order = signer.build_order(
            token_id=int(TOKEN), side=rng.choice((Side.BUY, Side.SELL)),
            maker_amount=rng.randrange(10**6, 10**9), taker_amount=rng.randrange(10**6, 10**9),
            timestamp_ms=int(time.time() * 1000))
        neg_risk = rng.random() < 0.5
        t0 = time.perf_counter_ns()
        signer.sign_order(order, neg_risk=neg_risk)
        sign_us.append((time.perf_counter_ns() - t0) / 1000)

        request = OrderRequest(
            "c", Instrument.polymarket("0xbench", TOKEN), rng.choice((Side.BUY, Side.SELL)),
            rng.randrange(1, 100) * CENT, rng.randrange(100, 500) * SCALE,
            rng.choice(list(TimeInForce)))
        t0 = time.perf_counter_ns()
        adapter.prepare(request)
        prepare_us.append((time.perf_counter_ns() - t0) / 1000)

    from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
    from py_clob_client_v2.order_utils import Side as OfficialSide
    from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2
    from py_clob_client_v2.signer import Signer

    official = ExchangeOrderBuilderV2(EXCHANGE_V2, 137, Signer(KEY, 137))
    official_us = []
    for _ in range(min(args.n, 500)):
        data = OrderDataV2(maker=signer.address, tokenId=TOKEN, makerAmount="1000000",
                           takerAmount="2000000", side=OfficialSide.BUY, signer=signer.address)
        t0 = time.perf_counter_ns()
        official.build_signed_order(data)
        official_us.append((time.perf_counter_ns() - t0) / 1000)

    _report("hash+sign", sign_us)
    _report("prepare", prepare_us)
    _report("official", official_us)


if __name__ == "__main__":
    main()
