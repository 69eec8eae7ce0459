"""Signature verification against the official vectors (venues.md B3, B4.2)."""
from __future__ import annotations

import pytest
from py_clob_client_v2.signing.hmac import build_hmac_signature

from arb.sim.polymarket.auth import (
    CTF_EXCHANGE_V2,
    NEG_RISK_CTF_EXCHANGE_V2,
    OrderStruct,
    SignatureError,
    derive_credentials,
    hmac_matches,
    hmac_signature,
    order_hash,
    recover_clob_auth,
    recover_order_signer,
)

ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ZERO32 = bytes(32)


def test_hmac_official_vector() -> None:
    sig = hmac_signature("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1000000", "test-sign",
                         "/orders", b'{"hash": "0x123"}')
    assert sig == "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="


def test_hmac_is_over_raw_bytes_not_reserialised_json() -> None:
    secret = derive_credentials(b"s", ADDRESS, 0).secret
    spaced, compact = b'{"a": 1, "b": [2]}', b'{"a":1,"b":[2]}'
    sig = build_hmac_signature(secret, "1700000000", "POST", "/order", spaced.decode())
    assert hmac_matches(secret, "1700000000", "POST", "/order", spaced, sig)
    assert not hmac_matches(secret, "1700000000", "POST", "/order", compact, sig)
    assert not hmac_matches(secret, "1700000001", "POST", "/order", spaced, sig)
    assert not hmac_matches(secret, "1700000000", "POST", "/order?x=1", spaced, sig)


def test_clob_auth_official_vector_recovers_the_signer() -> None:
    sig = ("0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1682518e0af677d52"
           "60366425f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b")
    assert recover_clob_auth(ADDRESS, "10000000", 23, sig, 80002) == ADDRESS
    assert recover_clob_auth(ADDRESS, "10000001", 23, sig, 80002) != ADDRESS
    assert recover_clob_auth(ADDRESS, "10000000", 23, sig, 137) != ADDRESS


def _vector_order(**changes: int) -> OrderStruct:
    fields = dict(salt=479249096354, maker=ADDRESS, signer=ADDRESS, token_id=1234,
                  maker_amount=100000000, taker_amount=50000000, side=0, signature_type=0,
                  timestamp=1710000000000, metadata=ZERO32, builder=ZERO32)
    fields.update(changes)
    return OrderStruct(**fields)


def test_order_digest_and_signature_official_vectors() -> None:
    order = _vector_order()
    assert order_hash(order, chain_id=80002, neg_risk=False) == (
        "0x962c97b18bea292cc94b9479272aa74fb59a905e84a621a40eb339131e9fb6ba")
    sig = ("0x518472f1b081f6bd713d638bb11d1bf0720ed577e93c52eb00ec9f5f325f7d510c65cbfdfe9130de26"
           "02185f4a500863d777d8b838cb28abc75ecc1b5330315d1c")
    assert recover_order_signer(order, sig, chain_id=80002, neg_risk=False) == ADDRESS


@pytest.mark.parametrize(("neg_risk", "sig"), [
    (False, "0x9aa28a95609d30bb8a222f6c8b63e7870b8625bfe52e372e2c28ff06c469b88d555df53cb9b3011"
            "791561f314b26f55855acdb7ce4dd6fc8ef7621a2745684cf1b"),
    (True, "0xd522823a5b5539473e59084bd94817b1f6f2e74619410a1af076841bf69b163f67abccd9a1fabe12e"
           "8672f0908611a964c088917bac80ae00d99949fac7cc1f91c"),
])
def test_order_signature_depends_on_the_exchange_contract(neg_risk: bool, sig: str) -> None:
    order = _vector_order(maker_amount=52000000, taker_amount=100000000,
                          timestamp=1767225600000)
    assert recover_order_signer(order, sig, chain_id=137, neg_risk=neg_risk) == ADDRESS
    assert recover_order_signer(order, sig, chain_id=137, neg_risk=not neg_risk) != ADDRESS
    assert CTF_EXCHANGE_V2 != NEG_RISK_CTF_EXCHANGE_V2


def test_malformed_signatures_are_refused_with_a_reason() -> None:
    with pytest.raises(SignatureError, match="not hex"):
        recover_order_signer(_vector_order(), "0xzz", chain_id=137, neg_risk=False)
    with pytest.raises(SignatureError, match="expected 65"):
        recover_order_signer(_vector_order(), "0x" + "11" * 64, chain_id=137, neg_risk=False)


def test_credentials_are_deterministic_per_address_and_nonce() -> None:
    first = derive_credentials(b"seed", ADDRESS, 0)
    assert first == derive_credentials(b"seed", ADDRESS.lower(), 0)
    assert first.api_key != derive_credentials(b"seed", ADDRESS, 1).api_key
    assert first.api_key != derive_credentials(b"other", ADDRESS, 0).api_key
    assert len(first.passphrase) == 64 and first.secret.endswith("=")
