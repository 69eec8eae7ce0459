"""Fixtures for the Kalshi client tests: one RSA key per session and a signer over it."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from arb.venues.kalshi.auth import KalshiSigner


@pytest.fixture(scope="session")
def kalshi_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def kalshi_signer(kalshi_key) -> KalshiSigner:
    return KalshiSigner("test-key-id", kalshi_key)
