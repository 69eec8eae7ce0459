"""V2 order and ClobAuth signing: official vectors and byte identity with py_clob_client_v2."""
from __future__ import annotations

import json
import random

import pytest
from py_clob_client_v2.headers.headers import create_level_1_headers
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2, SignatureTypeV2
from py_clob_client_v2.order_utils import Side as OfficialSide
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2, order_to_json_v2
from py_clob_client_v2.signer import Signer as OfficialSigner

from arb.domain import Side, TimeInForce
from arb.venues.polymarket.adapter import order_body
from arb.venues.polymarket.signing import (
    EXCHANGE_V2,
    NEG_RISK_EXCHANGE_V2,
    PolymarketSigner,
    SignatureType,
    SigningError,
    bytes32_from_hex,
    to_checksum_address,
)
from arb.venues.polymarket.wire import dumps

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_address_derived_from_key() -> None:
    signer = PolymarketSigner.from_private_key(KEY)
    assert signer.address == ADDRESS
    assert signer.funder == ADDRESS
    assert KEY[2:] not in repr(signer)


def test_clob_auth_official_vector_amoy() -> None:
    signer = PolymarketSigner.from_private_key(KEY, chain_id=80002)
    assert signer.sign_clob_auth(10000000, 23) == (
        "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1682518e0af677d5260366425"
        "f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b")


def test_clob_auth_vector_polygon() -> None:
    signer = PolymarketSigner.from_private_key(KEY, chain_id=137)
    assert signer.sign_clob_auth(10000000, 23) == (
        "0x1a7118db6100dfd8efd102be36f472b59475dcac56eb4c9a2a94748d3655ba7c3c89deb8c19ee79eceb0a531"
        "122fbfbe88ed118034f9d8212e2b725e7b296b9d1c")


def test_v2_order_vector_amoy() -> None:
    signer = PolymarketSigner.from_private_key(KEY, chain_id=80002)
    order = signer.build_order(token_id=1234, side=Side.BUY, maker_amount=100_000_000,
                               taker_amount=50_000_000, timestamp_ms=1710000000000,
                               salt=479249096354)
    signed = signer.sign_order(order, neg_risk=False)
    assert signed.order_hash == (
        "0x962c97b18bea292cc94b9479272aa74fb59a905e84a621a40eb339131e9fb6ba")
    assert signed.signature == (
        "0x518472f1b081f6bd713d638bb11d1bf0720ed577e93c52eb00ec9f5f325f7d510c65cbfdfe9130de2602185f"
        "4a500863d777d8b838cb28abc75ecc1b5330315d1c")


@pytest.mark.parametrize(("neg_risk", "expected"), [
    (False, "0x9aa28a95609d30bb8a222f6c8b63e7870b8625bfe52e372e2c28ff06c469b88d555df53cb9b3011791"
            "561f314b26f55855acdb7ce4dd6fc8ef7621a2745684cf1b"),
    (True, "0xd522823a5b5539473e59084bd94817b1f6f2e74619410a1af076841bf69b163f67abccd9a1fabe12e867"
           "2f0908611a964c088917bac80ae00d99949fac7cc1f91c"),
])
def test_v2_order_vectors_polygon(neg_risk: bool, expected: str) -> None:
    signer = PolymarketSigner.from_private_key(KEY, chain_id=137)
    order = signer.build_order(token_id=1234, side=Side.BUY, maker_amount=52_000_000,
                               taker_amount=100_000_000, timestamp_ms=1767225600000,
                               salt=479249096354)
    assert signer.sign_order(order, neg_risk=neg_risk).signature == expected


def test_proxy_signature_type_needs_funder() -> None:
    with pytest.raises(SigningError, match="needs a funder"):
        PolymarketSigner.from_private_key(KEY, signature_type=SignatureType.POLY_PROXY)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(SigningError, match="private key"):
        PolymarketSigner.from_private_key("0x1234")
    with pytest.raises(SigningError, match="chain_id"):
        PolymarketSigner.from_private_key(KEY, chain_id=1)
    signer = PolymarketSigner.from_private_key(KEY)
    order = signer.build_order(token_id=-1, side=Side.BUY, maker_amount=1, taker_amount=1,
                               timestamp_ms=1)
    with pytest.raises(SigningError, match="tokenId"):
        signer.sign_order(order, neg_risk=False)
    with pytest.raises(SigningError, match="longer than 32 bytes"):
        bytes32_from_hex("0x" + "ab" * 33)


def test_checksum_address_matches_eip55_examples() -> None:
    for addr in ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                 "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                 "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"):
        assert to_checksum_address(addr.lower()) == addr


def _official_signed(key: str, chain_id: int, neg_risk: bool, sig_type: int, funder: str,
                     salt: int, token_id: int, maker_amount: int, taker_amount: int,
                     side: Side, ts: int, metadata: str, builder: str):
    official = OfficialSigner(key, chain_id)
    exchange = NEG_RISK_EXCHANGE_V2 if neg_risk else EXCHANGE_V2
    builder_v2 = ExchangeOrderBuilderV2(exchange, chain_id, official,
                                        generate_salt=lambda: str(salt))
    data = OrderDataV2(
        maker=funder, tokenId=str(token_id), makerAmount=str(maker_amount),
        takerAmount=str(taker_amount),
        side=OfficialSide.BUY if side is Side.BUY else OfficialSide.SELL,
        signer=official.address(), signatureType=SignatureTypeV2(sig_type), timestamp=str(ts),
        metadata=metadata, builder=builder, expiration="0")
    signed = builder_v2.build_signed_order(data)
    order_hash = builder_v2.build_order_hash(builder_v2.build_order_typed_data(signed))
    return signed, order_hash


def test_byte_identical_to_official_builder_over_random_orders() -> None:
    rng = random.Random(20260428)
    for _ in range(150):
        key = "0x" + rng.randbytes(32).hex()
        chain_id = rng.choice((137, 80002))
        neg_risk = rng.random() < 0.5
        sig_type = rng.choice((0, 1, 2))
        funder = to_checksum_address("0x" + rng.randbytes(20).hex()) if sig_type else None
        signer = PolymarketSigner.from_private_key(key, chain_id=chain_id,
                                                   signature_type=SignatureType(sig_type),
                                                   funder=funder)
        salt = rng.randrange(1 << 53)
        token_id = rng.randrange(1 << 256)
        maker_amount, taker_amount = rng.randrange(1, 10**12), rng.randrange(1, 10**12)
        side = rng.choice((Side.BUY, Side.SELL))
        ts = rng.randrange(1_700_000_000_000, 1_900_000_000_000)
        metadata = "0x" + (rng.randbytes(32).hex() if rng.random() < 0.3 else "00" * 32)
        builder = "0x" + (rng.randbytes(32).hex() if rng.random() < 0.3 else "00" * 32)
        tif = rng.choice(list(TimeInForce))
        ours = signer.sign_order(signer.build_order(
            token_id=token_id, side=side, maker_amount=maker_amount, taker_amount=taker_amount,
            timestamp_ms=ts, salt=salt, metadata=bytes32_from_hex(metadata),
            builder=bytes32_from_hex(builder)), neg_risk=neg_risk)
        theirs, their_hash = _official_signed(
            key, chain_id, neg_risk, sig_type, signer.funder, salt, token_id, maker_amount,
            taker_amount, side, ts, metadata, builder)
        assert ours.order_hash == their_hash
        assert ours.signature == theirs.signature
        order_type = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "FAK", TimeInForce.FOK: "FOK"}[tif]
        official_body = json.dumps(order_to_json_v2(theirs, "owner-key", order_type),
                                   separators=(",", ":"), ensure_ascii=False).encode()
        assert dumps(order_body(ours, owner="owner-key", tif=tif)) == official_body


def test_l1_headers_identical_to_official() -> None:
    from arb.venues.polymarket.auth import l1_headers

    signer = PolymarketSigner.from_private_key(KEY, chain_id=137)
    theirs = create_level_1_headers(OfficialSigner(KEY, 137), nonce=7, timestamp=1767225600)
    assert l1_headers(signer, timestamp_s=1767225600, nonce=7) == theirs
