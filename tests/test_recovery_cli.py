"""`shepherd-store recovery` and `recovery fix`, and recovery in `snapshot diagnose`, on the
Rust-written fixtures (copies for the edits); two processes racing to repair the same
session count it once."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, fixture_path

from shepherd_store import (
    AuditEvent,
    ServiceStarted,
    SessionEnded,
    SessionStarted,
    SqliteStore,
    UserStop,
)
from shepherd_store.cli import main

CRASHED = "0f8ce7eb-fd2a-45f7-8af2-1d479169906c"
EST = timezone(timedelta(hours=-5))
POLICY = """
[[entries]]
id = "minecraft"
label = "Minecraft"
[entries.limits]
daily_quota_seconds = 3600
cooldown_seconds = 1800
"""


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.out)
        return data


@pytest.fixture(autouse=True)
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.delenv("SHEPHERD_DB", raising=False)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    def call(*args: str | Path) -> Result:
        capsys.readouterr()
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(status, captured.out, captured.err)

    return call


def copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copyfile(fixture_path(name), dest)
    dest.chmod(0o644)
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def usage(path: Path, entry: str, day: str) -> int | None:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT duration_secs FROM usage WHERE entry_id = ? AND day = ?",
                            (entry, day)).fetchall()
    conn.close()
    return rows[0][0] if rows else None


def test_recovery_lists_runs_and_the_interrupted_session(run: Any) -> None:
    db = fixture_path("rust-crash-restarted.db")
    before = sha256(db)
    result = run("--db", db, "recovery")
    assert result.status == 1 and result.err == ""
    lines = result.out.splitlines()
    assert lines[0] == "Runs of the service, newest first (local time):"
    assert lines[3].startswith("2026-03-07 14:49:34  no trace after 2026-03-07 15:55:00; "
                               "restarted 2026-03-07 16:40:00")
    assert lines[3].split()[-2:] == ["1", "1"]  # one session, interrupted
    assert "PROBLEM  Minecraft's interrupted play was never counted" in lines
    assert (f"         session {CRASHED}; unrecorded: 3300 s to 3600 s; day 2026-03-07; "
            "rows 117, 119, 120") in lines
    assert lines[-1] == "1 finding needs action."
    assert sha256(db) == before


def test_recovery_json(run: Any) -> None:
    result = run("--db", fixture_path("rust-crash-restarted.db"), "recovery", "--json")
    assert result.status == 1 and len(result.out.splitlines()) == 1
    doc = result.json()
    [f] = doc["findings"]
    assert {k: f[k] for k in ("kind", "session_id", "entry_id", "min_seconds", "max_seconds",
                              "day", "resolved")} == {
        "kind": "interrupted_session", "session_id": CRASHED, "entry_id": "minecraft",
        "min_seconds": 3300, "max_seconds": 3600, "day": "2026-03-07", "resolved": False}
    assert doc["notes"] == [] and doc["needs_action"] is True and doc["last_id"] == 130
    assert [r["end"] for r in doc["runs"]][:2] == ["clean", "unclean"]
    [s] = doc["runs"][1]["sessions"]
    assert (s["session_id"], s["status"], s["warnings"], s["started_at"]) == (
        CRASHED, "interrupted", [300], "2026-03-07T15:00:00.137386-05:00")


def test_clean_and_down_fixtures(run: Any) -> None:
    clean = run("--db", fixture_path("rust-clean.db"), "recovery")
    assert clean.status == 0 and clean.out.splitlines()[-1] == "Nothing needs action."
    assert run("--db", fixture_path("rust-clean.db"), "recovery", "--json").json()[
        "findings"] == []
    down = run("--db", fixture_path("rust-crash-down.db"), "recovery", "--json")
    assert down.status == 1
    [f] = down.json()["findings"]
    assert (f["min_seconds"], f["max_seconds"], f["day"]) == (3300, 3600, "2026-03-07")
    assert down.json()["runs"][0]["end"] == "open"


def test_fix_records_the_play_once(run: Any, tmp_path: Path) -> None:
    db = copy("rust-crash-restarted.db", tmp_path)
    fixed = run("--db", db, "recovery", "fix", CRASHED[:8])
    assert fixed.status == 0, fixed.err
    assert fixed.out.startswith(
        f"Recorded 3300 s (55 min) of Minecraft's interrupted session {CRASHED} on "
        "2026-03-07: its usage that day 0 s → 3300 s.")
    assert usage(db, "minecraft", "2026-03-07") == 3300
    after = sha256(db)
    again = run("--db", db, "recovery", "fix", CRASHED, "--max")
    assert again.status == 1 and "already recorded" in again.err and again.out == ""
    assert sha256(db) == after
    done = run("--db", db, "recovery")
    assert done.status == 0 and "DONE     Minecraft's interrupted play was recorded" in done.out
    assert run("--db", db, "recovery", "--json").json()["findings"][0]["resolved"] is True
    diagnosed = run("--db", db, "snapshot", "diagnose")
    assert diagnosed.status == 0 and diagnosed.out.splitlines()[-1] == "Nothing needs action."


def test_fix_options(run: Any, tmp_path: Path) -> None:
    db = copy("rust-crash-restarted.db", tmp_path)
    before = sha256(db)
    for argv, message in ((["--seconds", "4000"], "between 3300 and 3600"),
                          (["--seconds", "-5"], "must be 0 or more"),
                          (["--cooldown"], "give --config"),
                          (["--seconds", "3300", "--max"], "not allowed with")):
        result = run("--db", db, "recovery", "fix", CRASHED, *argv)
        assert result.status == 2 and message in result.err, (argv, result.err)
    assert run("--db", db, "recovery", "fix", "0f8c").status == 2  # too short
    assert "No session 'ffffffff'" in run("--db", db, "recovery", "fix", "ffffffff").err
    assert sha256(db) == before
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    result = run("--db", db, "--config", policy, "recovery", "fix", CRASHED, "--max",
                 "--cooldown")
    assert result.status == 0, result.err
    assert "Recorded 3600 s (1 h 00 min)" in result.out
    assert ("Cooldown of Minecraft set until 2026-03-07 16:30:00 (was "
            "2026-03-06 16:55:11).") in result.out  # both in local time, not as stored
    assert usage(db, "minecraft", "2026-03-07") == 3600


def test_fix_refuses_a_read_only_file(run: Any, tmp_path: Path) -> None:
    # A 0444 copy (read-only even for root: the store honours the mode bits); never the
    # fixture itself, which a clone has writable.
    protected = copy("rust-crash-restarted.db", tmp_path)
    protected.chmod(0o444)
    before = sha256(protected)
    result = run("--db", protected, "recovery", "fix", CRASHED)
    assert result.status == 3 and "Nothing was written" in result.err
    assert sha256(protected) == before


def test_snapshot_diagnose_includes_recovery(run: Any) -> None:
    result = run("--db", fixture_path("rust-crash-restarted.db"), "snapshot", "diagnose")
    assert result.status == 1
    assert "INFO     No snapshot saved" in result.out
    assert "PROBLEM  Minecraft's interrupted play was never counted" in result.out
    clean = run("--db", fixture_path("rust-clean.db"), "snapshot", "diagnose")
    assert clean.status == 0


def test_since(run: Any) -> None:
    db = fixture_path("rust-crash-restarted.db")
    doc = run("--db", db, "recovery", "--since", "2026-03-07", "--json").json()
    assert [r["started_id"] for r in doc["runs"]] == [120, 110]
    later = run("--db", db, "recovery", "--since", "2026-03-07 17:00", "--json")
    assert later.status == 0 and [r["started_id"] for r in later.json()["runs"]] == [120]
    text = run("--db", db, "recovery", "--since", "2026-03-07")
    assert "older runs" not in text.out
    assert run("--db", db, "recovery", "--since", "soon").status == 2


def test_unclean_shutdown_json_has_nulls(run: Any, tmp_path: Path) -> None:
    db = tmp_path / "seed.db"
    with SqliteStore.open(db) as store:
        t = datetime(2026, 5, 1, 9, 0, tzinfo=EST)
        for when, event in ((t, ServiceStarted()),
                            (t + timedelta(minutes=5), SessionStarted(
                                "11111111-1111-4111-8111-111111111111", "tuxmath", "Tux", None)),
                            (t + timedelta(minutes=9), SessionEnded(
                                "11111111-1111-4111-8111-111111111111", "tuxmath", UserStop(),
                                timedelta(minutes=4))),
                            (t + timedelta(hours=2), ServiceStarted())):
            store.append_audit(AuditEvent(0, when, event))
        store.add_usage("tuxmath", t.date(), timedelta(minutes=4))
    result = run("--db", db, "recovery", "--json")
    assert result.status == 0
    [f] = result.json()["findings"]
    assert {k: f[k] for k in ("kind", "session_id", "entry_id", "min_seconds", "max_seconds",
                              "day", "resolved", "severity")} == {
        "kind": "unclean_shutdown", "session_id": None, "entry_id": None, "min_seconds": None,
        "max_seconds": None, "day": None, "resolved": False, "severity": "info"}
    assert "INFO     The service stopped without a trace" in run("--db", db, "recovery").out


def test_two_processes_racing_to_fix_count_it_once(tmp_path: Path) -> None:
    db = copy("rust-crash-restarted.db", tmp_path)
    env = {**os.environ, "TZ": "America/New_York"}
    procs = [subprocess.Popen([sys.executable, "-m", "shepherd_store", "--db", str(db),
                               "recovery", "fix", CRASHED, "--seconds", "3500"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=REPO, env=env) for _ in range(3)]
    results = [(p.wait(timeout=120), p.communicate()) for p in procs]
    assert sorted(status for status, _ in results) == [0, 1, 1], results
    assert usage(db, "minecraft", "2026-03-07") == 3500
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM inspector_overrides").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 130
    conn.close()
