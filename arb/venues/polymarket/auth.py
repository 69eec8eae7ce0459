"""Polymarket API authentication: L1 (wallet-signed) and L2 (HMAC) request headers.

Venue facts (venues.md B3): L1 headers carry a ClobAuth EIP-712 signature and are used only to
create or derive API keys. L2 headers carry ``base64url(HMAC_SHA256(urlsafe_b64decode(secret),
ts + METHOD + path + body))`` with the ``=`` padding kept; ``path`` excludes the query string and
``body`` is the exact byte string sent (appended only when non-empty). ``POLY_ADDRESS`` is always
the signer EOA, even when trading for a proxy or Safe funder.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import attrs

from arb.venues.polymarket.signing import PolymarketSigner


class CredentialsError(ValueError):
    """API credentials are malformed (never includes the secret itself)."""


@attrs.frozen
class ApiCredentials:
    """An L2 API key set. Only the key id appears in reprs and logs."""

    api_key: str
    secret: str = attrs.field(repr=False)
    passphrase: str = attrs.field(repr=False)

    def secret_bytes(self) -> bytes:
        """The decoded HMAC key (URL-safe base64; standard base64 accepted too)."""
        text = self.secret.replace("+", "-").replace("/", "_")
        try:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise CredentialsError(f"API secret of key {self.api_key} is not base64") from None


def hmac_signature(secret: bytes, timestamp_s: int | str, method: str, path: str,
                   body: bytes = b"") -> str:
    """The ``POLY_SIGNATURE`` value of an L2 request.

    Args:
        secret: the decoded API secret.
        path: the request path without the query string (``/data/orders``).
        body: the exact bytes sent; empty for GET and body-less DELETE.
    """
    message = f"{timestamp_s}{method}{path}".encode() + body
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def l2_headers(signer: PolymarketSigner, creds: ApiCredentials, *, timestamp_s: int,
               method: str, path: str, body: bytes = b"") -> dict[str, str]:
    """Headers for an authenticated (L2) request."""
    return {
        "POLY_ADDRESS": signer.address,
        "POLY_SIGNATURE": hmac_signature(creds.secret_bytes(), timestamp_s, method.upper(),
                                         path, body),
        "POLY_TIMESTAMP": str(timestamp_s),
        "POLY_API_KEY": creds.api_key,
        "POLY_PASSPHRASE": creds.passphrase,
    }


def l1_headers(signer: PolymarketSigner, *, timestamp_s: int, nonce: int = 0) -> dict[str, str]:
    """Headers for ``POST /auth/api-key`` and ``GET /auth/derive-api-key``."""
    return {
        "POLY_ADDRESS": signer.address,
        "POLY_SIGNATURE": signer.sign_clob_auth(timestamp_s, nonce),
        "POLY_TIMESTAMP": str(timestamp_s),
        "POLY_NONCE": str(nonce),
    }
