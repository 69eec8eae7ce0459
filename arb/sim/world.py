# Design note: the simulated world.
#
# One seeded world = both simulated exchanges listing the same slate, the house market maker
# driving their books with planned arbitrage windows, and one funded bot account on each venue.
# `serve_world` puts both exchanges on real loopback ports, starts the market maker and writes
# what a client needs to `DIR/credentials.json` (URLs, the Kalshi key id and the path of its
# private key, the Polymarket private key and address) and the ground truth to `DIR/truth.json`.
# Anyone can point their own client at it; `arb run --target sim --sim-state DIR` does.
from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import attrs
import trio

from arb.money import SCALE, Money
from arb.sim.faultplan import FaultStep, serve_fault_plan
from arb.sim.kalshi.auth import create_api_account
from arb.sim.kalshi.core import KalshiExchange
from arb.sim.kalshi.runner import serve_kalshi_sim
from arb.sim.polymarket.core import Exchange as PolymarketExchange
from arb.sim.polymarket.runner import open_funded_account, serve_polymarket_sim
from arb.sim.scenario import MarketMaker, ScenarioPlan, plan_scenario, run_market_maker, truth_json
from arb.sim.slate import DEFAULT_LEAGUES, Slate, build_slate

CREDENTIALS_FILE = "credentials.json"
TRUTH_FILE = "truth.json"
KALSHI_KEY_FILE = "kalshi-sim-key.pem"
BOT_CASH = Money(10_000 * SCALE)


class SimStateError(ValueError):
    """The sim state directory is missing or its credentials file is unreadable."""


@attrs.frozen(repr=False)
class SimCredentials:
    """Everything a client needs to talk to a running simulated world."""

    kalshi_rest: str
    kalshi_ws: str
    kalshi_key_id: str
    kalshi_private_key_path: str
    poly_clob: str
    poly_market_ws: str
    poly_user_ws: str
    poly_gamma: str
    poly_private_key: str
    poly_address: str
    poly_chain_id: int = 137

    def __repr__(self) -> str:
        return (f"SimCredentials(kalshi={self.kalshi_rest}, poly={self.poly_clob}, "
                f"address={self.poly_address}, keys=<hidden>)")

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), indent=2)


def load_credentials(state_dir: Path) -> SimCredentials:
    """Read ``DIR/credentials.json`` written by ``arb sim`` (or the demo)."""
    path = Path(state_dir) / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SimStateError(f"{path} not found: start the simulator with "
                            f"`arb sim --state-dir {state_dir}` first") from None
    except (OSError, json.JSONDecodeError) as err:
        raise SimStateError(f"{path} is not readable credentials JSON: {err}") from None
    try:
        return SimCredentials(**data)
    except TypeError as err:
        raise SimStateError(f"{path}: unexpected credentials fields ({err})") from None


@attrs.define(eq=False)
class SimWorld:
    seed: int
    slate: Slate
    plan: ScenarioPlan
    kalshi: KalshiExchange
    poly: PolymarketExchange
    maker: MarketMaker
    kalshi_key_id: str
    kalshi_key_pem: str
    poly_private_key: str
    poly_address: str
    faults: tuple[FaultStep, ...] = ()


def build_world(seed: int = 1, *, seconds: float = 60.0, now: datetime | None = None,
                leagues: tuple[str, ...] = DEFAULT_LEAGUES, games_per_league: int = 2,
                arb_every_s: float = 8.0, faults: tuple[FaultStep, ...] = ()) -> SimWorld:
    """List the slate on both exchanges, open the house and bot accounts. No I/O."""
    if now is None:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    slate = build_slate(seed, now=now, leagues=leagues, games_per_league=games_per_league)
    plan = plan_scenario(slate, seed=seed, seconds=seconds, arb_every_s=arb_every_s)
    kalshi = KalshiExchange(seed=seed)
    for series in slate.series:
        kalshi.add_series(series)
    for event in slate.kalshi_events:
        kalshi.add_event(event)
    poly = PolymarketExchange(now_ms=int(datetime.now(UTC).timestamp() * 1000))
    for event in slate.poly_events:
        poly.add_event(event)
    maker = MarketMaker(kalshi, poly, slate, seed)
    api = create_api_account(kalshi, cash=BOT_CASH)
    private_key = "0x" + secrets.token_hex(32)
    funded = open_funded_account(poly, private_key, collateral=BOT_CASH)
    return SimWorld(seed, slate, plan, kalshi, poly, maker, api.key_id, api.private_key_pem,
                    private_key, funded.address, faults)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


async def serve_world(world: SimWorld, state_dir: Path, *,
                      task_status: trio.TaskStatus[SimCredentials] = trio.TASK_STATUS_IGNORED
                      ) -> None:
    """Serve both exchanges on loopback and drive their books until cancelled."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    key_path = state_dir / KALSHI_KEY_FILE
    _write_private(key_path, world.kalshi_key_pem)
    async with trio.open_nursery() as nursery:
        kalshi_urls = await nursery.start(serve_kalshi_sim, world.kalshi)
        poly_urls = await nursery.start(serve_polymarket_sim, world.poly)
        await nursery.start(run_market_maker, world.maker, world.plan)
        if world.faults:
            await nursery.start(serve_fault_plan, world.kalshi, world.poly, world.faults)
        credentials = SimCredentials(
            kalshi_rest=kalshi_urls.rest, kalshi_ws=kalshi_urls.ws,
            kalshi_key_id=world.kalshi_key_id, kalshi_private_key_path=str(key_path.resolve()),
            poly_clob=poly_urls.clob, poly_market_ws=poly_urls.market_ws,
            poly_user_ws=poly_urls.user_ws, poly_gamma=poly_urls.gamma,
            poly_private_key=world.poly_private_key, poly_address=world.poly_address,
            poly_chain_id=world.poly.config.chain_id)
        _write_private(state_dir / CREDENTIALS_FILE, credentials.to_json())
        (state_dir / TRUTH_FILE).write_text(json.dumps(truth_json(world.slate, world.plan),
                                                       indent=2))
        task_status.started(credentials)
