"""Field readers shared by both venues' listing parsers; every error names record and field.

Each reader takes the venue's error class so a malformed Kalshi record raises ``CatalogError`` and
a malformed Gamma record ``GammaError``, with the same wording.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def utc_time(value: Any, *, where: str, field: str, error: type[ValueError]) -> datetime | None:
    """An ISO-8601 timestamp ("...Z", "+00:00", "+00") as aware UTC; None when absent or empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise error(f"{where}: {field} must be an ISO timestamp string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise error(f"{where}: {field} {value!r} is not an ISO timestamp") from None
    if parsed.tzinfo is None:
        raise error(f"{where}: {field} {value!r} has no time zone")
    return parsed.astimezone(UTC)


def text(raw: Mapping[str, Any], field: str, where: str, *, error: type[ValueError],
         required: bool = True) -> str:
    """A string field; "" when optional and absent; an error when required and missing/empty."""
    value = raw.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise error(f"{where}: field {field!r} missing or not a string: {value!r}")
    return value


def decimal_text(value: Any, *, where: str, field: str, error: type[ValueError]) -> str | None:
    """A line or strike (JSON number decoded as Decimal, int or string) as a normalised decimal
    string ("218.5", "-3.5"); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise error(f"{where}: {field} {value!r} is not a number")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise error(f"{where}: {field} {value!r} is not a number") from None
    if not number.is_finite():
        raise error(f"{where}: {field} {value!r} is not a finite number")
    return str(number.normalize())
