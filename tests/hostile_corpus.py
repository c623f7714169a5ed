"""A corpus of hostile databases, built on demand (nothing binary is checked in).

`build_corpus(directory)` writes one file (or directory) per `Case` and returns the cases;
each says what a sane result is: the library refuses the file with a named `StoreError`
and a message, or opens it and reads it without a crash, and what the window must show
literally. `tests/test_hostile.py` puts every case through the library, the command line
and the window; `benchmarks/reliability.py` counts them.

The files are built with plain `sqlite3` in the layouts the daemon and the library use
(rollback journal, so that reading them creates no side files), bypassing the library's own
validation: this is what another tool, a bug or an attacker could leave in the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shepherd_store import (
    CorruptDatabaseError,
    IncompatibleSchemaError,
    NotFoundError,
    StoreError,
)
from shepherd_store.schema import RUST_DDL, SEED_TABLES

TODAY = date.today().isoformat()
FUTURE = "2099-01-01T00:00:00+00:00"
SID = "6f1c3b52-9a53-4c3e-8d1e-0c4a2f1e9b10"
MARKUP_ENTRY = "<img src=x>"
MARKUP_LABEL = "<b>Bold</b>"
#: Search text full of SQL and LIKE metacharacters, and how many events of `metachars.db`
#: contain it literally (in the stored JSON, where `"` and `\` are escaped with `\`).
SEARCHES = {
    "%": 2, "_": 12, "\\": 2, "'": 2, "' OR 1=1 --": 1, "\"; DROP TABLE audit_log; --": 1,
    "[a-z]*": 1, "%_%": 0, "100%": 1, "100_": 0, "a_b": 1, "no such text anywhere": 0,
}


@dataclass(frozen=True)
class Case:
    """One hostile file and what a sane result is.

    `refused`: the library must refuse to open it with this `StoreError` subclass, and the
    message must contain `message`. Otherwise it opens and every read either works or
    raises a `StoreError` (`damaged`: reads fail as damaged, which the window must say).
    `literal`: texts the window must show exactly as stored (never as markup).
    `searches`: search text -> number of events it must find (all other reads as usual).
    `root_opens`: for root the file is readable after all (no permission case).
    """

    name: str
    path: Path
    description: str
    refused: type[StoreError] | None = None
    message: str = ""
    damaged: bool = False
    literal: tuple[str, ...] = ()
    searches: dict[str, int] = field(default_factory=dict)
    root_opens: bool = False
    entries: int = 0  # at least this many entries are listed (cooldowns, usage)


def _rust(path: Path, fill: Callable[[sqlite3.Connection], None]) -> None:
    """A database in the daemon's own layout and journal mode, filled by `fill`."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = delete")
        conn.execute("BEGIN")
        for ddl in RUST_DDL:
            conn.execute(ddl)
        fill(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _seed(path: Path, fill: Callable[[sqlite3.Connection], None]) -> None:
    """A seed-layout database without the library's indexes (another tool made it)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = delete")
        conn.execute("BEGIN")
        for ddl in SEED_TABLES:
            conn.execute(ddl)
        fill(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _event(conn: sqlite3.Connection, stamp: str, event: object) -> None:
    """An audit row (Rust layout); `event` is a dict (encoded) or raw text/bytes."""
    text = json.dumps(event, separators=(",", ":")) if isinstance(event, dict) else event
    conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)", (stamp, text))


def _started(entry: str, label: str, sid: str = SID, deadline: str | None = FUTURE) -> dict:
    return {"type": "session_started", "session_id": sid, "entry_id": entry, "label": label,
            "deadline": deadline}


def _snapshot(entry: str, sid: str = SID, started: str = "2026-01-10T15:00:00Z",
              deadline: str = FUTURE) -> str:
    return json.dumps({"timestamp": "2026-01-10T15:05:00Z", "active_session": {
        "session_id": sid, "entry_id": entry, "started_at": started, "deadline": deadline,
        "warnings_issued": []}}, separators=(",", ":"))


def _a_few_events(conn: sqlite3.Connection) -> None:
    _event(conn, "2026-01-10T09:00:00-05:00", {"type": "service_started"})
    _event(conn, "2026-01-10T09:00:01-05:00", {"type": "policy_loaded", "entry_count": 3})
    _event(conn, "2026-01-10T10:00:00-05:00", _started("tuxmath", "Tux Math"))


#: The names of the cases, in the order `build_corpus` returns them.
CASE_NAMES = (
    "text.db", "zero-bytes.db", "directory.db", "header-only.db", "truncated-half.db",
    "truncated-header.db", "no-permission.db", "unrelated.db", "markup.db", "huge-event.db",
    "deep-json.db", "deep-json-seed.db", "bad-encoding.db", "odd-times.db", "odd-usage.db",
    "unparseable.db", "fifty-thousand.db", "metachars.db",
)


def build_corpus(directory: str | os.PathLike[str]) -> list[Case]:
    """Write every hostile file into `directory` (created if needed); return the cases."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name: str, description: str, **kw: object) -> Path:
        path = d / name
        cases.append(Case(name, path, description, **kw))  # type: ignore[arg-type]
        return path

    # --- not a database at all ------------------------------------------------------------
    add("text.db", "a text file", refused=CorruptDatabaseError,
        message="not a SQLite database").write_text("Dear diary, today I played Minecraft.\n"
                                                    * 40)
    add("zero-bytes.db", "an empty file (0 bytes)", refused=IncompatibleSchemaError,
        message="empty (0 bytes)").write_bytes(b"")
    add("directory.db", "a directory named like a database", refused=NotFoundError,
        message="directory").mkdir()
    add("header-only.db", "the 16-byte SQLite header and nothing else",
        refused=CorruptDatabaseError, message="not a SQLite database").write_bytes(
        b"SQLite format 3\x00")

    whole = d / ".whole.db"  # the source of the truncated copies (not a case itself)

    def many(conn: sqlite3.Connection) -> None:
        for i in range(3000):
            _event(conn, f"2026-01-10T10:{i // 60 % 60:02d}:{i % 60:02d}-05:00",
                   _started(f"entry{i % 9}", f"Entry {i % 9}", str(uuid.UUID(int=i + 1))))
            conn.execute("INSERT INTO usage VALUES (?, ?, ?)", (f"entry{i}", TODAY, i))

    _rust(whole, many)
    data = whole.read_bytes()
    add("truncated-half.db", "a real database cut to half its size (a failed copy)",
        damaged=True).write_bytes(data[: len(data) // 2])
    add("truncated-header.db", "a real database cut inside its first page",
        refused=CorruptDatabaseError, message="not a SQLite database").write_bytes(data[:60])
    whole.unlink()

    no_permission = add("no-permission.db", "a valid database this user may not read",
                        refused=NotFoundError, message="permission denied", root_opens=True)
    _rust(no_permission, _a_few_events)
    no_permission.chmod(0)

    def unrelated(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE recipes (name TEXT, minutes INTEGER)")
        conn.execute("INSERT INTO recipes VALUES ('<b>pancakes</b>', 20)")

    path = add("unrelated.db", "a SQLite database of something else",
               refused=IncompatibleSchemaError, message="not a Shepherd")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = delete")
    with conn:
        unrelated(conn)
    conn.close()

    # --- Shepherd databases with hostile content -------------------------------------------
    def markup(conn: sqlite3.Connection) -> None:
        _a_few_events(conn)
        _event(conn, "2026-01-10T15:00:00-05:00", _started(MARKUP_ENTRY, MARKUP_LABEL))
        _event(conn, "2026-01-10T15:30:00-05:00", {
            "type": "launch_denied", "entry_id": "<i>it</i>",
            "reasons": ["<a href='http://x'>click</a>", "<script>alert(1)</script>"]})
        conn.execute("INSERT INTO cooldowns VALUES (?, ?)", (MARKUP_ENTRY, FUTURE))
        conn.execute("INSERT INTO usage VALUES (?, ?, ?)", (MARKUP_ENTRY, TODAY, 1800))
        conn.execute("INSERT INTO usage VALUES (?, ?, ?)", ("<b>usage</b>", TODAY, 600))
        conn.execute("INSERT INTO snapshot VALUES (1, ?)", (_snapshot(MARKUP_ENTRY),))

    _rust(add("markup.db", "HTML and rich text in labels and entry ids",
              literal=(MARKUP_ENTRY, MARKUP_LABEL, "<b>usage</b>")), markup)

    def huge(conn: sqlite3.Connection) -> None:
        _a_few_events(conn)
        _event(conn, "2026-01-10T16:00:00-05:00", {
            "type": "launch_denied", "entry_id": "minecraft", "reasons": ["x" * 10_000_000]})
        _event(conn, "2026-01-10T16:00:01-05:00", {
            "type": "newer_event", "payload": "y" * 10_000_000})
        conn.execute("INSERT INTO snapshot VALUES (1, ?)", ("{" + " " * 10_000_000 + "}",))

    _rust(add("huge-event.db", "a 10 MB event, a 10 MB unknown event, a 10 MB snapshot"), huge)

    deep = "[" * 100_000 + "]" * 100_000

    def nested(conn: sqlite3.Connection) -> None:
        _a_few_events(conn)
        _event(conn, "2026-01-10T16:00:00-05:00",
               '{"type":"policy_loaded","entry_count":' + deep + "}")
        _event(conn, "2026-01-10T16:00:01-05:00", deep)
        conn.execute("INSERT INTO snapshot VALUES (1, ?)", ('{"timestamp":' + deep + "}",))

    _rust(add("deep-json.db", "JSON nested 100,000 deep in an event and the snapshot"), nested)

    def nested_seed(conn: sqlite3.Connection) -> None:
        insert = "INSERT INTO audit_log (timestamp, event_type, event_data) VALUES (?, ?, ?)"
        conn.execute(insert, ("2026-01-10T10:00:00Z", "service_started",
                              '{"type":"service_started"}'))
        conn.execute(insert, ("2026-01-10T10:00:01Z", "policy_loaded",
                              '{"type":"policy_loaded","entry_count":' + deep + "}"))

    _seed(add("deep-json-seed.db", "deeply nested JSON in the seed layout (no indexes)"),
          nested_seed)

    def encoding(conn: sqlite3.Connection) -> None:
        _a_few_events(conn)
        bad = b'{"type":"session_started","session_id":"' + SID.encode() + \
            b'","entry_id":"caf\xe9","label":"\xff\xfe","deadline":null}'
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, CAST(? AS TEXT))",
                     ("2026-01-10T11:00:00-05:00", bad))
        _event(conn, "2026-01-10T11:00:01-05:00", _started("nul\x00entry", "NUL\x00label"))
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                     ("2026-01-10T11:00:02-05:00", '{"type":"service_stopped"}\x00trailing'))
        conn.execute("INSERT INTO cooldowns VALUES (CAST(? AS TEXT), ?)", (b"bad\xff", FUTURE))
        conn.execute("INSERT INTO cooldowns VALUES (?, ?)", ("nul\x00entry", FUTURE + "\x00"))
        conn.execute("INSERT INTO usage VALUES (CAST(? AS TEXT), ?, ?)", (b"\xc3\x28", TODAY, 60))
        conn.execute("INSERT INTO usage VALUES (?, ?, ?)", ("nul\x00entry", TODAY, 60))
        conn.execute("INSERT INTO snapshot VALUES (1, CAST(? AS TEXT))",
                     (_snapshot("caf\xe9").encode("latin-1"),))

    _rust(add("bad-encoding.db", "invalid UTF-8 and NUL bytes in text columns"), encoding)

    def times(conn: sqlite3.Connection) -> None:
        _a_few_events(conn)
        for stamp in ("0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00",
                      "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59.999999999Z",
                      "2026-11-26 12:00:00", "2026-11-26T12:00:00", "2026-11-26T12:00:00+0000",
                      "yesterday", "", "2026-13-45T25:61:61Z"):
            _event(conn, stamp, {"type": "service_started"})
        for name, deadline in (("far", "9999-12-31T23:59:59-05:00"),
                               ("old", "0001-01-01T00:00:00Z"),
                               ("naive", "2026-11-26 12:00:00")):
            _event(conn, "2026-01-10T12:00:00Z", _started(name, name.title(), deadline=deadline))
        for entry, until in (("year1", "0001-01-01T00:00:00+00:00"),
                             ("year9999", "9999-12-31T23:59:59-05:00"),
                             ("no-offset", "2026-11-26 12:00:00"),
                             ("no-colon", "2026-11-26T12:00:00+0000")):
            conn.execute("INSERT INTO cooldowns VALUES (?, ?)", (entry, until))
        conn.execute("INSERT INTO snapshot VALUES (1, ?)", (_snapshot(
            "year9999", started="0001-01-01T00:00:00Z", deadline="9999-12-31T23:59:59-05:00"),))

    _rust(add("odd-times.db", "timestamps in year 1 and 9999, without offsets, not times"),
          times)

    def usage(conn: sqlite3.Connection) -> None:
        _a_few_events(conn)
        rows = [("negative", TODAY, -3600), ("huge", TODAY, 2**63 - 1), ("big", TODAY, 2**62),
                ("fraction", TODAY, 1.5), ("text", TODAY, "an hour"), ("blob", TODAY, b"\x01"),
                ("null", TODAY, None), ("month13", "2026-13-45", 60), ("words", "yesterday", 60),
                ("empty-day", "", 60), ("short-day", "2026-1-1", 60),
                ("year0", "0000-01-01", 60), ("ok", TODAY, 120)]
        conn.execute("DROP TABLE usage")  # the daemon's NOT NULL would refuse the null row
        conn.execute("CREATE TABLE usage (entry_id TEXT NOT NULL, day TEXT NOT NULL, "
                     "duration_secs INTEGER DEFAULT 0, PRIMARY KEY (entry_id, day))")
        conn.executemany("INSERT INTO usage VALUES (?, ?, ?)", rows)

    _rust(add("odd-usage.db", "negative and huge durations, usage days that are not dates"),
          usage)

    def values(conn: sqlite3.Connection) -> None:
        _a_few_events(conn)
        for entry, until in (("soon", "soon"), ("empty", ""), ("number", 1700000000),
                             ("json", '{"until":"tomorrow"}')):
            conn.execute("INSERT INTO cooldowns VALUES (?, ?)", (entry, until))
        conn.execute("INSERT INTO snapshot VALUES (1, ?)", (
            '{"timestamp":"2026-01-10T15:05:00Z","active_session":{"session_id":"not-a-uuid",'
            '"entry_id":"tuxmath","started_at":"2026-01-10T15:00:00Z","deadline":null,'
            '"warnings_issued":[-1,"x"]}}',))
        for raw in ('{"type":"session_ended"}', '{"type":5}', "[]", "null", "not json",
                    '{"type":"session_extended","session_id":"' + SID + '",'
                    '"extended_by":1.5,"new_deadline":"soon"}'):
            _event(conn, "2026-01-10T17:00:00Z", raw)

    _rust(add("unparseable.db", "unparseable cooldown and snapshot values, broken events"),
          values)

    def fifty_thousand(conn: sqlite3.Connection) -> None:
        _a_few_events(conn)
        conn.executemany("INSERT INTO cooldowns VALUES (?, ?)",
                         ((f"entry-{i:05d}", FUTURE) for i in range(50_000)))
        conn.executemany("INSERT INTO usage VALUES (?, ?, ?)",
                         ((f"entry-{i:05d}", TODAY, i % 3600) for i in range(50_000)))
        for i in range(0, 50_000, 10):
            _event(conn, "2026-01-10T18:00:00Z",
                   _started(f"entry-{i:05d}", f"Entry {i}", str(uuid.UUID(int=i + 7))))

    _rust(add("fifty-thousand.db", "50,000 entries with cooldowns and usage",
              entries=50_000), fifty_thousand)

    def metachars(conn: sqlite3.Connection) -> None:
        _a_few_events(conn)
        for reason in ("%", "_", "\\", "'", "' OR 1=1 --", '"; DROP TABLE audit_log; --',
                       "[a-z]*", "100%", "a_b"):
            _event(conn, "2026-01-10T19:00:00Z", {
                "type": "launch_denied", "entry_id": "tuxmath", "reasons": [f"<{reason}>"]})

    _rust(add("metachars.db", "events full of SQL and LIKE metacharacters, searched for",
              searches=SEARCHES), metachars)
    assert tuple(c.name for c in cases) == CASE_NAMES
    return cases


def snapshot_files(directory: Path) -> dict[str, tuple[str, int, int]]:
    """(kind, size, mtime) of every entry of `directory`: what reading must not change."""
    out = {}
    for p in sorted(directory.iterdir()):
        st = p.lstat()
        out[p.name] = ("dir" if p.is_dir() else "file", st.st_size, st.st_mtime_ns)
    return out


def digest(path: Path) -> str | None:
    """A cheap fingerprint of a file's content (None for a directory or an unreadable file)."""
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
