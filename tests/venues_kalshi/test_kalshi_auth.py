"""RSA-PSS signing of Kalshi requests: message layout, both key formats, bad key files."""
from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from arb.venues.kalshi.auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiSigner,
    KeyLoadError,
    load_private_key,
    message_to_sign,
    verify_signature,
)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key, fmt, encryption=None) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt,
                             encryption or serialization.NoEncryption())


def test_message_is_ms_timestamp_method_and_path_without_query():
    msg = message_to_sign(1703123456789, "get",
                          "https://external-api.kalshi.com/trade-api/v2/portfolio/orders?limit=5")
    assert msg == b"1703123456789GET/trade-api/v2/portfolio/orders"


def test_host_does_not_change_the_message():
    a = message_to_sign(1, "DELETE", "https://api.elections.kalshi.com/trade-api/v2/x/y?z=1")
    b = message_to_sign(1, "DELETE", "/trade-api/v2/x/y")
    assert a == b == b"1DELETE/trade-api/v2/x/y"


def test_relative_path_is_refused():
    with pytest.raises(ValueError, match="absolute path"):
        message_to_sign(1, "GET", "portfolio/balance")


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.PrivateFormat.PKCS8])
def test_headers_verify_with_public_key_for_both_key_formats(tmp_path, rsa_key, fmt):
    pem = _pem(rsa_key, fmt)
    marker = b"BEGIN RSA PRIVATE KEY" if fmt is serialization.PrivateFormat.TraditionalOpenSSL \
        else b"BEGIN PRIVATE KEY"
    assert marker in pem
    path = tmp_path / "key.pem"
    path.write_bytes(pem)
    signer = KalshiSigner.from_file("key-id-1", path, clock_ms=lambda: 1767225600123)
    url = "https://external-api.kalshi.com/trade-api/v2/portfolio/orders?limit=5&status=resting"
    headers = signer.headers("GET", url)
    assert headers[HEADER_KEY] == "key-id-1"
    assert headers[HEADER_TIMESTAMP] == "1767225600123"
    sig = headers[HEADER_SIGNATURE]
    # Standard base64 (may contain + and /), decodes strictly to a 256-byte RSA-2048 signature.
    assert len(base64.b64decode(sig, validate=True)) == 256
    public = rsa_key.public_key()
    # Verify with cryptography directly over the exact documented message and PSS parameters.
    public.verify(base64.b64decode(sig),
                  b"1767225600123GET/trade-api/v2/portfolio/orders",
                  padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                  hashes.SHA256())
    assert verify_signature(public, sig, 1767225600123, "GET", "/trade-api/v2/portfolio/orders")
    # The signature does not cover the query string, another timestamp or another method.
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(sig),
                      b"1767225600123GET/trade-api/v2/portfolio/orders?limit=5&status=resting",
                      padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                      hashes.SHA256())
    assert not verify_signature(public, sig, 1767225600, "GET", "/trade-api/v2/portfolio/orders")
    assert not verify_signature(public, sig, 1767225600123, "POST", "/trade-api/v2/portfolio/orders")


def test_pss_is_randomized_but_both_signatures_verify(rsa_key):
    signer = KalshiSigner("k", rsa_key, clock_ms=lambda: 5)
    a = signer.headers("POST", "/trade-api/v2/portfolio/events/orders")[HEADER_SIGNATURE]
    b = signer.headers("POST", "/trade-api/v2/portfolio/events/orders")[HEADER_SIGNATURE]
    assert a != b
    for sig in (a, b):
        assert verify_signature(rsa_key.public_key(), sig, 5, "POST",
                                "/trade-api/v2/portfolio/events/orders")


def test_websocket_headers_sign_get_ws_path(rsa_key):
    signer = KalshiSigner("k", rsa_key, clock_ms=lambda: 42)
    headers = dict(signer.websocket_headers())
    assert headers[HEADER_TIMESTAMP] == "42"
    assert verify_signature(rsa_key.public_key(), headers[HEADER_SIGNATURE], 42, "GET",
                            "/trade-api/ws/v2")


def test_default_clock_is_milliseconds(rsa_key):
    ts = int(KalshiSigner("k", rsa_key).headers("GET", "/trade-api/v2/x")[HEADER_TIMESTAMP])
    assert 1_700_000_000_000 < ts < 10_000_000_000_000


def test_repr_never_shows_key_material(rsa_key):
    signer = KalshiSigner("my-key", rsa_key)
    text = repr(signer)
    assert text == "KalshiSigner(key_id='my-key', rsa_bits=2048)"
    pem = _pem(rsa_key, serialization.PrivateFormat.PKCS8).decode()
    body_line = pem.splitlines()[1]
    assert body_line not in text


def test_missing_key_file(tmp_path):
    with pytest.raises(KeyLoadError, match=r"missing\.pem does not exist"):
        load_private_key(tmp_path / "missing.pem")


def test_directory_is_not_a_key(tmp_path):
    with pytest.raises(KeyLoadError, match="is a directory"):
        load_private_key(tmp_path)


def test_unreadable_key_file(tmp_path, rsa_key):
    import os
    if os.geteuid() == 0:
        pytest.skip("root can read files without permission bits")
    path = tmp_path / "locked.pem"
    path.write_bytes(_pem(rsa_key, serialization.PrivateFormat.PKCS8))
    path.chmod(0)
    with pytest.raises(KeyLoadError, match="not readable"):
        load_private_key(path)


def test_not_pem(tmp_path):
    path = tmp_path / "key.der"
    path.write_bytes(b"\x30\x82\x04\xa4garbage")
    with pytest.raises(KeyLoadError, match=r"key\.der is not a PEM file"):
        load_private_key(path)


def test_corrupt_pem_does_not_echo_contents(tmp_path):
    path = tmp_path / "bad.pem"
    secret = "SECRETSECRETSECRET"
    path.write_text(f"-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyLoadError) as info:
        load_private_key(path)
    assert "not a valid PEM private key" in str(info.value)
    assert secret not in str(info.value)


def test_not_rsa(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(_pem(key, serialization.PrivateFormat.PKCS8))
    with pytest.raises(KeyLoadError, match="not an RSA key"):
        load_private_key(path)


def test_encrypted_key_without_and_with_password(tmp_path, rsa_key):
    path = tmp_path / "enc.pem"
    path.write_bytes(_pem(rsa_key, serialization.PrivateFormat.PKCS8,
                          serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(KeyLoadError, match="is encrypted"):
        load_private_key(path)
    with pytest.raises(KeyLoadError, match="password is wrong"):
        load_private_key(path, password=b"nope")
    assert load_private_key(path, password=b"pw").key_size == 2048


def test_short_rsa_key_refused(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "short.pem"
    path.write_bytes(_pem(key, serialization.PrivateFormat.TraditionalOpenSSL))
    with pytest.raises(KeyLoadError, match="1024 bits"):
        load_private_key(path)


def test_empty_key_id_refused(rsa_key):
    with pytest.raises(ValueError, match="key id is empty"):
        KalshiSigner("  ", rsa_key)
