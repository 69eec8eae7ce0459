# Design note: from a target to connected venues.
#
# Every command that talks to venues (run, preflight, reconcile, positions --live, discover)
# resolves the same three things the same way, here and only here:
#   - endpoints: production and Kalshi-demo URLs are constants; the simulator's come from the
#     `credentials.json` that `arb sim` (or the demo) wrote into its state directory;
#   - secrets: for `sim`, from that same file (they are throwaway simulator keys); otherwise only
#     from the environment or key files it names (never TOML), wrapped in `Secret`;
#   - what may place orders: `prod` places orders only in live mode; `demo` trades Kalshi's demo
#     exchange and keeps Polymarket read-only (design.md section 6).
# Key problems (a missing variable, an unreadable file, a wrong key format, a bad signature type)
# fail here at start-up with a message naming the variable or file.
from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import attrs

from arb.config import ConfigError, Secret, Target, read_secret_env, read_secret_file
from arb.logs import register_secret
from arb.venues.kalshi.adapter import KalshiAdapter, open_kalshi_adapter
from arb.venues.kalshi.auth import KalshiSigner, KeyLoadError, load_private_key_pem
from arb.venues.kalshi.limiter import Tier
from arb.venues.kalshi.rest import DEMO_URL as KALSHI_DEMO_URL
from arb.venues.kalshi.rest import PROD_URL as KALSHI_PROD_URL
from arb.venues.polymarket.adapter import PolymarketAdapter, open_polymarket_adapter
from arb.venues.polymarket.signing import PolymarketSigner, SignatureType, SigningError

KALSHI_PROD_WS = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
KALSHI_DEMO_WS = "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"
POLY_CLOB = "https://clob.polymarket.com"
POLY_MARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
POLY_USER_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
POLY_GAMMA = "https://gamma-api.polymarket.com"

ENV_KALSHI_KEY_ID = "KALSHI_KEY_ID"
ENV_KALSHI_KEY_FILE = "KALSHI_PRIVATE_KEY_FILE"
ENV_POLY_KEY_FILE = "POLY_PRIVATE_KEY_FILE"
ENV_POLY_FUNDER = "POLY_FUNDER"
ENV_POLY_SIGNATURE_TYPE = "POLY_SIGNATURE_TYPE"


@attrs.frozen
class Endpoints:
    kalshi_rest: str
    kalshi_ws: str
    poly_clob: str
    poly_market_ws: str
    poly_user_ws: str
    poly_gamma: str
    poly_orders: bool
    """False where Polymarket is read-only for this target (Kalshi demo)."""


@attrs.frozen
class VenueSecrets:
    kalshi_key_id: str
    kalshi_key_pem: Secret
    poly_private_key: Secret
    poly_funder: str | None = None
    poly_signature_type: int = 0
    warnings: tuple[str, ...] = ()


def endpoints_for(target: Target, sim_state: Path | None = None) -> Endpoints:
    """The URLs of ``target``; ``sim`` needs the state directory ``arb sim`` wrote."""
    if target is Target.SIM:
        from arb.sim.world import load_credentials
        if sim_state is None:
            raise ConfigError("--target sim needs --sim-state DIR (the directory `arb sim "
                              "--state-dir DIR` writes credentials.json into)")
        c = load_credentials(sim_state)
        return Endpoints(c.kalshi_rest, c.kalshi_ws, c.poly_clob, c.poly_market_ws,
                         c.poly_user_ws, c.poly_gamma, poly_orders=True)
    if target is Target.DEMO:
        return Endpoints(KALSHI_DEMO_URL, KALSHI_DEMO_WS, POLY_CLOB, POLY_MARKET_WS,
                         POLY_USER_WS, POLY_GAMMA, poly_orders=False)
    return Endpoints(KALSHI_PROD_URL, KALSHI_PROD_WS, POLY_CLOB, POLY_MARKET_WS, POLY_USER_WS,
                     POLY_GAMMA, poly_orders=True)


def secrets_for(target: Target, sim_state: Path | None = None) -> VenueSecrets:
    """Keys for ``target``: the simulator's throwaway keys, else the environment's."""
    if target is Target.SIM:
        from arb.sim.world import load_credentials
        if sim_state is None:
            raise ConfigError("--target sim needs --sim-state DIR")
        c = load_credentials(sim_state)
        pem = Path(c.kalshi_private_key_path)
        try:
            kalshi_pem = pem.read_text()
        except OSError as err:
            raise ConfigError(f"simulator key file {pem}: {err.strerror}") from None
        secrets = VenueSecrets(c.kalshi_key_id, Secret(kalshi_pem, source=str(pem)),
                               Secret(c.poly_private_key, source="sim credentials.json"))
    else:
        warnings: list[str] = []
        key_id = read_secret_env(ENV_KALSHI_KEY_ID)
        kalshi_pem = read_secret_file(ENV_KALSHI_KEY_FILE, warn=warnings)
        poly_key = read_secret_file(ENV_POLY_KEY_FILE, warn=warnings)
        sig_text = os.environ.get(ENV_POLY_SIGNATURE_TYPE, "0")
        if sig_text not in ("0", "1", "2"):
            raise ConfigError(f"${ENV_POLY_SIGNATURE_TYPE}: expected 0 (EOA), 1 (POLY_PROXY) or "
                              f"2 (POLY_GNOSIS_SAFE), got {sig_text!r}")
        funder = os.environ.get(ENV_POLY_FUNDER) or None
        if sig_text != "0" and funder is None:
            raise ConfigError(f"${ENV_POLY_SIGNATURE_TYPE}={sig_text} needs ${ENV_POLY_FUNDER} "
                              f"(the proxy or Safe address that holds the funds)")
        assert key_id is not None and kalshi_pem is not None and poly_key is not None
        secrets = VenueSecrets(key_id.reveal(), kalshi_pem,
                               Secret(poly_key.reveal().strip(), source=poly_key.source),
                               funder, int(sig_text), tuple(warnings))
    register_secret(secrets.poly_private_key.reveal())
    return secrets


def kalshi_signer(secrets: VenueSecrets) -> KalshiSigner:
    try:
        key = load_private_key_pem(secrets.kalshi_key_pem.reveal().encode(),
                                   source=secrets.kalshi_key_pem.source)
    except KeyLoadError as err:
        raise ConfigError(str(err)) from None
    return KalshiSigner(secrets.kalshi_key_id, key)


def poly_signer(secrets: VenueSecrets, chain_id: int) -> PolymarketSigner:
    try:
        return PolymarketSigner.from_private_key(
            secrets.poly_private_key.reveal(), chain_id=chain_id,
            signature_type=SignatureType(secrets.poly_signature_type), funder=secrets.poly_funder)
    except SigningError as err:
        raise ConfigError(f"Polymarket private key ({secrets.poly_private_key.source}): "
                          f"{err}") from None


@attrs.define(eq=False)
class Venues:
    endpoints: Endpoints
    kalshi: KalshiAdapter
    poly: PolymarketAdapter
    kalshi_signer: KalshiSigner
    poly_signer: PolymarketSigner


@asynccontextmanager
async def open_venues(endpoints: Endpoints, secrets: VenueSecrets, *, chain_id: int = 137,
                      kalshi_tier: str = "basic") -> AsyncIterator[Venues]:
    """Connected adapters for both venues (Polymarket API keys created or derived)."""
    k_signer = kalshi_signer(secrets)
    p_signer = poly_signer(secrets, chain_id)
    async with AsyncExitStack() as stack:
        kalshi = await stack.enter_async_context(
            open_kalshi_adapter(endpoints.kalshi_rest, k_signer, tier=Tier[kalshi_tier.upper()]))
        poly = await stack.enter_async_context(
            open_polymarket_adapter(p_signer, base_url=endpoints.poly_clob))
        yield Venues(endpoints, kalshi, poly, k_signer, p_signer)
