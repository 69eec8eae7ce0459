"""Benchmark the trading core's hot path: one book update applied + edge re-evaluated for its pair.

Books are realistic sports books (15 levels a side, 1-cent ticks, a 1-2 cent spread). Four runs:
Kalshi ``orderbook_delta`` and Polymarket ``price_change`` levels on a no-arb pair (the common
case: the top-of-book early exit), and the same on a pair whose books hold a cross-venue arb
(every update re-evaluated; updates land on any level of any side, as a feed's do). Two more runs
put every update on the top three ask levels the arb is sized from (Kalshi YES bids = NO asks,
Polymarket YES asks), so each one changes the arb's inputs and forces an exact re-sizing: the
worst case. Prints microseconds per update (median, p99, max) and, for reference, the update
alone without evaluation.

    .venv/bin/python scripts/bench_core.py [--n 50000] [--seed 7]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arb.book import KalshiBook, PolyBook  # noqa: E402
from arb.domain import Outcome, Side  # noqa: E402
from arb.edge import EdgeParams, evaluate  # noqa: E402
from arb.fees import KalshiFeeSchedule, PolyFeeSchedule  # noqa: E402
from arb.money import CENT, SCALE  # noqa: E402
from arb.pairs import KalshiSide, MarketPair, PolySide, Verdict  # noqa: E402

LEVELS = 15
PAIR = MarketPair(
    pair_id="KXNBAGAME-26JAN01DALLAL-LAL|0xbench", league="nba", event_key="bench",
    market_type="moneyline", start_time=datetime(2026, 1, 1, tzinfo=UTC),
    kalshi=KalshiSide("KXNBAGAME-26JAN01DALLAL-LAL", "KXNBAGAME-26JAN01DALLAL", "KXNBAGAME",
                      KalshiFeeSchedule("quadratic_with_maker_fees")),
    poly=PolySide("0xbench", "tok-lal", "tok-dal", "Lakers", "Mavericks",
                  PolyFeeSchedule(50_000)),
    verdict=Verdict.EQUIVALENT, reason="benchmark pair")
PARAMS = EdgeParams(max_qty=500 * SCALE, max_cost=500 * SCALE)


def ladder(rng: random.Random, best_cents: int, direction: int) -> list[tuple[int, int]]:
    """LEVELS levels from ``best_cents`` away from the spread (-1: bids, +1: asks)."""
    return [((best_cents + direction * i) * CENT, rng.randint(5, 400) * SCALE)
            for i in range(LEVELS)]


def build_books(rng: random.Random, *, arb: bool):
    """YES is worth ~0.45. No-arb: every pair of best asks sums to 1.02. Arb: Polymarket YES asks
    start at 0.43 while Kalshi NO asks start at 0.53 (4 cents gross before fees)."""
    kb = KalshiBook(PAIR.kalshi.ticker, no_in_yes_prices=False)
    kb.apply_snapshot(ladder(rng, 47 if arb else 44, -1), ladder(rng, 51 if arb else 54, -1),
                      received_at=0.0)
    pyb = PolyBook(PAIR.poly.yes_token, tick=CENT, min_order_size=5 * SCALE)
    pyb.apply_snapshot(ladder(rng, 41 if arb else 44, -1), ladder(rng, 43 if arb else 46, 1),
                       received_at=0.0)
    pnb = PolyBook(PAIR.poly.no_token, tick=CENT, min_order_size=5 * SCALE)
    pnb.apply_snapshot(ladder(rng, 53, -1), ladder(rng, 56, 1), received_at=0.0)
    return kb, pyb, pnb


def kalshi_deltas(rng: random.Random, kb: KalshiBook, n: int,
                  outcomes: tuple[Outcome, ...] = tuple(Outcome), top: int | None = None):
    """Deltas on existing levels (sizes stay positive), now and then a level emptied and
    re-added, as a real feed does; generated against a model of the book. ``outcomes`` and
    ``top`` (best bids only) narrow where they land."""
    model = {o: dict(kb.bids(o)) for o in Outcome}
    out = []
    for _ in range(n):
        outcome = rng.choice(list(outcomes))
        price = rng.choice(list(model[outcome])[:top])
        size = model[outcome][price]
        if rng.random() < 0.05:
            delta = -size
        else:
            delta = rng.randint(-min(size // SCALE - 1, 50), 50) * SCALE
        out.append((outcome, price, delta))
        if size + delta:
            model[outcome][price] = size + delta
        else:
            out.append((outcome, price, size))
    return out


def poly_changes(rng: random.Random, books: list[PolyBook], n: int,
                 sides: tuple[Side, ...] = tuple(Side), top: int | None = None):
    """Level updates (new total sizes), now and then a level emptied and re-added; ``sides``
    and ``top`` (best levels only) narrow where they land."""
    out = []
    for _ in range(n):
        book = rng.choice(books)
        side = rng.choice(list(sides))
        levels = book.bids() if side is Side.BUY else book.asks()
        price = rng.choice(levels[:top])[0]
        size = rng.randint(5, 400) * SCALE if rng.random() < 0.97 else 0
        out.append((book, side, price, size))
        if size == 0:
            out.append((book, side, price, rng.randint(5, 400) * SCALE))
    return out


def summarize(label: str, samples: list[int]) -> None:
    ordered = sorted(samples)
    us = [s / 1000 for s in ordered]
    p99 = us[min(len(us) - 1, int(0.99 * len(us)))]
    print(f"{label:<58} median {statistics.median(us):7.2f} us   p99 {p99:7.2f} us   "
          f"max {us[-1]:8.1f} us   (n={len(us)})")


def bench_kalshi(rng: random.Random, n: int, *, arb: bool, evaluate_edge: bool,
                 on_arb_levels: bool = False) -> list[int]:
    kb, pyb, pnb = build_books(rng, arb=arb)
    deltas = (kalshi_deltas(rng, kb, n, (Outcome.YES,), 3) if on_arb_levels
              else kalshi_deltas(rng, kb, n))
    found = 0
    samples = []
    clock = time.perf_counter_ns
    for i, (outcome, price, delta) in enumerate(deltas):
        t0 = clock()
        kb.apply_delta(outcome, price, delta, received_at=float(i))
        if evaluate_edge:
            found += bool(evaluate(PAIR, kb, pyb, pnb, PARAMS))
        samples.append(clock() - t0)
    if evaluate_edge:
        print(f"  kalshi {'arb' if arb else 'no-arb'}{' top-levels' if on_arb_levels else ''} run: "
              f"opportunities on {found} of {len(deltas)} updates")
    return samples


def bench_poly(rng: random.Random, n: int, *, arb: bool, evaluate_edge: bool,
               on_arb_levels: bool = False) -> list[int]:
    kb, pyb, pnb = build_books(rng, arb=arb)
    changes = (poly_changes(rng, [pyb], n, (Side.SELL,), 3) if on_arb_levels
               else poly_changes(rng, [pyb, pnb], n))
    found = 0
    samples = []
    clock = time.perf_counter_ns
    for i, (book, side, price, size) in enumerate(changes):
        t0 = clock()
        book.apply_level(side, price, size, received_at=float(i))
        if evaluate_edge:
            found += bool(evaluate(PAIR, kb, pyb, pnb, PARAMS))
        samples.append(clock() - t0)
    if evaluate_edge:
        print(f"  polymarket {'arb' if arb else 'no-arb'}{' top-levels' if on_arb_levels else ''} "
              f"run: opportunities on {found} of {len(changes)} updates")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="updates per run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = []
    for arb in (False, True):
        state = "arb present" if arb else "no arb"
        rng = random.Random(args.seed)
        results.append((f"kalshi delta + evaluate ({state})",
                        bench_kalshi(rng, args.n, arb=arb, evaluate_edge=True)))
        rng = random.Random(args.seed)
        results.append((f"polymarket price_change level + evaluate ({state})",
                        bench_poly(rng, args.n, arb=arb, evaluate_edge=True)))
    rng = random.Random(args.seed)
    results.append(("kalshi delta on the arb's top 3 levels + evaluate",
                    bench_kalshi(rng, args.n, arb=True, evaluate_edge=True, on_arb_levels=True)))
    rng = random.Random(args.seed)
    results.append(("polymarket level on the arb's top 3 levels + evaluate",
                    bench_poly(rng, args.n, arb=True, evaluate_edge=True, on_arb_levels=True)))
    rng = random.Random(args.seed)
    results.append(("kalshi delta alone", bench_kalshi(rng, args.n, arb=False,
                                                       evaluate_edge=False)))
    rng = random.Random(args.seed)
    results.append(("polymarket price_change level alone",
                    bench_poly(rng, args.n, arb=False, evaluate_edge=False)))
    print(f"python {sys.version.split()[0]}, {LEVELS} levels a side")
    for label, samples in results:
        summarize(label, samples)


if __name__ == "__main__":
    main()
