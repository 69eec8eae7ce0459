"""Regression: API keys and webhook URLs committed to the repository, key prefixes printed by a
setup check.

The repository scan reads every file git tracks. The setup check is the real ``arb preflight``
command, run as a subprocess against the simulated world on loopback; none of the world's secrets
(nor any 6-character piece of them) may reach its output.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from eth_account import Account

from arb.sim.world import build_world, serve_world

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
PUBLIC_DEV_ACCOUNTS = frozenset({
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",   # Hardhat/Anvil default account #0
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",   # Hardhat/Anvil default account #1
})
"""Keys printed in every Ethereum tutorial; test vectors, never funded."""
PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(.*?)-----END", re.S)
HEX_KEY = re.compile(r"(?<![0-9a-fA-Fx])0x[0-9a-fA-F]{64}(?![0-9a-fA-F])")
WEBHOOK = re.compile(r"hooks\.slack\.com/services/\w|discord(?:app)?\.com/api/webhooks/\d"
                     r"|api\.telegram\.org/bot\d")
SECRET_FILE = re.compile(r"(^|/)(\.env(\.[\w.]+)?|[^/]+\.(pem|key|p12|pfx))$")


def _tracked() -> dict[str, str]:
    names = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True,
                           capture_output=True).stdout.decode().split("\0")
    files = {}
    for name in filter(None, names):
        try:
            files[name] = (ROOT / name).read_bytes().decode("utf-8", errors="replace")
        except (FileNotFoundError, IsADirectoryError):
            continue  # deleted (or a submodule) in the working tree since git listed it
    return files


def test_no_key_material_or_webhook_url_is_tracked() -> None:
    files = _tracked()
    assert "arb/venues/kalshi/auth.py" in files and len(files) > 100
    problems = [f"{name}: secret-looking file name" for name in files if SECRET_FILE.search(name)]
    for name, text in files.items():
        for block in PEM_BLOCK.finditer(text):
            body = re.sub(r"\s", "", block.group(1))
            if len(body) >= 64:  # a real RSA/EC key; the tests' placeholders are a few chars
                problems.append(f"{name}: PEM private key ({len(body)} base64 chars)")
        for match in WEBHOOK.finditer(text):
            problems.append(f"{name}: webhook URL with a token at {match.start()}")
        for match in HEX_KEY.finditer(text):
            if "key" not in text[max(0, match.start() - 40):match.start()].lower():
                continue  # hashes, condition ids, signatures
            address = Account.from_key(match.group(0)).address
            if address not in PUBLIC_DEV_ACCOUNTS:
                problems.append(f"{name}: private key of {address}")
    assert problems == []


def test_scan_finds_a_planted_secret(tmp_path) -> None:
    """The patterns above do catch what they are for (a scan that cannot fail proves nothing)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    body = re.sub(r"\s", "", PEM_BLOCK.search(pem).group(1))
    assert len(body) >= 64
    # Assembled at run time, so this file does not trip its own scan.
    assert WEBHOOK.search("url = 'https://discord.com/api/webhooks/" + "123/abc'")
    assert WEBHOOK.search("https://api.telegram.org/bot" + "123456:AAE/sendMessage")
    assert WEBHOOK.search("https://hooks.slack.com/services/" + "T000/B000/xyz")
    key = "0x" + "4c" * 32
    assert HEX_KEY.search(f'API_KEY = "{key}"').group(0) == key
    assert Account.from_key(key).address not in PUBLIC_DEV_ACCOUNTS
    assert SECRET_FILE.search("config/.env.live") and SECRET_FILE.search("kalshi.pem")
    assert not SECRET_FILE.search("arb/venues/kalshi/auth.py")


def _pieces(secret: str, size: int = 6) -> set[str]:
    cleaned = re.sub(r"-----[A-Z ]+-----|\s", "", secret)
    cleaned = cleaned.removeprefix("0x")
    return {cleaned[i:i + size] for i in range(len(cleaned) - size + 1)}


async def test_preflight_output_carries_no_secret_nor_a_prefix_of_one(tmp_path) -> None:
    world = build_world(3, seconds=10)
    async with trio.open_nursery() as nursery:
        creds = await nursery.start(serve_world, world, tmp_path)
        result = await trio.run_process(
            [sys.executable, "-m", "arb.cli", "preflight", "--target", "sim", "--sim-state",
             str(tmp_path)], cwd=ROOT, capture_stdout=True, capture_stderr=True, check=False)
        derived = [world.poly.credentials(k) for k in world.poly.api_keys_of(creds.poly_address)]
        nursery.cancel_scope.cancel()
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, output
    assert "auth + balance" in output and "preflight passed" in output
    assert derived, "preflight derived no Polymarket API key"
    secrets = [world.kalshi_key_id, world.kalshi_key_pem, world.poly_private_key]
    for api in derived:
        secrets += [api.api_key, api.secret, api.passphrase]
    leaked = sorted({piece for secret in secrets for piece in _pieces(secret)
                     if piece in output})
    assert leaked == []
