"""Benchmark the ledger's hot-path writes: write-ahead ``record_intent`` and ``record_fill``.

Prints microseconds per call (median, p99, max) for ``synchronous=FULL`` (what the bot uses: every
commit is fsynced) and ``NORMAL`` (survives a process kill, not a power cut), on a fresh file in
``--dir`` (default: the system temp dir; fsync cost depends on that filesystem, so run it where
the live ledger will live).

    .venv/bin/python scripts/bench_ledger.py [--n 2000] [--dir PATH]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue  # noqa: E402
from arb.ledger import Intent, Ledger  # noqa: E402
from arb.money import Money, parse_price, parse_qty  # noqa: E402
from arb.venues.protocol import Fill, FillStatus  # noqa: E402


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(directory: Path, synchronous: str, n: int) -> dict[str, list[float]]:
    path = directory / f"bench-{synchronous.lower()}.sqlite"
    inst = Instrument.kalshi("KXBENCH-26NOV25AAABBB-AAA", Outcome.NO)
    price, qty = parse_price("0.45"), parse_qty("10")
    timings: dict[str, list[float]] = {"record_intent": [], "record_fill": []}
    with Ledger.open(path, mode="paper", synchronous=synchronous) as ledger:
        for i in range(n):
            intent = Intent(f"c-{i}", f"x-{i}", "pair", "event", "a", inst, Side.BUY, price, qty,
                            TimeInForce.IOC)
            start = time.perf_counter_ns()
            ledger.record_intent(intent)
            timings["record_intent"].append((time.perf_counter_ns() - start) / 1000)
            fill = Fill(Venue.KALSHI, f"t-{i}", f"o-{i}", f"c-{i}", inst, Side.BUY, price, qty,
                        Money(180_000), True, FillStatus.CONFIRMED, 0)
            start = time.perf_counter_ns()
            ledger.record_fill(fill)
            timings["record_fill"].append((time.perf_counter_ns() - start) / 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="calls per operation (default 2000)")
    parser.add_argument("--dir", type=Path, default=None, help="where to create the files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-ledger-") as tmp:
        print(f"ledger files in {tmp}, {args.n} calls each")
        print(f"{'synchronous':<12}{'operation':<16}{'median us':>12}{'p99 us':>12}{'max us':>12}")
        for synchronous in ("FULL", "NORMAL"):
            for name, samples in run(Path(tmp), synchronous, args.n).items():
                print(f"{synchronous:<12}{name:<16}{statistics.median(samples):>12.1f}"
                      f"{percentile(samples, 0.99):>12.1f}{max(samples):>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
