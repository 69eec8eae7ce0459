"""Kalshi API-key authentication as the simulated exchange checks it, and key provisioning.

Venue facts (venues.md A2): three headers ``KALSHI-ACCESS-KEY``, ``KALSHI-ACCESS-TIMESTAMP``
(Unix milliseconds) and ``KALSHI-ACCESS-SIGNATURE`` (standard base64 of an RSA-PSS signature,
SHA-256, MGF1-SHA-256, salt = digest length) over ``timestamp + METHOD + path``, where path
starts at ``/trade-api/...`` and carries no query string. A websocket handshake signs
``timestamp + "GET" + "/trade-api/ws/v2"``. A bad key, signature or timestamp is a 401; a
timestamp in seconds is the classic mistake and is rejected as stale.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from arb.money import SCALE, Money
from arb.sim.kalshi import errors
from arb.sim.kalshi.core import KalshiExchange, SimAccount
from arb.sim.kalshi.errors import KalshiApiError

KEY_HEADER = "kalshi-access-key"
TIMESTAMP_HEADER = "kalshi-access-timestamp"
SIGNATURE_HEADER = "kalshi-access-signature"
DEFAULT_WINDOW_MS = 30_000
"""Accepted clock skew; Kalshi does not document its window."""
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def _unauthorized(details: str) -> KalshiApiError:
    return KalshiApiError(401, errors.UNAUTHORIZED, "authentication failed", details)


def authenticate(exchange: KalshiExchange, headers: Mapping[str, str], method: str, path: str,
                 *, window_ms: int = DEFAULT_WINDOW_MS) -> SimAccount:
    """Check the three Kalshi headers (names lower-cased) for ``method path``.

    Returns the key's account. Raises ``KalshiApiError`` 401 naming what was wrong.
    """
    key_id = headers.get(KEY_HEADER)
    stamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    missing = [name for name, value in ((KEY_HEADER, key_id), (TIMESTAMP_HEADER, stamp),
                                        (SIGNATURE_HEADER, signature)) if not value]
    if missing:
        raise _unauthorized(f"missing header(s) {', '.join(h.upper() for h in missing)}")
    assert key_id is not None and stamp is not None and signature is not None
    acct = exchange.account_for_key(key_id)
    if acct is None or acct.public_key is None:
        raise _unauthorized(f"unknown API key id {key_id!r}")
    if not stamp.isdigit():
        raise _unauthorized(f"timestamp {stamp!r} is not a Unix time in milliseconds")
    skew = int(stamp) - exchange.clock()
    if abs(skew) > window_ms:
        hint = " (seconds instead of milliseconds?)" if int(stamp) < 10**11 else ""
        raise _unauthorized(f"timestamp {stamp} is {skew / 1000:+.1f} s from exchange time, "
                            f"outside the {window_ms / 1000:g} s window{hint}")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise _unauthorized("signature is not standard base64") from None
    message = (stamp + method.upper() + path).encode()
    try:
        acct.public_key.verify(raw, message, _PSS, hashes.SHA256())
    except InvalidSignature:
        raise _unauthorized(f"signature does not verify for {method.upper()} {path}") from None
    return acct


def sign(private_key: rsa.RSAPrivateKey, timestamp_ms: int, method: str, path: str) -> dict[str, str]:
    """The three Kalshi headers for a request (for tests and tools; the bot has its own signer)."""
    bare_path = path.split("?", 1)[0]
    signature = private_key.sign(f"{timestamp_ms}{method.upper()}{bare_path}".encode(),
                                 padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                             salt_length=padding.PSS.DIGEST_LENGTH),
                                 hashes.SHA256())
    return {"KALSHI-ACCESS-TIMESTAMP": str(timestamp_ms),
            "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode()}


@attrs.frozen
class ApiCredentials:
    """What a member gets when creating an API key: the key id and the private key (PEM)."""

    key_id: str
    private_key_pem: str
    """PKCS#8 PEM, as Kalshi's key download."""
    user_id: str

    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key


DEFAULT_CASH = Money(1_000 * SCALE)
"""$1,000: what a new simulated API account starts with."""


def create_api_account(exchange: KalshiExchange, *, cash: Money = DEFAULT_CASH,
                       key_bits: int = 2048) -> ApiCredentials:
    """Generate an RSA key pair and key id, and open an account that authenticates with it."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
    key_id = exchange.new_id()
    user_id = exchange.register_account(cash=cash, key_id=key_id, public_key=private.public_key())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return ApiCredentials(key_id=key_id, private_key_pem=pem, user_id=user_id)


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """Load an RSA public key (PEM, SubjectPublicKeyInfo or PKCS#1) to register an account."""
    data = pem.encode() if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("Kalshi API keys are RSA keys")
    return key
