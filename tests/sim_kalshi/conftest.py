"""Fixtures for the simulated Kalshi exchange: the sample listing, a manual clock, accounts."""
from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import attrs
import pytest
import yaml

from arb.money import parse_money
from arb.sim.kalshi.auth import ApiCredentials, create_api_account, sign
from arb.sim.kalshi.core import KalshiExchange
from arb.sim.kalshi.sample import TIP_OFF, sample_exchange


@attrs.define(eq=False)
class ManualClock:
    """Exchange time in Unix ms, moved by hand."""

    now_ms: int

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(int(TIP_OFF.timestamp() * 1000))


@pytest.fixture
def exchange(clock: ManualClock) -> KalshiExchange:
    return sample_exchange(clock)


@pytest.fixture
def house(exchange: KalshiExchange) -> str:
    """A market maker's account (no API key), $100,000."""
    return exchange.register_account(cash=parse_money("100000"))


@pytest.fixture
def wall_exchange() -> KalshiExchange:
    """An exchange on wall-clock time, for requests signed by real clients."""
    return sample_exchange()


@pytest.fixture
def creds(wall_exchange: KalshiExchange) -> ApiCredentials:
    return create_api_account(wall_exchange, cash=parse_money("500"), key_bits=1024)


@pytest.fixture
def signer() -> Callable[..., dict[str, str]]:
    """``signer(creds, method, path, ts_ms=None)`` -> the three Kalshi headers."""
    def make(creds: ApiCredentials, method: str, path: str, ts_ms: int | None = None) -> dict:
        ts = int(time.time() * 1000) if ts_ms is None else ts_ms
        return {"KALSHI-ACCESS-KEY": creds.key_id, **sign(creds.private_key(), ts, method, path)}
    return make


def _load(shared: Path, name: str) -> dict:
    return yaml.safe_load((shared / "specs/kalshi" / name).read_text())


@pytest.fixture(scope="session")
def openapi(shared_dir: Path) -> dict:
    return _load(shared_dir, "openapi.yaml")


@pytest.fixture(scope="session")
def asyncapi(shared_dir: Path) -> dict:
    return _load(shared_dir, "asyncapi.yaml")


def _nullable_to_jsonschema(node):
    """OpenAPI 3.0 ``nullable: true`` -> JSON Schema ``type: [T, "null"]`` (recursively)."""
    if isinstance(node, dict):
        out = {k: _nullable_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable"):
            if "type" in out:
                out["type"] = [out["type"], "null"]
            else:
                out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable_to_jsonschema(v) for v in node]
    return node


@pytest.fixture(scope="session")
def openapi_validate(openapi: dict) -> Callable[[str, object], None]:
    """``openapi_validate(schema_name, body)``: raise unless ``body`` matches the component."""
    import jsonschema

    root = _nullable_to_jsonschema(openapi)

    def check(name: str, body: object) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": root["components"]}
        jsonschema.validate(body, schema)
    return check


@pytest.fixture(scope="session")
def asyncapi_validate(asyncapi: dict) -> Callable[[str, object], None]:
    """``asyncapi_validate(payload_schema_name, frame)`` for websocket frames."""
    import jsonschema

    def check(name: str, frame: object) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": asyncapi["components"]}
        jsonschema.validate(frame, schema, format_checker=jsonschema.FormatChecker())
    return check


@pytest.fixture
async def kalshi_server(wall_exchange: KalshiExchange, nursery):
    """The sample exchange served on a loopback port (rate limits off; tested on their own)."""
    from arb.sim.kalshi.ratelimit import RateLimiter
    from arb.sim.kalshi.runner import serve_kalshi_sim

    return await nursery.start(partial(serve_kalshi_sim, wall_exchange,
                                       limiter=RateLimiter(enabled=False)))
