"""`shepherd-store --db ssh://...`: every reading command prints, byte for byte, what it
prints on the same file locally (copies of the Rust fixtures and a seed database, through
the real sshd of tests/sshd.py); the edits need --write and print and store what the local
ones do (`recovery fix`: tests/test_remote_repair.py); a bad address, an unreachable
computer and a missing library are said with the exit status of the local equivalent;
`serve --stdio` is the other end; and a local command never imports the remote package.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import remote_fixtures
from conftest import REPO
from remote_fixtures import RUST_FIXTURES, copy_fixture, seed_database
from sshd import Sshd

from shepherd_store import AuditEvent, ServiceStarted, SqliteStore, overrides

sshd = remote_fixtures.sshd
NEW_YORK = ZoneInfo("America/New_York")
#: "Now" for both runs of a command (the fixtures' week), so the two print the same.
NOW = datetime(2026, 3, 9, 12, 0, tzinfo=NEW_YORK)
ENTRY_POINT = Path(sys.executable).parent / "shepherd-store"
#: The modules that read the clock for the commands.
CLOCKED = ("cli", "cli_usage", "cli_cooldowns", "cli_snapshot", "cli_recovery")

#: Every reading command, with the options that take another path through the code.
READS = [
    ("audit",), ("audit", "--json"), ("audit", "--limit", "7"),
    ("audit", "--type", "session_started,session_ended", "--limit", "5"),
    ("audit", "--grep", "MINECRAFT", "--json"), ("audit", "--entry", "tuxmath"),
    ("audit", "--since", "2026-03-06", "--until", "2026-03-07 12:00"),
    ("audit", "--entry", "nobody"),
    ("usage", "--from", "2026-01-01", "--to", "2026-03-10"),
    ("usage", "--from", "2026-03-01", "--to", "2026-03-10", "--json"),
    ("usage", "--from", "2026-03-04", "--to", "2026-03-08", "--csv"),
    ("cooldowns",), ("cooldowns", "--json"),
    ("snapshot", "show"), ("snapshot", "show", "--json"), ("snapshot", "diagnose"),
    ("check",), ("recovery",), ("recovery", "--json"),
    ("recovery", "--since", "2026-03-06"),
]
#: The commands run on every other fixture.
SOME_READS = [("audit", "--json"), ("usage", "--from", "2026-01-01", "--to", "2026-03-10"),
              ("cooldowns", "--json"), ("snapshot", "diagnose"), ("check",),
              ("recovery", "--json")]


@pytest.fixture
def remote_env(monkeypatch: pytest.MonkeyPatch, sshd: Sshd) -> Iterator[None]:
    """New York time and a frozen "now" here; ssh reaches the test sshd, and the python
    there is this one, in New York time too (recovery's days are the remote computer's)."""
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.delenv("SHEPHERD_DB", raising=False)
    monkeypatch.setenv("SHEPHERD_SSH_OPTIONS", f"-F {sshd.ssh_config}")
    monkeypatch.setenv("SHEPHERD_REMOTE_PYTHON", f"env TZ=America/New_York {sys.executable}")
    for name in CLOCKED:
        monkeypatch.setattr(f"shepherd_store.{name}.local_now", lambda: NOW)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


run = remote_fixtures.run


def both(capsys: pytest.CaptureFixture[str], sshd: Sshd, path: Path,
         *argv: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """The command on `path` here and through ssh: (local, remote)."""
    return (run(capsys, "--db", path, *argv), run(capsys, "--db", sshd.url(path), *argv))


def digest(path: Path) -> bytes:
    return path.read_bytes()


# --- the same output ---------------------------------------------------------------------------


@pytest.mark.usefixtures("remote_env")
@pytest.mark.parametrize("name", ["rust-crash-restarted.db", "seed"])
def test_every_reading_command_prints_the_same_remotely(
        tmp_path: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str], name: str) -> None:
    path = seed_database(tmp_path) if name == "seed" else copy_fixture(tmp_path, name)
    before = digest(path)
    for argv in READS:
        local, remote = both(capsys, sshd, path, *argv)
        assert remote == local, argv
        assert local[0] in (0, 1) and (local[1] or local[2]), (argv, local)
    assert digest(path) == before  # read-only: not a byte changed


@pytest.mark.usefixtures("remote_env")
@pytest.mark.parametrize("name", [n for n in RUST_FIXTURES if n != "rust-crash-restarted.db"])
def test_the_other_fixtures_print_the_same_remotely(
        tmp_path: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str], name: str) -> None:
    path = copy_fixture(tmp_path, name)
    for argv in SOME_READS:
        local, remote = both(capsys, sshd, path, *argv)
        assert remote == local, argv


@pytest.mark.usefixtures("remote_env")
def test_a_session_prefix_and_an_unknown_one_are_resolved_the_same_way(
        tmp_path: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str]) -> None:
    path = copy_fixture(tmp_path, "rust-crash-restarted.db")
    session = json.loads(run(capsys, "--db", path, "audit", "--json", "--type",
                             "session_started", "--limit", "1")[1])["event"]["session_id"]
    for prefix in (session[:8], "deadbeef", "12"):
        local, remote = both(capsys, sshd, path, "audit", "--session", prefix)
        assert remote == local, prefix
    assert local[0] == 2  # ("12" is too short)


# --- edits -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("remote_env")
def test_edits_need_write_and_then_print_and_store_what_local_edits_do(
        tmp_path: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str]) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    local, remote = copy_fixture(here, "rust-v0.db"), copy_fixture(there, "rust-v0.db")
    address = sshd.url(remote)
    for argv in (("cooldown", "set", "minecraft", "+2h"), ("cooldown", "clear", "tuxmath"),
                 ("snapshot", "clear-session")):
        before = digest(remote)
        status, out, err = run(capsys, "--db", address, *argv)
        assert (status, out) == (3, ""), argv
        assert "opened read-only unless the command is given --write" in err
        assert "Nothing was written." in err and digest(remote) == before
        mine = run(capsys, "--db", local, *argv)
        theirs = run(capsys, "--db", address, *argv, "--write")
        assert theirs == mine, argv
        assert mine[0] == 0, mine
    with SqliteStore.open(local, read_only=True) as a, \
            SqliteStore.open(remote, read_only=True) as b:
        assert a.all_cooldowns() == b.all_cooldowns()
        assert overrides.cooldown_text(b, "minecraft") == "2026-03-09T14:00:00-04:00"
        snap_a, snap_b = a.load_snapshot(), b.load_snapshot()
        assert snap_a is not None and snap_b is not None and snap_b.active_session is None
        assert [o.change.what for o in a.list_overrides()] == \
            [o.change.what for o in b.list_overrides()]
        who = {o.change.user for o in b.list_overrides()}
        assert len(who) == 1 and " via SSH as " in who.pop()  # who edited, from where
    # (nothing left to clear: said as locally)
    assert run(capsys, "--db", address, "snapshot", "clear-session", "--write") == \
        run(capsys, "--db", local, "snapshot", "clear-session")


@pytest.mark.usefixtures("remote_env")
def test_a_refused_edit_is_refused_as_locally(tmp_path: Path, sshd: Sshd,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    before = digest(path)
    local, remote = both(capsys, sshd, path, "cooldown", "set", "minecrafte", "+1h")
    status, out, err = run(capsys, "--db", sshd.url(path), "cooldown", "set", "minecrafte",
                           "+1h", "--write")
    assert (status, out, err) == local and status == 1 and "Did you mean" in err
    assert remote[0] == 3  # (without --write it is not even asked)
    assert digest(path) == before


@pytest.mark.usefixtures("remote_env")
def test_recovery_fix_remotely_needs_write(tmp_path: Path, sshd: Sshd,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = copy_fixture(tmp_path, "rust-crash-restarted.db")
    before = digest(path)
    status, out, err = run(capsys, "--db", sshd.url(path), "recovery", "fix", "0f8ce7eb")
    assert (status, out) == (3, "")
    assert "unless the command is given --write" in err and "Nothing was written." in err
    assert digest(path) == before  # (with --write: tests/test_remote_repair.py)


# --- connecting --------------------------------------------------------------------------------


@pytest.mark.usefixtures("remote_env")
def test_what_stops_a_connection_is_said_with_the_status_of_a_file_that_cannot_open(
        tmp_path: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    status, out, err = run(capsys, "--db", "ssh://127.0.0.1", "audit")
    assert (status, out) == (2, "") and "the path of the database on that computer is " \
        "missing" in err and "Write it as ssh://" in err
    status, _out, err = run(capsys, "--db", f"ssh://{sshd.user}@127.0.0.1:1{path}", "audit")
    assert status == 3 and "Cannot connect to" in err and "Traceback" not in err
    missing = run(capsys, "--db", tmp_path / "missing.db", "usage")
    there = run(capsys, "--db", sshd.url(tmp_path / "missing.db"), "usage")
    assert there[0] == missing[0] == 3 and "does not exist" in there[2]
    monkeypatch.setenv("SHEPHERD_REMOTE_PYTHON", "/nonexistent/python3")
    status, _out, err = run(capsys, "--db", sshd.url(path), "cooldowns")
    assert status == 3 and "install Python 3.11" in err
    monkeypatch.setenv("SHEPHERD_REMOTE_PYTHON", f"{sys.executable} -S")  # (no library)
    status, _out, err = run(capsys, "--db", sshd.url(path), "cooldowns")
    assert status == 3 and "library is not installed" in err and "give --bootstrap" in err


@pytest.mark.usefixtures("remote_env")
def test_ssh_options_from_the_command_line_and_the_environment(
        tmp_path: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    no_port = f"ssh://{sshd.user}@127.0.0.1{path}"
    local = run(capsys, "--db", path, "cooldowns")
    assert run(capsys, "--db", no_port, "cooldowns", "--ssh-option",
               f"Port={sshd.port}") == local
    assert run(capsys, "--ssh-option", f"Port={sshd.port}", "--db", no_port,
               "cooldowns") == local
    monkeypatch.setenv("SHEPHERD_SSH_OPTIONS", f"-F {sshd.ssh_config} -o Port={sshd.port}")
    assert run(capsys, "--db", no_port, "cooldowns") == local
    monkeypatch.setenv("SHEPHERD_DB", sshd.url(path))  # (an ssh:// default works too)
    assert run(capsys, "cooldowns") == local


def test_serve_is_the_other_end(tmp_path: Path, sshd: Sshd) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    proc = subprocess.run([str(ENTRY_POINT), "serve", "--stdio", "--db", str(path)],
                          input=b"", capture_output=True, timeout=30, cwd=REPO)
    hello = json.loads(proc.stdout.splitlines()[0])
    assert proc.returncode == 0 and hello["hello"] == "shepherd-store"
    bad = subprocess.run([str(ENTRY_POINT), "serve", "--db", str(path)], capture_output=True,
                         timeout=30, cwd=REPO, text=True)
    assert bad.returncode == 2 and "--stdio" in bad.stderr and bad.stdout == ""
    # A RemoteStore talking to `shepherd-store serve` there instead of `python -m ...`:
    store_cli = ["sh", "-c", f'shift 2; exec {ENTRY_POINT} "$@"', "sh"]
    from shepherd_store.remote import RemoteStore

    with RemoteStore.open(sshd.url(path), **remote_fixtures.remote_options(
            sshd, remote_python=store_cli)) as remote, \
            SqliteStore.open(path, read_only=True) as local:
        assert remote.usage_between() == local.usage_between()
        assert remote.hello["pid"] != os.getpid()


def test_a_local_command_does_not_import_the_remote_package(tmp_path: Path) -> None:
    path = copy_fixture(tmp_path, "rust-v0.db")
    code = ("import sys, io, contextlib\nfrom shepherd_store.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    status = main(['--db', {str(path)!r}, 'audit', '--limit', '3'])\n"
            "print(status, sorted(m for m in sys.modules\n"
            "                     if m.startswith('shepherd_store.remote')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out == "0 []\n"  # (the first line stays fast: bench_cli.py)


# --- live ----------------------------------------------------------------------------------------


def test_follow_prints_what_the_service_writes_there(tmp_path: Path, sshd: Sshd) -> None:
    path = copy_fixture(tmp_path, "rust-clean.db")
    env = {**os.environ, "TZ": "America/New_York", "SHEPHERD_SSH_OPTIONS": f"-F {sshd.ssh_config}",
           "SHEPHERD_REMOTE_PYTHON": sys.executable}
    follower = subprocess.Popen([str(ENTRY_POINT), "--db", sshd.url(path), "audit", "--follow",
                                 "--json", "--limit", "2"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=REPO)
    assert follower.stdout is not None and follower.stderr is not None
    try:
        backlog = [json.loads(follower.stdout.readline()) for _ in range(2)]
        assert [e["id"] for e in backlog] == [108, 109]
        with SqliteStore.open(path) as service:
            for _ in range(3):
                service.append_audit(AuditEvent(0, NOW, ServiceStarted()))
        new = [json.loads(follower.stdout.readline()) for _ in range(3)]
        assert [(e["id"], e["type"]) for e in new] == [(i, "service_started")
                                                        for i in (110, 111, 112)]
    finally:
        follower.send_signal(signal.SIGINT)
        status = follower.wait(timeout=20)
    assert status == 0, follower.stderr.read().decode()

