# Design note: logging.
#
# Operators read the console over SSH and feed the JSON lines to tools, so there are two sinks:
# a human-readable console line and a rotated JSON-lines file in the state directory. Every line
# carries `actor`, `venue` and `market` (bound by the caller with `logger.bind`; "-" when unset)
# so one market's story can be grepped out of a busy log.
#
# Secrets: the bot's own code never formats a secret (they are `arb.config.Secret`, whose repr
# hides the value), but a third-party exception text or a header dump could. So every sink goes
# through a patcher that replaces any registered secret value (a hex key with or without its
# 0x prefix) and any PEM block before the line is written; tracebacks never show variables. A log line is never the only
# record of a state change: state changes go to the ledger or to a channel.
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from loguru import logger

_PEM_RE = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)
REDACTED = "<redacted>"

_secrets: set[str] = set()

CONSOLE_FORMAT = ("<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
                  "<cyan>{extra[actor]}</cyan> {extra[venue]} {extra[market]} | {message}")


def register_secret(value: str) -> None:
    """Make sure ``value`` (and nothing that contains it) is ever written to a log sink."""
    if value and len(value) >= 6:
        _secrets.add(value)
        if value.lower().startswith("0x") and len(value) > 8:
            _secrets.add(value[2:])


def redact(text: str) -> str:
    """Remove registered secrets and PEM blocks from ``text``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _PEM_RE.sub(REDACTED, text)


def _patch(record: dict[str, Any]) -> None:
    record["message"] = redact(record["message"])
    for key, value in list(record["extra"].items()):
        if isinstance(value, str):
            record["extra"][key] = redact(value)
    if record["exception"] is not None:
        exc = record["exception"]
        if exc.value is not None:
            exc.value.args = tuple(redact(str(a)) if isinstance(a, str) else a
                                   for a in exc.value.args)


def setup_logging(state_dir: Path | None, *, level: str = "INFO", rotation: str = "50 MB",
                  retention: int = 10, console: bool = True) -> None:
    """Configure loguru: console for humans, JSON lines with rotation in ``state_dir/logs``."""
    logger.remove()
    logger.configure(extra={"actor": "-", "venue": "-", "market": "-"}, patcher=_patch)
    if console:
        logger.add(sys.stderr, level=level, format=CONSOLE_FORMAT, colorize=None,
                   backtrace=False, diagnose=False)
    if state_dir is not None:
        log_dir = Path(state_dir) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.add(log_dir / "arb.jsonl", level=level, serialize=True, rotation=rotation,
                   retention=retention, enqueue=False, backtrace=False, diagnose=False)
