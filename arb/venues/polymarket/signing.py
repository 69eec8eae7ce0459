# Design note: Polymarket CLOB V2 order and ClobAuth signing.
#
# Problem: every order is an EIP-712 typed-data signature over the V2 ``Order`` struct, and the
# order hash (the typed-data digest) is the CLOB's order id. The bot must know that id *before*
# sending (write-ahead intent), sign in well under a millisecond, and be byte-identical to the
# official client: one wrong byte is an "invalid signature" reject on a live leg.
#
# Naive approach: build the typed-data dict and call eth-account's ``encode_typed_data`` plus
# ``Account.sign_message`` per order, as the official client does. It re-derives the type hash
# and the domain separator every time, walks a generic ABI encoder, and costs milliseconds.
#
# Chosen approach: the struct has only static fields, so ``hashStruct`` is keccak over twelve
# 32-byte words we pack ourselves. The type hash and one domain separator per exchange contract
# are computed once. The digest ``keccak(0x1901 || domain || struct)`` is signed with coincurve
# (libsecp256k1, RFC 6979 deterministic nonces, low-s), giving r||s||v with v = 27 + recid, the
# same bytes eth-account produces. Keccak comes from pycryptodome's C implementation.
#
# Venue facts relied on (venues.md B3.1, B4.1, B4.2): domain {name "Polymarket CTF Exchange",
# version "2", chainId, verifyingContract = CTF Exchange V2 or NegRisk Exchange V2 for neg-risk
# markets}; the type string below (field order matters); side 0 = BUY, 1 = SELL; timestamp in ms;
# expiration is NOT signed in V2; metadata/builder bytes32. Signature types 0 (EOA), 1 (POLY_PROXY),
# 2 (POLY_GNOSIS_SAFE): the maker is the funder, the signer is always the EOA. Type 3 (deposit
# wallets, ERC-7739 wrapped signatures) is deliberately left out: this bot does not use them.
# ClobAuth: domain {name "ClobAuthDomain", version "1", chainId} (no verifyingContract), struct
# ClobAuth(address address,string timestamp,uint256 nonce,string message).
from __future__ import annotations

import enum
import secrets

import attrs
import coincurve
from Crypto.Hash import keccak as _keccak_mod

from arb.domain import Side

POLYGON_CHAIN_ID = 137
AMOY_CHAIN_ID = 80002

EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
"""CTF Exchange V2 (same address on Polygon and Amoy)."""
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
"""NegRisk CTF Exchange V2: orders on neg-risk markets must be signed against it."""

ORDER_TYPE_STRING = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,"
    "bytes32 builder)"
)
EXCHANGE_DOMAIN_NAME = "Polymarket CTF Exchange"
EXCHANGE_DOMAIN_VERSION = "2"
CLOB_AUTH_DOMAIN_NAME = "ClobAuthDomain"
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
ZERO_BYTES32 = bytes(32)
_UINT256_MAX = (1 << 256) - 1
SALT_BOUND = 1 << 53
"""Salts stay below 2**53: the body carries ``salt`` as a JSON number, which a JavaScript server
reads as a double. The official client's salts are ``random() * now_ms`` (about 2**41)."""


def keccak256(data: bytes) -> bytes:
    """Ethereum's Keccak-256 (not SHA3-256)."""
    return _keccak_mod.new(digest_bits=256, data=data).digest()


_EIP712_DOMAIN_TYPE_HASH = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_CLOB_AUTH_DOMAIN_TYPE_HASH = keccak256(b"EIP712Domain(string name,string version,uint256 chainId)")
ORDER_TYPE_HASH = keccak256(ORDER_TYPE_STRING.encode())
_CLOB_AUTH_TYPE_HASH = keccak256(
    b"ClobAuth(address address,string timestamp,uint256 nonce,string message)"
)
_CLOB_AUTH_MESSAGE_HASH = keccak256(CLOB_AUTH_MESSAGE.encode())


class SigningError(ValueError):
    """An order or key could not be encoded (bad address, out-of-range integer)."""


class SignatureType(enum.IntEnum):
    """Who signs for whom (venues.md B4.1)."""

    EOA = 0
    """The EOA trades from its own address (maker = signer)."""
    POLY_PROXY = 1
    """Magic/email accounts: maker = proxy wallet (the funder), signer = owning EOA."""
    POLY_GNOSIS_SAFE = 2
    """Browser-wallet accounts: maker = Safe (the funder), signer = EOA owner."""


def _word(value: int, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT256_MAX:
        raise SigningError(f"{what}: {value!r} is not a uint256")
    return value.to_bytes(32, "big")


def _address_bytes(address: str, what: str) -> bytes:
    text = address[2:] if address[:2] in ("0x", "0X") else ""
    if len(text) != 40:
        raise SigningError(f"{what}: {address!r} is not a 0x-prefixed 20-byte address")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise SigningError(f"{what}: {address!r} is not hex") from None


def to_checksum_address(address: str) -> str:
    """EIP-55 mixed-case form of a 20-byte hex address."""
    raw = _address_bytes(address, "address").hex()
    digest = keccak256(raw.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(d, 16) >= 8 else c for c, d in zip(raw, digest[:40], strict=True)
    )


def bytes32_from_hex(text: str, what: str = "bytes32") -> bytes:
    """Parse a 0x-prefixed bytes32 (metadata, builder code); shorter values are left-padded."""
    body = text[2:] if text[:2] in ("0x", "0X") else text
    if len(body) > 64:
        raise SigningError(f"{what}: {text!r} is longer than 32 bytes")
    try:
        return bytes.fromhex(body.rjust(64, "0"))
    except ValueError:
        raise SigningError(f"{what}: {text!r} is not hex") from None


def exchange_domain_separator(chain_id: int, exchange: str) -> bytes:
    """EIP-712 domain separator of a CTF exchange contract (version "2")."""
    return keccak256(
        _EIP712_DOMAIN_TYPE_HASH
        + keccak256(EXCHANGE_DOMAIN_NAME.encode())
        + keccak256(EXCHANGE_DOMAIN_VERSION.encode())
        + _word(chain_id, "chainId")
        + bytes(12) + _address_bytes(exchange, "verifyingContract")
    )


@attrs.frozen
class OrderStruct:
    """The signed fields of a V2 order, in wire units (6-decimal integers)."""

    salt: int
    maker: str
    """Funder address (holds the pUSD / tokens)."""
    signer: str
    """EOA address whose key signs."""
    token_id: int
    maker_amount: int
    taker_amount: int
    side: Side
    signature_type: SignatureType
    timestamp_ms: int
    metadata: bytes = ZERO_BYTES32
    builder: bytes = ZERO_BYTES32

    def struct_hash(self) -> bytes:
        """EIP-712 ``hashStruct(order)``."""
        if len(self.metadata) != 32 or len(self.builder) != 32:
            raise SigningError("metadata and builder must be exactly 32 bytes")
        return keccak256(
            ORDER_TYPE_HASH
            + _word(self.salt, "salt")
            + bytes(12) + _address_bytes(self.maker, "maker")
            + bytes(12) + _address_bytes(self.signer, "signer")
            + _word(self.token_id, "tokenId")
            + _word(self.maker_amount, "makerAmount")
            + _word(self.taker_amount, "takerAmount")
            + _word(0 if self.side is Side.BUY else 1, "side")
            + _word(int(self.signature_type), "signatureType")
            + _word(self.timestamp_ms, "timestamp")
            + self.metadata
            + self.builder
        )


@attrs.frozen
class SignedOrder:
    order: OrderStruct
    neg_risk: bool
    order_hash: str
    """0x-prefixed typed-data digest: the CLOB order id."""
    signature: str
    """0x-prefixed r||s||v, v in {27, 28}."""


def new_salt() -> int:
    """A random order salt below :data:`SALT_BOUND`."""
    return secrets.randbelow(SALT_BOUND)


@attrs.define(eq=False)
class PolymarketSigner:
    """An EOA key bound to a chain, a funder and a signature type; signs orders and ClobAuth.

    The private key is never part of the repr.
    """

    _key: coincurve.PrivateKey = attrs.field(repr=False)
    chain_id: int
    address: str
    """Checksummed EOA address (the order ``signer`` and the ``POLY_ADDRESS`` header)."""
    funder: str
    """Checksummed maker address (the EOA itself for signature type 0)."""
    signature_type: SignatureType
    _domains: dict[bool, bytes] = attrs.field(repr=False)

    @classmethod
    def from_private_key(cls, private_key: str, *, chain_id: int = POLYGON_CHAIN_ID,
                         signature_type: SignatureType = SignatureType.EOA,
                         funder: str | None = None) -> PolymarketSigner:
        """Build a signer from a 0x-prefixed hex private key.

        Raises:
            SigningError: malformed key or funder, or a proxy/Safe type without a funder.
        """
        if chain_id not in (POLYGON_CHAIN_ID, AMOY_CHAIN_ID):
            raise SigningError(f"chain_id {chain_id} is neither Polygon (137) nor Amoy (80002)")
        body = private_key[2:] if private_key[:2] in ("0x", "0X") else private_key
        try:
            if len(body) != 64:
                raise ValueError("not 32 bytes")
            key = coincurve.PrivateKey(bytes.fromhex(body))
        except ValueError:
            raise SigningError("private key is not a valid 32-byte secp256k1 key") from None
        pub = key.public_key.format(compressed=False)[1:]
        address = to_checksum_address("0x" + keccak256(pub)[12:].hex())
        signature_type = SignatureType(signature_type)
        if funder is None:
            if signature_type is not SignatureType.EOA:
                raise SigningError(f"signature type {signature_type.name} needs a funder address")
            funder = address
        funder = to_checksum_address(funder)
        domains = {
            False: exchange_domain_separator(chain_id, EXCHANGE_V2),
            True: exchange_domain_separator(chain_id, NEG_RISK_EXCHANGE_V2),
        }
        return cls(key, chain_id, address, funder, signature_type, domains)

    def build_order(self, *, token_id: int, side: Side, maker_amount: int, taker_amount: int,
                    timestamp_ms: int, salt: int | None = None,
                    metadata: bytes = ZERO_BYTES32, builder: bytes = ZERO_BYTES32) -> OrderStruct:
        """The unsigned struct for this account (maker = funder, signer = EOA)."""
        return OrderStruct(
            salt=new_salt() if salt is None else salt, maker=self.funder, signer=self.address,
            token_id=token_id, maker_amount=maker_amount, taker_amount=taker_amount, side=side,
            signature_type=self.signature_type, timestamp_ms=timestamp_ms, metadata=metadata,
            builder=builder,
        )

    def order_digest(self, order: OrderStruct, *, neg_risk: bool) -> bytes:
        """The EIP-712 digest that is signed and that is the order id."""
        return keccak256(b"\x19\x01" + self._domains[neg_risk] + order.struct_hash())

    def sign_order(self, order: OrderStruct, *, neg_risk: bool) -> SignedOrder:
        """Hash and sign one order for the normal or the neg-risk exchange."""
        if order.signer.lower() != self.address.lower():
            raise SigningError(f"order signer {order.signer} is not this key's {self.address}")
        digest = self.order_digest(order, neg_risk=neg_risk)
        return SignedOrder(order, neg_risk, "0x" + digest.hex(), self._sign_digest(digest))

    def clob_auth_digest(self, timestamp_s: int, nonce: int) -> bytes:
        domain = keccak256(
            _CLOB_AUTH_DOMAIN_TYPE_HASH
            + keccak256(CLOB_AUTH_DOMAIN_NAME.encode())
            + keccak256(b"1")
            + _word(self.chain_id, "chainId")
        )
        struct = keccak256(
            _CLOB_AUTH_TYPE_HASH
            + bytes(12) + _address_bytes(self.address, "address")
            + keccak256(str(timestamp_s).encode())
            + _word(nonce, "nonce")
            + _CLOB_AUTH_MESSAGE_HASH
        )
        return keccak256(b"\x19\x01" + domain + struct)

    def sign_clob_auth(self, timestamp_s: int, nonce: int = 0) -> str:
        """L1 signature for ``POLY_SIGNATURE`` (create or derive API keys)."""
        return self._sign_digest(self.clob_auth_digest(timestamp_s, nonce))

    def _sign_digest(self, digest: bytes) -> str:
        sig = self._key.sign_recoverable(digest, hasher=None)
        return "0x" + sig[:64].hex() + f"{sig[64] + 27:02x}"
