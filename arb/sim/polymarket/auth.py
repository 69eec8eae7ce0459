# Design note: what the simulated CLOB verifies, independently of any client code.
#
# Problem: the bot's Polymarket client signs three things (the L1 ClobAuth typed data, the L2
# HMAC over each request, and every V2 order). A simulator that reuses the client's own signing
# code would accept whatever the client gets wrong. So this module re-derives everything from the
# published definitions with eth_account and the standard library only.
#
# Venue facts relied on (venues.md B3, B4.2):
# - L1: EIP-712 domain {name "ClobAuthDomain", version "1", chainId} (no verifyingContract),
#   type ClobAuth(address address,string timestamp,uint256 nonce,string message), message text
#   fixed; headers POLY_ADDRESS / POLY_SIGNATURE / POLY_TIMESTAMP (seconds) / POLY_NONCE.
# - L2: HMAC-SHA256 keyed by urlsafe_b64decode(secret) over ts + METHOD + path + body, where the
#   path carries no query string and body is the raw received bytes; urlsafe base64 output with
#   its "=" padding.
# - Orders: EIP-712 domain {name "Polymarket CTF Exchange", version "2", chainId,
#   verifyingContract = CTF Exchange V2 or NegRisk CTF Exchange V2}; the order id is the digest.
# - API keys: one key set per (address, nonce); created once, derivable afterwards. The simulator
#   derives them deterministically from a server seed so restarts of a scenario reproduce them.
from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

import attrs
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak, to_checksum_address

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
CTF_EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_CTF_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
ZERO_BYTES32 = "0x" + "00" * 32

_EIP712_DOMAIN_NO_CONTRACT = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
]
_EIP712_DOMAIN = [*_EIP712_DOMAIN_NO_CONTRACT, {"name": "verifyingContract", "type": "address"}]
_CLOB_AUTH_TYPE = [
    {"name": "address", "type": "address"},
    {"name": "timestamp", "type": "string"},
    {"name": "nonce", "type": "uint256"},
    {"name": "message", "type": "string"},
]
_ORDER_V2_TYPE = [
    {"name": "salt", "type": "uint256"},
    {"name": "maker", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "side", "type": "uint8"},
    {"name": "signatureType", "type": "uint8"},
    {"name": "timestamp", "type": "uint256"},
    {"name": "metadata", "type": "bytes32"},
    {"name": "builder", "type": "bytes32"},
]


class SignatureError(ValueError):
    """A signature could not be parsed or does not recover to the claimed address."""


def checksum(address: str) -> str:
    """EIP-55 form of an address; SignatureError when it is not 20 hex bytes."""
    try:
        return to_checksum_address(address)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"invalid address {address!r}: {exc}") from None


def _recover(signable: SignableMessage, signature: str) -> str:
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except (ValueError, AttributeError):
        raise SignatureError(f"signature {signature!r} is not hex") from None
    if len(raw) != 65:
        raise SignatureError(f"signature is {len(raw)} bytes, expected 65")
    try:
        return Account.recover_message(signable, signature=raw)
    except Exception as exc:  # eth_keys raises several unrelated types for bad points
        raise SignatureError(f"signature does not recover: {exc}") from None


def digest(signable: SignableMessage) -> bytes:
    """The EIP-191 digest ``keccak256(0x19 || version || header || body)`` that gets signed."""
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def clob_auth_signable(address: str, timestamp: str, nonce: int, chain_id: int) -> SignableMessage:
    return encode_typed_data(full_message={
        "primaryType": "ClobAuth",
        "types": {"EIP712Domain": _EIP712_DOMAIN_NO_CONTRACT, "ClobAuth": _CLOB_AUTH_TYPE},
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": chain_id},
        "message": {"address": checksum(address), "timestamp": timestamp, "nonce": nonce,
                    "message": CLOB_AUTH_MESSAGE},
    })


def recover_clob_auth(address: str, timestamp: str, nonce: int, signature: str,
                      chain_id: int) -> str:
    """Recover the signer of an L1 ClobAuth message (checksummed)."""
    return _recover(clob_auth_signable(address, timestamp, nonce, chain_id), signature)


@attrs.frozen
class OrderStruct:
    """The signed fields of a V2 order, exactly as they enter the EIP-712 hash."""

    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: int
    """0 = BUY, 1 = SELL."""
    signature_type: int
    timestamp: int
    """Milliseconds."""
    metadata: bytes
    builder: bytes


def exchange_address(neg_risk: bool) -> str:
    return NEG_RISK_CTF_EXCHANGE_V2 if neg_risk else CTF_EXCHANGE_V2


def order_signable(order: OrderStruct, *, chain_id: int, neg_risk: bool) -> SignableMessage:
    return encode_typed_data(full_message={
        "primaryType": "Order",
        "types": {"EIP712Domain": _EIP712_DOMAIN, "Order": _ORDER_V2_TYPE},
        "domain": {"name": "Polymarket CTF Exchange", "version": "2", "chainId": chain_id,
                   "verifyingContract": exchange_address(neg_risk)},
        "message": {"salt": order.salt, "maker": checksum(order.maker),
                    "signer": checksum(order.signer), "tokenId": order.token_id,
                    "makerAmount": order.maker_amount, "takerAmount": order.taker_amount,
                    "side": order.side, "signatureType": order.signature_type,
                    "timestamp": order.timestamp, "metadata": order.metadata,
                    "builder": order.builder},
    })


def order_hash(order: OrderStruct, *, chain_id: int, neg_risk: bool) -> str:
    """The order id: 0x + hex of the EIP-712 digest."""
    return "0x" + digest(order_signable(order, chain_id=chain_id, neg_risk=neg_risk)).hex()


def recover_order_signer(order: OrderStruct, signature: str, *, chain_id: int,
                         neg_risk: bool) -> str:
    return _recover(order_signable(order, chain_id=chain_id, neg_risk=neg_risk), signature)


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """L2 signature over the raw body bytes; urlsafe base64 with padding."""
    try:
        key = base64.urlsafe_b64decode(secret)
    except (ValueError, TypeError):
        raise SignatureError("API secret is not urlsafe base64") from None
    message = timestamp.encode() + method.encode() + path.encode() + body
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def hmac_matches(secret: str, timestamp: str, method: str, path: str, body: bytes,
                 signature: str) -> bool:
    expected = hmac_signature(secret, timestamp, method, path, body)
    return hmac.compare_digest(expected.encode(), signature.encode())


@attrs.frozen
class ApiCredentials:
    """One L2 key set, bound to the EOA that created it."""

    api_key: str
    secret: str
    passphrase: str
    address: str
    nonce: int


def derive_credentials(server_seed: bytes, address: str, nonce: int) -> ApiCredentials:
    """Deterministic credentials for (address, nonce): a uuid key, a 32-byte secret, 64-hex pass."""
    addr = checksum(address)

    def part(label: str) -> bytes:
        return hmac.new(server_seed, f"{addr.lower()}:{nonce}:{label}".encode(),
                        hashlib.sha256).digest()

    return ApiCredentials(
        api_key=str(uuid.UUID(bytes=part("key")[:16], version=4)),
        secret=base64.urlsafe_b64encode(part("secret")).decode(),
        passphrase=part("passphrase").hex(),
        address=addr,
        nonce=nonce,
    )
