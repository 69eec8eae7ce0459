"""Start-up refusals of the bot: live mode needs explicit confirmation and a passing preflight;
alert webhooks come from the environment and a bad entry is named without its URL."""
from __future__ import annotations

import json
import secrets

import pytest
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from e2e_rig import small_world

from actors.alerts import WebhookFormat
from actors.app import BotConfig, StartupError, run_bot, webhooks_from_env
from arb.cli import main as arb_main
from arb.commands.demo import demo_settings
from arb.config import ConfigError, Mode, Target, load_settings
from arb.sim.world import serve_world


def test_live_mode_without_explicit_confirmation_is_refused(tmp_path, capsys):
    code = arb_main(["run", "--sport", "nba", "--profile", "live", "--target", "sim",
                     "--sim-state", str(tmp_path), "--state-dir", str(tmp_path / "bot")])
    assert code == 2
    assert "--yes-live" in capsys.readouterr().err
    assert not (tmp_path / "bot").exists()


def test_unknown_sport_is_refused_with_the_known_ones(tmp_path, capsys):
    assert arb_main(["run", "--sport", "curling", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "curling" in err and "nba" in err


def _dead_sim_state(path):
    """Simulator credentials whose every endpoint refuses connections."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = path / "kalshi.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    dead = "http://127.0.0.1:9"
    (path / "credentials.json").write_text(json.dumps({
        "kalshi_rest": dead + "/trade-api/v2", "kalshi_ws": "ws://127.0.0.1:9/ws",
        "kalshi_key_id": "dead", "kalshi_private_key_path": str(pem), "poly_clob": dead,
        "poly_market_ws": "ws://127.0.0.1:9/ws/market",
        "poly_user_ws": "ws://127.0.0.1:9/ws/user", "poly_gamma": dead,
        "poly_private_key": "0x" + secrets.token_hex(32),
        "poly_address": "0x0000000000000000000000000000000000000000"}))


async def test_live_mode_is_refused_when_preflight_fails(tmp_path):
    _dead_sim_state(tmp_path)
    config = BotConfig(load_settings(sport="nba", profile="live"), Target.SIM, Mode.LIVE,
                       tmp_path / "bot", tmp_path, handle_signals=False, console_log=False)
    with pytest.raises(StartupError, match="preflight failed"):
        with trio.fail_after(60):
            await run_bot(config)
    assert not (tmp_path / "bot" / "ledger-live.sqlite3").exists()


def test_webhooks_come_from_the_environment_and_bad_entries_hide_their_url():
    hooks = webhooks_from_env({"ARB_ALERT_WEBHOOKS":
                               "slack=https://hooks.example/a, json=http://127.0.0.1:8/x"})
    assert [(h.format, h.url) for h in hooks] == [
        (WebhookFormat.SLACK, "https://hooks.example/a"),
        (WebhookFormat.JSON, "http://127.0.0.1:8/x")]
    assert webhooks_from_env({}) == ()
    with pytest.raises(ConfigError) as err:
        webhooks_from_env({"ARB_ALERT_WEBHOOKS": "pager=https://secret.example/token"})
    assert "pager" in str(err.value) and "secret.example" not in str(err.value)
    with pytest.raises(ConfigError, match="ARB_TELEGRAM_CHAT_ID"):
        webhooks_from_env({"ARB_ALERT_WEBHOOKS": "telegram=https://api.example/bot"})


async def test_feeds_that_do_not_seed_every_book_in_time_refuse_the_start(tmp_path):
    world = small_world(9, seconds=30)
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, world, tmp_path / "sim")
        config = BotConfig(demo_settings(world), Target.SIM, Mode.PAPER, tmp_path / "bot",
                           tmp_path / "sim", handle_signals=False, console_log=False,
                           seed_timeout_s=0.0)
        with pytest.raises(StartupError, match="first snapshot"):
            await run_bot(config)
        nursery.cancel_scope.cancel()
