"""JSON in and out for the simulator without floats.

Polymarket sends some numbers as JSON numbers (``orderPriceMinTickSize: 0.001``, ``mts``,
``fd.r``). The simulator keeps money as integers, so it renders those through ``Decimal`` and
needs an encoder that writes a ``Decimal`` as a bare JSON number; the standard library cannot.
Incoming bodies are parsed with ``parse_float=Decimal`` so no float ever appears either.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from arb.money import to_decimal


class JsonError(ValueError):
    """A request body is not the JSON the endpoint expects."""


def number(micro: int) -> Decimal:
    """A micro-unit integer as a normalised Decimal for rendering as a JSON number (0.01, 5)."""
    value = to_decimal(micro)
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def dumps(obj: Any) -> str:
    """Compact JSON (``separators=(",", ":")``); ``Decimal`` becomes a JSON number."""
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts)


def _encode(obj: Any, out: list[str]) -> None:
    if obj is None or isinstance(obj, (bool, int, str)):
        out.append(json.dumps(obj, ensure_ascii=False))
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"cannot encode {obj} as JSON")
        text = format(obj, "f")
        out.append(text)
    elif isinstance(obj, dict):
        out.append("{")
        for i, (key, value) in enumerate(obj.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(value, out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, value in enumerate(obj):
            if i:
                out.append(",")
            _encode(value, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def loads(data: bytes | str, *, what: str = "body") -> Any:
    """Parse JSON with every fractional number as ``Decimal``.

    Raises:
        JsonError: naming ``what`` when the text is not JSON.
    """
    try:
        return json.loads(data, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonError(f"{what} is not valid JSON: {exc}") from None


