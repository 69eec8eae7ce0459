import json

import pytest
from loguru import logger

from arb.config import read_secret_env
from arb.logs import register_secret, setup_logging

PRIVATE_KEY = "0x" + "ab12" * 16
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----"


@pytest.fixture
def logged(tmp_path, capsys):
    setup_logging(tmp_path, level="DEBUG")
    yield tmp_path
    logger.remove()


def _all_output(state_dir, capsys) -> str:
    logger.complete()
    console = capsys.readouterr().err
    files = "".join(p.read_text() for p in (state_dir / "logs").glob("*.jsonl"))
    return console + files


def test_no_secret_reaches_any_log_line(logged, capsys, monkeypatch):
    monkeypatch.setenv("ARB_TEST_API_SECRET", API_SECRET)
    secret = read_secret_env("ARB_TEST_API_SECRET")
    register_secret(PRIVATE_KEY)
    register_secret(secret.reveal())
    log = logger.bind(actor="market", venue="polymarket", market="nba-lal-bos")
    log.info("credentials {}", secret)
    log.info("raw key was {} and bare {}", PRIVATE_KEY, PRIVATE_KEY[2:])
    log.warning("header dump POLY_SECRET={}", API_SECRET)
    log.error("pem {}", PEM)
    try:
        raise RuntimeError(f"signing failed with key {PRIVATE_KEY}")
    except RuntimeError:
        log.exception("boom")
    out = _all_output(logged, capsys)
    assert "credentials" in out and "boom" in out
    for leaked in (PRIVATE_KEY, PRIVATE_KEY[2:], API_SECRET, "MIIEowIBAAKCAQEA7"):
        assert leaked not in out


def test_json_lines_carry_actor_venue_market(logged, capsys):
    logger.bind(actor="feed", venue="kalshi", market="KXNBAGAME-26JAN08HOUSAC-SAC").info("gap")
    logger.info("unbound line")
    logger.complete()
    capsys.readouterr()
    lines = [json.loads(line) for line in (logged / "logs" / "arb.jsonl").read_text().splitlines()]
    first = lines[0]["record"]["extra"]
    assert (first["actor"], first["venue"], first["market"]) == (
        "feed", "kalshi", "KXNBAGAME-26JAN08HOUSAC-SAC")
    assert lines[1]["record"]["extra"]["actor"] == "-"
