# Design note: the SQLite ledger.
#
# Problem: the bot must know, after any crash, every order it may have sent, every trade it made
# and the state of its breaker. The venues are the authority on positions, but reconciliation needs
# our side of the story: which client ids and order hashes to look up, which fills we already
# booked, which exposure other processes on the same account hold.
#
# Naive approaches and why they fail: positions kept as a number in a file (public bots overwrote
# it with the first fill after a restart, or never read it back); an intent written after the
# request left (a crash in between leaves an order nobody knows about); a journal without unique
# trade ids (a re-delivered fill doubles a position); a "daily loss" counter fed only by winning
# pairs.
#
# Chosen approach: stdlib sqlite3 in WAL mode, one file per mode (paper or live; the file records
# its mode and refuses the other). Every write is one explicit transaction.
# - Intents are inserted (state PENDING) and committed before the request is built into bytes on
#   the wire; ``record_intent`` returns only after the commit, and the commit is durable:
#   ``synchronous=FULL`` makes SQLite fsync the WAL on every commit. NORMAL would survive a process
#   kill (the WAL pages are in the OS cache) but not a power cut or kernel panic, and an intent
#   that vanishes with the machine is an order nobody reconciles. ``scripts/bench_ledger.py``
#   measures both: on this host's ext4, FULL ~0.2 ms median (p99 0.6-4 ms) per intent or fill,
#   NORMAL ~0.02 ms; one fsync per write is small next to a 50-200 ms venue round trip.
# - Fills are unique by (venue, trade id). A fill seen again is a no-op; provisional -> confirmed
#   is an upgrade; FAILED voids it; a confirmed fill can never fail, and a trade id seen with other
#   economics is a conflict that stops the caller (fail closed).
# - Positions are a view over non-failed fills, never a stored number, so they cannot drift.
#   A settled market's instruments are marked (``record_settlement``) and left out of
#   ``positions``: the venue paid out or resolved them, the fills behind them stay.
# - Every leg state change is appended to ``orders`` (the status history) and mirrored on the
#   intent row, so unresolved intents are one indexed query at startup.
# - Schema changes are numbered migrations, each applied in its own IMMEDIATE transaction and
#   recorded in ``schema_version``; a file from a newer version is refused.
# - Several processes (one per sport) share one ledger file and account-wide limits through the
#   ``exposure`` table: each process publishes its own exposure per key inside BEGIN IMMEDIATE,
#   which takes SQLite's write lock, so "read everybody's total, check the limit, write mine" is
#   atomic across processes.
# - A damaged file is detected at open with ``PRAGMA quick_check`` and refused with an operator
#   message; nothing is written to it.
#
# - The trade log keeps what each execution expected (legs as detected, edge, confidence, fill
#   probability; migration 4) beside what it did. What it did per leg (filled size, average price)
#   is derived from the fills like positions, never stored a second time.
#
# Not here: risk reservations (in memory, owned by the risk actor) and market data.
from __future__ import annotations

import datetime
import enum
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from arb.domain import Instrument, Side, TimeInForce, Venue
from arb.money import Money, Price, Qty, complement
from arb.orders import Leg, LegFill, LegState
from arb.venues.protocol import Fill, FillStatus, OrderResult


class LedgerError(Exception):
    """The ledger cannot do what was asked; the message says what and why."""


class LedgerDamaged(LedgerError):
    """The file failed SQLite's integrity check or is not a database."""


class LedgerModeMismatch(LedgerError):
    """A paper ledger opened in live mode or the reverse."""


class FillConflict(LedgerError):
    """A venue reported a trade id again with contradicting facts (fail closed)."""


class LedgerMode(enum.Enum):
    PAPER = "paper"
    LIVE = "live"


class RiskState(enum.Enum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


@attrs.frozen
class Intent:
    """One order we are about to send, written before any byte leaves."""

    client_id: str
    execution_id: str
    pair_id: str
    event_key: str
    leg: str
    """``"a"``/``"b"`` for entry legs, ``"unwind-N"``/``"complete-N"`` for repairs."""
    instrument: Instrument
    side: Side
    price: Price
    qty: Qty
    tif: TimeInForce
    venue_order_id: str | None = None
    """Known before sending where the venue derives it from the request (Polymarket hash)."""

    @property
    def venue(self) -> Venue:
        return self.instrument.venue


@attrs.frozen
class Settlement:
    """A position the venue closed by settling its market (Kalshi payout, Polymarket
    resolution): the ledger's fills still add up to ``qty``, but nothing is held any more."""

    instrument: Instrument
    qty: Qty
    """The ledger's net position when the settlement was recorded."""
    reason: str
    settled_ms: int


@attrs.frozen
class StoredIntent:
    """An intent with what the ledger knows about its order now."""

    intent: Intent
    state: LegState
    venue_order_id: str | None
    reported_qty: Qty
    reported_trade_ids: frozenset[str]
    """The trade ids the venue's reports said ``reported_qty`` is made of."""
    reason: str
    created_ms: int
    updated_ms: int


@attrs.frozen
class OrderEvent:
    """One entry of an order's status history."""

    client_id: str
    ts_ms: int
    state: LegState
    venue_order_id: str | None
    filled_qty: Qty | None
    """The venue's reported filled quantity, when this entry records a venue answer."""
    avg_price: Price | None
    fee: Money | None
    detail: str


@attrs.frozen
class ExecutionStart:
    """An arbitrage attempt as decided: what we expected."""

    execution_id: str
    pair_id: str
    kind: str
    """``poly_yes_kalshi_no``, ``kalshi_yes_poly_no``, ``poly_same_market``, ``kalshi_same_market``."""
    size: Qty
    predicted_edge: Money
    """Expected profit of the whole attempt after fees."""
    fill_probability: int
    """At SCALE (0.8 -> 800_000)."""
    confidence: int
    """At SCALE."""


@attrs.frozen
class ExecutionRecord:
    """A trade-log line: what we expected and what happened."""

    start: ExecutionStart
    started_ms: int
    outcome: str | None
    """None while the attempt is in flight."""
    reason: str
    realised_pnl: Money
    """Sum of the attempt's realised P&L entries (unwind losses included)."""
    finished_ms: int | None


@attrs.frozen
class RiskRecord:
    """The risk actor's state that must survive a restart."""

    state: RiskState
    reason: str
    day: datetime.date
    daily_loss: Money
    """Realised loss booked on ``day`` (positive = lost)."""
    consecutive_errors: int = 0
    consecutive_losses: int = 0


@attrs.frozen
class BreakerChange:
    ts_ms: int
    old: RiskState | None
    new: RiskState
    reason: str


@attrs.frozen
class AlertRecord:
    ts_ms: int
    severity: str
    kind: str
    message: str
    venue: Venue | None
    market: str | None


@attrs.frozen
class DetectedLeg:
    """One leg of an opportunity as it was detected, before anything was sent."""

    leg: str
    """``"a"`` or ``"b"``: the entry leg the intent of this execution will carry."""
    instrument: Instrument
    side: Side
    outcome_label: str
    """What is bought, for people: ``"Lakers"`` or ``"KXNBAGAME-...-LAL NO"``."""
    limit_price: Price
    qty: Qty
    best_price: Price
    size_at_best: Qty
    """Size the book showed at ``best_price``."""
    book_age_ms: int


@attrs.frozen
class Detection:
    """What the bot saw and expected when it decided on an execution."""

    expected_pnl: Money
    """Profit after all fees at the detected size."""
    edge_bps: int
    combined_cost: Money
    """All-in cost per contract (both legs' prices and fees), rounded up."""
    confidence: str
    """``high``, ``medium`` or ``low``."""
    fill_probability_pct: int
    slippage_bps: int
    legs: tuple[DetectedLeg, ...]


@attrs.frozen
class LegOutcome:
    """What one order of an execution actually did, derived from its non-failed fills."""

    leg: str
    """``"a"``/``"b"`` for entry legs, ``"unwind-N"``/``"complete-N"`` for repairs."""
    instrument: Instrument
    side: Side
    limit_price: Price
    qty: Qty
    """The size asked for."""
    state: LegState
    filled_qty: Qty
    avg_price: Price | None
    """Size-weighted average fill price, rounded against us (up for buys, down for sells);
    None when nothing filled."""
    fee: Money


@attrs.frozen
class UnwindRecord:
    """A one-sided excess repaired (sold down or completed), with the P&L it booked."""

    ts_ms: int
    instrument: Instrument
    qty: Qty
    pnl: Money
    reason: str


@attrs.frozen
class PnlEntry:
    ts_ms: int
    amount: Money
    reason: str


@attrs.frozen
class TradeLogEntry:
    """One execution for the trade log: expectation, legs as detected and as filled, repairs."""

    record: ExecutionRecord
    mode: LedgerMode
    detection: Detection | None
    """None for executions recorded without a detection (older files, bare record_execution)."""
    legs: tuple[LegOutcome, ...]
    """Entry legs actually sent (``a``, ``b``); empty when nothing was sent."""
    repairs: tuple[LegOutcome, ...]
    """Completion and unwind orders sent for a one-sided fill."""
    unwinds: tuple[UnwindRecord, ...]
    pnl_entries: tuple[PnlEntry, ...]


_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_TERMINAL_VALUES = tuple(s.value for s in LegState if s.terminal)

_SCHEMA_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE intents (
    client_id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL,
    pair_id TEXT NOT NULL,
    event_key TEXT NOT NULL,
    leg TEXT NOT NULL,
    venue TEXT NOT NULL,
    market TEXT NOT NULL,
    token TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    price INTEGER NOT NULL CHECK (price > 0 AND price <= 1000000),
    qty INTEGER NOT NULL CHECK (qty > 0),
    tif TEXT NOT NULL,
    venue_order_id TEXT,
    state TEXT NOT NULL,
    reported_qty INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX intents_by_state ON intents (state);
CREATE INDEX intents_by_order ON intents (venue, venue_order_id);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES intents (client_id),
    ts_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    venue_order_id TEXT,
    filled_qty INTEGER,
    avg_price INTEGER,
    fee INTEGER,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX orders_by_client ON orders (client_id);
CREATE TABLE fills (
    venue TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    venue_order_id TEXT NOT NULL,
    client_id TEXT,
    market TEXT NOT NULL,
    token TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    price INTEGER NOT NULL CHECK (price >= 0 AND price <= 1000000),
    qty INTEGER NOT NULL CHECK (qty > 0),
    fee INTEGER NOT NULL,
    is_taker INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('provisional', 'confirmed', 'failed')),
    ts_ms INTEGER NOT NULL,
    recorded_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (venue, trade_id)
);
CREATE INDEX fills_by_order ON fills (venue, venue_order_id);
CREATE INDEX fills_by_client ON fills (client_id);
CREATE VIEW positions AS
    SELECT venue, market, token,
           SUM(CASE side WHEN 'buy' THEN qty ELSE -qty END) AS qty,
           SUM(CASE WHEN status = 'provisional' THEN
                    (CASE side WHEN 'buy' THEN qty ELSE -qty END) ELSE 0 END) AS provisional_qty
    FROM fills WHERE status <> 'failed'
    GROUP BY venue, market, token;
CREATE TABLE risk_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL CHECK (state IN ('active', 'reducing', 'halted')),
    reason TEXT NOT NULL,
    day TEXT NOT NULL,
    daily_loss INTEGER NOT NULL,
    consecutive_errors INTEGER NOT NULL,
    consecutive_losses INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE breaker_history (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    old_state TEXT,
    new_state TEXT NOT NULL,
    reason TEXT NOT NULL
);
"""

_SCHEMA_V2 = """
CREATE TABLE executions (
    execution_id TEXT PRIMARY KEY,
    pair_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    predicted_edge INTEGER NOT NULL,
    fill_probability INTEGER NOT NULL,
    confidence INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    outcome TEXT,
    reason TEXT NOT NULL DEFAULT '',
    finished_ms INTEGER
);
CREATE TABLE realised_pnl (
    id INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES executions (execution_id),
    ts_ms INTEGER NOT NULL,
    day TEXT NOT NULL,
    amount INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX realised_pnl_by_day ON realised_pnl (day);
CREATE INDEX realised_pnl_by_execution ON realised_pnl (execution_id);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    severity TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    venue TEXT,
    market TEXT
);
CREATE TABLE exposure (
    process_id TEXT NOT NULL,
    key TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0),
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (process_id, key)
);
"""

_SCHEMA_V3 = """
ALTER TABLE intents ADD COLUMN reported_trade_ids TEXT NOT NULL DEFAULT '[]'
"""

_SCHEMA_V4 = """
CREATE TABLE detections (
    execution_id TEXT PRIMARY KEY REFERENCES executions (execution_id),
    expected_pnl INTEGER NOT NULL,
    edge_bps INTEGER NOT NULL,
    combined_cost INTEGER NOT NULL,
    confidence TEXT NOT NULL,
    fill_probability_pct INTEGER NOT NULL CHECK (fill_probability_pct BETWEEN 0 AND 100),
    slippage_bps INTEGER NOT NULL
);
CREATE TABLE detected_legs (
    execution_id TEXT NOT NULL REFERENCES executions (execution_id),
    leg TEXT NOT NULL,
    venue TEXT NOT NULL,
    market TEXT NOT NULL,
    token TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    outcome_label TEXT NOT NULL,
    limit_price INTEGER NOT NULL,
    qty INTEGER NOT NULL,
    best_price INTEGER NOT NULL,
    size_at_best INTEGER NOT NULL,
    book_age_ms INTEGER NOT NULL,
    PRIMARY KEY (execution_id, leg)
);
CREATE TABLE unwinds (
    id INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES executions (execution_id),
    pnl_id INTEGER NOT NULL REFERENCES realised_pnl (id),
    ts_ms INTEGER NOT NULL,
    venue TEXT NOT NULL,
    market TEXT NOT NULL,
    token TEXT NOT NULL,
    qty INTEGER NOT NULL CHECK (qty > 0),
    reason TEXT NOT NULL
);
CREATE INDEX unwinds_by_execution ON unwinds (execution_id);
CREATE INDEX intents_by_execution ON intents (execution_id)
"""

_SCHEMA_V5 = """
CREATE TABLE settlements (
    venue TEXT NOT NULL,
    market TEXT NOT NULL,
    token TEXT NOT NULL,
    qty INTEGER NOT NULL,
    reason TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    PRIMARY KEY (venue, market, token)
);
INSERT INTO settlements (venue, market, token, qty, reason, ts_ms)
    WITH marker (rest, value) AS (
        SELECT substr(key, length('settled:') + 1), value FROM meta
        WHERE substr(key, 1, length('settled:')) = 'settled:'),
    venue_split (venue, rest, value) AS (
        SELECT substr(rest, 1, instr(rest, ':') - 1), substr(rest, instr(rest, ':') + 1), value
        FROM marker),
    market_split (venue, market, token, value) AS (
        SELECT venue, substr(rest, 1, instr(rest, ':') - 1), substr(rest, instr(rest, ':') + 1),
               value
        FROM venue_split)
    SELECT venue, market, token, json_extract(value, '$.qty'), json_extract(value, '$.reason'),
           json_extract(value, '$.settled_ms')
    FROM market_split;
DELETE FROM meta WHERE substr(key, 1, length('settled:')) = 'settled:'
"""

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "journal: intents, order history, fills, positions view, risk state", _SCHEMA_V1),
    (2, "trade log, realised P&L entries, alerts, cross-process exposure", _SCHEMA_V2),
    (3, "trade ids behind a reported fill quantity, so a restarted leg can void a ghost fill "
        "out of the venue's report", _SCHEMA_V3),
    (4, "trade-log detail: legs as detected, expected P&L, edge, confidence, fill probability; "
        "unwinds with their P&L", _SCHEMA_V4),
    (5, "settled instruments in their own table (version 4 files kept them as 'settled:' meta "
        "markers, which are moved over)", _SCHEMA_V5),
)
"""(version, what it adds, SQL). Append only; never edit a released migration."""
LATEST_VERSION = MIGRATIONS[-1][0]


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the file (0 for an empty database)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> int:
    """Apply the missing migrations up to ``target``, each in its own IMMEDIATE transaction.

    The connection must be in autocommit mode (``isolation_level=None``). Safe against a second
    process migrating at the same time: the version is re-read under the write lock.

    Raises:
        LedgerError: the file was written by a newer version of this program.
    """
    for version, _what, sql in MIGRATIONS:
        if version > target:
            break
        with _transaction(conn):
            current = schema_version(conn)
            if current > LATEST_VERSION:
                raise LedgerError(f"ledger schema version {current} is newer than this program's "
                                  f"{LATEST_VERSION}; upgrade the bot before opening it")
            if current < version:
                for statement in _statements(sql):
                    conn.execute(statement)
                if current == 0:
                    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                else:
                    conn.execute("UPDATE schema_version SET version = ?", (version,))
    current = schema_version(conn)
    if current > LATEST_VERSION:
        raise LedgerError(f"ledger schema version {current} is newer than this program's "
                          f"{LATEST_VERSION}; upgrade the bot before opening it")
    return current


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One IMMEDIATE transaction (takes the write lock now): committed, or rolled back."""
    conn.execute("BEGIN IMMEDIATE")
    committed = False
    try:
        yield conn
        conn.execute("COMMIT")
        committed = True
    finally:
        if not committed:
            conn.execute("ROLLBACK")


def _statements(sql: str) -> Iterator[str]:
    for statement in sql.split(";"):
        if statement.strip():
            yield statement


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _utc_day(ts_ms: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ts_ms / 1000, tz=datetime.UTC).date()


@attrs.define(eq=False)
class Ledger:
    """The journal of one bot account in one mode. Thread-safe; every method is synchronous.

    Open with ``Ledger.open``; close with ``close()`` (or use it as a context manager).
    """

    path: Path
    mode: LedgerMode
    _conn: sqlite3.Connection
    _clock_ms: Callable[[], int]
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    @classmethod
    def open(cls, path: str | Path, *, mode: LedgerMode | str, synchronous: str = "FULL",
             busy_timeout_s: float = 10.0, clock_ms: Callable[[], int] = _now_ms) -> Ledger:
        """Open (creating if needed) the ledger at ``path`` for ``mode``.

        Args:
            synchronous: ``FULL`` (default, every commit fsynced) or ``NORMAL`` (survives a
                process kill, not a power cut); only the benchmark should change it.
            busy_timeout_s: how long to wait for another process's write lock.

        Raises:
            LedgerDamaged: the file is not a database or fails ``PRAGMA quick_check``.
            LedgerModeMismatch: the file belongs to the other mode.
            LedgerError: the schema is from a newer program.
        """
        mode = LedgerMode(mode)
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise LedgerError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        path = Path(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                               timeout=busy_timeout_s)
        opened = False
        try:
            _check_integrity(conn, path)
            journal = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if journal.lower() != "wal":
                raise LedgerError(f"{path}: cannot switch the ledger to WAL mode (got {journal})")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
            _claim_mode(conn, path, mode)
            opened = True
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorcode & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
                raise LedgerDamaged(_damaged_message(path, str(exc))) from exc
            raise LedgerError(f"ledger {path} cannot be opened: {exc}") from exc
        finally:
            if not opened:
                conn.close()
        return cls(path, mode, conn, clock_ms)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- intents and order history ---------------------------------------------------------

    def record_intent(self, intent: Intent) -> None:
        """Durably record ``intent`` as PENDING; returns only once it is committed to disk.

        Raises:
            LedgerError: the client id is already recorded.
        """
        now = self._clock_ms()
        inst = intent.instrument
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO intents (client_id, execution_id, pair_id, event_key, leg, venue, "
                    "market, token, side, price, qty, tif, venue_order_id, state, created_ms, "
                    "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (intent.client_id, intent.execution_id, intent.pair_id, intent.event_key,
                     intent.leg, inst.venue.value, inst.market, inst.token, intent.side.value,
                     intent.price, intent.qty, intent.tif.value, intent.venue_order_id,
                     LegState.PENDING.value, now, now))
            except sqlite3.IntegrityError as exc:
                raise LedgerError(f"{inst}: intent {intent.client_id} cannot be recorded: "
                                  f"{exc}") from exc
            conn.execute(
                "INSERT INTO orders (client_id, ts_ms, state, venue_order_id, detail) "
                "VALUES (?, ?, ?, ?, 'intent written')",
                (intent.client_id, now, LegState.PENDING.value, intent.venue_order_id))

    def record_leg(self, leg: Leg, *, result: OrderResult | None = None,
                   detail: str = "") -> None:
        """Persist a leg's state (from ``arb.orders``) and append it to the order's history.

        ``result`` is the venue answer that caused the change, kept verbatim in the history.

        Raises:
            LedgerError: unknown client id, or a finished order would become live again.
        """
        now = self._clock_ms()
        with self._write() as conn:
            row = conn.execute("SELECT state, venue FROM intents WHERE client_id = ?",
                               (leg.client_id,)).fetchone()
            if row is None:
                raise LedgerError(f"{leg.instrument}: no intent {leg.client_id} to update")
            stored = LegState(row[0])
            if stored.terminal and not leg.state.terminal:
                raise LedgerError(f"{leg.instrument} {leg.client_id}: state {stored.value} is "
                                  f"final, refusing {leg.state.value}")
            conn.execute(
                "UPDATE intents SET state = ?, venue_order_id = COALESCE(?, venue_order_id), "
                "reported_qty = ?, reported_trade_ids = ?, reason = ?, updated_ms = ? "
                "WHERE client_id = ?",
                (leg.state.value, leg.venue_order_id, leg.reported_qty,
                 json.dumps(sorted(leg.reported_trade_ids)), leg.reason, now,
                 leg.client_id))
            conn.execute(
                "INSERT INTO orders (client_id, ts_ms, state, venue_order_id, filled_qty, "
                "avg_price, fee, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (leg.client_id, now, leg.state.value,
                 result.venue_order_id if result else leg.venue_order_id,
                 result.filled_qty if result else None,
                 result.avg_price if result else None,
                 result.fee if result else None,
                 detail or leg.reason))

    def intent(self, client_id: str) -> StoredIntent | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_INTENT_COLUMNS} FROM intents WHERE client_id = ?",
                               (client_id,)).fetchone()
        return None if row is None else _stored_intent(row)

    def unresolved_intents(self) -> list[StoredIntent]:
        """Intents whose order is not final (PENDING included: it may have been sent)."""
        marks = ", ".join("?" * len(_TERMINAL_VALUES))
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_INTENT_COLUMNS} FROM intents WHERE state NOT IN ({marks}) "
                "ORDER BY created_ms, client_id", _TERMINAL_VALUES).fetchall()
        return [_stored_intent(row) for row in rows]

    def order_history(self, client_id: str) -> list[OrderEvent]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT client_id, ts_ms, state, venue_order_id, filled_qty, avg_price, fee, "
                "detail FROM orders WHERE client_id = ? ORDER BY id", (client_id,)).fetchall()
        return [OrderEvent(r[0], r[1], LegState(r[2]), r[3],
                           None if r[4] is None else Qty(r[4]),
                           None if r[5] is None else Price(r[5]),
                           None if r[6] is None else Money(r[6]), r[7]) for r in rows]

    def leg(self, client_id: str) -> Leg:
        """Rebuild a leg from its intent and every fill booked against its order (restart)."""
        stored = self.intent(client_id)
        if stored is None:
            raise LedgerError(f"no intent {client_id}")
        intent = stored.intent
        with self._read() as conn:
            rows = conn.execute(
                "SELECT trade_id, qty, price, fee, status FROM fills WHERE venue = ? AND "
                "(client_id = ? OR (? IS NOT NULL AND venue_order_id = ?)) "
                "ORDER BY recorded_ms, trade_id",
                (intent.venue.value, client_id, stored.venue_order_id,
                 stored.venue_order_id)).fetchall()
        fills = tuple(LegFill(r[0], Qty(r[1]), Price(r[2]), Money(r[3]), FillStatus(r[4]))
                      for r in rows)
        return Leg(intent.client_id, intent.instrument, intent.side, intent.price, intent.qty,
                   intent.tif, state=stored.state, venue_order_id=stored.venue_order_id,
                   fills=fills, reported_qty=stored.reported_qty,
                   reported_trade_ids=stored.reported_trade_ids,
                   venue_seen=bool(fills) or stored.reported_qty > 0
                   or stored.state in _VENUE_SEEN_STATES,
                   reason=stored.reason)

    # --- fills and positions ---------------------------------------------------------------

    def record_fill(self, fill: Fill) -> bool:
        """Record a fill idempotently by (venue, trade id).

        Returns True if anything changed: a new trade, provisional -> confirmed, or a void
        (a FAILED report). False for a repeat or a stale status.

        Raises:
            FillConflict: the trade id was seen with other facts, or a confirmed trade failed.
        """
        now = self._clock_ms()
        venue, trade_id = fill.venue.value, fill.trade_id
        if fill.qty <= 0:
            raise LedgerError(f"{fill.instrument}: trade {trade_id} has quantity {fill.qty}")
        if fill.venue is not fill.instrument.venue:
            raise LedgerError(f"{fill.instrument}: trade {trade_id} reported by {venue}")
        with self._write() as conn:
            fill = self._in_intent_terms(conn, fill)
            row = conn.execute(
                "SELECT venue_order_id, market, token, side, price, qty, status FROM fills "
                "WHERE venue = ? AND trade_id = ?", (venue, trade_id)).fetchone()
            if row is None:
                client_id = fill.client_id or self._client_for_order(conn, fill)
                conn.execute(
                    "INSERT INTO fills (venue, trade_id, venue_order_id, client_id, market, token, "
                    "side, price, qty, fee, is_taker, status, ts_ms, recorded_ms, updated_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (venue, trade_id, fill.venue_order_id, client_id, fill.instrument.market,
                     fill.instrument.token, fill.side.value, fill.price, fill.qty, fill.fee,
                     int(fill.is_taker), fill.status.value, fill.ts_ms, now, now))
                return True
            seen = (row[0], row[1], row[2], row[3], row[4], row[5])
            new = (fill.venue_order_id, fill.instrument.market, fill.instrument.token,
                   fill.side.value, fill.price, fill.qty)
            if seen != new:
                names = ("order", "market", "token", "side", "price", "qty")
                diffs = ", ".join(f"{n} {a!r} -> {b!r}" for n, a, b in zip(names, seen, new,
                                                                              strict=True)
                                  if a != b)
                raise FillConflict(f"{venue} trade {trade_id} reported again with different "
                                   f"facts: {diffs}")
            old = FillStatus(row[6])
            change = _status_change(old, fill.status)
            if change is None:
                raise FillConflict(f"{venue} trade {trade_id} ({fill.instrument}) was "
                                   f"{old.value} and is now reported {fill.status.value}")
            if change is old:
                return False
            conn.execute("UPDATE fills SET status = ?, fee = ?, updated_ms = ? "
                         "WHERE venue = ? AND trade_id = ?",
                         (change.value, fill.fee, now, venue, trade_id))
            return True

    def void_fill(self, venue: Venue, trade_id: str) -> bool:
        """Mark a provisional trade FAILED (ghost fill); positions revert at once.

        Returns False if the trade is unknown or already failed.

        Raises:
            FillConflict: the trade is confirmed and cannot fail.
        """
        now = self._clock_ms()
        with self._write() as conn:
            row = conn.execute("SELECT status FROM fills WHERE venue = ? AND trade_id = ?",
                               (venue.value, trade_id)).fetchone()
            if row is None or row[0] == FillStatus.FAILED.value:
                return False
            if row[0] == FillStatus.CONFIRMED.value:
                raise FillConflict(f"{venue.value} trade {trade_id} is confirmed and cannot fail")
            conn.execute("UPDATE fills SET status = 'failed', updated_ms = ? "
                         "WHERE venue = ? AND trade_id = ?", (now, venue.value, trade_id))
            return True

    def fills(self, *, client_id: str | None = None, venue: Venue | None = None) -> list[Fill]:
        """Recorded fills (failed ones included), oldest first, optionally filtered."""
        query = ("SELECT venue, trade_id, venue_order_id, client_id, market, token, side, price, "
                 "qty, fee, is_taker, status, ts_ms FROM fills WHERE 1 = 1")
        params: list[object] = []
        if client_id is not None:
            query += " AND client_id = ?"
            params.append(client_id)
        if venue is not None:
            query += " AND venue = ?"
            params.append(venue.value)
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY recorded_ms, trade_id", params).fetchall()
        return [Fill(Venue(r[0]), r[1], r[2], r[3], Instrument(Venue(r[0]), r[4], r[5]),
                     Side(r[6]), Price(r[7]), Qty(r[8]), Money(r[9]), bool(r[10]),
                     FillStatus(r[11]), r[12]) for r in rows]

    def positions(self, venue: Venue | None = None, *,
                  confirmed_only: bool = False,
                  include_settled: bool = False) -> dict[Instrument, Qty]:
        """Net position per instrument (buys minus sells) from the non-failed fills.

        Provisional fills count (they are exposure) unless ``confirmed_only``. Flat
        instruments are left out, and so are settled ones (``record_settlement``) unless
        ``include_settled``.
        """
        column = "qty - provisional_qty" if confirmed_only else "qty"
        query = f"SELECT venue, market, token, {column} FROM positions p WHERE 1 = 1"
        params: tuple[str, ...] = ()
        if not include_settled:
            query += (" AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.venue = p.venue"
                      " AND s.market = p.market AND s.token = p.token)")
        if venue is not None:
            query += " AND venue = ?"
            params = (venue.value,)
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        return {Instrument(Venue(v), m, t): Qty(q) for v, m, t, q in rows if q}

    # --- settlements ---------------------------------------------------------------------------
    #
    # One ``settlements`` row per settled instrument. The fills stay as they are (they happened);
    # ``positions`` leaves the instrument out, and so does everything derived from it (risk
    # exposure, reconciliation).

    def record_settlement(self, instrument: Instrument, qty: Qty, reason: str) -> bool:
        """Mark ``instrument`` settled with the ledger's position ``qty`` at that moment.

        Returns False if it was already marked (the first record stands).
        """
        now = self._clock_ms()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO settlements (venue, market, token, qty, reason, ts_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (instrument.venue.value, instrument.market, instrument.token, qty, reason, now))
            return cursor.rowcount == 1

    def settlements(self) -> list[Settlement]:
        """Every settled instrument, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT venue, market, token, qty, reason, ts_ms FROM settlements").fetchall()
        out = [Settlement(Instrument(Venue(v), m, t), Qty(q), reason, ts)
               for v, m, t, q, reason, ts in rows]
        return sorted(out, key=lambda s: (s.settled_ms, str(s.instrument)))

    # --- trade log and realised P&L -----------------------------------------------------------

    def record_execution(self, start: ExecutionStart) -> None:
        now = self._clock_ms()
        with self._write() as conn:
            self._insert_execution(conn, start, now)

    def add_realised_pnl(self, execution_id: str, amount: Money, reason: str) -> None:
        """Book realised profit (positive) or loss (negative) of an attempt, on today's UTC day.

        Every path books here: completed pairs, unwinds, ladders, settlements.
        """
        now = self._clock_ms()
        with self._write() as conn:
            self._require_execution(conn, execution_id)
            conn.execute("INSERT INTO realised_pnl (execution_id, ts_ms, day, amount, reason) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (execution_id, now, _utc_day(now).isoformat(), amount, reason))

    def finish_execution(self, execution_id: str, outcome: str, reason: str) -> None:
        now = self._clock_ms()
        with self._write() as conn:
            self._require_execution(conn, execution_id)
            conn.execute("UPDATE executions SET outcome = ?, reason = ?, finished_ms = ? "
                         "WHERE execution_id = ?", (outcome, reason, now, execution_id))

    def executions(self, *, since_ms: int = 0, limit: int = 1000) -> list[ExecutionRecord]:
        """The trade log, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT e.execution_id, pair_id, kind, size, predicted_edge, fill_probability, "
                "confidence, started_ms, outcome, e.reason, finished_ms, "
                "(SELECT COALESCE(SUM(amount), 0) FROM realised_pnl p "
                " WHERE p.execution_id = e.execution_id) "
                "FROM executions e WHERE started_ms >= ? ORDER BY started_ms DESC, "
                "e.execution_id LIMIT ?", (since_ms, limit)).fetchall()
        return [ExecutionRecord(ExecutionStart(r[0], r[1], r[2], Qty(r[3]), Money(r[4]), r[5],
                                               r[6]), r[7], r[8], r[9], Money(r[11]), r[10])
                for r in rows]

    def daily_realised_pnl(self, day: datetime.date) -> Money:
        """Sum of every realised P&L entry booked on ``day`` (UTC); losses are negative."""
        with self._read() as conn:
            row = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM realised_pnl WHERE day = ?",
                               (day.isoformat(),)).fetchone()
        return Money(row[0])

    # --- trade-log detail: detections, aborted attempts, unwinds -----------------------------

    def record_attempt(self, start: ExecutionStart, detection: Detection) -> None:
        """``record_execution`` and its detection in one transaction (the execution goes ahead)."""
        now = self._clock_ms()
        with self._write() as conn:
            self._insert_execution(conn, start, now)
            self._insert_detection(conn, start.execution_id, detection)

    def record_aborted(self, start: ExecutionStart, detection: Detection | None, outcome: str,
                       reason: str) -> None:
        """An attempt that never sent an order (``expired``, ``denied``, ``aborted``), finished at
        once with ``reason``; it books no P&L."""
        now = self._clock_ms()
        with self._write() as conn:
            self._insert_execution(conn, start, now)
            conn.execute("UPDATE executions SET outcome = ?, reason = ?, finished_ms = ? "
                         "WHERE execution_id = ?", (outcome, reason, now, start.execution_id))
            if detection is not None:
                self._insert_detection(conn, start.execution_id, detection)

    def record_detection(self, execution_id: str, detection: Detection) -> None:
        """Attach the detection to an execution already recorded with ``record_execution``."""
        with self._write() as conn:
            self._require_execution(conn, execution_id)
            self._insert_detection(conn, execution_id, detection)

    def record_unwind(self, execution_id: str, instrument: Instrument, qty: Qty, pnl: Money,
                      reason: str) -> None:
        """A repaired one-sided excess: books ``pnl`` as realised P&L (like ``add_realised_pnl``,
        so do not book it twice) and keeps the unwind's instrument, size and reason with it."""
        if qty <= 0:
            raise LedgerError(f"{instrument}: unwind of execution {execution_id} has size {qty}")
        now = self._clock_ms()
        with self._write() as conn:
            self._require_execution(conn, execution_id)
            cursor = conn.execute(
                "INSERT INTO realised_pnl (execution_id, ts_ms, day, amount, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                (execution_id, now, _utc_day(now).isoformat(), pnl, f"unwind: {reason}"))
            conn.execute(
                "INSERT INTO unwinds (execution_id, pnl_id, ts_ms, venue, market, token, qty, "
                "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (execution_id, cursor.lastrowid, now, instrument.venue.value, instrument.market,
                 instrument.token, qty, reason))

    def trade_log(self, *, since_ms: int = 0, limit: int = 1000) -> list[TradeLogEntry]:
        """The trade log with every detail, newest first (``executions`` plus what each did)."""
        records = self.executions(since_ms=since_ms, limit=limit)
        with self._read() as conn:
            return [TradeLogEntry(record, self.mode,
                                  _detection(conn, record.start.execution_id),
                                  *_leg_outcomes(conn, record.start.execution_id),
                                  _unwinds(conn, record.start.execution_id),
                                  _pnl_entries(conn, record.start.execution_id))
                    for record in records]

    @staticmethod
    def _insert_execution(conn: sqlite3.Connection, start: ExecutionStart, now: int) -> None:
        try:
            conn.execute(
                "INSERT INTO executions (execution_id, pair_id, kind, size, predicted_edge, "
                "fill_probability, confidence, started_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (start.execution_id, start.pair_id, start.kind, start.size,
                 start.predicted_edge, start.fill_probability, start.confidence, now))
        except sqlite3.IntegrityError as exc:
            raise LedgerError(f"pair {start.pair_id}: execution {start.execution_id} cannot "
                              f"be recorded: {exc}") from exc

    @staticmethod
    def _insert_detection(conn: sqlite3.Connection, execution_id: str,
                          detection: Detection) -> None:
        try:
            conn.execute(
                "INSERT INTO detections (execution_id, expected_pnl, edge_bps, combined_cost, "
                "confidence, fill_probability_pct, slippage_bps) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (execution_id, detection.expected_pnl, detection.edge_bps,
                 detection.combined_cost, detection.confidence, detection.fill_probability_pct,
                 detection.slippage_bps))
            conn.executemany(
                "INSERT INTO detected_legs (execution_id, leg, venue, market, token, side, "
                "outcome_label, limit_price, qty, best_price, size_at_best, book_age_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(execution_id, leg.leg, leg.instrument.venue.value, leg.instrument.market,
                  leg.instrument.token, leg.side.value, leg.outcome_label, leg.limit_price,
                  leg.qty, leg.best_price, leg.size_at_best, leg.book_age_ms)
                 for leg in detection.legs])
        except sqlite3.IntegrityError as exc:
            raise LedgerError(f"execution {execution_id}: detection cannot be recorded: "
                              f"{exc}") from exc

    @staticmethod
    def read_mode(path: str | Path) -> LedgerMode:
        """The mode a ledger file was created for, read without writing to it.

        Raises:
            LedgerError: no such file, or it holds no ledger.
        """
        path = Path(path)
        if not path.is_file():
            raise LedgerError(f"no ledger at {path}")
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'mode'").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path} is not a ledger: {exc}") from exc
        if row is None:
            raise LedgerError(f"{path} has no mode recorded; it is not a ledger")
        return LedgerMode(row[0])

    # --- risk state and breaker history --------------------------------------------------

    def risk_state(self) -> RiskRecord | None:
        """The persisted risk state, or None for a fresh ledger."""
        with self._read() as conn:
            row = conn.execute("SELECT state, reason, day, daily_loss, consecutive_errors, "
                               "consecutive_losses FROM risk_state WHERE id = 1").fetchone()
        if row is None:
            return None
        return RiskRecord(RiskState(row[0]), row[1], datetime.date.fromisoformat(row[2]),
                          Money(row[3]), row[4], row[5])

    def save_risk_state(self, record: RiskRecord) -> None:
        """Persist the risk state; a state change is appended to the breaker history."""
        now = self._clock_ms()
        with self._write() as conn:
            row = conn.execute("SELECT state FROM risk_state WHERE id = 1").fetchone()
            old = None if row is None else RiskState(row[0])
            conn.execute(
                "INSERT INTO risk_state (id, state, reason, day, daily_loss, consecutive_errors, "
                "consecutive_losses, updated_ms) VALUES (1, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state, reason = excluded.reason, "
                "day = excluded.day, daily_loss = excluded.daily_loss, "
                "consecutive_errors = excluded.consecutive_errors, "
                "consecutive_losses = excluded.consecutive_losses, "
                "updated_ms = excluded.updated_ms",
                (record.state.value, record.reason, record.day.isoformat(), record.daily_loss,
                 record.consecutive_errors, record.consecutive_losses, now))
            if old is not record.state:
                conn.execute("INSERT INTO breaker_history (ts_ms, old_state, new_state, reason) "
                             "VALUES (?, ?, ?, ?)",
                             (now, None if old is None else old.value, record.state.value,
                              record.reason))

    def set_risk_state(self, state: RiskState, reason: str) -> None:
        """Change only the breaker state (counters kept; a fresh ledger starts them at zero)."""
        current = self.risk_state()
        if current is None:
            current = RiskRecord(state, reason, _utc_day(self._clock_ms()), Money(0))
        self.save_risk_state(attrs.evolve(current, state=state, reason=reason))

    def breaker_history(self) -> list[BreakerChange]:
        with self._read() as conn:
            rows = conn.execute("SELECT ts_ms, old_state, new_state, reason FROM breaker_history "
                                "ORDER BY id").fetchall()
        return [BreakerChange(r[0], None if r[1] is None else RiskState(r[1]), RiskState(r[2]),
                              r[3]) for r in rows]

    # --- alerts ------------------------------------------------------------------------------

    def record_alert(self, severity: str, kind: str, message: str, *,
                     venue: Venue | None = None, market: str | None = None) -> None:
        now = self._clock_ms()
        with self._write() as conn:
            conn.execute("INSERT INTO alerts (ts_ms, severity, kind, message, venue, market) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (now, severity, kind, message, venue.value if venue else None, market))

    def alerts(self, *, limit: int = 100) -> list[AlertRecord]:
        """Most recent alerts first."""
        with self._read() as conn:
            rows = conn.execute("SELECT ts_ms, severity, kind, message, venue, market FROM alerts "
                                "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [AlertRecord(r[0], r[1], r[2], r[3], None if r[4] is None else Venue(r[4]), r[5])
                for r in rows]

    # --- exposure shared by the processes on one account --------------------------------------

    def publish_exposure(self, process_id: str, key: str, amount: Money, *,
                         limit: Money | None = None) -> bool:
        """Set this process's exposure for ``key``, checking the account-wide ``limit``.

        Atomic across processes (BEGIN IMMEDIATE): an increase is written only if the total of
        every process, with this process at ``amount``, stays within ``limit``; returns False
        (nothing written) otherwise. A decrease is always written.
        """
        if amount < 0:
            raise LedgerError(f"{process_id}: exposure {key} cannot be negative ({amount})")
        now = self._clock_ms()
        with self._write() as conn:
            row = conn.execute("SELECT amount FROM exposure WHERE process_id = ? AND key = ?",
                               (process_id, key)).fetchone()
            mine = 0 if row is None else row[0]
            if limit is not None and amount > mine:
                others = conn.execute(
                    "SELECT COALESCE(SUM(amount), 0) FROM exposure WHERE key = ? AND "
                    "process_id <> ?", (key, process_id)).fetchone()[0]
                if others + amount > limit:
                    return False
            conn.execute(
                "INSERT INTO exposure (process_id, key, amount, updated_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (process_id, key) DO UPDATE SET amount = excluded.amount, "
                "updated_ms = excluded.updated_ms", (process_id, key, amount, now))
            return True

    def total_exposure(self, key: str) -> Money:
        """Exposure for ``key`` summed over every process sharing this ledger."""
        with self._read() as conn:
            row = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM exposure WHERE key = ?",
                               (key,)).fetchone()
        return Money(row[0])

    def clear_exposure(self, process_id: str) -> None:
        """Forget a process's published exposure (at its startup, before it reconciles)."""
        with self._write() as conn:
            conn.execute("DELETE FROM exposure WHERE process_id = ?", (process_id,))

    # --- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, _transaction(self._conn) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    @staticmethod
    def _in_intent_terms(conn: sqlite3.Connection, fill: Fill) -> Fill:
        """A Kalshi fill in the terms of our intent for its order.

        Kalshi reports direction only as exposure: a sell of YES at p and a buy of NO at 1 - p
        are the same trade. A report read without the intent at hand (after a restart, the
        adapter no longer knows the order) comes as "buy the exposure outcome"; booked as such
        beside our "sell YES" it would be a conflict, or a YES and a NO position where the venue
        holds none."""
        if fill.venue is not Venue.KALSHI:
            return fill
        row = conn.execute(
            "SELECT market, token, side FROM intents WHERE venue = ? AND (venue_order_id = ? "
            "OR client_id = ?) LIMIT 1",
            (fill.venue.value, fill.venue_order_id, fill.client_id)).fetchone()
        if row is None or row[0] != fill.instrument.market:
            return fill
        token, side = row[1], row[2]
        if token == fill.instrument.token or side == fill.side.value:
            return fill  # already in our terms, or not the mirror image: compared as reported
        return attrs.evolve(fill, instrument=Instrument(fill.venue, fill.instrument.market, token),
                            side=Side(side), price=complement(fill.price))

    @staticmethod
    def _client_for_order(conn: sqlite3.Connection, fill: Fill) -> str | None:
        row = conn.execute("SELECT client_id FROM intents WHERE venue = ? AND venue_order_id = ?",
                           (fill.venue.value, fill.venue_order_id)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _require_execution(conn: sqlite3.Connection, execution_id: str) -> None:
        if conn.execute("SELECT 1 FROM executions WHERE execution_id = ?",
                        (execution_id,)).fetchone() is None:
            raise LedgerError(f"no execution {execution_id} in the trade log")


def _detection(conn: sqlite3.Connection, execution_id: str) -> Detection | None:
    row = conn.execute("SELECT expected_pnl, edge_bps, combined_cost, confidence, "
                       "fill_probability_pct, slippage_bps FROM detections "
                       "WHERE execution_id = ?", (execution_id,)).fetchone()
    if row is None:
        return None
    legs = conn.execute("SELECT leg, venue, market, token, side, outcome_label, limit_price, qty, "
                        "best_price, size_at_best, book_age_ms FROM detected_legs "
                        "WHERE execution_id = ? ORDER BY leg", (execution_id,)).fetchall()
    return Detection(Money(row[0]), row[1], Money(row[2]), row[3], row[4], row[5], tuple(
        DetectedLeg(r[0], Instrument(Venue(r[1]), r[2], r[3]), Side(r[4]), r[5], Price(r[6]),
                    Qty(r[7]), Price(r[8]), Qty(r[9]), r[10]) for r in legs))


def _leg_outcomes(conn: sqlite3.Connection,
                  execution_id: str) -> tuple[tuple[LegOutcome, ...], tuple[LegOutcome, ...]]:
    """(entry legs, repair orders) of an execution, each with its non-failed fills summed."""
    rows = conn.execute(
        "SELECT i.leg, i.venue, i.market, i.token, i.side, i.price, i.qty, i.state, "
        "COALESCE(SUM(f.qty), 0), COALESCE(SUM(f.price * f.qty), 0), COALESCE(SUM(f.fee), 0) "
        "FROM intents i LEFT JOIN fills f ON f.status <> 'failed' AND f.venue = i.venue AND "
        "(f.client_id = i.client_id OR (i.venue_order_id IS NOT NULL AND "
        "f.venue_order_id = i.venue_order_id)) "
        "WHERE i.execution_id = ? GROUP BY i.client_id ORDER BY i.created_ms, i.client_id",
        (execution_id,)).fetchall()
    entry: list[LegOutcome] = []
    repairs: list[LegOutcome] = []
    for leg, venue, market, token, side, price, qty, state, filled, notional, fee in rows:
        avg = None
        if filled:
            # Average against us: what we paid rounded up, what we received rounded down.
            avg = -(-notional // filled) if side == Side.BUY.value else notional // filled
        outcome = LegOutcome(leg, Instrument(Venue(venue), market, token), Side(side),
                             Price(price), Qty(qty), LegState(state), Qty(filled),
                             None if avg is None else Price(avg), Money(fee))
        (entry if leg in ("a", "b") else repairs).append(outcome)
    return tuple(entry), tuple(repairs)


def _unwinds(conn: sqlite3.Connection, execution_id: str) -> tuple[UnwindRecord, ...]:
    rows = conn.execute("SELECT u.ts_ms, u.venue, u.market, u.token, u.qty, p.amount, u.reason "
                        "FROM unwinds u JOIN realised_pnl p ON p.id = u.pnl_id "
                        "WHERE u.execution_id = ? ORDER BY u.id", (execution_id,)).fetchall()
    return tuple(UnwindRecord(r[0], Instrument(Venue(r[1]), r[2], r[3]), Qty(r[4]), Money(r[5]),
                              r[6]) for r in rows)


def _pnl_entries(conn: sqlite3.Connection, execution_id: str) -> tuple[PnlEntry, ...]:
    rows = conn.execute("SELECT ts_ms, amount, reason FROM realised_pnl WHERE execution_id = ? "
                        "ORDER BY id", (execution_id,)).fetchall()
    return tuple(PnlEntry(r[0], Money(r[1]), r[2]) for r in rows)


_INTENT_COLUMNS = ("client_id, execution_id, pair_id, event_key, leg, venue, market, token, side, "
                   "price, qty, tif, venue_order_id, state, reported_qty, reported_trade_ids, "
                   "reason, created_ms, updated_ms")
_VENUE_SEEN_STATES = frozenset({LegState.ACKNOWLEDGED, LegState.PARTIALLY_FILLED,
                                LegState.DELAYED, LegState.FILLED, LegState.CANCELLED})


def _stored_intent(r: tuple) -> StoredIntent:
    venue = Venue(r[5])
    intent = Intent(r[0], r[1], r[2], r[3], r[4], Instrument(venue, r[6], r[7]), Side(r[8]),
                    Price(r[9]), Qty(r[10]), TimeInForce(r[11]), r[12])
    return StoredIntent(intent, LegState(r[13]), r[12], Qty(r[14]), frozenset(json.loads(r[15])),
                        r[16], r[17], r[18])


def _status_change(old: FillStatus, new: FillStatus) -> FillStatus | None:
    """The status a trade moves to when reported ``new`` after ``old``; None if impossible."""
    if old is new:
        return old
    if old is FillStatus.PROVISIONAL:
        return new
    if old is FillStatus.CONFIRMED:
        # A late MATCHED/MINED re-emission is stale; a FAILED after CONFIRMED is impossible.
        return old if new is FillStatus.PROVISIONAL else None
    # old is FAILED: a late provisional re-emission is stale; a confirmation contradicts it.
    return old if new is FillStatus.PROVISIONAL else None


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    rows = conn.execute("PRAGMA quick_check").fetchall()
    if [r[0] for r in rows] != ["ok"]:
        problems = "; ".join(str(r[0]) for r in rows[:5])
        raise LedgerDamaged(_damaged_message(path, problems))


def _damaged_message(path: Path, problem: str) -> str:
    return (f"ledger {path} is damaged ({problem}). Trading is refused. Keep the file for "
            f"inspection, move it aside, and rebuild the journal from the venues' fills and "
            f"positions before trading again.")


def _claim_mode(conn: sqlite3.Connection, path: Path, mode: LedgerMode) -> None:
    with _transaction(conn):
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('mode', ?)", (mode.value,))
        stored = conn.execute("SELECT value FROM meta WHERE key = 'mode'").fetchone()[0]
    if stored != mode.value:
        raise LedgerModeMismatch(f"ledger {path} is a {stored} ledger and cannot be opened in "
                                 f"{mode.value} mode; use a separate file for each mode")
