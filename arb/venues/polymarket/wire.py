"""Polymarket JSON in and out: float-free parsing and field readers with clear errors.

Incoming JSON is parsed with ``parse_float=Decimal`` (``mts: 0.01``, ``fd.r: 0.05`` arrive as
JSON numbers); prices and sizes are read straight into fixed-point ints. Outgoing bodies are
serialised once, compactly, exactly as the official client does (``separators=(",", ":")``,
``ensure_ascii=False``), and those bytes are both signed and sent.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from arb.money import MoneyError, Price, Qty, parse_price, parse_qty


class WireError(ValueError):
    """A venue payload is not what the protocol promises; the message names field and value."""


def loads(data: bytes | str, *, what: str) -> Any:
    try:
        return json.loads(data, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        snippet = data[:120] if isinstance(data, str) else data[:120].decode("utf-8", "replace")
        raise WireError(f"polymarket {what}: not JSON ({exc}): {snippet!r}") from None


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes, the form the venue's HMAC is computed over."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def need(obj: Any, name: str, what: str) -> Any:
    """``obj[name]``; a missing field or a non-object is a WireError naming both."""
    if not isinstance(obj, dict):
        raise WireError(f"polymarket {what}: expected an object, got {type(obj).__name__}")
    if name not in obj:
        raise WireError(f"polymarket {what}: missing field {name!r}")
    return obj[name]


def text(obj: Any, name: str, what: str) -> str:
    value = need(obj, name, what)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise WireError(f"polymarket {what}: field {name!r} = {value!r} is not a string")
    return str(value)


def opt_text(obj: Any, name: str, what: str) -> str | None:
    if not isinstance(obj, dict) or obj.get(name) in (None, ""):
        return None
    return text(obj, name, what)


def _decimal_input(value: Any, name: str, what: str) -> str | Decimal | int:
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int)):
        raise WireError(f"polymarket {what}: field {name!r} = {value!r} is not a decimal")
    return value


def price(obj: Any, name: str, what: str) -> Price:
    value = _decimal_input(need(obj, name, what), name, what)
    try:
        return parse_price(value, what=f"polymarket {what} {name}")
    except MoneyError as exc:
        raise WireError(str(exc)) from None


def qty(obj: Any, name: str, what: str) -> Qty:
    value = _decimal_input(need(obj, name, what), name, what)
    try:
        return parse_qty(value, what=f"polymarket {what} {name}")
    except MoneyError as exc:
        raise WireError(str(exc)) from None


def opt_price(obj: Any, name: str, what: str) -> Price | None:
    """A price that may be absent or the empty string (empty book side, B6.1)."""
    if not isinstance(obj, dict) or obj.get(name) in (None, ""):
        return None
    return price(obj, name, what)


def integer(obj: Any, name: str, what: str) -> int:
    value = need(obj, name, what)
    if isinstance(value, bool):
        raise WireError(f"polymarket {what}: field {name!r} = {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise WireError(f"polymarket {what}: field {name!r} = {value!r} is not an integer")


def flag(obj: Any, name: str, what: str, default: bool = False) -> bool:
    if not isinstance(obj, dict) or obj.get(name) is None:
        return default
    value = obj[name]
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise WireError(f"polymarket {what}: field {name!r} = {value!r} is not a boolean")


def timestamp_ms(obj: Any, name: str, what: str) -> int:
    """A venue timestamp in ms; values that look like seconds are scaled up."""
    value = integer(obj, name, what)
    return value * 1000 if value < 100_000_000_000 else value
