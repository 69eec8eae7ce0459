"""L2 HMAC: the official vector, exact-bytes signing, and secrets kept out of reprs."""
from __future__ import annotations

from py_clob_client_v2.clob_types import ApiCreds, RequestArgs
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.signer import Signer as OfficialSigner

from arb.venues.polymarket.auth import ApiCredentials, hmac_signature, l2_headers
from arb.venues.polymarket.signing import PolymarketSigner

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def test_official_hmac_vector() -> None:
    creds = ApiCredentials("key", SECRET, "pass")
    assert hmac_signature(creds.secret_bytes(), 1000000, "test-sign", "/orders",
                          b'{"hash": "0x123"}') == "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="


def test_signature_depends_on_every_body_byte() -> None:
    secret = ApiCredentials("key", SECRET, "pass").secret_bytes()
    compact = hmac_signature(secret, 1, "POST", "/order", b'{"a":1}')
    spaced = hmac_signature(secret, 1, "POST", "/order", b'{"a": 1}')
    assert compact != spaced
    assert hmac_signature(secret, 1, "GET", "/data/orders") != hmac_signature(
        secret, 1, "GET", "/data/trades")


def test_standard_base64_secret_accepted() -> None:
    url_safe = ApiCredentials("k", "-_-_" * 11, "p").secret_bytes()
    standard = ApiCredentials("k", "+/+/" * 11, "p").secret_bytes()
    assert url_safe == standard


def test_l2_headers_identical_to_official_for_compact_body() -> None:
    signer = PolymarketSigner.from_private_key(KEY)
    creds = ApiCredentials("0b7f-key", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=", "pp")
    body = '{"orderID":"0xabc"}'
    theirs = create_level_2_headers(
        OfficialSigner(KEY, 137), ApiCreds(creds.api_key, creds.secret, creds.passphrase),
        RequestArgs(method="DELETE", request_path="/order", body=None, serialized_body=body),
        timestamp=1767225600)
    ours = l2_headers(signer, creds, timestamp_s=1767225600, method="DELETE", path="/order",
                      body=body.encode())
    assert ours == theirs


def test_secrets_not_in_repr() -> None:
    creds = ApiCredentials("visible-key-id", "dG9wLXNlY3JldA==", "hidden-passphrase")
    text = repr(creds) + str(creds)
    assert "visible-key-id" in text
    assert "dG9wLXNlY3JldA" not in text and "hidden-passphrase" not in text
