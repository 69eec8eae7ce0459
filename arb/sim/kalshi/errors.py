"""The simulated Kalshi exchange's error: an HTTP status plus the venue's ``{code, message, details}``."""
from __future__ import annotations

MARKET_INACTIVE = "MARKET_INACTIVE"
"""Order operation on a market that is not open for trading (docs quote this literal)."""
NOT_FOUND = "not_found"
BAD_REQUEST = "invalid_parameters"
CONFLICT = "order_already_exists"
INSUFFICIENT_BALANCE = "insufficient_balance"
POST_ONLY_CROSS = "post_only_cross"
TRADING_PAUSED = "trading_is_paused"
UNAUTHORIZED = "unauthorized"
INTERNAL = "internal_server_error"
UNAVAILABLE = "service_unavailable"


class KalshiApiError(Exception):
    """A request the exchange refuses, with the status and body the venue would answer."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({details})" if details else ""))
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "details": self.details}


def bad_request(message: str, details: str = "") -> KalshiApiError:
    return KalshiApiError(400, BAD_REQUEST, message, details)


def not_found(message: str, details: str = "") -> KalshiApiError:
    return KalshiApiError(404, NOT_FOUND, message, details)
