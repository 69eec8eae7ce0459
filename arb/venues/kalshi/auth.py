# Design note: Kalshi request signing.
#
# Problem: every REST call and the websocket handshake carry three headers: the key id, a
# millisecond timestamp and an RSA-PSS signature over ``ts_ms + METHOD + path``. The classic
# failures are all silent until the venue answers 401: seconds instead of milliseconds, signing
# the query string, leaving out (or doubling) ``/trade-api/v2``, URL-safe base64, a PKCS#1 key the
# loader does not understand.
#
# Choice: one ``KalshiSigner`` built from a loaded key; ``headers(method, url_or_path)`` strips the
# scheme, host and query itself so callers cannot sign the wrong string, and the websocket
# handshake uses the same code path with ``GET /trade-api/ws/v2``. Key files are loaded with
# ``cryptography``'s PEM loader (PKCS#1 "BEGIN RSA PRIVATE KEY" and PKCS#8 "BEGIN PRIVATE KEY"),
# and every failure names the file and the problem without echoing any key bytes. The signer's
# repr shows only the key id and key size.
#
# Venue facts (venues.md A2): RSA-PSS, SHA-256, MGF1-SHA-256, salt length = digest length (32);
# standard base64; the body is not signed; a fresh timestamp per request and per reconnect.
from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

REST_PREFIX = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_MIN_KEY_BITS = 2048


class KeyLoadError(ValueError):
    """The Kalshi private key file could not be used; the message names the file and the cause."""


def load_private_key(path: str | Path, *, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Load an RSA private key from a PEM file (PKCS#1 or PKCS#8).

    Raises:
        KeyLoadError: missing, unreadable, not PEM, not an RSA key, encrypted without a password
            (or with the wrong one), or shorter than 2048 bits. Never includes key material.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyLoadError(f"Kalshi private key file {path} does not exist") from None
    except IsADirectoryError:
        raise KeyLoadError(f"Kalshi private key file {path} is a directory") from None
    except PermissionError:
        raise KeyLoadError(f"Kalshi private key file {path} is not readable (permission denied)") from None
    except OSError as exc:
        raise KeyLoadError(f"Kalshi private key file {path} could not be read: {exc.strerror}") from None
    return load_private_key_pem(data, source=str(path), password=password)


def load_private_key_pem(data: bytes, *, source: str = "<memory>",
                         password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Parse PEM bytes into an RSA private key; see ``load_private_key`` for the errors."""
    if b"-----BEGIN" not in data:
        raise KeyLoadError(f"Kalshi private key {source} is not a PEM file (no '-----BEGIN' line)")
    if b"ENCRYPTED" in data and password is None:
        raise KeyLoadError(
            f"Kalshi private key {source} is encrypted; supply its password or export it unencrypted")
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:
        raise KeyLoadError(
            f"Kalshi private key {source} is encrypted; supply its password or export it unencrypted"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        hint = " (or the password is wrong)" if password is not None else ""
        raise KeyLoadError(
            f"Kalshi private key {source} is not a valid PEM private key{hint}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyLoadError(
            f"Kalshi private key {source} is a {type(key).__name__.lstrip('_')}, not an RSA key")
    if key.key_size < _MIN_KEY_BITS:
        raise KeyLoadError(
            f"Kalshi private key {source} is {key.key_size} bits; Kalshi keys are at least "
            f"{_MIN_KEY_BITS}")
    return key


def signing_path(url_or_path: str) -> str:
    """The part of a URL that Kalshi signs: the path from the root, without query or fragment."""
    path = urlsplit(url_or_path).path
    if not path.startswith("/"):
        raise ValueError(f"cannot sign {url_or_path!r}: need an absolute path such as "
                         f"'{REST_PREFIX}/portfolio/balance'")
    return path


def message_to_sign(timestamp_ms: int, method: str, url_or_path: str) -> bytes:
    """``ts_ms + METHOD + path`` exactly as Kalshi verifies it."""
    return f"{timestamp_ms}{method.upper()}{signing_path(url_or_path)}".encode()


class KalshiSigner:
    """Signs Kalshi requests with one API key. Thread-safe and cheap to share."""

    __slots__ = ("_clock_ms", "_key", "key_id")

    def __init__(self, key_id: str, private_key: rsa.RSAPrivateKey, *,
                 clock_ms: Callable[[], int] | None = None) -> None:
        if not key_id or not key_id.strip():
            raise ValueError("Kalshi key id is empty")
        self.key_id = key_id.strip()
        self._key = private_key
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)

    @classmethod
    def from_file(cls, key_id: str, path: str | Path, *, password: bytes | None = None,
                  clock_ms: Callable[[], int] | None = None) -> KalshiSigner:
        return cls(key_id, load_private_key(path, password=password), clock_ms=clock_ms)

    def __repr__(self) -> str:
        return f"KalshiSigner(key_id={self.key_id!r}, rsa_bits={self._key.key_size})"

    def sign(self, timestamp_ms: int, method: str, url_or_path: str) -> str:
        """Standard base64 of the RSA-PSS signature over the Kalshi message."""
        signature = self._key.sign(message_to_sign(timestamp_ms, method, url_or_path), _PSS,
                                   hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    def headers(self, method: str, url_or_path: str) -> dict[str, str]:
        """The three auth headers for one request, with a fresh millisecond timestamp."""
        ts = self._clock_ms()
        return {
            HEADER_KEY: self.key_id,
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: self.sign(ts, method, url_or_path),
        }

    def websocket_headers(self) -> dict[str, str]:
        """Handshake headers for the websocket upgrade (sign again on every reconnect)."""
        return self.headers("GET", WS_PATH)


def verify_signature(public_key: rsa.RSAPublicKey, signature_b64: str, timestamp_ms: int,
                     method: str, url_or_path: str) -> bool:
    """Check a Kalshi signature with the public key (what the exchange does)."""
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True),
                          message_to_sign(timestamp_ms, method, url_or_path), _PSS,
                          hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True
