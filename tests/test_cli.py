"""`shepherd-store`: every command and option through `main()` and the installed entry point,
on the Rust fixtures and simulated seed databases; live following across processes."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO, fixture_path

from shepherd_store import (
    ConflictError,
    CorruptDatabaseError,
    DatabaseError,
    IncompatibleSchemaError,
    Layout,
    LockedError,
    NotFoundError,
    ReadOnlyError,
    SerializationError,
    SqliteStore,
    StoreError,
)
from shepherd_store import cli_audit as cli_module
from shepherd_store.check import (
    check,
    cooldown_problem,
    event_problem,
    snapshot_problem,
    usage_problem,
)
from shepherd_store.cli import build_parser, command_names, exit_status, main
from shepherd_store.cli_common import write_refusal
from shepherd_store.cli_recovery import diagnose_findings
from shepherd_store.cli_text import (
    Column,
    Style,
    clip,
    display_width,
    fit_widths,
    parse_day_arg,
    parse_duration_arg,
    parse_when,
    render_table,
    sanitize,
    wrap,
)
from shepherd_store.describe import format_duration
from shepherd_store.diagnose import diagnose
from shepherd_store.export import event_record, iter_events
from shepherd_store.simulate import Simulator
from shepherd_store.usage import DailyUsage, DayRange, csv_rows, summarize

NEW_YORK = ZoneInfo("America/New_York")


def crashing_at_noon(store: SqliteStore) -> Simulator:
    """A simulator whose wall clock says noon today in New York: a session to crash always
    fits in the day (on the real clock, from about 23:30 there it has none and refuses)."""
    noon = datetime.now(NEW_YORK).replace(hour=12, minute=0, second=0, microsecond=0)
    return Simulator(store, seed=5, tz=NEW_YORK, wall_clock=lambda: noon)
ENTRY_POINT = Path(sys.executable).parent / "shepherd-store"
ANSI = re.compile(r"\x1b\[")
HISTORY_END = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


@pytest.fixture(autouse=True)
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is New York's (like the fixtures), and no default database leaks in."""
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.delenv("SHEPHERD_DB", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    """Call `main(argv)` in-process (stdout is not a terminal) and capture what it printed."""

    def call(*args: str | Path) -> Result:
        capsys.readouterr()
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(status, captured.out, captured.err)

    return call


NOT_INSTALLED = ("the shepherd-store console script is not installed in this environment: "
                 "`make test` installs the package (pip install -e '.[test,dev]')")


def run_entry(*args: str | Path, env: dict[str, str] | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed `shepherd-store` console script (output to a pipe)."""
    assert ENTRY_POINT.exists(), NOT_INSTALLED
    return subprocess.run([str(ENTRY_POINT), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO,
                          env={**os.environ, "TZ": "America/New_York", **(env or {})})


def run_in_terminal(*args: str | Path, columns: int = 80,
                    env: dict[str, str] | None = None) -> str:
    """Run the console script on a pseudo-terminal `columns` wide; everything it printed."""
    assert ENTRY_POINT.exists(), NOT_INSTALLED
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    full_env = {**os.environ, "TZ": "America/New_York", "TERM": "xterm", **(env or {})}
    full_env.pop("COLUMNS", None)
    proc = subprocess.Popen([str(ENTRY_POINT), *map(str, args)], stdin=follower,
                            stdout=follower, stderr=follower, env=full_env, cwd=REPO)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks).decode()


def copy_of(src: Path, dest: Path) -> Path:
    shutil.copyfile(src, dest)
    dest.chmod(0o644)
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def simulated(path: Path, days: int, end: datetime, seed: int = 7) -> Path:
    """A seed-layout database with `days` days of simulated history ending at `end`."""
    with SqliteStore.open(path) as store:
        Simulator(store, seed=seed, tz=NEW_YORK).write_history(days, end=end)
    return path


@pytest.fixture(scope="module")
def seed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention seed database: 20 simulated days ending 2026-03-10."""
    return simulated(tmp_path_factory.mktemp("cli") / "seed.db", 20, HISTORY_END)


# --- help, README, entry points -----------------------------------------------------------


def test_every_command_has_help_text_and_is_in_the_readme(run: Any) -> None:
    names = command_names()
    assert names == ["audit", "usage", "cooldowns", "cooldown", "cooldown set",
                     "cooldown clear", "snapshot", "snapshot show", "snapshot diagnose",
                     "snapshot clear-session", "recovery", "recovery fix", "check", "demo"]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    parser = build_parser()

    def walk(p: Any, path: list[str]) -> None:
        for action in p._actions:
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                helps = {a.dest: a.help for a in action._choices_actions}
                for name, child in action.choices.items():
                    assert helps.get(name), f"{' '.join([*path, name])} has no help line"
                    assert child.description, f"{' '.join([*path, name])} has no description"
                    walk(child, [*path, name])
            elif action.dest != "help":
                assert action.help, f"option {action.option_strings or action.dest} of " \
                                    f"{' '.join(path) or 'shepherd-store'} has no help"

    walk(parser, [])
    for name in names:
        result = run(*name.split(), "--help")
        assert result.status == 0
        assert "usage: shepherd-store " + name in " ".join(result.out.split())
        if name not in ("cooldown", "snapshot"):  # groups: their actions are listed
            assert f"`shepherd-store {name}" in section, f"{name} is not in the README"


def test_console_script_and_python_m_run_the_same_main(tmp_path: Path) -> None:
    version = run_entry("--version")
    assert version.returncode == 0 and version.stdout.startswith("shepherd-store ")
    rust = fixture_path("rust-v0.db")
    by_script = run_entry("--db", rust, "audit", "--json")
    by_module = subprocess.run([sys.executable, "-m", "shepherd_store", "--db", str(rust),
                                "audit", "--json"], capture_output=True, text=True, cwd=REPO,
                               env={**os.environ, "TZ": "America/New_York"}, timeout=60)
    assert by_script.returncode == by_module.returncode == 0
    assert by_script.stdout == by_module.stdout
    assert len(by_script.stdout.splitlines()) == 23
    nothing = run_entry()
    assert nothing.returncode == 2 and "required: COMMAND" in nothing.stderr


@pytest.mark.parametrize("argv", [["bogus"], ["audit", "--limit", "0"], ["audit", "--limit", "x"],
                                  ["audit", "--since", "banana"], ["usage", "--from", "soon"],
                                  ["usage", "--csv", "--json"], ["cooldown"], ["snapshot"],
                                  ["demo"], ["demo", "x.db", "--interval", "-1"],
                                  ["audit", "--nope"]])
def test_usage_errors_exit_2(run: Any, argv: list[str]) -> None:
    result = run(*argv)
    assert result.status == 2
    assert "usage: shepherd-store" in result.err and result.out == ""


# --- opening the database -------------------------------------------------------------------


def test_default_database_comes_from_shepherd_db(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                 rust_v0: Path) -> None:
    monkeypatch.setenv("SHEPHERD_DB", str(rust_v0))
    assert run("audit", "--json", "--limit", "1").json_lines()[0]["id"] == 23
    # --db wins over the default, given before or after the command
    other = fixture_path("rust-v0-nosession.db")
    assert json.loads(run("--db", other, "snapshot", "show", "--json").out)["snapshot"][
        "active_session"] is None
    assert json.loads(run("snapshot", "show", "--json", "--db", other).out)["snapshot"][
        "active_session"] is None


def test_no_database_found_exits_3(run: Any, monkeypatch: pytest.MonkeyPatch,
                                   tmp_path: Path) -> None:
    # Not this machine's own places: a system database there must not turn the test off.
    monkeypatch.setattr("shepherd_store.paths.SYSTEM_DB", tmp_path / "system" / "shepherdd.db")
    monkeypatch.delenv("SHEPHERD_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    result = run("cooldowns")
    assert result.status == 3
    assert "no Shepherd database found" in result.err and "--db PATH" in result.err


@pytest.mark.parametrize("command", [["audit"], ["usage"], ["cooldowns"], ["snapshot", "show"],
                                     ["snapshot", "diagnose"], ["check"],
                                     ["cooldown", "clear", "x"], ["snapshot", "clear-session"]])
def test_bad_files_exit_3_or_4_and_are_never_created(run: Any, tmp_path: Path,
                                                     command: list[str]) -> None:
    missing = tmp_path / "missing.db"
    result = run("--db", missing, *command)
    assert result.status == 3 and "does not exist" in result.err
    assert not missing.exists()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 10)
    result = run("--db", garbage, *command)
    assert result.status == 4 and "not a SQLite database" in result.err
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.close()
    result = run("--db", foreign, *command)
    assert result.status == 4 and "not a Shepherd one" in result.err
    assert result.err.startswith("shepherd-store: ") and "Traceback" not in result.err


@pytest.mark.parametrize(("error", "status"), [
    (NotFoundError("x"), 3), (ReadOnlyError("x"), 3), (LockedError("x"), 3),
    (IncompatibleSchemaError("x"), 4), (CorruptDatabaseError("x"), 4),
    (ConflictError("x"), 1), (SerializationError("x"), 2), (DatabaseError("x"), 5),
    (StoreError("x"), 5)])
def test_each_library_error_has_its_exit_status(error: StoreError, status: int) -> None:
    assert exit_status(error) == status


def test_reading_commands_leave_the_file_byte_identical(run: Any, rust_copy: Path) -> None:
    before = sha256(rust_copy)
    for argv in (["audit"], ["audit", "--grep", "x", "--json"], ["usage"], ["cooldowns"],
                 ["snapshot", "show"], ["snapshot", "diagnose"], ["check"]):
        assert run("--db", rust_copy, *argv).status in (0, 1)
    assert sha256(rust_copy) == before
    assert not Path(str(rust_copy) + "-journal").exists()


# --- audit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rust-v0.db", "rust-v0-nosession.db"])
def test_audit_table_shows_every_event_in_local_time(run: Any, name: str) -> None:
    result = run("--db", fixture_path(name), "audit")
    assert result.status == 0 and result.err == ""
    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "TIME", "(LOCAL)", "TYPE", "SUMMARY"]
    assert [int(line.split()[0]) for line in lines[1:]] == list(range(23, 0, -1))
    row = {int(line.split()[0]): line for line in lines[1:]}
    # stored as -04:00/-05:00; shown in the viewer's (New York) local time
    assert row[21].split()[1:4] == ["2026-07-04", "14:00:00", "session_started"]
    # the inspector's own sentences (shepherd_store.describe), with the short session id
    assert "Minecraft started, allowed until 15:00 [33333333]" in row[21]
    # entries by label (the log's) in every sentence, not only where the event carries it
    assert "Tux Math ended: time limit reached after 45 min [11111111]" in row[9]
    assert "Configuration reload FAILED" in row[20]
    # a pipe gets whole lines, nothing clipped
    assert row[18].endswith("daily time used up; resting after the last session")
    assert not ANSI.search(result.out)


def test_audit_table_in_another_time_zone(run: Any, monkeypatch: pytest.MonkeyPatch,
                                          rust_v0: Path) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    row = run("--db", rust_v0, "audit", "--limit", "1").out.splitlines()[1]
    assert row.split()[1:3] == ["2026-07-04", "20:11:00"]


@pytest.mark.parametrize("name", ["rust-v0.db", "rust-v0-nosession.db"])
def test_audit_json_is_the_export_modules_records(run: Any, name: str) -> None:
    path = fixture_path(name)
    result = run("--db", path, "audit", "--json")
    assert result.status == 0
    with SqliteStore.open(path, read_only=True) as store:
        expected = [json.loads(json.dumps(event_record(e))) for e in iter_events(store)]
    assert result.json_lines() == expected
    first = result.json_lines()[-1]
    assert first == {"id": 1, "timestamp": "2026-01-10T08:00:00-05:00",
                     "type": "service_started", "event": {"type": "service_started"}}


def ids(result: Result) -> list[int]:
    assert result.status == 0, result.err
    return [r["id"] for r in result.json_lines()]


def test_audit_filters(run: Any, rust_v0: Path) -> None:
    q = ("--db", rust_v0, "audit", "--json")
    assert ids(run(*q, "--limit", "3")) == [23, 22, 21]
    assert ids(run(*q, "--type", "warning_issued")) == [7, 6]
    assert ids(run(*q, "--type", "warning_issued", "--type", "config_reloaded")) == [20, 19, 7, 6]
    assert ids(run(*q, "--type", "warning_issued,config_reloaded")) == [20, 19, 7, 6]
    assert ids(run(*q, "--entry", "tuxmath")) == [18, 9, 5]
    assert ids(run(*q, "--session", "11111111-1111-4111-8111-111111111111")) == [9, 8, 7, 6, 5]
    assert ids(run(*q, "--session", "11111111")) == [9, 8, 7, 6, 5]  # as the table shows it
    assert ids(run(*q, "--grep", "PUTT-PUTT")) == [10]
    assert ids(run(*q, "--grep", "exit_code", "--limit", "1")) == [14]
    assert ids(run(*q, "--since", "2026-07-04")) == [23, 22, 21]
    assert ids(run(*q, "--since", "2026-01-10 10:21", "--until", "2026-01-10T10:24")) == \
        [14, 13, 12]
    assert ids(run(*q, "--since", "2026-01-10T15:21:00Z", "--until", "2026-01-10 10:23")) == \
        [13, 12]  # an offset is honoured; without one the time is local
    assert ids(run(*q, "--entry", "tuxmath", "--type", "session_started",
                   "--since", "2026-01-01", "--until", "2026-02-01")) == [5]
    assert ids(run(*q, "--since", "1d")) == []  # nothing in the last day
    assert ids(run(*q, "--until", "2026-01-10 08:00:02")) == [2, 1]


def test_audit_reports_empty_results_and_bad_filters(run: Any, rust_v0: Path) -> None:
    none = run("--db", rust_v0, "audit", "--entry", "nobody")
    assert none.status == 0 and none.out.splitlines()[0].startswith("ID")
    assert "No events match." in none.err
    backwards = run("--db", rust_v0, "audit", "--since", "today", "--until", "yesterday")
    assert backwards.status == 2 and "--since must be earlier" in backwards.err
    ambiguous = run("--db", rust_v0, "audit", "--session", "2222")
    assert ambiguous.status == 2 and "first 8 or more" in ambiguous.err
    unknown = run("--db", rust_v0, "audit", "--session", "deadbeef")
    assert unknown.status == 1 and "no session in the log starts with" in unknown.err


def test_audit_session_prefix_must_be_unique(run: Any, seed_db: Path, tmp_path: Path) -> None:
    db = copy_of(seed_db, tmp_path / "twins.db")
    with sqlite3.connect(db) as conn:
        for sid in ("abcdef12-0000-4000-8000-000000000001", "abcdef12-0000-4000-8000-000000000002"):
            text = json.dumps({"type": "warning_issued", "session_id": sid,
                               "threshold_seconds": 60})
            conn.execute("INSERT INTO audit_log (timestamp, event_type, event_data) VALUES "
                         "('2026-03-11T10:00:00-04:00', 'warning_issued', ?)", (text,))
    conn.close()
    result = run("--db", db, "audit", "--session", "abcdef12")
    assert result.status == 2 and "matches several sessions" in result.err
    assert len(ids(run("--db", db, "audit", "--json", "--session", "abcdef12-0000-4000-8000-0"
                                                                   "00000000002"))) == 1


def test_audit_on_a_seed_database(run: Any, seed_db: Path) -> None:
    every = ids(run("--db", seed_db, "audit", "--json"))
    assert every == sorted(every, reverse=True) and len(every) > 100
    with SqliteStore.open(seed_db, read_only=True) as store:
        ended = [e.id for e in iter_events(store) if e.type == "session_ended"]
    assert ids(run("--db", seed_db, "audit", "--json", "--type", "session_ended")) == ended
    table = run("--db", seed_db, "audit", "--type", "session_ended", "--limit", "5")
    assert len(table.out.splitlines()) == 6 and " ended: " in table.out


def test_audit_shows_unreadable_rows_marked(run: Any, tmp_path: Path) -> None:
    db = bad_database(tmp_path)
    lines = run("--db", db, "audit", "--limit", "4").out.splitlines()
    assert "Event of a newer service version" in lines[4]
    assert "Unreadable row: invalid JSON" in lines[3] and "(none)" in lines[3]
    assert "2026-11-26 12:00:02" in lines[2] and "bad timestamp" in lines[2]
    assert "Unreadable row: session_ended.duration" in lines[1]


def test_audit_never_prints_control_characters(run: Any, seed_path: Path) -> None:
    evil = "x\x1b]0;pwned\x07\x1b[2J\u202eevil\nline"
    with sqlite3.connect(seed_path) as conn:
        text = json.dumps({"type": "launch_denied", "entry_id": evil, "reasons": [evil]})
        conn.execute("INSERT INTO audit_log (timestamp, event_type, event_data) VALUES "
                     "('2026-03-11T10:00:00-04:00', 'launch_denied', ?)", (text,))
        conn.execute("INSERT INTO cooldowns VALUES (?, '2099-01-01T00:00:00Z')", (evil,))
    conn.close()
    for argv in (["audit"], ["cooldowns"]):
        out = run("--db", seed_path, *argv).out
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert len(out.splitlines()) == 2  # the newline inside the value did not split a row
    assert evil in run("--db", seed_path, "audit", "--json").json_lines()[0]["event"]["entry_id"]


def damaged_newest_event(tmp_path: Path) -> Path:
    """A Rust-layout database whose newest event spills onto an overflow page that is
    garbage: the file opens and its id range reads, but reading that event fails."""
    db = tmp_path / "damaged.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = delete")
    conn.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                 "timestamp TEXT NOT NULL, event_json TEXT NOT NULL)")
    for i in range(3):
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                     (f"2026-01-10T10:00:0{i}-05:00", '{"type":"service_started"}'))
    big = json.dumps({"type": "policy_loaded", "entry_count": 3, "pad": "z" * 20_000})
    conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                 ("2026-01-10T10:01:00-05:00", big))
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    spilled = [n for n in range(len(data) // size)
               if data[n * size + 4:n * size + 104] == b"z" * 100]
    assert spilled
    data[spilled[0] * size:(spilled[0] + 1) * size] = b"\xff" * size
    db.write_bytes(bytes(data))
    return db


@pytest.mark.parametrize("fmt", [[], ["--json"]])
@pytest.mark.parametrize("option", ["--grep", "--entry", "--type"])
def test_audit_filter_not_utf8_prints_only_the_error(run: Any, rust_v0: Path, option: str,
                                                    fmt: list[str]) -> None:
    # Bytes that are not UTF-8 on the command line arrive as lone surrogates; the first
    # search fails. Found: the table's header was printed before the error.
    result = run("--db", rust_v0, "audit", *fmt, option, "\udcff")
    assert result.status == 2, result.err
    assert result.out == ""
    # (--type takes only the known event types, so it never reaches the search)
    assert ("unknown event type" if option == "--type" else "not valid UTF-8") in result.err


def test_audit_filter_not_utf8_bytes_from_a_shell(rust_v0: Path) -> None:
    result = run_entry("--db", rust_v0, "audit", "--grep", "\udcff")  # passed as b"\xff"
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "not valid UTF-8" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["audit"], ["audit", "--limit", "1"], ["audit", "--json"]])
def test_audit_damaged_first_row_prints_only_the_error(run: Any, tmp_path: Path,
                                                       argv: list[str]) -> None:
    db = damaged_newest_event(tmp_path)
    result = run("--db", db, *argv)
    assert result.status == 4, result.err
    assert result.out == ""
    assert "damaged" in result.err


@pytest.mark.parametrize(("error", "status"), [
    (LockedError("Cannot search x: the database stayed locked"), 3),
    (CorruptDatabaseError("Cannot search x: damaged"), 4),
    (DatabaseError("Cannot search x: disk I/O error"), 5),
])
def test_audit_error_on_the_first_read_prints_no_header(
        run: Any, rust_v0: Path, monkeypatch: pytest.MonkeyPatch, error: StoreError,
        status: int) -> None:
    def failing(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise error
        yield  # a generator, as iter_events is

    monkeypatch.setattr(cli_module, "iter_events", failing)
    result = run("--db", rust_v0, "audit")
    assert (result.status, result.out) == (status, "")
    assert str(error) in result.err


def test_audit_streams_rows_before_a_later_error(run: Any, rust_v0: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    printed: list[str] = []

    def one_then_locked(store: SqliteStore, *args: Any, **kwargs: Any) -> Iterator[Any]:
        yield store.get_recent_audits(1)[0]
        printed.append(capsys.readouterr().out)  # written before the next row is read
        raise LockedError("Cannot search x: the database stayed locked")

    monkeypatch.setattr(cli_module, "iter_events", one_then_locked)
    result = run("--db", rust_v0, "audit")
    assert result.status == 3
    lines = printed[0].splitlines()
    assert len(lines) == 2 and lines[0].split()[0] == "ID" and lines[1].split()[0] == "23"
    assert result.out == ""


# --- output to a terminal or a pipe ---------------------------------------------------------


def test_terminal_gets_colours_and_fitted_tables_a_pipe_neither(rust_v0: Path) -> None:
    screen = run_in_terminal("--db", rust_v0, "audit", "--limit", "5", columns=72)
    plain = ANSI.sub("", re.sub(r"\x1b\[[0-9;]*m", "", screen))
    lines = plain.splitlines()
    assert ANSI.search(screen)  # coloured
    assert len(lines) == 6 and all(display_width(line) <= 72 for line in lines)
    assert any(line.endswith("…") for line in lines)  # the summary was clipped to fit
    wide = re.sub(r"\x1b\[[0-9;]*m", "", run_in_terminal("--db", rust_v0, "audit", "--limit",
                                                         "5", columns=200))
    assert not any(line.endswith("…") for line in wide.splitlines())
    no_colour = run_in_terminal("--db", rust_v0, "audit", "--limit", "5", env={"NO_COLOR": "1"})
    assert not ANSI.search(no_colour)
    piped = run_entry("--db", rust_v0, "audit")
    assert not ANSI.search(piped.stdout) and piped.stderr == ""
    assert max(len(line) for line in piped.stdout.splitlines()) > 80


def test_terminal_fits_every_table(rust_v0: Path, tmp_path: Path) -> None:
    db = bad_database(tmp_path)
    for argv in (["usage", "--from", "2026-01-01", "--to", "2026-01-10"], ["cooldowns"],
                 ["check"], ["snapshot", "diagnose"]):
        screen = re.sub(r"\x1b\[[0-9;]*[mK]", "", run_in_terminal("--db", db, *argv,
                                                                    columns=70))
        assert all(display_width(line) <= 70 for line in screen.splitlines()), argv


def test_output_to_a_closed_pipe_stops_quietly(seed_db: Path) -> None:
    assert ENTRY_POINT.exists(), NOT_INSTALLED
    proc = subprocess.Popen(f"'{ENTRY_POINT}' --db '{seed_db}' audit --json | head -n 1",
                            shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    out, err = proc.communicate(timeout=60)
    assert len(out.splitlines()) == 1 and err == ""


# --- --follow ------------------------------------------------------------------------------


def read_json_lines(proc: subprocess.Popen[bytes], n: int, timeout: float) -> list[dict[str, Any]]:
    """The next `n` JSON lines from `proc` (fails on timeout)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    got: list[dict[str, Any]] = []
    buffer = b""
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} lines: {got}"
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            chunk = b""
        if not chunk:
            assert proc.poll() is None, f"the follower exited with {proc.returncode}"
            time.sleep(0.02)
            continue
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        got.extend(json.loads(line) for line in complete if line)
    assert buffer == b"", "a line was printed without its end"
    return got


@pytest.mark.parametrize("layout", ["seed-wal", "rust-journal"])
def test_follow_prints_rows_another_process_writes(tmp_path: Path, seed_db: Path,
                                                   layout: str) -> None:
    assert ENTRY_POINT.exists(), NOT_INSTALLED
    db = copy_of(seed_db if layout == "seed-wal" else fixture_path("rust-v0.db"),
                 tmp_path / "live.db")
    with SqliteStore.open(db, read_only=True) as store:
        assert store.journal_mode == ("wal" if layout == "seed-wal" else "delete")
        newest = store.audit_id_range()[1]  # type: ignore[index]
    follower = subprocess.Popen([str(ENTRY_POINT), "--db", str(db), "audit", "--follow",
                                 "--json", "--limit", "2", "--type", "session_started"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        backlog = read_json_lines(follower, 2, timeout=20)
        assert [r["type"] for r in backlog] == ["session_started"] * 2
        assert backlog[0]["id"] < backlog[1]["id"] <= newest  # oldest first, like tail
        writer = subprocess.run([sys.executable, "-m", "tests.helpers.writer", str(db), "12",
                                 "0.02"], cwd=REPO, capture_output=True, text=True, timeout=60)
        acked = [int(line.split()[1]) for line in writer.stdout.splitlines()
                 if line.startswith("ack ")]
        assert len(acked) == 12
        new = read_json_lines(follower, 12, timeout=20)
        assert [r["id"] for r in new] == acked
        assert all(r["event"]["entry_id"].startswith("writer-") for r in new)
    finally:
        follower.send_signal(signal.SIGINT)
        status = follower.wait(timeout=20)
        err = follower.stderr.read().decode() if follower.stderr else ""
    assert status == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_follow_table_with_a_filter_skips_other_rows(tmp_path: Path, rust_copy: Path) -> None:
    assert ENTRY_POINT.exists(), NOT_INSTALLED
    follower = subprocess.Popen([str(ENTRY_POINT), "--db", str(rust_copy), "audit", "-f",
                                 "--entry", "writer-1"], stdout=subprocess.PIPE, text=True,
                                cwd=REPO, env={**os.environ, "TZ": "America/New_York"})
    assert follower.stdout is not None
    try:
        assert follower.stdout.readline().split()[0] == "ID"  # header even with no backlog
        subprocess.run([sys.executable, "-m", "tests.helpers.writer", str(rust_copy), "6", "0"],
                       cwd=REPO, capture_output=True, timeout=60, check=True)
        rows = [follower.stdout.readline() for _ in range(2)]
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=20) == 0
    assert [r.split()[0] for r in rows] == ["25", "28"]
    assert all("Writer 1 started" in r for r in rows)


# --- usage ----------------------------------------------------------------------------------


def test_usage_table_per_day_with_totals(run: Any, rust_v0: Path) -> None:
    result = run("--db", rust_v0, "usage", "--from", "2026-01-01", "--to", "2026-01-10")
    assert result.status == 0
    days, totals = result.out.split("\n\n")
    day_rows = days.splitlines()
    assert day_rows[0].split() == ["DAY", "ENTRY", "TIME"]
    assert len(day_rows) == 14  # 13 recorded (entry, day) pairs
    assert day_rows[1].split() == ["2026-01-01", "Tux", "Math", "(tuxmath)", "1", "min"]
    assert "2026-01-07  Minecraft (minecraft)" in days and "2 h 00 min" in days
    total_rows = totals.splitlines()
    assert total_rows[0] == "Totals, 2026-01-01 to 2026-01-10 (10 days):"
    tux = next(r for r in total_rows if r.startswith("Tux Math (tuxmath)"))
    assert "2 h 17 min" in tux and "2026-01-04 (1 h 00 min)" in tux
    assert total_rows[-1].split()[:6] == ["all", "entries", "5", "h", "13", "min"]


def test_usage_csv_and_json_come_from_the_usage_module(run: Any, rust_v0: Path) -> None:
    args = ("--db", rust_v0, "usage", "--from", "2026-01-03", "--to", "2026-01-07")
    with SqliteStore.open(rust_v0, read_only=True) as store:
        rng = DayRange.from_dates(date(2026, 1, 3), date(2026, 1, 7))
        daily = DailyUsage.from_records(store.usage_between(rng.start, rng.end), rng)
        labels = store.entry_labels()
    rows = run(*args, "--csv").out.splitlines()
    assert rows == [",".join(r) for r in csv_rows(daily, labels)]
    assert rows[0] == "day,entry_id,label,seconds,daily_quota_seconds,quota_reached"
    assert "2026-01-04,minecraft,Minecraft,0,," in rows  # days without usage included
    doc = json.loads(run(*args, "--json").out)
    assert doc["from"] == "2026-01-03" and doc["to"] == "2026-01-07"
    assert {"day": "2026-01-07", "entry_id": "minecraft", "seconds": 7200} in doc["days"]
    assert all(d["seconds"] > 0 for d in doc["days"])
    expected = summarize(daily, date(2026, 1, 7))
    assert [(t["entry_id"], t["total_seconds"], t["days_used"]) for t in doc["totals"]] == \
        [(s.entry_id, s.total_seconds, s.days_used) for s in expected]
    assert doc["total_seconds"] == 600 + 210 + 45 + 7200 + 59 + 3600 + 300 == \
        sum(s.total_seconds for s in expected)


def test_usage_options(run: Any, rust_v0: Path, tmp_path: Path) -> None:
    one = json.loads(run("--db", rust_v0, "usage", "--from", "2026-01-01", "--to", "2026-01-10",
                         "--entry", "minecraft", "--json").out)
    assert {t["entry_id"] for t in one["totals"]} == {"minecraft"}
    assert one["total_seconds"] == 8055
    policy = tmp_path / "policy.toml"
    policy.write_text('[[entries]]\nid = "tuxmath"\nlabel = "Maths!"\n'
                      '[entries.limits]\ndaily_quota_seconds = 1800\n')
    quota = run("--db", rust_v0, "--config", policy, "usage", "--from", "2026-01-01", "--to",
                "2026-01-10")
    assert "QUOTA REACHED" in quota.out and "Maths! (tuxmath)" in quota.out
    tux = next(r for r in quota.out.splitlines()[::-1] if r.startswith("Maths! (tuxmath)"))
    assert tux.split()[-1] == "3"  # 1800, 3600 and 2700 s reached 1800
    doc = json.loads(run("--db", rust_v0, "--config", policy, "usage", "--from", "2026-01-01",
                         "--to", "2026-01-10", "--json").out)
    assert [t["quota_reached_days"] for t in doc["totals"] if t["entry_id"] == "tuxmath"] == [3]
    bad = run("--db", rust_v0, "--config", tmp_path / "none.toml", "usage")
    assert bad.status == 2 and "does not exist" in bad.err
    backwards = run("--db", rust_v0, "usage", "--from", "2026-01-05", "--to", "2026-01-01")
    assert backwards.status == 2 and "is after" in backwards.err
    huge = run("--db", rust_v0, "usage", "--from", "1900-01-01", "--to", "2026-01-01")
    assert huge.status == 2 and "longer than" in huge.err
    empty = run("--db", rust_v0, "usage", "--from", "2025-01-01", "--to", "2025-01-02")
    assert empty.status == 0 and empty.out == "" and "No usage recorded" in empty.err


def test_usage_defaults_to_the_last_seven_days(run: Any, tmp_path: Path) -> None:
    db = simulated(tmp_path / "recent.db", 14, datetime.now(UTC), seed=3)
    today = datetime.now(NEW_YORK).date()
    doc = json.loads(run("--db", db, "usage", "--json").out)
    assert doc["to"] == today.isoformat()
    assert doc["from"] == (today - timedelta(days=6)).isoformat()
    assert doc["total_seconds"] > 0
    since = json.loads(run("--db", db, "usage", "--from", "3d", "--json").out)
    assert (since["from"], since["to"]) == ((today - timedelta(days=3)).isoformat(),
                                            today.isoformat())
    upto = json.loads(run("--db", db, "usage", "--to", "yesterday", "--json").out)
    assert (upto["from"], upto["to"]) == ((today - timedelta(days=7)).isoformat(),
                                          (today - timedelta(days=1)).isoformat())
    only_today = json.loads(run("--db", db, "usage", "--from", "today", "--json").out)
    assert only_today["from"] == only_today["to"] == today.isoformat()


# --- cooldowns -----------------------------------------------------------------------------


def test_cooldowns_table_and_json(run: Any, rust_v0: Path) -> None:
    table = run("--db", rust_v0, "cooldowns").out.splitlines()
    assert table[0].split() == ["ENTRY", "UNTIL", "(LOCAL)", "STATE"]
    assert table[1].startswith("Minecraft (minecraft)  2030-07-04 15:45:30  active, ")
    assert table[2].startswith("Tux Math (tuxmath)     2026-01-09 17:30:00  over ")
    records = run("--db", rust_v0, "cooldowns", "--json").json_lines()
    assert [(r["entry_id"], r["label"], r["until"], r["active"], r["readable"])
            for r in records] == [
        ("minecraft", "Minecraft", "2030-07-04T15:45:30.250-04:00", True, True),
        ("tuxmath", "Tux Math", "2026-01-09T17:30:00-05:00", False, True)]  # RFC 3339
    assert records[0]["remaining_seconds"] > 3 * 365 * 86400 and \
        records[1]["remaining_seconds"] == 0


def test_cooldowns_when_there_are_none(run: Any, seed_path: Path) -> None:
    result = run("--db", seed_path, "cooldowns")
    assert result.status == 0 and result.out == "" and result.err == "No cooldowns.\n"
    assert run("--db", seed_path, "cooldowns", "--json").out == ""


def test_cooldowns_marks_unreadable_rows(run: Any, tmp_path: Path) -> None:
    db = bad_database(tmp_path)
    row = next(r for r in run("--db", db, "cooldowns").out.splitlines() if r.startswith("krita"))
    assert "2026-11-26 12:00:00" in row and "unreadable" in row
    record = run("--db", db, "cooldowns", "--json").json_lines()[0]
    assert record == {"entry_id": "krita", "label": "krita", "until": "2026-11-26 12:00:00",
                      "readable": False, "active": None, "remaining_seconds": None}


@pytest.mark.parametrize("layout", ["rust", "seed"])
def test_cooldown_set_and_clear_leave_the_inspectors_trace(run: Any, tmp_path: Path,
                                                           seed_db: Path, layout: str) -> None:
    db = copy_of(fixture_path("rust-v0.db") if layout == "rust" else seed_db,
                 tmp_path / "edit.db")
    with SqliteStore.open(db, read_only=True) as store:
        seen = {c.entry_id: c.raw for c in store.all_cooldowns()}.get("tuxmath")
    if layout == "rust":
        assert seen == "2026-01-09T17:30:00-05:00"
    before = datetime.now(UTC).replace(microsecond=0)
    result = run("--db", db, "cooldown", "set", "tuxmath", "+30m")
    assert result.status == 0, result.err
    assert result.out.startswith("Cooldown of Tux Math set until ")
    assert "(30 min from now;" in result.out
    if layout == "rust":  # the value it replaced in local time too, not as stored
        assert result.out.endswith("; it was until 2026-01-09 17:30:00).\n")
    with SqliteStore.open(db, read_only=True) as store:
        until = store.get_cooldown_until("tuxmath")
        assert until is not None
        assert before + timedelta(minutes=30) <= until <= datetime.now(UTC) + \
            timedelta(minutes=30)
        trace = store.list_overrides()[0].change
        assert (trace.what, trace.entry_id, trace.previous, trace.new) == (
            "cooldown", "tuxmath", seen,
            {c.entry_id: c.raw for c in store.all_cooldowns()}["tuxmath"])
    if layout == "rust":  # the daemon's log gets no event it cannot read
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 23
            assert conn.execute("SELECT count(*) FROM inspector_overrides").fetchone()[0] == 1
        conn.close()
    at = run("--db", db, "cooldown", "set", "minecraft", "2031-02-03 04:05")
    assert at.status == 0
    with SqliteStore.open(db, read_only=True) as store:
        assert store.get_cooldown_until("minecraft") == datetime(2031, 2, 3, 4, 5,
                                                                 tzinfo=NEW_YORK)
    cleared = run("--db", db, "cooldown", "clear", "tuxmath")
    assert cleared.status == 0 and cleared.out.startswith("Cooldown of Tux Math cleared")
    again = run("--db", db, "cooldown", "clear", "tuxmath")
    assert again.status == 0 and "has no cooldown; nothing changed" in again.out
    with SqliteStore.open(db, read_only=True) as store:
        assert store.get_cooldown_until("tuxmath") is None
        changes = [(o.change.entry_id, o.change.new is None) for o in store.list_overrides()]
    assert changes == [("tuxmath", True), ("minecraft", False), ("tuxmath", False)]


def test_cooldown_set_forms_and_refusals(run: Any, rust_copy: Path) -> None:
    clock = run("--db", rust_copy, "cooldown", "set", "tuxmath", "23:59:59")
    if datetime.now(NEW_YORK).time() < datetime(2000, 1, 1, 23, 59, 58).time():
        assert clock.status == 0 and "until 20" in clock.out and "23:59:59" in clock.out
    for value, message in (("2h", "write +2h"), ("yesterday", "not in the future"),
                           ("+soon", "not a duration"), ("2000-01-01", "not in the future"),
                           ("someday", "not a time")):
        result = run("--db", rust_copy, "cooldown", "set", "tuxmath", value)
        assert result.status == 2 and message in result.err, (value, result.err)
    assert run("--db", rust_copy, "cooldown", "set", "", "+1h").status == 2


def test_a_changed_value_refuses_the_edit(run: Any, rust_copy: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import shepherd_store.overrides as overrides

    monkeypatch.setattr(overrides, "cooldown_text", lambda store, entry: "stale")
    result = run("--db", rust_copy, "cooldown", "clear", "tuxmath")
    assert result.status == 1
    assert "changed since it was shown" in result.err
    assert "Its value now: 2026-01-09 17:30:00." in result.err  # local, not as stored
    with SqliteStore.open(rust_copy, read_only=True) as store:
        assert store.list_overrides() == [] and len(store.all_cooldowns()) == 2


@pytest.mark.parametrize("argv", [["cooldown", "set", "tuxmath", "+1h"],
                                  ["cooldown", "clear", "tuxmath"],
                                  ["snapshot", "clear-session"]])
def test_edits_refuse_a_read_only_file_with_status_3(run: Any, tmp_path: Path,
                                                     argv: list[str]) -> None:
    # On a copy: a clone's fixtures are not read-only (git keeps no such mode), and a test
    # must never risk the evidence written by the real Rust store.
    fixture = fixture_path("rust-v0.db")
    before = sha256(fixture)
    protected = copy_of(fixture, tmp_path / "protected.db")
    protected.chmod(0o444)  # read-only even for root: the store honours the mode bits
    result = run("--db", protected, *argv)
    assert result.status == 3
    assert f"Cannot change {protected}" in result.err and "Nothing was written" in result.err
    assert sha256(protected) == before


# --- snapshot -------------------------------------------------------------------------------


def test_snapshot_show(run: Any, rust_v0: Path, rust_v0_nosession: Path) -> None:
    shown = run("--db", rust_v0, "snapshot", "show").out.splitlines()
    assert shown == [
        "Saved:     2026-07-04 14:10:30",
        "Session:   Minecraft (minecraft) [33333333-3333-4333-8333-333333333333]",
        "Started:   2026-07-04 14:00:00",
        "Deadline:  2026-07-04 15:00:00 (1 h 00 min allowed)",
        "Warned:    5 min, 1 min before the deadline"]
    doc = json.loads(run("--db", rust_v0, "snapshot", "show", "--json").out)
    with SqliteStore.open(rust_v0, read_only=True) as store:
        raw = store.load_snapshot_text()
    assert doc == {"stored": True, "readable": True, "problem": None,
                   "snapshot": json.loads(raw or ""), "raw": raw}
    idle = run("--db", rust_v0_nosession, "snapshot", "show").out.splitlines()
    assert idle == ["Saved:     2026-07-04 14:10:30", "Session:   none running"]


def test_snapshot_show_unreadable_and_missing(run: Any, tmp_path: Path, seed_path: Path) -> None:
    db = bad_database(tmp_path)
    shown = run("--db", db, "snapshot", "show")
    assert shown.status == 0
    assert shown.out.startswith("The saved snapshot cannot be read: active_session.session_id")
    assert '"session_id":"nope"' in shown.out
    doc = json.loads(run("--db", db, "snapshot", "show", "--json").out)
    assert doc["readable"] is False and "not a UUID" in doc["problem"]
    none = run("--db", seed_path, "snapshot", "show")
    assert none.out.startswith("No snapshot is saved")
    assert json.loads(run("--db", seed_path, "snapshot", "show", "--json").out) == {
        "stored": False, "readable": True, "problem": None, "snapshot": None, "raw": None}


# Both end with a shutdown while minecraft runs (row 23): the snapshot diagnosis covers it in
# rust-v0.db; without a snapshot session, recovery's finding does (the play was never counted).
@pytest.mark.parametrize(("name", "status"), [("rust-v0.db", 1), ("rust-v0-nosession.db", 1)])
def test_snapshot_diagnose_gives_the_inspectors_findings(run: Any, name: str,
                                                         status: int) -> None:
    path = fixture_path(name)
    result = run("--db", path, "snapshot", "diagnose")
    assert result.status == status
    with SqliteStore.open(path, read_only=True) as store:
        findings = diagnose(store)
        findings += diagnose_findings(store, None, datetime.now(UTC), findings)
    titles = [line[9:] for line in result.out.splitlines()
              if line[:8].strip() in ("PROBLEM", "WARNING", "INFO")]
    assert titles == [f.title for f in findings]
    for f in findings:
        assert f.explanation[:60] in result.out and f"What to do: {f.action}" in result.out
    last = result.out.splitlines()[-1]
    acting = sum(f.severity != "info" for f in findings)
    assert last == ("Nothing needs action." if status == 0 else
                    f"{acting} finding{'s' if acting != 1 else ''} "
                    f"need{'s' if acting == 1 else ''} action.")


def test_snapshot_diagnose_uses_the_policy(run: Any, rust_v0: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[[entries]]\nid = "minecraft"\nlabel = "Blocks"\n')
    result = run("--db", rust_v0, "--config", policy, "snapshot", "diagnose")
    assert result.status == 1 and "Blocks's time was never counted" in result.out


@pytest.mark.parametrize("layout", ["rust", "seed"])
def test_snapshot_clear_session(run: Any, tmp_path: Path, layout: str) -> None:
    if layout == "rust":
        db = copy_of(fixture_path("rust-v0.db"), tmp_path / "snap.db")
    else:
        db = tmp_path / "snap.db"
        with SqliteStore.open(db) as store:
            crashing_at_noon(store).crash_mid_session("minecraft")
    with SqliteStore.open(db, read_only=True) as store:
        before = store.load_snapshot()
        assert before is not None and before.active_session is not None
    result = run("--db", db, "snapshot", "clear-session")
    assert result.status == 0
    assert result.out.startswith(f"Cleared the session of Minecraft "
                                 f"[{before.active_session.session_id}]")
    with SqliteStore.open(db, read_only=True) as store:
        after = store.load_snapshot()
        assert after is not None and after.active_session is None
        trace = store.list_overrides()
        assert len(trace) == 1 and trace[0].change.what == "snapshot"
        assert trace[0].change.entry_id == "minecraft"
    again = run("--db", db, "snapshot", "clear-session")
    assert again.status == 0 and "has no active session; nothing to clear" in again.out
    with SqliteStore.open(db, read_only=True) as store:
        assert len(store.list_overrides()) == 1


def test_snapshot_clear_session_without_or_with_an_unreadable_snapshot(
        run: Any, seed_path: Path, tmp_path: Path) -> None:
    assert "No snapshot is saved" in run("--db", seed_path, "snapshot", "clear-session").out
    db = bad_database(tmp_path)
    result = run("--db", db, "snapshot", "clear-session")
    assert result.status == 0 and "Cleared the unreadable snapshot" in result.out
    after = run("--db", db, "snapshot", "diagnose")  # the snapshot needs nothing more...
    assert "No session running" in after.out
    # ...but the session the shutdown at row 23 interrupted was never counted (recovery)
    assert after.status == 1 and "1 finding needs action." in after.out
    assert "Minecraft's interrupted play was never counted" in after.out


# --- check ----------------------------------------------------------------------------------


def bad_database(tmp_path: Path) -> Path:
    """A Rust-layout copy with one row of every kind the daemon cannot read."""
    db = copy_of(fixture_path("rust-v0.db"), tmp_path / "bad.db")
    with sqlite3.connect(db) as conn:
        conn.executescript("""
            INSERT INTO audit_log (timestamp, event_json) VALUES
              ('2026-11-26T12:00:00-05:00', '{"type":"tokens_adjusted","delta":5}'),
              ('2026-11-26T12:00:01-05:00', '{"type":"service_started"'),
              ('2026-11-26 12:00:02', '{"type":"service_started"}'),
              ('2026-11-26T12:00:03-05:00', '{"type":"session_ended","session_id":
                "11111111-1111-4111-8111-111111111111","entry_id":"tuxmath","reason":
                {"type":"expired"},"duration":12.5}');
            INSERT INTO cooldowns VALUES ('krita', '2026-11-26 12:00:00');
            INSERT INTO usage VALUES ('krita', '2026-02-30', 10), ('krita', '2026-01-01', -5),
                                     ('krita', '2026-01-02', 1.5);
            CREATE TABLE daily_overrides (entry_id TEXT, day TEXT);
            UPDATE snapshot SET snapshot_json = '{"timestamp":"2026-07-04T14:10:30-04:00",
              "active_session":{"session_id":"nope","entry_id":"minecraft","started_at":
              "2026-07-04T14:00:00-04:00","deadline":null,"warnings_issued":[]}}';
        """)
    conn.close()
    return db


@pytest.mark.parametrize("name", ["rust-v0.db", "rust-v0-nosession.db"])
def test_check_passes_the_fixtures(run: Any, name: str) -> None:
    result = run("--db", fixture_path(name), "check")
    assert result.status == 0, result.out
    facts = dict(line.split(":", 1) for line in result.out.splitlines()[:6])
    assert facts["Layout"].strip().startswith("rust")
    assert facts["Journal"].strip() == "delete, user_version 0"
    assert facts["Integrity"].strip().startswith("ok (every row and index entry read in short")
    assert facts["Audit log"].strip() == "23 events checked (ids 1 to 23)"
    assert result.out.rstrip().endswith("No row the Rust service cannot read.")
    assert "holds the database's read lock" not in result.err
    quick = run("--db", fixture_path(name), "check", "--quick")
    assert quick.status == 0 and "ok (quick_check)" in quick.out
    full = run("--db", fixture_path(name), "check", "--full")
    assert full.status == 0 and "ok (integrity_check)" in full.out
    # A whole-file check is one statement: it says so before, and how long it took after.
    assert "holds the database's read lock" in full.err and "rollback-journal" in full.err
    assert "PRAGMA integrity_check held the database's read lock for" in full.err


def test_check_a_seed_database(run: Any, seed_db: Path) -> None:
    result = run("--db", seed_db, "check")
    assert result.status == 0
    assert "seed (created by this library" in result.out and "Journal:   wal" in result.out


def test_check_lists_every_row_the_daemon_cannot_read(run: Any, tmp_path: Path) -> None:
    result = run("--db", bad_database(tmp_path), "check")
    assert result.status == 1
    assert "not Shepherd's, left alone: daily_overrides" in result.out
    assert "9 rows the Rust service cannot read:" in result.out
    rows = {tuple(line.split()[:2]): line for line in result.out.splitlines()}
    assert "not a UUID" in rows[("snapshot", "id")]
    assert "reads it as no cooldown" in rows[("cooldowns", "krita")]
    usage = [line for line in result.out.splitlines() if line.startswith("usage")]
    assert ["2026-01-01" in usage[0] and "negative" in usage[0],
            "2026-01-02" in usage[1] and "real number" in usage[1],
            "2026-02-30" in usage[2] and "not a YYYY-MM-DD date" in usage[2]] == [True] * 3
    audit = [line for line in result.out.splitlines() if line.startswith("audit_log")]
    assert [line.split()[2] for line in audit] == ["24", "25", "26", "27"]
    assert "unknown event type 'tokens_adjusted'" in audit[0]
    assert "invalid JSON" in audit[1] and "bad timestamp" in audit[2]
    assert "session_ended.duration" in audit[3]


def test_check_reports_a_damaged_file_with_status_4(run: Any, tmp_path: Path,
                                                    seed_db: Path) -> None:
    db = copy_of(seed_db, tmp_path / "damaged.db")
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = "
                            "'idx_audit_type'").fetchone()[0]
    conn.close()
    with db.open("r+b") as fh:  # scribble over an index page: the tables still read
        fh.seek((root - 1) * page_size + 8)
        fh.write(os.urandom(page_size - 8))
    result = run("--db", db, "check")
    assert result.status == 4, result.out + result.err
    assert "Integrity: FAILED" in result.out


def test_check_rules() -> None:
    assert usage_problem("tuxmath", "2026-01-10", 60) is None
    assert "not text" in (usage_problem(None, "2026-01-10", 60) or "")
    assert "not a YYYY-MM-DD" in (usage_problem("a", "10/01/2026", 60) or "")
    assert "text" in (usage_problem("a", "2026-01-10", "60s") or "")
    assert "a blob" in (usage_problem("a", "2026-01-10", b"x") or "")
    assert "null" in (usage_problem("a", "2026-01-10", None) or "")
    assert cooldown_problem("2026-01-10T10:00:00Z") is None
    for raw in ("2026-11-26 12:00:00", "2026-11-26T12:00:00", "2026-11-26T12:00:00+0000", 17):
        assert "no cooldown" in (cooldown_problem(raw) or ""), raw
    assert snapshot_problem('{"timestamp":"2026-01-10T10:00:00Z","active_session":null}') is None
    assert "deadline" in (snapshot_problem(
        '{"timestamp":"2026-01-10T10:00:00Z","active_session":{"session_id":'
        '"33333333-3333-4333-8333-333333333333","entry_id":"x","started_at":'
        '"2026-01-10T10:00:00Z","deadline":null,"warnings_issued":[]}}') or "")


def test_check_keeps_the_oldest_problems_and_counts_all(tmp_path: Path) -> None:
    db = copy_of(fixture_path("rust-v0.db"), tmp_path / "many.db")
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                         [("2026-11-26T12:00:00Z", f'{{"type":"new_{i}"}}') for i in range(5000)])
    conn.close()
    seen: list[tuple[int, int]] = []
    with SqliteStore.open(db, read_only=True) as store:
        report = check(store, max_problems=10, progress=lambda d, t: seen.append((d, t)) or True)
    assert report.problem_count == 5000 and len(report.problems) == 10
    assert [p.key for p in report.problems] == [f"id {i}" for i in range(24, 34)]
    # Progress counts the rows, then the entries of the log's one index (the Rust
    # layout's idx_audit_timestamp) as as many again.
    assert seen and seen[-1] == (2 * 5023, 2 * 5023) and report.complete
    assert report.indexes_checked == ["idx_audit_timestamp"]
    with SqliteStore.open(db, read_only=True) as store:
        stopped = check(store, progress=lambda d, t: False)
    assert not stopped.complete and not stopped.healthy
    seed = tmp_path / "seed.db"
    with SqliteStore.open(seed) as store:  # this library's own event type is fine in seed
        store.clear_cooldown("x")
        from shepherd_store.overrides import set_cooldown
        set_cooldown(store, "x", datetime(2030, 1, 1, tzinfo=UTC), expected=None)
        report = check(store)
        assert report.healthy and report.layout is Layout.SEED
        event = next(iter_events(store))
    assert event.type == "manual_override"
    assert event_problem(event, Layout.SEED) is None
    assert "library's own" in (event_problem(event, Layout.RUST) or "")


# --- demo -----------------------------------------------------------------------------------


def test_demo_writes_a_history(run: Any, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = run("demo", db, "--days", "3", "--seed", "4")
    assert result.status == 0 and result.out.startswith("Wrote ")
    assert "(3 days of history)" in result.out
    with SqliteStore.open(db, read_only=True) as store:
        assert store.layout is Layout.SEED and store.journal_mode == "wal"
        events = list(iter_events(store))
    assert len(events) > 10 and events[-1].type == "service_started"
    assert run("--db", db, "check").status == 0
    again = run("demo", db)
    assert again.status == 0 and "already holds a history" in again.out
    nothing = run("demo", tmp_path / "empty.db", "--days", "0")
    assert nothing.status == 0 and nothing.out == ""


def test_demo_refuses_the_services_database(run: Any, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    target = tmp_path / "real.db"
    monkeypatch.setenv("SHEPHERD_DB", str(target))
    result = run("demo", target)
    assert result.status == 2 and "refusing to write demo data" in result.err
    assert not target.exists()
    assert run("demo", "/var/lib/shepherdd/shepherdd.db").status == 2


def test_demo_live_writes_until_ctrl_c(tmp_path: Path) -> None:
    assert ENTRY_POINT.exists(), NOT_INSTALLED
    db = tmp_path / "live.db"
    proc = subprocess.Popen([str(ENTRY_POINT), "demo", str(db), "--days", "1", "--live",
                             "--interval", "0.05"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("Wrote ")
        with SqliteStore.open(db, read_only=True) as store:
            first = store.change_token().last_audit_id
            deadline = time.monotonic() + 20
            while store.change_token().last_audit_id < first + 5:
                assert time.monotonic() < deadline, "no live sessions were written"
                time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Stopped after" in out and "Traceback" not in err
    with SqliteStore.open(db, read_only=True) as store:
        assert store.get_recent_audits(1)[0].type == "service_stopped"


# --- the pure text helpers ------------------------------------------------------------------

NOW = datetime(2026, 3, 8, 15, 30, 45, tzinfo=NEW_YORK)  # the day DST starts in New York


@pytest.mark.parametrize(("text", "expected"), [
    ("now", NOW),
    ("today", datetime(2026, 3, 8, 0, 0, tzinfo=timezone(timedelta(hours=-5)))),
    ("yesterday", datetime(2026, 3, 7, 0, 0, tzinfo=timezone(timedelta(hours=-5)))),
    ("2h", NOW - timedelta(hours=2)),
    ("1h30m", NOW - timedelta(minutes=90)),
    ("3d", NOW - timedelta(days=3)),
    ("1w", NOW - timedelta(days=7)),
    ("45s", NOW - timedelta(seconds=45)),
    ("09:30", datetime(2026, 3, 8, 9, 30, tzinfo=timezone(timedelta(hours=-4)))),
    ("9:05:07", datetime(2026, 3, 8, 9, 5, 7, tzinfo=timezone(timedelta(hours=-4)))),
    ("2026-01-10", datetime(2026, 1, 10, 0, 0, tzinfo=timezone(timedelta(hours=-5)))),
    ("2026-07-04 14:00", datetime(2026, 7, 4, 14, 0, tzinfo=timezone(timedelta(hours=-4)))),
    ("2026-07-04T14:00:05", datetime(2026, 7, 4, 14, 0, 5, tzinfo=timezone(timedelta(hours=-4)))),
    ("2026-07-04T14:00:00Z", datetime(2026, 7, 4, 14, 0, tzinfo=UTC)),
    ("2026-07-04T14:00:00+09:00", datetime(2026, 7, 4, 14, 0, tzinfo=timezone(timedelta(hours=9)))),
])
def test_parse_when(text: str, expected: datetime) -> None:
    value = parse_when(text, NOW)
    assert value == expected and value.utcoffset() is not None
    assert value.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["", "soon", "2h ago", "25:00", "12:61", "2026-13-01",
                                  "-2h", "1x", "2026-01-10 25:00"])
def test_parse_when_rejects_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a time"):
        parse_when(text, NOW)


def test_parse_day_and_duration() -> None:
    today = date(2026, 3, 8)
    assert parse_day_arg("today", today) == today
    assert parse_day_arg("Yesterday", today) == date(2026, 3, 7)
    assert parse_day_arg("7d", today) == date(2026, 3, 1)
    assert parse_day_arg("2026-01-10", today) == date(2026, 1, 10)
    for bad in ("2026-02-30", "last week", "-1d", "99999d"):
        with pytest.raises(ValueError):
            parse_day_arg(bad, today)
    assert parse_duration_arg("+30m") == timedelta(minutes=30)
    assert parse_duration_arg("1h30m") == timedelta(minutes=90)
    assert parse_duration_arg("2D") == timedelta(days=2)
    assert parse_duration_arg("90s") == timedelta(seconds=90)
    for bad in ("", "+", "30", "m30", "1.5h", "+-1h", "99999999w"):
        with pytest.raises(ValueError):
            parse_duration_arg(bad)


def test_text_helpers() -> None:
    # Durations read as in the inspector (one formatter: shepherd_store.describe).
    assert [format_duration(s) for s in (0, 59, 60, 90, 3600, 3661, 2 * 86400 + 3600 * 5,
                                         -90)] == [
        "0 s", "59 s", "1 min", "1 min", "1 h 00 min", "1 h 01 min", "2 d 05 h", "-1 min"]
    assert sanitize("a\tb\nc\x1b[2Jd\u202ee") == "a b c\ufffd[2Jd\ufffde"
    assert display_width("日本") == 4 and display_width("e\u0301") == 1
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc" and clip("日本語", 5) == "日本…"
    cols = [Column("A"), Column("B", flex=True, min_width=3), Column("C", right=True)]
    assert fit_widths(cols, [5, 30, 4], None) == [5, 30, 4]
    assert fit_widths(cols, [5, 30, 4], 20) == [5, 7, 4]
    assert fit_widths(cols, [50, 30, 4], 20) == [9, 3, 4]  # then the others, to their floor
    assert fit_widths(cols, [5, 30, 4], 10) == [5, 3, 4]  # never below it
    lines = list(render_table(cols, [["x", "a long cell", "1"], [("y", "red"), "b", "22"]], 16,
                              Style(enabled=True)))
    assert re.sub(r"\x1b\[[0-9;]*m", "", lines[1]) == "x  a long c…   1"
    assert "\x1b[31my\x1b[0m" in lines[2]
    assert list(render_table(cols, [["x", "a long cell", "1"]], None, Style())) == [
        "A  B            C", "x  a long cell  1"]
    wrapped = wrap("word " * 20, 30, "    ")
    assert len(wrapped) > 1 and all(len(w) <= 30 and w.startswith("    ") for w in wrapped)
    assert wrap("a b", None, "  ") == ["  a b"]
    assert write_refusal(Path("/nonexistent/x.db")) is not None


# --- one voice: entries, --config, --type, negative durations, times ------------------------

CRASHED = "0f8ce7eb-fd2a-45f7-8af2-1d479169906c"  # minecraft's session in rust-crash-restarted


def policy_file(tmp_path: Path, text: str = '[[entries]]\nid = "minecraft"\nlabel = "Blocks"\n'
                '[entries.limits]\ncooldown_seconds = 1800\n[[entries]]\nid = "tuxmath"\n'
                'label = "Maths!"\n[[entries]]\nid = "krita"\nlabel = "Krita"\n') -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cooldown_set_refuses_an_unknown_entry_and_writes_nothing(run: Any,
                                                                  rust_copy: Path) -> None:
    before = sha256(rust_copy)
    typo = run("--db", rust_copy, "cooldown", "set", "tuxmaht", "+5m")
    assert (typo.status, typo.out) == (1, "")
    assert typo.err.startswith("shepherd-store: unknown entry 'tuxmaht': this database has no "
                               "session, usage or cooldown of it; nothing was written.")
    assert "Did you mean Tux Math (tuxmath)?" in typo.err  # difflib's close matches
    assert "give --new to set its cooldown anyway" in typo.err
    by_label = run("--db", rust_copy, "cooldown", "set", "tux maths", "+5m")
    assert by_label.status == 1 and "Did you mean Tux Math (tuxmath)?" in by_label.err
    far = run("--db", rust_copy, "cooldown", "set", "nosuchentry", "+5m")
    assert far.status == 1 and "No close match; the known entries are Minecraft (minecraft), " \
        "Putt-Putt (scummvm-puttputt), Tux Math (tuxmath)." in far.err
    assert sha256(rust_copy) == before  # no cooldown, no trace
    with SqliteStore.open(rust_copy, read_only=True) as store:
        assert store.list_overrides() == [] and len(store.all_cooldowns()) == 2
    new = run("--db", rust_copy, "cooldown", "set", "nosuchentry", "+5m", "--new")
    assert new.status == 0 and new.out.startswith("Cooldown of nosuchentry set until ")
    with SqliteStore.open(rust_copy, read_only=True) as store:
        assert store.get_cooldown_until("nosuchentry") is not None
        assert [o.change.entry_id for o in store.list_overrides()] == ["nosuchentry"]


def test_cooldown_set_knows_the_policys_entries(run: Any, rust_copy: Path,
                                                tmp_path: Path) -> None:
    policy = policy_file(tmp_path)
    result = run("--db", rust_copy, "--config", policy, "cooldown", "set", "krita", "+5m")
    assert result.status == 0, result.err
    assert result.out.startswith("Cooldown of Krita set until ")
    refused = run("--db", rust_copy, "--config", policy, "cooldown", "set", "kirta", "+5m")
    assert refused.status == 1
    assert f"and the policy {policy} does not list it; nothing was written" in refused.err
    assert "Did you mean Krita (krita)?" in refused.err


CONFIG_COMMANDS = [["audit"], ["audit", "--json"], ["usage"], ["cooldowns"],
                   ["cooldown", "set", "tuxmath", "+5m"], ["cooldown", "clear", "tuxmath"],
                   ["snapshot", "show"], ["snapshot", "diagnose"], ["snapshot", "clear-session"],
                   ["recovery"], ["recovery", "fix", CRASHED], ["check"]]


@pytest.mark.parametrize("bad", ["missing", "not toml", "no id"])
def test_a_bad_config_is_the_same_usage_error_for_every_command(run: Any, tmp_path: Path,
                                                                bad: str) -> None:
    db = copy_of(fixture_path("rust-crash-restarted.db"), tmp_path / "db.db")
    config = tmp_path / "policy.toml"
    if bad == "not toml":
        config.write_text("[[entries]\n", encoding="utf-8")
    elif bad == "no id":
        config.write_text("[[entries]]\nid = 5\n", encoding="utf-8")
    before = sha256(db)
    demo = tmp_path / "demo.db"
    messages = set()
    for argv in [*CONFIG_COMMANDS, ["demo", str(demo)]]:
        result = run("--db", db, "--config", config, *argv)
        assert (result.status, result.out) == (2, ""), (argv, result.err)
        messages.add(result.err)
    assert len(messages) == 1  # word for word the same for every command
    (message,) = messages
    assert message.startswith(f"shepherd-store: --config: Policy file {config}")
    assert {"missing": "does not exist.", "not toml": "is not valid TOML",
            "no id": "every [[entries]] needs a string id"}[bad] in message
    assert sha256(db) == before and not demo.exists()


def test_the_config_names_entries_in_every_command(run: Any, tmp_path: Path,
                                                   rust_v0: Path) -> None:
    policy = policy_file(tmp_path)
    q = ("--db", rust_v0, "--config", policy)
    audit = run(*q, "audit").out
    assert "Blocks started, allowed until 15:00" in audit
    assert "Maths! started" in audit and "Maths! ended" in audit and "tuxmath" not in audit
    assert "Blocks (minecraft)  2030-07-04 15:45:30" in run(*q, "cooldowns").out
    assert [r["label"] for r in run(*q, "cooldowns", "--json").json_lines()] == [
        "Blocks", "Maths!"]
    assert "Session:   Blocks (minecraft) [" in run(*q, "snapshot", "show").out
    assert "Maths! (tuxmath)" in run(*q, "usage", "--from", "2026-01-01", "--to",
                                     "2026-01-10").out
    assert "Blocks's time was never counted" in run(*q, "snapshot", "diagnose").out
    crashed = ("--db", fixture_path("rust-crash-restarted.db"), "--config", policy)
    assert "PROBLEM  Blocks's interrupted play was never counted" in run(*crashed,
                                                                         "recovery").out


def test_one_name_per_entry_in_every_sentence(run: Any, rust_v0: Path) -> None:
    # The log's labels: the session_started rows carry them, session_ended rows do not.
    lines = run("--db", rust_v0, "audit", "--type", "session_started,session_ended").out
    names: dict[str, set[str]] = {}
    for line in lines.splitlines()[1:]:
        summary = line.split(None, 4)[4]
        name = re.split(r" (?:started|ended)", summary)[0]
        names.setdefault(summary.rsplit("[", 1)[1], set()).add(name)
    assert names == {"33333333]": {"Minecraft"}, "22222222]": {"Putt-Putt"},
                     "11111111]": {"Tux Math"}}


def test_audit_type_takes_only_the_known_types(run: Any, rust_v0: Path, tmp_path: Path) -> None:
    from shepherd_store.events import EVENT_TYPES

    for value in ("nosuchtype", "session_started,nosuchtype", ","):
        result = run("--db", rust_v0, "audit", "--type", value)
        assert (result.status, result.out) == (2, ""), value
        assert "usage: shepherd-store audit" in result.err
    bad = run("--db", rust_v0, "audit", "--type", "nosuchtype").err
    assert "argument --type: unknown event type 'nosuchtype'; the types are " in bad
    assert all(t in bad for t in EVENT_TYPES) and "manual_override" in bad
    assert "--grep TYPE" in bad  # the way to rows of a type a newer service added
    assert run("--db", rust_v0, "audit", "--type", " manual_override , session_ended").status == 0
    db = bad_database(tmp_path)
    newer = ids(run("--db", db, "audit", "--json", "--grep", "tokens_adjusted"))
    assert len(newer) == 1
    assert "Event of a newer service version" in run("--db", db, "audit", "--grep",
                                                     "tokens_adjusted").out


@pytest.mark.parametrize("argv", [["tuxmath", "-5m"], ["tuxmath", "-1h30m"],
                                  ["tuxmath", "--", "-5m"], ["--new", "tuxmath", "-5M"]])
def test_a_negative_cooldown_has_its_own_message(run: Any, rust_copy: Path,
                                                 argv: list[str]) -> None:
    before = sha256(rust_copy)
    result = run("--db", rust_copy, "cooldown", "set", *argv)
    assert (result.status, result.out) == (2, "")
    negative = next(a for a in argv if a[1:2].isdigit())
    assert result.err == (f"shepherd-store: a cooldown cannot be negative ({negative!r}); to end "
                          "one, use `shepherd-store cooldown clear ENTRY`\n")
    assert sha256(rust_copy) == before
    # an option that merely looks like one is still argparse's
    assert run("--db", rust_copy, "cooldown", "set", "tuxmath", "-x").status == 2
    assert "cannot be negative" not in run("--db", rust_copy, "audit", "--since", "-5m").err


def local_text(stored: str, zone: str) -> str:
    return datetime.fromisoformat(stored).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(("zone", "day"), [("Pacific/Kiritimati", "2026-07-05"),  # UTC+14
                                           ("Pacific/Honolulu", "2026-07-04")])  # UTC-10
def test_times_follow_the_viewers_time_zone(tmp_path: Path, zone: str, day: str) -> None:
    env = {"TZ": zone}
    rust = fixture_path("rust-v0.db")
    audit = run_entry("--db", rust, "audit", "--limit", "3", env=env).stdout.splitlines()
    assert audit[1].split()[:3] == ["23", day, "08:11:00"]  # stored 14:11:00-04:00
    assert "Minecraft started, allowed until 09:00 [33333333]" in audit[3]
    cooldowns = run_entry("--db", rust, "cooldowns", env=env).stdout
    assert f"Minecraft (minecraft)  2030{day[4:]} 09:45:30" in cooldowns
    assert f"Tux Math (tuxmath)     {local_text('2026-01-09T17:30:00-05:00', zone)}" in cooldowns
    shown = run_entry("--db", rust, "snapshot", "show", env=env).stdout.splitlines()
    assert shown[0] == f"Saved:     {day} 08:10:30"
    # JSON keeps the stored RFC 3339 text
    record = json.loads(run_entry("--db", rust, "audit", "--json", "--limit", "1",
                                  env=env).stdout)
    assert record["timestamp"] == "2026-07-04T14:11:00-04:00"
    db = copy_of(rust, tmp_path / "edit.db")
    set_ = run_entry("--db", db, "cooldown", "set", "tuxmath", "2031-02-03 04:05", env=env)
    assert set_.returncode == 0, set_.stderr
    assert set_.stdout == ("Cooldown of Tux Math set until 2031-02-03 04:05:00 ("
                           + set_.stdout.split(" (", 1)[1].split(";")[0] + "; it was until "
                           f"{local_text('2026-01-09T17:30:00-05:00', zone)}).\n")
    with SqliteStore.open(db, read_only=True) as store:
        assert store.get_cooldown_until("tuxmath") == datetime(2031, 2, 3, 4, 5,
                                                               tzinfo=ZoneInfo(zone))
    cleared = run_entry("--db", db, "cooldown", "clear", "tuxmath", env=env)
    assert cleared.stdout == "Cooldown of Tux Math cleared (it was until 2031-02-03 04:05:00).\n"


def test_manual_changes_show_local_times(run: Any, tmp_path: Path, seed_db: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    db = copy_of(seed_db, tmp_path / "trace.db")
    with SqliteStore.open(db, read_only=True) as store:
        was = {c.entry_id: c.raw for c in store.all_cooldowns()}["minecraft"]
    assert run("--db", db, "cooldown", "set", "minecraft", "2031-02-03 04:05").status == 0
    assert run("--db", db, "cooldown", "clear", "minecraft").status == 0
    with SqliteStore.open(db) as store:
        sid = crashing_at_noon(store).crash_mid_session("minecraft")
    assert run("--db", db, "snapshot", "clear-session").status == 0
    with SqliteStore.open(db, read_only=True) as store:
        snap_change = store.list_overrides()[0].change
    assert snap_change.previous is not None
    started = json.loads(snap_change.previous)["active_session"]["started_at"]
    saved = json.loads(snap_change.previous)["timestamp"]
    for zone in ("America/New_York", "Pacific/Kiritimati"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        lines = run("--db", db, "audit", "--type", "manual_override").out.splitlines()
        assert len(lines) == 4
        at = local_text("2031-02-03T04:05:00-05:00", zone)
        assert lines[3].endswith(f"changed the cooldown of Minecraft: "
                                 f"{local_text(was, zone)} → {at}")
        assert lines[2].endswith(f"changed the cooldown of Minecraft: {at} → none")
        assert (f"changed the snapshot of Minecraft: saved {local_text(saved, zone)}, Minecraft "
                f"running since {local_text(started, zone)} → saved ") in lines[1]
        assert lines[1].endswith(", no session")
        assert sid not in lines[1] and not re.search(r"\d{2}T\d{2}:", "\n".join(lines))


def test_an_offset_is_shown_only_where_the_local_clock_is_ambiguous(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from shepherd_store.describe import format_local, format_local_time

    # New York, 2026-11-01: the clocks go back at 02:00 EDT, so 01:00-02:00 happens twice.
    before, first, second, after = (datetime(2026, 11, 1, h, 30, tzinfo=UTC) for h in (4, 5, 6, 7))
    assert format_local(before) == "2026-11-01 00:30:00"
    assert format_local(first) == "2026-11-01 01:30:00 -04:00"
    assert format_local(second) == "2026-11-01 01:30:00 -05:00"
    assert format_local_time(second) == "01:30 -05:00"
    assert format_local(after) == "2026-11-01 02:30:00"
    # a time that cannot be moved to local time keeps (and shows) its own offset
    late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-12)))
    assert format_local(late) == "9999-12-31 23:00:00 -12:00"
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # no daylight saving time: never ambiguous
    time.tzset()
    assert format_local(first) == "2026-11-01 19:30:00"
    assert format_local(second) == "2026-11-01 20:30:00"


def test_manual_change_values_in_words() -> None:
    from shepherd_store.describe import override_value

    labels = {"minecraft": "Blocks"}
    assert override_value("cooldown", "2026-07-04T18:10:30Z", labels) == "2026-07-04 14:10:30"
    assert override_value("cooldown", "2026-07-04 14:10", labels) == "2026-07-04 14:10"  # as is
    assert override_value("cooldown", None, labels) == "none"
    assert override_value("usage", '{"day":"2026-03-07","duration_secs":60}', labels) == \
        "1 min on 2026-03-07"
    assert override_value("usage", '{"day":"2026-03-07","duration_secs":3300,"added_secs":3240,'
                                   '"reason":"crash"}', labels) == \
        "55 min on 2026-03-07 (added 54 min: crash)"
    snap = ('{"timestamp":"2026-07-04T18:10:30Z","active_session":{"session_id":'
            '"33333333-3333-4333-8333-333333333333","entry_id":"minecraft","started_at":'
            '"2026-07-04T18:00:00Z","deadline":"2026-07-04T19:00:00Z","warnings_issued":[]}}')
    assert override_value("snapshot", snap, labels) == \
        "saved 2026-07-04 14:10:30, Blocks running since 2026-07-04 14:00:00"
    assert override_value("snapshot", '{"broken', labels) == '{"broken'


def test_an_ambiguous_time_keeps_its_offset_in_a_fitted_table(tmp_path: Path) -> None:
    db = copy_of(fixture_path("rust-v0.db"), tmp_path / "fold.db")
    with sqlite3.connect(db) as conn:  # 01:30 twice: EDT, then EST an hour later
        conn.executemany("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                         [("2026-11-01T01:30:00-04:00", '{"type":"service_started"}'),
                          ("2026-11-01T01:30:00-05:00", '{"type":"service_stopped"}')])
    conn.close()
    shown = re.sub(r"\x1b\[[0-9;]*m", "", run_in_terminal(
        "--db", db, "audit", "--limit", "3", columns=72)).splitlines()
    assert shown[1].split()[:5] == ["25", "2026-11-01", "01:30:00", "-05:00", "service_stopped"]
    assert shown[2].split()[:5] == ["24", "2026-11-01", "01:30:00", "-04:00", "service_started"]
    assert shown[3].split()[1:3] == ["2026-07-04", "14:11:00"]  # not ambiguous: no offset
    assert all(display_width(line) <= 72 for line in shown)


def test_follow_names_an_entry_first_seen_live_as_its_later_rows(tmp_path: Path) -> None:
    import io

    from shepherd_store.events import AuditEvent, Expired, SessionEnded, SessionStarted

    sid = "44444444-4444-4444-8444-444444444444"
    at = datetime(2026, 7, 4, 18, 0, tzinfo=UTC)
    out = cli_module.Output(io.StringIO(), None, Style(), False)
    emit = cli_module._TableEmitter(out, 2, {})  # oldest first, as --follow writes
    emit.write([AuditEvent(1, at, SessionStarted(sid, "newgame", "New Game", None))])
    emit.write([AuditEvent(2, at, SessionEnded(sid, "newgame", Expired(), timedelta(minutes=5)))])
    lines = out.stream.getvalue().splitlines()
    assert "New Game started, no time limit" in lines[1]
    assert "New Game ended: time limit reached after 5 min" in lines[2]
