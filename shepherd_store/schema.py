"""The two on-disk layouts (seed and Rust), their DDL, and detecting which one a file has."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import Enum


class Layout(Enum):
    """Which table layout a database uses (DESIGN.md, "On-disk formats")."""

    SEED = "seed"
    RUST = "rust"

    @property
    def audit_json(self) -> str:
        """The audit column holding the tagged event JSON."""
        return "event_data" if self is Layout.SEED else "event_json"

    @property
    def snapshot_json(self) -> str:
        """The snapshot column holding the snapshot JSON."""
        return "data" if self is Layout.SEED else "snapshot_json"


SEED_TABLES = (
    """CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_data TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS usage (
    entry_id TEXT NOT NULL,
    day TEXT NOT NULL,
    duration_secs INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entry_id, day)
)""",
    """CREATE TABLE IF NOT EXISTS cooldowns (
    entry_id TEXT PRIMARY KEY,
    until TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data TEXT NOT NULL
)""",
)

# The expression indexes must use exactly the expressions in query.py for SQLite to use them.
ENTRY_EXPR = "json_extract({col}, '$.entry_id')"
SESSION_EXPR = "json_extract({col}, '$.session_id')"

SEED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS idx_audit_timestamp ON audit_log(timestamp)",
    "CREATE INDEX IF NOT EXISTS idx_audit_type ON audit_log(event_type)",
    "CREATE INDEX IF NOT EXISTS idx_audit_entry ON audit_log("
    + ENTRY_EXPR.format(col="event_data") + ")",
    "CREATE INDEX IF NOT EXISTS idx_audit_session ON audit_log("
    + SESSION_EXPR.format(col="event_data") + ")",
    "CREATE INDEX IF NOT EXISTS idx_usage_day ON usage(day)",
)

# The Rust store's DDL, byte for byte as in tests/fixtures/rust-v0.sql (the simulator
# and the benchmarks create daemon-like databases with it).
RUST_DDL = (
    """CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                timestamp TEXT NOT NULL,
                event_json TEXT NOT NULL
            )""",
    """CREATE TABLE usage (
                entry_id TEXT NOT NULL,
                day TEXT NOT NULL,
                duration_secs INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (entry_id, day)
            )""",
    """CREATE TABLE cooldowns (
                entry_id TEXT PRIMARY KEY,
                until TEXT NOT NULL
            )""",
    """CREATE TABLE snapshot (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                snapshot_json TEXT NOT NULL
            )""",
    "CREATE INDEX idx_audit_timestamp ON audit_log(timestamp)",
    "CREATE INDEX idx_usage_day ON usage(day)",
)

# Tables missing from an existing database are created in the layout it already has.
SEED_MISSING_TABLES = dict(zip(("audit_log", "usage", "cooldowns", "snapshot"), SEED_TABLES,
                               strict=True))
RUST_MISSING_TABLES = {
    name: ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)
    for name, ddl in zip(("audit_log", "usage", "cooldowns", "snapshot"), RUST_DDL, strict=False)
}

SHEPHERD_TABLES = ("audit_log", "usage", "cooldowns", "snapshot")

# Where a Rust-layout database records manual overrides (a new audit event type would make
# the daemon's reader fail). Created on the first override, never on open.
OVERRIDES_TABLE = """CREATE TABLE IF NOT EXISTS inspector_overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    event_json TEXT NOT NULL
)"""


@dataclass(frozen=True)
class SchemaInfo:
    """What `inspect_schema` found: the layout and which Shepherd tables exist."""

    layout: Layout | None
    tables: frozenset[str]
    problem: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.tables


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()}


def inspect_schema(conn: sqlite3.Connection) -> SchemaInfo:
    """Detect the layout from the audit and snapshot columns; never changes the database."""
    tables = frozenset(
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    )
    ours = tables & set(SHEPHERD_TABLES)
    if not ours:
        return SchemaInfo(None, tables, None if not tables else "no Shepherd tables")
    votes: set[Layout] = set()
    if "audit_log" in tables:
        cols = _columns(conn, "audit_log")
        if {"id", "timestamp", "event_type", "event_data"} <= cols:
            votes.add(Layout.SEED)
        elif {"id", "timestamp", "event_json"} <= cols:
            votes.add(Layout.RUST)
        else:
            return SchemaInfo(None, tables, f"audit_log has unexpected columns {sorted(cols)}")
    if "snapshot" in tables:
        cols = _columns(conn, "snapshot")
        if "data" in cols and "snapshot_json" not in cols:
            votes.add(Layout.SEED)
        elif "snapshot_json" in cols:
            votes.add(Layout.RUST)
        else:
            return SchemaInfo(None, tables, f"snapshot has unexpected columns {sorted(cols)}")
    for table, needed in (("usage", {"entry_id", "day", "duration_secs"}),
                          ("cooldowns", {"entry_id", "until"})):
        if table in tables and not needed <= _columns(conn, table):
            return SchemaInfo(None, tables, f"{table} lacks the columns {sorted(needed)}")
    if len(votes) > 1:
        return SchemaInfo(None, tables, "audit_log and snapshot are in different layouts")
    # usage/cooldowns alone are the same in both layouts: treat as the daemon's own.
    return SchemaInfo(votes.pop() if votes else Layout.RUST, tables)


def read_schema(conn: sqlite3.Connection) -> SchemaInfo:
    """`inspect_schema` in one read transaction (one shared lock for all its statements)."""
    conn.execute("BEGIN")
    try:
        return inspect_schema(conn)
    finally:
        conn.execute("COMMIT")  # nothing was written: this only ends the read
