"""Crashes: the inspector killed mid-edit, the service killed mid-session, the file pulled
away while the window is open. Nothing is corrupted, nothing is half-written, and the
window says what happened and recovers without a restart.

Each scenario is a plain function (`kill_mid_edit`, `kill_service_mid_session`,
`file_pulled_away`) so that `benchmarks/reliability.py` runs the same code with more rounds.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from shepherd_store import SqliteStore
from shepherd_store.overrides import cooldown_text
from shepherd_store.snapshot import decode_snapshot
from shepherd_store.timefmt import parse_timestamp

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"  # written by the real Rust store
ENTRY = "tuxmath"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


@dataclass
class Outcome:
    """What a scenario found: rounds run, the ones that failed (with why), and figures."""

    runs: int = 0
    failures: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def child_env(config: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen",
            "XDG_CONFIG_HOME": str(config)}


# --- the inspector killed in the middle of an edit -------------------------------------------

#: The window on a database, editing a cooldown and the snapshot in a loop through the tabs'
#: own code path (`shepherd_store.overrides` on `Database.write`), every question answered
#: yes. It announces each value before writing it ("plan") and after it committed ("ack").
EDITOR = textwrap.dedent("""
    import sys
    from datetime import timedelta
    from PySide6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    import inspector.cooldown_tab as cooldown_tab
    import inspector.snapshot_tab as snapshot_tab
    from inspector.app import open_window
    from shepherd_store.snapshot import StateSnapshot, encode_snapshot
    from shepherd_store.timefmt import format_timestamp

    def say(*words):
        print(*words, flush=True)

    real_apply = cooldown_tab.apply_cooldowns
    def apply_cooldowns(store, changes):  # the tab's own call, announced
        for c in changes:
            plan = None if c.until is None else format_timestamp(c.until)
            say("plan", "cooldown", plan)
        return real_apply(store, changes)
    cooldown_tab.apply_cooldowns = apply_cooldowns
    real_clear = snapshot_tab.clear_active_session
    def clear_active_session(store, *, expected, now):
        say("plan", "snapshot", encode_snapshot(StateSnapshot(timestamp=now)))
        return real_clear(store, expected=expected, now=now)
    snapshot_tab.clear_active_session = clear_active_session

    window = open_window(sys.argv[1])
    cooldowns, snap = window.cooldowns, window.snapshot
    for tab in (cooldowns, snap):
        tab.confirm = lambda text: True
        tab.decide_conflict = lambda text: False
        tab.report = lambda text: say("report", text.replace("\\n", " ")[:200])
    while cooldowns.model.row_of(sys.argv[2]) is None or snap.state is None:
        app.processEvents()
    cooldowns.select_entries([sys.argv[2]])
    say("ready")
    i = 0
    while True:
        i += 1
        if i % 2:
            done = []
            cooldowns.written.connect(lambda: done.append(1))
            if i % 6 == 5:
                cooldowns.clear_selected()
            else:
                cooldowns.extend_selected(timedelta(minutes=1))
            cooldowns.written.disconnect()
            if done:
                say("ack", "cooldown")
        elif snap.clear_session():
            say("ack", "snapshot")
        app.processEvents()
""")


def _parse_log(lines: list[str], before: dict[str, str | None]
               ) -> dict[str, tuple[str | None, list[str | None], int]]:
    """For each kind: the last value acknowledged (else the one before the round), the
    values planned since, and how many edits were acknowledged."""
    out = {kind: (before[kind], [], 0) for kind in ("cooldown", "snapshot")}
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) < 2 or parts[0] not in ("plan", "ack") or parts[1] not in out:
            continue  # a report, or a line the kill cut short
        _last, planned, count = out[parts[1]]
        if parts[0] == "plan":
            planned.append(parts[2] if len(parts) == 3 and parts[2] != "None" else None)
        elif planned:  # the edit committed the value it announced last
            out[parts[1]] = (planned[-1], [], count + 1)
    return out


def _check_round(path: Path, log: dict[str, tuple[str | None, list[str | None], int]]
                 ) -> list[str]:
    """The database is intact and each value is a whole old or new one, with its trace."""
    problems = []
    verdict = integrity(path)
    if verdict != "ok":
        return [f"integrity_check: {verdict}"]
    with SqliteStore.open(path, read_only=True) as store:
        cooldown = cooldown_text(store, ENTRY)
        snapshot = store.load_snapshot_text()
        traces = store.list_overrides()
    for kind, value in (("cooldown", cooldown), ("snapshot", snapshot)):
        last, planned, _count = log[kind]
        if value != last and value not in planned:
            problems.append(f"the {kind} holds {str(value)[:80]!r}: neither the last value "
                            f"written ({str(last)[:80]!r}) nor one being written")
    if cooldown is not None:
        try:
            parse_timestamp(cooldown)
        except ValueError:
            problems.append(f"cooldown {cooldown!r} is not a whole timestamp")
    if snapshot is not None:
        try:
            decode_snapshot(snapshot)
        except Exception as exc:  # any failure is the finding
            problems.append(f"snapshot unreadable after the kill: {exc}")
    # The value and its trace are written in one transaction: the newest trace of each
    # kind names the stored value.
    newest = {}
    for record in traces:  # newest first
        newest.setdefault(record.change.what, record.change)
    if "cooldown" in newest and newest["cooldown"].new != cooldown:
        problems.append(f"the newest cooldown trace says {newest['cooldown'].new!r} but "
                        f"{cooldown!r} is stored")
    if "snapshot" in newest and newest["snapshot"].new != snapshot:
        problems.append("the newest snapshot trace does not match the stored snapshot")
    return problems


def _stored(path: Path) -> dict[str, str | None]:
    with SqliteStore.open(path, read_only=True) as store:
        return {"cooldown": cooldown_text(store, ENTRY), "snapshot": store.load_snapshot_text()}


def _edit_databases(workdir: Path) -> list[Path]:
    """A Rust-layout copy of the fixture (rollback journal) and a seed one (WAL)."""
    rust = workdir / "rust.db"
    shutil.copyfile(FIXTURES / "rust-v0.db", rust)
    rust.chmod(0o644)
    seed = workdir / "seed.db"
    with SqliteStore.open(rust, read_only=True) as src, SqliteStore.open(seed) as dst:
        for record in src.all_cooldowns():
            if record.until is not None:
                dst.set_cooldown_until(record.entry_id, record.until)
        snap = src.load_snapshot()
        if snap is not None:
            dst.save_snapshot(snap)
        for usage in src.usage_between():
            dst.add_usage(usage.entry_id, usage.day, timedelta(seconds=usage.seconds))
    return [rust, seed]


def kill_mid_edit(rounds: int, *, seed: int = 7, workdir: Path | None = None,
                  max_delay: float = 0.4) -> Outcome:
    """`rounds` inspectors killed with SIGKILL at random moments of their edit loops,
    alternating a rollback-journal and a WAL database; each round checked."""
    rng = random.Random(seed)
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="shepherd-crash-")) if own else workdir
    assert work is not None
    outcome = Outcome()
    acked = planned_left = 0
    try:
        paths = _edit_databases(work)
        config = work / "config"
        config.mkdir(exist_ok=True)
        for r in range(rounds):
            path = paths[r % len(paths)]
            before = _stored(path)
            errors = work / "editor.err"
            with errors.open("w") as err_file:
                proc = subprocess.Popen([sys.executable, "-c", EDITOR, str(path), ENTRY],
                                        cwd=REPO, env=child_env(config),
                                        stdout=subprocess.PIPE, stderr=err_file, text=True)
            assert proc.stdout is not None
            first = proc.stdout.readline().strip()
            if first != "ready":
                proc.kill()
                proc.wait(30)
                outcome.failures.append(f"round {r}: the editor did not start: {first} "
                                        f"{errors.read_text()[-300:]}")
                outcome.runs += 1
                continue
            time.sleep(rng.uniform(0.0, max_delay))
            os.kill(proc.pid, signal.SIGKILL)
            # Read the rest through the same buffered file as "ready": communicate() would
            # read the pipe itself and miss lines readline() had already buffered.
            out = proc.stdout.read()
            proc.wait(30)
            lines = out.splitlines()
            reports = [line for line in lines if line.startswith("report")]
            log = _parse_log(lines, before)
            acked += log["cooldown"][2] + log["snapshot"][2]
            planned_left += bool(log["cooldown"][1] or log["snapshot"][1])
            problems = _check_round(path, log) + [
                f"the window reported: {line[7:]}" for line in reports]
            outcome.runs += 1
            tail = " | ".join(line[:90] for line in lines[-8:])
            outcome.failures.extend(f"round {r} ({path.name}): {p} [log: {tail}]"
                                    for p in problems)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    outcome.figures = {"edits acknowledged": acked, "killed mid-write": planned_left}
    return outcome


@pytest.mark.slow
def test_inspector_killed_mid_edit_leaves_old_or_new_never_a_mix(tmp_path: Path) -> None:
    outcome = kill_mid_edit(10, workdir=tmp_path)  # benchmarks/reliability.py: 50 rounds
    assert outcome.runs == 10
    assert outcome.failures == []
    assert outcome.figures["edits acknowledged"] > 10  # type: ignore[operator]


# --- the file pulled away while the window is open ------------------------------------------

FILE_CHANGES = ("deleted", "replaced", "truncated", "emptied", "unreadable")


def wait_until(predicate: Callable[[], bool], timeout: float) -> float | None:
    """Run the event loop until `predicate()` holds; the seconds it took, None on timeout."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        assert app is not None
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)
    return time.monotonic() - started if predicate() else None


def file_pulled_away(kind: str, workdir: Path, *,
                     deny: Callable[[Path, bool], None] | None = None) -> Outcome:
    """Open a window on a copy of the fixture, then delete / atomically replace / truncate /
    empty the file or make it unreadable; the window must say so (a replaced file is simply
    shown) and recover, without a restart, once the original is back.

    `deny(path, on)` makes the file unreadable and readable again (default: chmod, which
    root ignores).
    """
    from inspector import workers
    from inspector.app import open_window

    outcome = Outcome(runs=1)
    path = workdir / f"{kind}.db"
    shutil.copyfile(FIXTURES / "rust-v0.db", path)
    path.chmod(0o644)
    original = path.read_bytes()
    window = open_window(path)
    window.show()
    model = window.audit.model
    try:
        if wait_until(lambda: model.rowCount() == 23, 5) is None:
            outcome.failures.append(f"{kind}: the window did not show the file")
            return outcome
        said = window.banner_text.text
        if kind == "deleted":
            path.unlink()
            noticed = wait_until(lambda: window.banner.isVisible()
                                 and "deleted or moved" in said(), 3)
        elif kind == "replaced":  # as a restore from a backup does: write aside, rename
            other = workdir / "other.db"
            shutil.copyfile(FIXTURES / "rust-v0-nosession.db", other)
            other.chmod(0o644)
            with SqliteStore.open(other) as store:
                store.set_cooldown_until("replaced", parse_timestamp("2031-01-01T00:00:00Z"))
            os.replace(other, path)
            noticed = wait_until(lambda: window.cooldowns.model.row_of("replaced") is not None
                                 and not window.banner.isVisible(), 3)
        elif kind in ("truncated", "emptied"):
            with path.open("r+b") as fh:
                fh.truncate(0 if kind == "emptied" else len(original) // 2)
            words = "empty (0 bytes)" if kind == "emptied" else "damaged"
            noticed = wait_until(lambda: window.banner.isVisible() and words in said(), 3)
        else:
            (deny or _chmod)(path, True)
            noticed = wait_until(lambda: window.banner.isVisible()
                                 and "permission denied" in said(), 3)
        if noticed is None:
            outcome.failures.append(
                f"{kind}: the window did not say so within 3 s (banner "
                f"{'shown' if window.banner.isVisible() else 'hidden'}: {said()[:120]!r})")
        # The original comes back (in place, or renamed over the other file).
        if kind == "unreadable":
            (deny or _chmod)(path, False)
        elif kind == "replaced":
            back = workdir / "back.db"
            back.write_bytes(original)
            os.replace(back, path)
        else:
            with path.open("r+b" if path.exists() else "wb") as fh:
                fh.write(original)
        recovered = wait_until(lambda: not window.banner.isVisible() and model.rowCount() == 23
                               and model.event_at(0) is not None
                               and window.cooldowns.model.row_of("replaced") is None, 6)
        if recovered is None:
            outcome.failures.append(f"{kind}: not recovered 6 s after the file came back "
                                    f"({said()[:120]!r})")
        if window.audit.message.isVisible():
            outcome.failures.append(f"{kind}: the audit tab still shows "
                                    f"{window.audit.message.text()[:120]!r}")
        outcome.figures = {"noticed s": noticed, "recovered s": recovered}
    finally:
        window.close()
        workers.wait_all()
        window.deleteLater()
    return outcome


def _chmod(path: Path, deny: bool) -> None:
    path.chmod(0 if deny else 0o644)


@pytest.mark.parametrize("kind", [k for k in FILE_CHANGES if k != "unreadable"])
def test_the_file_pulled_away_is_said_and_recovered(qapp, tmp_path: Path, kind: str) -> None:
    outcome = file_pulled_away(kind, tmp_path)
    assert outcome.failures == []


@pytest.mark.permissions
@pytest.mark.skipif(ROOT, reason="root reads a file whatever its mode: chmod 000 does not make "
                    "it unreadable (test_permission_lost_as_a_user_would_see_it simulates it)")
def test_the_file_made_unreadable_is_said_and_recovered(qapp, tmp_path: Path) -> None:
    outcome = file_pulled_away("unreadable", tmp_path)
    assert outcome.failures == []


def test_permission_lost_as_a_user_would_see_it(qapp, tmp_path: Path, monkeypatch) -> None:
    # What a user who is not root sees when the file's mode changes under the window:
    # `os.access` answers for this user (root may read anything, so it is faked here).
    denied: set[str] = set()
    real_access = os.access

    def access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        if str(path) in denied:
            return False
        return real_access(path, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)

    def deny(path: Path, on: bool) -> None:
        (denied.add if on else denied.discard)(str(path))

    outcome = file_pulled_away("unreadable", tmp_path, deny=deny)
    assert outcome.failures == []


# --- the service killed in the middle of a session -------------------------------------------

#: The simulated service: history, then a session it never ends because SIGKILL stops it
#: (argv: path, seed, "restart" to only start the service again after a crash).
SERVICE = textwrap.dedent("""
    import sys, time
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    from shepherd_store import SqliteStore
    from shepherd_store.simulate import SimEntry, Simulator
    NY = ZoneInfo("America/New_York")
    wall = datetime(2026, 7, 4, 14, 0, tzinfo=NY)
    entries = [SimEntry("minecraft", "Minecraft", 5400, 1800, 3600),
               SimEntry("tuxmath", "Tux Math", 2700, 900, 1800)]
    store = SqliteStore.open(sys.argv[1])
    sim = Simulator(store, seed=int(sys.argv[2]), entries=entries, tz=NY,
                    wall_clock=lambda: wall)
    if sys.argv[3:] == ["restart"]:
        sim.restart_service()
        print("restarted", flush=True)
        sys.exit(0)
    sim.write_history(2, end=wall - timedelta(hours=2))
    print(sim.start_session(), flush=True)
    while True:
        time.sleep(1)
""")


def kill_service_mid_session(rounds: int, *, seed: int = 3,
                             workdir: Path | None = None) -> Outcome:
    """The simulated service SIGKILLed with a session running (every other round started
    again afterwards); the window's Snapshot tab must name what happened."""
    from inspector import workers
    from inspector.app import open_window

    rng = random.Random(seed)
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="shepherd-service-")) if own else workdir
    assert work is not None
    outcome = Outcome()
    try:
        for r in range(rounds):
            path = work / f"service-{r}.db"
            proc = subprocess.Popen([sys.executable, "-c", SERVICE, str(path), str(seed + r)],
                                    cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            sid = proc.stdout.readline().strip()
            time.sleep(rng.uniform(0.0, 0.3))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
            outcome.runs += 1
            if len(sid) != 36:
                outcome.failures.append(f"round {r}: the service started no session ({sid!r})")
                continue
            restarted = r % 2 == 1
            if restarted:
                subprocess.run([sys.executable, "-c", SERVICE, str(path), str(seed + r),
                                "restart"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                               check=True, capture_output=True, timeout=60)
            if integrity(path) != "ok":
                outcome.failures.append(f"round {r}: integrity_check failed")
                continue
            window = open_window(path, read_only=True)
            try:
                tab = window.snapshot
                if wait_until(lambda: tab.state is not None, 10) is None:  # noqa: B023
                    outcome.failures.append(f"round {r}: the Snapshot tab did not load")
                    continue
                assert tab.state is not None
                findings = {f.code: f for f in tab.state.findings}
                session = tab.state.snapshot.active_session if tab.state.snapshot else None
                expected = ["unaccounted_usage"] + ([] if restarted else
                                                    ["deadline_passed_while_down"])
                missing = [code for code in expected if code not in findings]
                lost = findings.get("unaccounted_usage")
                if session is None or session.session_id != sid:
                    outcome.failures.append(f"round {r}: the snapshot lost the session")
                elif missing:
                    outcome.failures.append(f"round {r}: the diagnosis lacks {missing}: "
                                            f"{sorted(findings)}")
                elif lost is None or "crashed or was killed" not in lost.explanation:
                    outcome.failures.append(f"round {r}: the diagnosis does not say the "
                                            "service crashed")
                elif not tab.verdict.text().startswith("✖"):
                    outcome.failures.append(f"round {r}: the verdict {tab.verdict.text()!r} "
                                            "does not show a problem")
            finally:
                window.close()
                workers.wait_all()
                window.deleteLater()
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return outcome


@pytest.mark.slow
def test_service_killed_mid_session_is_named_by_the_diagnosis(qapp, tmp_path: Path) -> None:
    outcome = kill_service_mid_session(2, workdir=tmp_path)
    assert outcome.runs == 2
    assert outcome.failures == []
