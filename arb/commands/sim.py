"""``arb sim``: run both simulated exchanges on loopback for any client to use."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import trio

from arb.sim.faultplan import FAULTS, FaultPlanError, parse_fault
from arb.sim.world import CREDENTIALS_FILE, TRUTH_FILE, build_world, serve_world

NAME = "sim"
HELP = "run the simulated Kalshi and Polymarket exchanges on loopback"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, required=True,
                        help="where credentials.json, truth.json and the key file are written")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long (default: run until interrupted)")
    parser.add_argument("--arb-every", type=float, default=8.0,
                        help="seconds between injected arbitrage windows")
    parser.add_argument("--fault", action="append", default=[], metavar="AT:NAME[:ARG]",
                        help="inject a fault at AT seconds; known: " + ", ".join(sorted(FAULTS)))


def run(args: argparse.Namespace) -> int:
    try:
        faults = tuple(parse_fault(text) for text in args.fault)
    except FaultPlanError as err:
        print(f"arb sim: {err}", file=sys.stderr)
        return 2
    seconds = args.seconds if args.seconds is not None else math.inf
    world = build_world(args.seed, seconds=seconds if math.isfinite(seconds) else 3600.0,
                        arb_every_s=args.arb_every, faults=faults)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            creds = await nursery.start(serve_world, world, args.state_dir)
            print(f"Kalshi REST   {creds.kalshi_rest}\nKalshi ws     {creds.kalshi_ws}\n"
                  f"Kalshi key id {creds.kalshi_key_id} (private key {creds.kalshi_private_key_path})\n"
                  f"Polymarket    {creds.poly_clob}  ws {creds.poly_market_ws}  "
                  f"user {creds.poly_user_ws}\nGamma         {creds.poly_gamma}\n"
                  f"Poly address  {creds.poly_address} (private key in "
                  f"{args.state_dir / CREDENTIALS_FILE})\n"
                  f"Ground truth  {args.state_dir / TRUTH_FILE}: {len(world.slate.pairs)} pairs, "
                  f"{len(world.plan.arbs)} planned arbitrage windows", flush=True)
            if math.isfinite(seconds):
                await trio.sleep(seconds)
                nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except KeyboardInterrupt:
        pass
    return 0
