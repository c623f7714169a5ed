"""The Recovery tab on the Rust-written crash fixtures, driven as a person would: the runs,
the finding, the timeline, the repair (once, then refused), live crashes and repairs by
others, read-only, and the snapshot section."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import fixture_path
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit

from inspector import recovery_repair, recovery_tab, snapshot_tab, workers
from inspector.app import open_window
from inspector.database import Database
from inspector.formatting import format_local
from inspector.recovery_logic import (
    amount_text,
    build_timeline,
    credit_day,
    day_words,
    describe_repair,
    findings_by_run,
    repair_bounds,
    run_cells,
    run_key,
)
from inspector.recovery_tab import RecoveryTab
from inspector.recovery_timeline import axis_ticks
from inspector.snapshot_tab import NO_SNAPSHOT_TEXT
from shepherd_store import SqliteStore
from shepherd_store.policy import load_policy
from shepherd_store.recovery import RecoveryFinding, recover, repair

NY = ZoneInfo("America/New_York")
PINNED = datetime(2026, 3, 8, 10, 0, tzinfo=NY)  # the morning after the fixtures' last day
REPO = Path(__file__).resolve().parent.parent
CRASHED = "0f8ce7eb-fd2a-45f7-8af2-1d479169906c"  # minecraft, 2026-03-07 15:00:00.137 EST
DAY = date(2026, 3, 7)
POLICY = """\
[[entries]]
id = "minecraft"
label = "Minecraft"
[entries.limits]
daily_quota_seconds = 3600
cooldown_seconds = 1800

[[entries]]
id = "tuxmath"
label = "Tux Math"
[entries.limits]
daily_quota_seconds = 2700

[[entries]]
id = "supertuxkart"
label = "SuperTuxKart"
[entries.limits]
daily_quota_seconds = 2700
cooldown_seconds = 900
"""


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (recovery_tab, recovery_repair, snapshot_tab):
        monkeypatch.setattr(module, "local_now", lambda: PINNED.astimezone())


def copy(tmp_path: Path, name: str) -> Path:
    """A writable copy of a fixture (the fixtures themselves are never written)."""
    dest = tmp_path / name
    shutil.copyfile(fixture_path(name), dest)
    dest.chmod(0o644)
    return dest


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    path = tmp_path / "shepherdd.toml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def open_db() -> Iterator[Any]:
    opened: list[Database] = []

    def open_(path: Path, *, policy: Path | None = None, **kw: Any) -> Database:
        db = Database(poll_ms=50)
        if policy is not None:
            db.set_policy(load_policy(policy))
        db.open(path, **kw)
        opened.append(db)
        return db

    yield open_
    workers.wait_all()
    for db in opened:
        db.close()


def make_tab(qtbot: Any, db: Database) -> RecoveryTab:
    tab = RecoveryTab(db)
    qtbot.addWidget(tab)
    tab.resize(1280, 800)
    tab.show()
    qtbot.waitUntil(lambda: tab.state is not None and tab.snapshot.state is not None,
                    timeout=10_000)
    return tab


def answer(tab: Any, name: str, *values: Any) -> list[Any]:
    """Script the answers of one of the tab's questions; returns what it was asked."""
    asked: list[Any] = []
    it = iter(values)

    def reply(*args: Any) -> Any:
        asked.append(args[0] if len(args) == 1 else args)
        return next(it)

    setattr(tab, name, reply)
    return asked


def interrupted(tab: RecoveryTab) -> list[RecoveryFinding]:
    assert tab.state is not None
    return [f for f in tab.state.report.findings if f.kind == "interrupted_session"]


def usage(path: Path, entry: str, day: date) -> int:
    with SqliteStore.open(path, read_only=True) as store:
        return int(store.get_usage(entry, day).total_seconds())


def repairs(path: Path) -> list[Any]:
    with SqliteStore.open(path, read_only=True) as store:
        return [r for r in store.list_overrides() if r.change.what == "usage"]


# --- what it shows -----------------------------------------------------------------------


def test_runs_finding_timeline_and_repair_box_of_a_crash(qtbot: Any, open_db: Any) -> None:
    db = open_db(fixture_path("rust-crash-restarted.db"), read_only=True)
    tab = make_tab(qtbot, db)
    assert tab.objectName() == "recoveryTab"
    runs = tab.runs.runs
    assert len(runs) == 7 and tab.runs.rowCount() == 7
    starts = [r.started_at for r in runs]
    assert starts == sorted(starts, reverse=True)  # newest first
    crashed = runs[1]
    assert crashed.started_at is not None
    assert crashed.started_at.astimezone(NY).replace(second=0, microsecond=0) == \
        datetime(2026, 3, 7, 14, 49, tzinfo=NY)
    assert crashed.end == "unclean" and [r.end for r in runs].count("unclean") == 1
    assert tab.runs.index(1, 2).data().startswith("✖ crashed, restarted")
    assert tab.runs.index(1, 4).data() == "1 to repair"
    assert tab.runs.index(0, 2).data() == "✔ stopped cleanly"
    (finding,) = interrupted(tab)
    assert (finding.session_id, finding.entry_id) == (CRASHED, "minecraft")
    assert (finding.min_seconds, finding.max_seconds, finding.day) == (3300, 3600, DAY)
    assert not finding.resolved
    assert tab.headline.text().startswith("✖ 1 interrupted session never counted")
    assert tab.subline.text() == "7 runs of the service: 6 stopped cleanly, 1 crashed and " \
                                 "restarted."
    # the crash's run and its finding are selected, the repair offers the lower bound
    assert tab.runs_table.currentIndex().row() == 1
    assert tab.selected_finding() == finding
    assert tab.findings.index(0, 1).data() == "✖ needs repair"
    assert "3300 s" in tab.finding_detail.toPlainText()
    box = tab.repair_box
    assert box.finding == finding and box.amount() == 3300
    assert box.amount_text.text() == "= 55 min 00 s (the lower bound: certain)"
    assert box.day.text().startswith("Credited to Saturday 7 March 2026")
    assert "Minecraft" in box.session.text() and "0f8ce7eb" in box.session.text()
    box.set_amount(4000)  # clamped to the upper bound
    assert box.amount() == 3600 and box.slider.value() == 3600
    assert box.amount_text.text() == "= 1 h 00 min 00 s (the upper bound)"
    # the timeline: the session as a bar, the last sign of life, the crash, the restart
    t = tab.timeline.timeline
    assert t is not None
    assert [m.kind for m in t.marks] == ["start", "last_sign", "restart"]
    assert t.gap is not None and t.gap[1] == crashed.ended_at
    (bar,) = t.bars
    assert bar.status == "interrupted" and bar.session_id == CRASHED
    assert bar.possible_end == bar.start + timedelta(seconds=3600)
    assert "crashed after" in tab.timeline_title.text()
    assert tab.timeline.accessibleDescription().startswith("Run started")
    # no snapshot: one honest line, never the editor
    assert not tab.snapshot.present
    assert tab.snapshot.absent.text() == NO_SNAPSHOT_TEXT
    assert tab.snapshot.absent.isVisibleTo(tab) and not tab.snapshot.split.isVisibleTo(tab)


def test_a_clean_database_says_plainly_that_nothing_was_lost(qtbot: Any,
                                                              open_db: Any) -> None:
    tab = make_tab(qtbot, open_db(fixture_path("rust-clean.db"), read_only=True))
    assert tab.state is not None and tab.state.report.findings == ()
    assert tab.findings.rowCount() == 0 and tab.runs.rowCount() == 5
    assert {r.end for r in tab.runs.runs} == {"clean"}
    assert tab.headline.text().startswith("✔ No crash found")
    assert "Nothing to repair" in tab.headline.text()
    assert tab.finding_detail.toPlainText().startswith("No findings.")
    assert tab.repair_box.session.text() == "No interrupted session: nothing to repair."
    assert not tab.repair_button.isEnabled()
    assert not tab.repair_box.amount_edit.isVisibleTo(tab)
    t = tab.timeline.timeline  # the newest run, three ordinary sessions
    assert t is not None and {b.status for b in t.bars} == {"ended"}
    assert [m.kind for m in t.marks] == ["start", "stop"]


def test_a_service_still_down_after_the_crash(qtbot: Any, open_db: Any) -> None:
    tab = make_tab(qtbot, open_db(fixture_path("rust-crash-down.db"), read_only=True))
    run = tab.runs.runs[0]
    assert len(tab.runs.runs) == 6 and run.end == "open"
    assert tab.runs.index(0, 2).data() == "✖ crashed, not restarted"
    (finding,) = interrupted(tab)
    assert (finding.min_seconds, finding.max_seconds, finding.day) == (3300, 3600, DAY)
    t = tab.timeline.timeline
    assert t is not None and t.gap is not None and t.gap[0] == run.last_event_at
    assert [m.kind for m in t.marks] == ["start", "last_sign"]
    assert "down without a trace" in tab.timeline_title.text()


def test_the_snapshot_section_appears_only_with_a_snapshot(qtbot: Any, open_db: Any) -> None:
    tab = make_tab(qtbot, open_db(fixture_path("rust-v0.db"), read_only=True))
    qtbot.waitUntil(lambda: tab.snapshot.present, timeout=5000)
    assert tab.snapshot.split.isVisibleTo(tab) and not tab.snapshot.absent.isVisibleTo(tab)
    qtbot.waitUntil(lambda: tab.snapshot.headline.text() == "Active session: Minecraft",
                    timeout=5000)  # (named once the log's labels are read)
    # the snapshot's own finding and the log's agree on the session
    (finding,) = interrupted(tab)
    assert finding.session_id == "33333333-3333-4333-8333-333333333333"


def test_no_text_claims_the_service_saves_snapshots(qtbot: Any, tmp_path: Path) -> None:
    for name in ("rust-crash-restarted.db", "rust-clean.db"):
        window = open_window(fixture_path(name), read_only=True)
        qtbot.addWidget(window)
        window.tabs.setCurrentWidget(window.recovery)
        window.show()
        qtbot.waitUntil(lambda w=window: w.snapshot.state is not None  # type: ignore
                        and w.recovery.state is not None, timeout=10_000)
        texts = [w.text() for w in window.findChildren(QLabel)]
        texts += [w.toPlainText() for w in window.findChildren(QPlainTextEdit)]
        texts += [f.explanation + f.action for f in window.snapshot.state.findings]
        for text in texts:
            assert "saves one while" not in text and "saves a new one" not in text, text
            assert "removes it when it stops" not in text, text
        assert NO_SNAPSHOT_TEXT in texts
        window.close()
        workers.wait_all()


# --- the repair ----------------------------------------------------------------------------


def test_the_repair_writes_once_then_is_refused(qtbot: Any, tmp_path: Path, open_db: Any,
                                               policy_path: Path) -> None:
    path = copy(tmp_path, "rust-crash-restarted.db")
    db = open_db(path, policy=policy_path)
    tab = make_tab(qtbot, db)
    (finding,) = interrupted(tab)
    box = tab.repair_box
    assert box.cooldown.isEnabled() and box.cooldown.isVisibleTo(tab)
    assert "30 min 00 s, until" in box.cooldown.text()
    assert "&" in tab.repair_button.text()  # Alt+R
    box.set_amount(3400)
    box.cooldown.setChecked(True)
    assert usage(path, "minecraft", DAY) == 0
    asked = answer(tab, "confirm", False)  # cancelled: nothing happens
    assert not tab.repair_selected()
    assert repairs(path) == [] and usage(path, "minecraft", DAY) == 0
    asked = answer(tab, "confirm", True)
    tab.activateWindow()
    qtbot.waitUntil(tab.isActiveWindow, timeout=2000)
    with qtbot.waitSignal(tab.written, timeout=5000):  # the button's mnemonic, Alt+R
        qtbot.keyClick(tab, Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)
    (question,) = asked
    assert "Record 56 min 40 s (3400 s) of Minecraft" in question
    assert "usage of minecraft on Saturday 7 March 2026 (2026-03-07): + 3400 s" in question
    assert "(0 s stored when read → 3400 s)" in question
    assert "cooldown of minecraft until" in question
    assert usage(path, "minecraft", DAY) == 3400  # written once
    (record,) = repairs(path)
    assert json.loads(record.change.new or "{}")["session_id"] == CRASHED
    with SqliteStore.open(path, read_only=True) as store:
        until = store.get_cooldown_until("minecraft")
    assert until == finding.started_at + timedelta(seconds=3400 + 1800)
    assert tab.last_result is not None and tab.last_result.usage_after == 3400
    assert "56 min 40 s" in box.status.text()
    # the finding turns resolved live, and the repair is no longer offered
    qtbot.waitUntil(lambda: interrupted(tab)[0].resolved, timeout=5000)
    assert tab.findings.index(0, 1).data() == "✔ repaired"
    assert tab.runs.index(1, 4).data() == "✔ 1 repaired"
    assert not tab.repair_button.isEnabled()
    assert "Already repaired" in tab.repair_button.toolTip()
    assert tab.headline.text().startswith("✔ Nothing left to repair")
    bar = tab.timeline.timeline.bars[0] if tab.timeline.timeline else None
    assert bar is not None and bar.status == "repaired"
    # a second repair of the same session (the finding as it was read before) is refused
    answer(tab, "confirm", True)
    problems = answer(tab, "report", None)
    assert not tab.repair_finding(finding, 3300)
    assert "already recorded" in problems[0]
    assert usage(path, "minecraft", DAY) == 3400 and len(repairs(path)) == 1


def test_read_only_disables_the_repair(qtbot: Any, tmp_path: Path, open_db: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for how in ("choice", "permissions"):
        path = tmp_path / f"{how}.db"
        shutil.copyfile(fixture_path("rust-crash-restarted.db"), path)
        path.chmod(0o644)
        if how == "permissions":
            path.chmod(0o444)
            real = os.access
            monkeypatch.setattr(os, "access", lambda p, mode, real=real, path=path, **kw:
                                False if (mode == os.W_OK and Path(p) == path)
                                else real(p, mode, **kw))
        db = open_db(path, read_only=how == "choice")
        before = path.read_bytes()
        tab = make_tab(qtbot, db)
        assert tab.repair_box.finding is not None  # the session is there to repair...
        reason = "read-only mode" if how == "choice" else "not writable"
        assert not tab.repair_button.isEnabled()  # ...but not here
        assert reason in tab.repair_button.toolTip() and "owner" in tab.repair_button.toolTip()
        assert reason in tab.notice.text()
        tab.confirm = lambda text: pytest.fail("asked while read-only")  # type: ignore
        assert not tab.repair_selected()
        finding = tab.repair_box.finding
        assert not tab.repair_finding(finding, 3300)
        assert path.read_bytes() == before
        path.chmod(0o644)


# --- live ------------------------------------------------------------------------------------


def append_events(path: Path, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Write audit rows the way shepherdd does, from a connection of our own."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executemany("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                             [(ts, json.dumps(ev, separators=(",", ":"))) for ts, ev in rows])
    finally:
        conn.close()


def test_a_new_crash_appears_live(qtbot: Any, tmp_path: Path, open_db: Any) -> None:
    path = copy(tmp_path, "rust-crash-restarted.db")
    db = open_db(path)
    tab = make_tab(qtbot, db)
    scanner = tab.scans.scanner
    tab.select_run(4)  # the person is looking at an older run
    session = "7d2f7a52-3f0c-4f5e-9d7e-2b8c2a1e9f10"
    append_events(path, [
        ("2026-03-08T09:00:00.250000-05:00", {"type": "service_started"}),
        ("2026-03-08T09:00:00.260000-05:00", {"type": "policy_loaded", "entry_count": 3}),
        ("2026-03-08T09:10:00.500000-05:00", {
            "type": "session_started", "session_id": session, "entry_id": "supertuxkart",
            "label": "SuperTuxKart", "deadline": "2026-03-08T09:55:00.500000-05:00"}),
        ("2026-03-08T09:30:00.100000-05:00", {"type": "service_started"}),  # the reboot
    ])
    qtbot.waitUntil(lambda: len(interrupted(tab)) == 2, timeout=5000)
    new = next(f for f in interrupted(tab) if f.session_id == session)
    assert (new.entry_id, new.min_seconds, new.max_seconds) == ("supertuxkart", 0, 1200)
    assert len(tab.runs.runs) == 9 and tab.runs.runs[1].end == "unclean"
    assert tab.scans.scanner is scanner  # read incrementally, not scanned again
    assert tab.runs_table.currentIndex().row() == 6  # the same run, two rows lower
    assert tab.headline.text().startswith("✖ 2 interrupted sessions")


def test_a_repair_by_another_inspector_appears_live(qtbot: Any, tmp_path: Path,
                                                    open_db: Any) -> None:
    path = copy(tmp_path, "rust-crash-restarted.db")
    tab = make_tab(qtbot, open_db(path))
    assert tab.repair_button.isEnabled()
    with SqliteStore.open(path) as store:  # the command line, or a second window
        repair(store, CRASHED)
    qtbot.waitUntil(lambda: interrupted(tab)[0].resolved, timeout=5000)
    assert not tab.repair_button.isEnabled()
    assert tab.repair_box.bounds.text().startswith("✔ Repaired")


def test_a_click_on_a_bar_selects_its_session(qtbot: Any, open_db: Any) -> None:
    tab = make_tab(qtbot, open_db(fixture_path("rust-crash-restarted.db"), read_only=True))
    tab.select_run(0)  # the clean run after the crash: one ended session, nothing to repair
    qtbot.waitUntil(lambda: tab.repair_box.finding is None)
    assert tab.repair_box.session.text() == "No interrupted session in this run: nothing " \
                                            "to repair."
    (tuxmath,) = tab.runs.runs[0].sessions
    tab.select_session(tuxmath.session_id)
    assert tab.repair_box.session.text() == "Tux Math ended normally: nothing to repair."
    tab.select_run(1)
    qtbot.waitUntil(lambda: tab.repair_box.finding is not None)
    tab.timeline.repaint()
    ((rect, bar),) = tab.timeline._bar_rects
    tab.select_session("")  # nothing chosen
    with qtbot.waitSignal(tab.timeline.sessionClicked, timeout=2000) as clicked:
        qtbot.mouseClick(tab.timeline, Qt.MouseButton.LeftButton,
                         pos=QPoint(int(rect.center().x()), int(rect.center().y())))
    assert clicked.args == [bar.session_id]
    assert tab.repair_box.finding is not None and tab.repair_box.finding.session_id == CRASHED


# --- the window ------------------------------------------------------------------------------


def test_the_window_names_the_tab_recovery(qtbot: Any) -> None:
    window = open_window(fixture_path("rust-crash-restarted.db"), read_only=True)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Audit log", "Usage", "Cooldowns", "Recovery"]
    assert window.tabs.widget(3) is window.recovery
    assert window.snapshot is window.recovery.snapshot
    assert window.findChild(type(window.recovery.repair_button), "repairButton") is not None
    action = next(a for a in window.actions() if a.objectName() == "actionTab4")
    assert action.text() == "Recovery" and action.shortcut().toString() == "Ctrl+4"
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.recovery
    assert window.tabs.tabToolTip(3)


def test_a_tab_that_cannot_be_imported_is_an_error_not_a_missing_tab() -> None:
    code = ("import sys; sys.modules['inspector.usage_tab'] = None\n"
            "try:\n    import inspector.main_window\nexcept ImportError:\n    print('refused')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "refused", out.stderr


# --- the words and shapes, without a display ---------------------------------------------


def test_amounts_days_and_bounds_in_words() -> None:
    assert amount_text(3300) == "55 min 00 s"
    assert amount_text(3725) == "1 h 02 min 05 s"
    assert amount_text(40) == "40 s"
    assert day_words(DAY) == "Saturday 7 March 2026"
    with SqliteStore.open(fixture_path("rust-crash-restarted.db"), read_only=True) as store:
        report = recover(store, now=PINNED)
    finding = report.finding(CRASHED)
    assert finding is not None
    assert repair_bounds(finding, PINNED) == (3300, 3600, False)
    late = RecoveryFinding(  # started 23:30: the day credited moves past midnight
        "interrupted_session", "problem", "t", "e", "a", (1,), CRASHED, "minecraft", "M",
        600, None, date(2026, 3, 7), False, datetime(2026, 3, 7, 23, 30, tzinfo=NY))
    assert credit_day(late, 600) == date(2026, 3, 7)
    assert credit_day(late, 1900) == date(2026, 3, 8)
    assert repair_bounds(late, datetime(2026, 3, 8, 0, 0, tzinfo=NY)) == (600, 1800, True)
    text = describe_repair(finding, 3300, cooldown=1800, stored_cooldown=None, now=PINNED)
    assert "+ 3300 s" in text and "Saturday 7 March 2026" in text
    assert "already over now" in text and "audit log itself is not changed" in text


def test_a_long_run_is_shown_from_before_what_it_lost() -> None:
    with SqliteStore.open(fixture_path("rust-v0.db"), read_only=True) as store:
        report = recover(store, now=PINNED)
    run = report.runs[0]  # 2026-01-10 .. 2026-07-04: six months
    findings = {f.session_id: f for f in report.findings if f.session_id}
    t = build_timeline(run, run.sessions, findings, PINNED)
    assert t is not None
    assert t.hi - t.lo < timedelta(hours=3)
    assert t.lanes == ("Minecraft",)  # January's sessions are off the range shown
    # The run began 2026-01-10 in New York: that instant as this computer's local time (the
    # date is 2026-01-11 east of UTC+11).
    assert run.started_at is not None
    assert t.marks[0].kind == "earlier"
    assert t.marks[0].text == f"◀ run started {format_local(run.started_at)}"
    assert run.started_at.astimezone(NY).date() == date(2026, 1, 10)
    ticks, step = axis_ticks(t.lo, t.hi, 600)
    assert 2 <= len(ticks) <= 8 and step <= 3600
    ticks, step = axis_ticks(datetime(2026, 1, 10, tzinfo=NY), datetime(2026, 7, 4, tzinfo=NY),
                             600)
    assert [to.day for to in ticks] == [1] * len(ticks) and len(ticks) <= 6


def test_findings_find_their_run_where_the_report_lists_no_sessions() -> None:
    # A report lists the sessions of its newest 100 runs only; older runs' interrupted
    # sessions are known from the findings alone, placed by their rows' ids.
    with SqliteStore.open(fixture_path("rust-crash-restarted.db"), read_only=True) as store:
        report = recover(store, now=PINNED)
    by_run = findings_by_run(report)
    crashed = report.runs[1]
    assert list(by_run) == [run_key(crashed)]
    assert [f.session_id for f in by_run[run_key(crashed)]] == [CRASHED]
    listed = dataclasses.replace(crashed, sessions=(), detailed=False)
    assert run_cells(listed, by_run[run_key(crashed)])[4] == "1 to repair"
    assert run_cells(report.runs[0], by_run.get(run_key(report.runs[0])))[4] == "—"


def test_the_snapshot_fix_and_the_repair_never_count_a_session_twice(
        qtbot: Any, tmp_path: Path, open_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # rust-v0.db has a snapshot naming the session the log shows interrupted: the snapshot
    # section offers "add the unaccounted minutes" and the Recovery tab a repair. Whichever
    # is used first, the other sees it.
    monkeypatch.setattr(snapshot_tab, "local_now",
                        lambda: datetime(2026, 7, 4, 14, 30, tzinfo=NY).astimezone())
    path = copy(tmp_path, "rust-v0.db")
    tab = make_tab(qtbot, open_db(path))
    snap = tab.snapshot
    qtbot.waitUntil(lambda: snap.state is not None and snap.state.gap is not None, timeout=5000)
    (finding,) = interrupted(tab)
    day = finding.day
    assert day is not None
    before = usage(path, "minecraft", day)
    answer(tab, "confirm", True)
    with qtbot.waitSignal(tab.written, timeout=5000):
        tab.repair_button.click()
    assert usage(path, "minecraft", day) == before + 600
    qtbot.waitUntil(lambda: "usage_added_by_hand" in [f.code for f in snap.state.findings]
                    if snap.state else False, timeout=5000)
    assert not snap.usage_button.isEnabled()


def test_the_runs_model_finds_every_run_by_its_key(qtbot) -> None:  # type: ignore[no-untyped-def]
    """`row_of` finds a run by `run_key`: its service_started row, or for a run with none
    (the log's pruned beginning) its last row."""
    from inspector.recovery_logic import run_key
    from inspector.recovery_models import RunModel
    from shepherd_store.recovery import Run

    def run(started: int | None, first: int, last: int) -> Run:
        return Run(started, None, "clean", None, None, last, None, (), 0, True, first)

    runs = (run(40, 40, 55), run(20, 20, 30), run(None, 3, 9), run(None, 11, 12))
    model = RunModel()
    model.set_runs(runs)
    assert [model.row_of(run_key(r)) for r in runs] == [0, 1, 2, 3]
    assert model.row_of((None, 3)) is None and model.row_of((41, None)) is None
