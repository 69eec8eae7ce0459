# Design note: settings.
#
# Problem: a trading bot's config is where a typo becomes a loss: a limit of "500" read as
# cents, a float 0.1 that is not 0.1, an unknown key silently ignored ("max_daily_los"), a
# secret pasted into a TOML file that ends up in git or in a log line.
#
# Approach: `config/default.toml` holds every key with its default; one TOML per sport
# (`config/<sport>.toml`) overrides what it needs and may carry `[profiles.paper]` and
# `[profiles.live]` tables that override further. The merged tree is loaded into frozen attrs
# sections. Every field declares its kind; the loader converts and validates each value and
# reports the first problem as one message naming the file, the dotted key and what was
# expected. Money is written as a string ("50.00") or a whole number of dollars, never a TOML
# float. Unknown keys are errors.
#
# Secrets never come from TOML: only from environment variables, or from key files whose paths
# are in environment variables. They are wrapped in `Secret`, whose repr and str hide the value.
from __future__ import annotations

import enum
import os
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import attrs

from arb.money import Money, MoneyError, parse_money

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


class Target(enum.Enum):
    SIM = "sim"
    DEMO = "demo"
    PROD = "prod"


class Mode(enum.Enum):
    PAPER = "paper"
    LIVE = "live"


# --- field kinds -------------------------------------------------------------------------------

def _money(value: Any, where: str) -> Money:
    if isinstance(value, bool) or isinstance(value, float):
        raise ConfigError(f"{where}: expected dollars as a string like \"50.00\" or a whole "
                          f"number, got {value!r} (floats are not exact)")
    if not isinstance(value, (str, int)):
        raise ConfigError(f"{where}: expected dollars as a string, got {type(value).__name__}")
    try:
        amount = parse_money(value, what=where)
    except MoneyError as err:
        raise ConfigError(str(err)) from None
    if amount < 0:
        raise ConfigError(f"{where}: expected a non-negative amount, got {value!r}")
    return amount


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    if value < 0:
        raise ConfigError(f"{where}: expected a non-negative number, got {value}")
    return value


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected seconds as a number, got {value!r}")
    if value < 0:
        raise ConfigError(f"{where}: expected a non-negative duration, got {value}")
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _choice(*options: str):
    def convert(value: Any, where: str) -> str:
        if value not in options:
            raise ConfigError(f"{where}: expected one of {', '.join(options)}, got {value!r}")
        return value
    return convert


def _field(kind, *, default: Any = attrs.NOTHING):
    return attrs.field(default=default, metadata={"kind": kind})


# --- sections ----------------------------------------------------------------------------------

@attrs.frozen
class BotSettings:
    leagues: tuple[str, ...] = _field(_str_list, default=())
    """League keys (arb/discovery/data/leagues.json) this process trades."""
    name: str = _field(_str, default="arb")
    """Process name: log files, status snapshots and the shared ledger know it by this."""


@attrs.frozen
class EdgeSettings:
    min_edge_bps: int = _field(_int, default=50)
    """Net edge after all fees, in basis points of capital."""
    min_profit: Money = _field(_money, default=Money(100_000))
    min_profit_per_contract: Money = _field(_money, default=Money(5_000))
    max_book_age_s: float = _field(_seconds, default=2.0)
    """A book older than this is stale: no detection, no orders."""
    max_slippage_bps: int = _field(_int, default=200)
    """Combined price walk beyond the best levels, in basis points of capital."""
    min_confidence: str = _field(_choice("low", "medium", "high"), default="medium")
    min_fill_probability_pct: int = _field(_int, default=50)
    scan_interval_s: float = _field(_seconds, default=3.0)
    """Period of the safety-net full scan of every pair."""


@attrs.frozen
class RiskSettings:
    enabled: bool = _field(_bool, default=True)
    """The global enable switch: false means no new entries (cancels and unwinds still run)."""
    trade_min_usd: Money = _field(_money, default=Money(50_000_000))
    trade_max_usd: Money = _field(_money, default=Money(100_000_000))
    max_total_exposure: Money = _field(_money, default=Money(500_000_000))
    max_event_exposure: Money = _field(_money, default=Money(200_000_000))
    max_market_exposure: Money = _field(_money, default=Money(200_000_000))
    max_venue_exposure: Money = _field(_money, default=Money(500_000_000))
    max_daily_loss: Money = _field(_money, default=Money(200_000_000))
    trades_per_hour: int = _field(_int, default=20)
    max_consecutive_losses: int = _field(_int, default=5)
    max_consecutive_errors: int = _field(_int, default=3)
    orders_per_minute: int = _field(_int, default=60)


@attrs.frozen
class ExecutionSettings:
    kalshi_tif: str = _field(_choice("ioc", "fok"), default="ioc")
    poly_tif: str = _field(_choice("fak", "fok"), default="fak")
    leg_timeout_s: float = _field(_seconds, default=5.0)
    delayed_wait_s: float = _field(_seconds, default=10.0)
    """How long a Polymarket ``delayed`` leg is awaited before it is resolved by query."""
    complete_loss_cap: Money = _field(_money, default=Money(20_000))
    """Largest all-in loss per contract accepted to complete a missing leg instead of unwinding."""
    unwind_price_step: Money = _field(_money, default=Money(10_000))
    unwind_max_discount: Money = _field(_money, default=Money(100_000))
    """The ladder never sells below entry price minus this."""
    unwind_attempts: int = _field(_int, default=5)
    settlement_retries: int = _field(_int, default=3)
    settlement_retry_s: float = _field(_seconds, default=2.0)
    mismatch_blacklist_after: int = _field(_int, default=3)
    blacklist_s: float = _field(_seconds, default=3600.0)
    cleanup_s: float = _field(_seconds, default=15.0)
    """Shielded time budget for cancelling everything and reconciling on any stop."""
    drain_s: float = _field(_seconds, default=40.0)
    """On a graceful stop (signal, operator, end of a demo), how long executions in flight,
    repairs included, may run to a terminal state before trading is cancelled. Long enough
    for a repair that waits out Polymarket settlement lag; a breaker trip never drains."""


@attrs.frozen
class FeedSettings:
    silent_after_s: float = _field(_seconds, default=15.0)
    """No data for this long on an open socket counts as a silent freeze: reconnect."""
    reconnect_max_s: float = _field(_seconds, default=30.0)
    outage_alert_s: float = _field(_seconds, default=60.0)


@attrs.frozen
class SupervisorSettings:
    restart_intensity: int = _field(_int, default=3)
    restart_window_s: float = _field(_seconds, default=60.0)
    reconcile_interval_s: float = _field(_seconds, default=60.0)


@attrs.frozen
class DiscoverySettings:
    refresh_s: float = _field(_seconds, default=300.0)
    start_window_h: float = _field(_seconds, default=6.0)
    accept_basis_risk: tuple[str, ...] = _field(_str_list, default=())
    """Pair ids whose basis risk the operator accepts explicitly."""
    overrides_file: str = _field(_str, default="")


@attrs.frozen
class StatusSettings:
    interval_s: float = _field(_seconds, default=1.0)
    http_port: int = _field(_int, default=0)
    """Loopback port for status JSON and Prometheus metrics; 0 picks a free one."""
    stats_every_s: float = _field(_seconds, default=60.0)


@attrs.frozen
class AlertSettings:
    queue_size: int = _field(_int, default=256)
    retries: int = _field(_int, default=3)
    timeout_s: float = _field(_seconds, default=5.0)


@attrs.frozen
class LoggingSettings:
    level: str = _field(_choice("DEBUG", "INFO", "WARNING", "ERROR"), default="INFO")
    rotation: str = _field(_str, default="50 MB")
    retention: int = _field(_int, default=10)


@attrs.frozen
class KalshiSettings:
    tier: str = _field(_choice("basic", "advanced", "expert", "premier", "paragon", "prime",
                               "prestige"), default="basic")


@attrs.frozen
class PolymarketSettings:
    chain_id: int = _field(_int, default=137)
    signature_type: int = _field(_int, default=0)


@attrs.frozen
class Settings:
    bot: BotSettings = BotSettings()
    edge: EdgeSettings = EdgeSettings()
    risk: RiskSettings = RiskSettings()
    execution: ExecutionSettings = ExecutionSettings()
    feeds: FeedSettings = FeedSettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    discovery: DiscoverySettings = DiscoverySettings()
    status: StatusSettings = StatusSettings()
    alerts: AlertSettings = AlertSettings()
    logging: LoggingSettings = LoggingSettings()
    kalshi: KalshiSettings = KalshiSettings()
    polymarket: PolymarketSettings = PolymarketSettings()


_SECTIONS: dict[str, type] = {
    f.name: f.type for f in attrs.fields(attrs.resolve_types(Settings))}  # type: ignore[misc]


# --- loading -----------------------------------------------------------------------------------

def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def _merge(base: dict[str, Any], over: dict[str, Any], origin: dict[str, Path], path: Path,
           prefix: str = "") -> None:
    """Deep-merge ``over`` into ``base`` and remember which file each key came from."""
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, origin, path, dotted + ".")
        else:
            base[key] = value
            origin[dotted] = path


def _build_section(cls: type, table: Any, name: str, origin: dict[str, Path]) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{origin.get(name, '<config>')}: [{name}] must be a table")
    fields = {f.name: f for f in attrs.fields(cls)}
    values: dict[str, Any] = {}
    for key, raw in table.items():
        dotted = f"{name}.{key}"
        where = f"{origin.get(dotted, '<config>')}: {dotted}"
        if key not in fields:
            raise ConfigError(f"{where}: unknown key (known: {', '.join(sorted(fields))})")
        values[key] = fields[key].metadata["kind"](raw, where)
    return cls(**values)


def _profile_file(sport: str) -> Path:
    path = CONFIG_DIR / f"{sport}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.toml") if p.stem != "default")
        raise ConfigError(f"unknown sport {sport!r}: no {path} (known: {', '.join(known)})")
    return path


def load_settings(*, sport: str | None = None, config: Path | None = None,
                  profile: str = "paper", default: Path | None = None) -> Settings:
    """Load defaults, then a sport file (or an explicit ``config`` file), then its profile.

    Raises:
        ConfigError: one message naming the file, the key and what was expected.
    """
    if profile not in ("paper", "live"):
        raise ConfigError(f"profile: expected paper or live, got {profile!r}")
    default = default or CONFIG_DIR / "default.toml"
    origin: dict[str, Path] = {}
    tree: dict[str, Any] = {}
    _merge(tree, _read_toml(default), origin, default)
    layer_path = config if config is not None else (_profile_file(sport) if sport else None)
    if layer_path is not None:
        layer = _read_toml(layer_path)
        profiles = layer.pop("profiles", {})
        if not isinstance(profiles, dict) or set(profiles) - {"paper", "live"}:
            raise ConfigError(f"{layer_path}: [profiles] may only hold [profiles.paper] and "
                              f"[profiles.live]")
        _merge(tree, layer, origin, layer_path)
        _merge(tree, profiles.get(profile, {}), origin, layer_path)
    tree.pop("profiles", None)
    sections: dict[str, Any] = {}
    for name, table in tree.items():
        if name not in _SECTIONS:
            where = origin.get(name) or next(
                (p for k, p in origin.items() if k.startswith(name + ".")), default)
            raise ConfigError(f"{where}: unknown section [{name}] "
                              f"(known: {', '.join(sorted(_SECTIONS))})")
        sections[name] = _build_section(_SECTIONS[name], table, name, origin)
    settings = Settings(**sections)
    _check_consistency(settings)
    return settings


def _check_consistency(s: Settings) -> None:
    if s.risk.trade_min_usd > s.risk.trade_max_usd:
        raise ConfigError("risk.trade_min_usd: must not exceed risk.trade_max_usd")
    if s.risk.max_event_exposure > s.risk.max_total_exposure:
        raise ConfigError("risk.max_event_exposure: must not exceed risk.max_total_exposure")


def known_sports() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml") if p.stem != "default")


# --- secrets -----------------------------------------------------------------------------------

@attrs.frozen(repr=False)
class Secret:
    """A secret value: its repr and str never show it."""

    _value: str = attrs.field(alias="value")
    source: str = ""
    """Where it came from (an environment variable or a file path), safe to show."""

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<hidden>, source={self.source!r})"

    __str__ = __repr__


def read_secret_env(name: str, *, required: bool = True) -> Secret | None:
    """A secret from the environment variable ``name``."""
    value = os.environ.get(name)
    if not value:
        if required:
            raise ConfigError(f"environment variable {name} is not set")
        return None
    return Secret(value, source=f"${name}")


def read_secret_file(env_name: str, *, required: bool = True,
                     warn: list[str] | None = None) -> Secret | None:
    """A secret from the file whose path is in ``$env_name``.

    Refuses a file tracked by git (a committed secret is a leaked secret); appends a warning to
    ``warn`` when the file is readable by group or others.
    """
    raw = os.environ.get(env_name)
    if not raw:
        if required:
            raise ConfigError(f"environment variable {env_name} is not set (it must name a key file)")
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigError(f"${env_name}: key file {path} does not exist")
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"${env_name}: key file {path} is not readable: {err.strerror}") from None
    if is_tracked_by_git(path):
        raise ConfigError(f"${env_name}: key file {path} is tracked by git; move it out of the "
                          f"repository and rotate the key")
    mode = path.stat().st_mode
    if warn is not None and mode & (stat.S_IRGRP | stat.S_IROTH):
        warn.append(f"key file {path} is readable by other users (chmod 600 {path})")
    return Secret(text, source=str(path))


def is_tracked_by_git(path: Path) -> bool:
    """True when ``path`` is a file tracked by the git repository that contains it."""
    try:
        result = subprocess.run(
            ["git", "-C", str(path.parent), "ls-files", "--error-unmatch", path.name],
            capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0
