"""The session list (shepherd_store/sessions.py), without a display.

On the Rust-written fixtures, on the same histories written in the seed layout with the store
API, and on a generated history with crashes, clean stops under a session, overlaps and a
running session, in both layouts: what each session says, that it agrees with recovery, that
paging by keyset gives the one-shot answer, that live additions are found, and that the first
page reads only the newest rows.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import fixture_path

from shepherd_store import (
    AdminStop,
    AuditEvent,
    ClientConnected,
    ClientDisconnected,
    Event,
    Expired,
    LaunchDenied,
    LaunchFailed,
    PolicyLoaded,
    PolicyStop,
    ProcessExited,
    ServiceShutdown,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionExtended,
    SessionStarted,
    SqliteStore,
    UserStop,
    WarningIssued,
    encode_event,
)
from shepherd_store.describe import format_local_time
from shepherd_store.recovery import recover
from shepherd_store.schema import RUST_DDL, Layout
from shepherd_store.sessions import (
    Session,
    SessionFilter,
    SessionReader,
    all_sessions,
    end_words,
    ended_text,
    extensions_text,
    how_text,
    length_text,
    session_fields,
    warnings_text,
)
from shepherd_store.timefmt import format_timestamp

NY = ZoneInfo("America/New_York")
#: The morning after the crash fixtures' last day (every deadline long past).
NEXT_MORNING = datetime(2026, 3, 8, 10, 0, tzinfo=NY)


def sessions_of(path: Path, now: datetime = NEXT_MORNING, **kwargs: object) -> list[Session]:
    with SqliteStore.open(path, read_only=True) as store:
        return all_sessions(store, now=now, **kwargs)  # type: ignore[arg-type]


def rust_db(path: Path) -> Path:
    """An empty database in the Rust store's layout (its DDL, rollback journal)."""
    conn = sqlite3.connect(path)
    for ddl in RUST_DDL:
        conn.execute(ddl)
    conn.commit()
    conn.close()
    return path


def write(path: Path, events: list[tuple[datetime, Event]]) -> None:
    """Append `events` with the store API (ids 1, 2, ... on an empty log)."""
    with SqliteStore.open(path) as store:
        for when, event in events:
            store.append_audit(AuditEvent(0, when, event))


def events_of(path: Path) -> list[tuple[datetime, Event]]:
    with SqliteStore.open(path, read_only=True) as store:
        page = store.find_audits(limit=100_000)
    return [(e.timestamp, e.event) for e in reversed(page.events)]


# --- the Rust-written fixtures ---------------------------------------------------------------


def test_rust_clean_has_14_sessions_all_ended_with_their_reasons() -> None:
    sessions = sessions_of(fixture_path("rust-clean.db"))
    assert len(sessions) == 14
    assert all(s.status == "ended" and s.final for s in sessions)
    assert [s.started_id for s in sessions] == sorted((s.started_id for s in sessions),
                                                      reverse=True)
    assert {how_text(s) for s in sessions} == {"time was up", "closed the game",
                                              "stopped by the child"}
    # Monday's Minecraft: its whole hour, warned at 5 and 1 minutes.
    monday = next(s for s in sessions if s.started_id == 12)
    assert (monday.entry_id, monday.label, monday.reason) == ("minecraft", "Minecraft",
                                                              "expired")
    assert monday.started_at == datetime(2026, 3, 2, 16, 15, 12, 303575, tzinfo=NY)
    assert monday.warnings == (300, 60)
    assert warnings_text(monday) == "5 min, 1 min"
    assert length_text(monday) == "1 h 00 min"
    assert how_text(monday) == "time was up"
    assert monday.duration is not None and 3600 <= monday.duration.total_seconds() < 3602
    # The last one of the week: Tux Math, closed after half an hour.
    last = sessions[0]
    assert (last.started_id, last.name, how_text(last), last.reason_detail) == (
        106, "Tux Math", "closed the game", 0)


def test_rust_crash_restarted_has_16_sessions_and_one_interrupted_minecraft() -> None:
    sessions = sessions_of(fixture_path("rust-crash-restarted.db"))
    assert len(sessions) == 16
    interrupted = [s for s in sessions if s.status == "interrupted"]
    assert len(interrupted) == 1
    s = interrupted[0]
    assert (s.entry_id, s.started_id, s.interruption, s.cut_id) == ("minecraft", 117,
                                                                     "crashed", 120)
    assert s.started_at == datetime(2026, 3, 7, 15, 0, 0, 137386, tzinfo=NY)
    assert s.cut_at is not None
    assert abs(s.cut_at - datetime(2026, 3, 7, 16, 40, 0, 500000, tzinfo=NY)) < timedelta(
        seconds=1)
    assert s.warnings == (300,) and s.ended_at is None and s.final
    # What the log proves (the fixture's README): 55 min (its 5-minute warning) to 60 min.
    assert (s.played_at_least, s.played_at_most) == (3300, 3600)
    assert how_text(s) == "interrupted: the service crashed under it"
    assert length_text(s) == "≥ 55 min"
    assert ended_text(s) == "—"
    fields = dict(session_fields(s))
    assert fields["How it ended"] == how_text(s)
    assert fields["Session id"] == s.session_id
    # The Tux Math after the restart ended normally: 1200.76 s, closed.
    assert (sessions[0].name, how_text(sessions[0]), sessions[0].started_id) == (
        "Tux Math", "closed the game", 127)
    assert sessions[0].duration is not None
    assert round(sessions[0].duration.total_seconds(), 2) == 1200.76


def test_rust_crash_down_is_running_until_its_deadline_is_long_past() -> None:
    path = fixture_path("rust-crash-down.db")
    during = datetime(2026, 3, 7, 15, 58, tzinfo=NY)  # before 16:00:00.137 + 2 min of grace
    newest = sessions_of(path, now=during)[0]
    assert (newest.entry_id, newest.status, newest.final) == ("minecraft", "running", False)
    deadline = datetime(2026, 3, 7, 16, 0, 0, 137179, tzinfo=NY)
    assert newest.deadline == deadline
    assert how_text(newest) == f"running, allowed until {format_local_time(deadline)}"
    assert length_text(newest, during) == "57 min so far"
    after = sessions_of(path, now=datetime(2026, 3, 7, 16, 3, tzinfo=NY))[0]
    assert (after.status, after.interruption, after.final) == ("interrupted", "silent", False)
    assert (after.played_at_least, after.played_at_most) == (3300, 3600)
    assert how_text(after) == "interrupted: the service stopped without a trace"


#: The words for every end reason the daemon writes (rust-v0.db holds one row of each).
REASON_WORDS = {
    ("expired", None): "time was up",
    ("user_stop", None): "stopped by the child",
    ("admin_stop", None): "stopped by a parent",
    ("process_exited", 0): "closed the game",
    ("process_exited", None): "closed the game",
    ("policy_stop", None): "stopped by the schedule",
    ("service_shutdown", None): "ended as the service stopped",
    ("launch_failed", "spawn failed: No such file or directory (os error 2)"):
        "could not start: spawn failed: No such file or directory (os error 2)",
}


def test_rust_v0_every_end_reason_in_words_and_its_three_sessions() -> None:
    path = fixture_path("rust-v0.db")
    seen = {}
    for _when, event in events_of(path):
        if isinstance(event, SessionEnded):
            reason = event.reason
            detail = getattr(reason, "exit_code", None) if isinstance(reason, ProcessExited) \
                else getattr(reason, "error", None)
            seen[(reason.TYPE, detail)] = end_words(reason.TYPE, detail)
    assert seen == REASON_WORDS
    assert end_words("process_exited", 1) == "the game quit with an error (exit code 1)"
    sessions = sessions_of(path, now=datetime(2026, 7, 4, 14, 30, tzinfo=NY))
    assert [s.session_id[:8] for s in sessions] == ["33333333", "22222222", "11111111"]
    minecraft, putt, tux = sessions
    # The service stopped at 14:11 with Minecraft running: interrupted, 10 to 11 minutes.
    assert (minecraft.status, minecraft.interruption, minecraft.cut_id) == (
        "interrupted", "stopped", 23)
    assert (minecraft.played_at_least, minecraft.played_at_most) == (600, 660)
    assert how_text(minecraft) == "interrupted: the service stopped under it"
    # Putt-Putt was ended seven times: its first end counts (as for recovery).
    assert (putt.reason, putt.ended_id, putt.deadline) == ("user_stop", 11, None)
    assert putt.duration == timedelta(seconds=1234, microseconds=376543)
    # Tux Math: warned, extended by 15 minutes, expired at its new deadline.
    assert tux.warnings == (300, 60) and tux.extended_ids == (8,)
    assert tux.extensions == (timedelta(minutes=15),)
    assert extensions_text(tux) == "+15 min"
    assert tux.start_deadline == datetime(2026, 1, 10, 9, 30, tzinfo=NY)
    assert tux.deadline == datetime(2026, 1, 10, 9, 45, tzinfo=NY)
    assert how_text(tux) == "time was up" and length_text(tux) == "45 min"


@pytest.mark.parametrize("name", ["rust-clean", "rust-crash-restarted", "rust-crash-down",
                                  "rust-v0", "rust-v0-nosession"])
@pytest.mark.parametrize("now", [NEXT_MORNING, datetime(2026, 3, 7, 15, 58, tzinfo=NY)])
def test_agrees_with_recovery_on_every_fixture(name: str, now: datetime) -> None:
    path = fixture_path(f"{name}.db")
    with SqliteStore.open(path, read_only=True) as store:
        assert_agrees_with_recovery(store, now)


def assert_agrees_with_recovery(store: SqliteStore, now: datetime) -> None:
    mine = {s.started_id: s for s in all_sessions(store, now=now)}
    report = recover(store, now=now)
    theirs = {s.started_id: s for run in report.runs if run.detailed for s in run.sessions}
    assert set(theirs) <= set(mine)
    assert sum(run.session_count for run in report.runs) == len(mine)
    for started, r in theirs.items():
        s = mine[started]
        assert (s.session_id, s.entry_id, s.status, s.ended_id, s.duration, s.warnings,
                s.warning_ids, s.extended_ids, s.deadline, s.started_at) == (
            r.session_id, r.entry_id, r.status, r.ended_id, r.duration, r.warnings,
            r.warning_ids, r.extended_ids, r.deadline, r.started_at), started
        if s.status == "interrupted":
            assert s.last_seen_at == r.last_seen_at
            finding = report.finding(s.session_id)
            if finding is not None:
                assert (s.played_at_least, s.played_at_most) == (finding.min_seconds,
                                                                 finding.max_seconds)


# --- both layouts -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rust-clean", "rust-crash-restarted", "rust-v0"])
def test_the_same_history_in_the_seed_layout_gives_the_same_sessions(name: str,
                                                                     tmp_path: Path) -> None:
    source = fixture_path(f"{name}.db")
    seed = tmp_path / "seed.db"
    write(seed, events_of(source))  # a new file: the seed layout, with its indexes
    with SqliteStore.open(seed, read_only=True) as store:
        assert store.layout is Layout.SEED
        via_index = all_sessions(store, now=NEXT_MORNING)
        via_ranges = all_sessions(store, now=NEXT_MORNING,
                                  reader=SessionReader(store, use_index=False))
    assert via_index == via_ranges == sessions_of(source)


# --- a generated history ------------------------------------------------------------------------

ENTRIES = (("minecraft", "Minecraft"), ("tuxmath", "Tux Math"),
           ("supertuxkart", "SuperTuxKart"), ("scummvm-puttputt", "Putt-Putt"))


def history(days: int = 14, seed: int = 5) -> list[tuple[datetime, Event]]:
    """Afternoons as the service writes them: starts with clients and policy, sessions with
    chatter, warnings, extensions and every end reason; some runs crash under a session,
    some stop cleanly under one, one session overlaps the next (a log the service would not
    write), and the last run is still open with a session running."""
    rng = random.Random(seed)
    out: list[tuple[datetime, Event]] = []
    reasons = (Expired(), UserStop(), AdminStop(), ProcessExited(0), ProcessExited(None),
               ProcessExited(3), PolicyStop(), ServiceShutdown(), LaunchFailed("spawn failed"))

    def sid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    for day in range(days):
        t = datetime(2026, 3, 1, 14, 30, tzinfo=NY) + timedelta(days=day,
                                                                 minutes=rng.randrange(60))
        out += [(t, ServiceStarted()), (t + timedelta(seconds=1), PolicyLoaded(4)),
                (t + timedelta(seconds=2), ClientConnected(sid(), "Shell", 1000))]
        crashed = False
        for k in range(rng.randint(1, 4) if day != 2 else 3):
            t += timedelta(minutes=rng.randrange(3, 40))
            entry, label = rng.choice(ENTRIES)
            quota = rng.choice((900, 1800, 2700))
            deadline = None if rng.random() < 0.2 else t + timedelta(seconds=quota)
            s = sid()
            out.append((t, SessionStarted(s, entry, label, deadline)))
            if rng.random() < 0.3:
                out.append((t + timedelta(seconds=30), LaunchDenied(entry, ("QuotaExhausted",))))
            length = timedelta(seconds=rng.uniform(60, quota))
            last = day == days - 1 and k == 0
            if deadline is not None:
                if rng.random() < 0.2:
                    extra = timedelta(minutes=rng.choice((5, 15)))
                    deadline += extra
                    out.append((t + length / 3, SessionExtended(s, extra, deadline)))
                for threshold in (300, 60):
                    warn = deadline - timedelta(seconds=threshold)
                    if warn < t + length:
                        out.append((warn, WarningIssued(s, threshold)))
            roll = rng.random() if (day, k) != (2, 0) else 0.22  # (one overlap at least)
            if last:  # the open run: still running
                out.append((t + timedelta(minutes=1), ClientDisconnected(sid())))
                return out
            if roll < 0.12:  # a crash under it, then the service starts again
                crashed = True
                t += length + timedelta(minutes=20)
                out += [(t, ServiceStarted()), (t + timedelta(seconds=1), PolicyLoaded(4))]
                continue
            if roll < 0.2:  # a clean stop under it (upstream does not end the session)
                t += length
                out.append((t, ServiceStopped()))
                t += timedelta(minutes=5)
                out += [(t, ServiceStarted()), (t + timedelta(seconds=1), PolicyLoaded(4))]
                continue
            if roll < 0.24:  # the next start comes first: an overlap
                continue
            reason = reasons[len(out) % len(reasons)]  # every reason, in turn
            out.append((t + length, SessionEnded(s, entry, reason, length)))
            t += length
        if not crashed or rng.random() < 0.5:
            out.append((t + timedelta(minutes=30), ServiceStopped()))
    return out


HISTORY_END = max(when for when, _e in history())


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generated history in both layouts, written with the store API (read-only use)."""
    base = tmp_path_factory.mktemp("sessions")
    events = history()
    paths = {"seed": base / "seed.db", "rust": rust_db(base / "rust.db")}
    for path in paths.values():
        write(path, events)
    return paths


def test_generated_history_is_the_same_in_both_layouts_and_agrees_with_recovery(
        generated: dict[str, Path]) -> None:
    for now in (HISTORY_END + timedelta(minutes=2), HISTORY_END + timedelta(days=1)):
        seed, rust = sessions_of(generated["seed"], now), sessions_of(generated["rust"], now)
        assert seed == rust
        with SqliteStore.open(generated["seed"], read_only=True) as store:
            assert all_sessions(store, now=now,
                                reader=SessionReader(store, use_index=False)) == seed
        for path in generated.values():
            with SqliteStore.open(path, read_only=True) as store:
                assert_agrees_with_recovery(store, now)
    kinds = {s.interruption for s in seed if s.interrupted}
    assert {"crashed", "stopped", "next_session"} <= kinds
    assert {s.reason for s in seed if s.reason} >= {"expired", "user_stop", "admin_stop",
                                                   "process_exited", "launch_failed"}
    assert sessions_of(generated["rust"], HISTORY_END + timedelta(minutes=2))[0].running


FILTERS = [
    SessionFilter(),
    SessionFilter(entry_id="minecraft"),
    SessionFilter(text="MATH"),
    SessionFilter(text="putt"),
    SessionFilter(since=datetime(2026, 3, 5, tzinfo=NY), until=datetime(2026, 3, 9, tzinfo=NY)),
    SessionFilter(entry_id="tuxmath", since=datetime(2026, 3, 8, tzinfo=NY)),
]


@pytest.mark.parametrize("layout", ["seed", "rust", "seed-ranges"])
@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: repr(f)[14:60])
def test_paging_by_keyset_equals_the_one_shot_answer(generated: dict[str, Path], layout: str,
                                                     flt: SessionFilter) -> None:
    now = HISTORY_END + timedelta(hours=3)
    with SqliteStore.open(generated[layout.split("-")[0]], read_only=True) as store:
        reader = SessionReader(store, use_index=False if layout == "seed-ranges" else None)
        whole = reader.page(flt, limit=100_000, now=now)
        assert whole.complete and whole.sessions
        everything = all_sessions(store, now=now)
        assert whole.sessions == [s for s in everything if matches(flt, s)]
        for size in (1, 2, 3, 7):
            pages, before = [], None
            while True:
                page = reader.page(flt, before_id=before, limit=size, now=now)
                assert len(page.sessions) <= size
                pages.extend(page.sessions)
                if page.next_before_id is None:
                    break
                assert page.sessions  # a page that says "more" has rows
                before = page.next_before_id
            assert pages == whole.sessions, size


def matches(flt: SessionFilter, s: Session) -> bool:
    """The filter's meaning, said again over finished sessions (the test's own oracle)."""
    if flt.entry_id and s.entry_id != flt.entry_id:
        return False
    if flt.since and (s.started_at is None or s.started_at < flt.since):
        return False
    if flt.until and (s.started_at is None or s.started_at >= flt.until):
        return False
    return not flt.text or any(flt.text.lower() in v.lower()
                               for v in (s.label, s.entry_id, s.session_id))


def test_session_id_and_text_filters(generated: dict[str, Path]) -> None:
    for path in generated.values():
        everything = sessions_of(path)
        one = everything[len(everything) // 2]
        assert sessions_of(path, flt=SessionFilter(session_id=one.session_id)) == [one]
        assert sessions_of(path, flt=SessionFilter(text=one.session_id[:8].upper()))[0] == one
        # The text is looked for in what is shown, not in the JSON's keys or types.
        assert sessions_of(path, flt=SessionFilter(text="session")) == []
        assert sessions_of(path, flt=SessionFilter(text="deadline")) == []


def test_a_start_time_on_the_bounds_is_in_since_and_out_of_until(
        generated: dict[str, Path]) -> None:
    everything = sessions_of(generated["rust"])
    one = everything[3]
    assert one.started_at is not None
    at = one.started_at
    assert one in sessions_of(generated["rust"], flt=SessionFilter(since=at))
    assert one not in sessions_of(generated["rust"], flt=SessionFilter(until=at))
    # The same instant in another offset is the same instant.
    assert one in sessions_of(generated["seed"], flt=SessionFilter(
        since=at.astimezone(ZoneInfo("Asia/Tokyo")),
        until=(at + timedelta(seconds=1)).astimezone(ZoneInfo("Asia/Tokyo"))))


def test_unreadable_start_rows_are_counted_and_the_rest_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "rust.db"
    shutil.copyfile(fixture_path("rust-clean.db"), path)
    path.chmod(0o644)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                     ("2026-03-06T19:00:00-05:00", '{"type":"session_started", oops'))
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                     ("not a time", '{"type":"session_started","session_id":"'
                      '44444444-4444-4444-8444-444444444444","entry_id":"x","label":"X",'
                      '"deadline":null}'))
    conn.close()
    with SqliteStore.open(path, read_only=True) as store:
        page = SessionReader(store).page(now=NEXT_MORNING)
    assert page.unreadable == 1 and page.complete
    assert len(page.sessions) == 15
    odd = page.sessions[0]
    assert odd.started_at is None and odd.name == "X" and length_text(odd) == "—"


def test_the_first_page_reads_only_the_newest_rows(tmp_path: Path) -> None:
    path = rust_db(tmp_path / "big.db")
    events = history(days=200, seed=9)
    conn = sqlite3.connect(path)  # (quicker than one transaction per row; same encoder)
    with conn:
        conn.executemany("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)",
                         [(format_timestamp(w), encode_event(e, rust=True))
                          for w, e in events * 8])
    conn.close()
    with SqliteStore.open(path, read_only=True) as store:
        top = store.audit_id_range()[1]  # type: ignore[index]
        seen: list[tuple[str, tuple[object, ...]]] = []
        store.statement_observer = lambda sql, params, _s: seen.append((sql, params))
        page = SessionReader(store).page(limit=20, now=NEXT_MORNING)
        store.statement_observer = None
    assert len(page.sessions) == 20 and top > 15_000
    audit = [p for sql, p in seen if "audit_log" in sql]
    assert len(audit) <= 3 * 20 + 5  # a few short statements per session
    ids = [v for p in audit for v in p if isinstance(v, int) and v > 5_000]
    assert ids and min(ids) >= top - 5_000  # never a range reaching back into the log


# --- live -------------------------------------------------------------------------------------


@pytest.fixture(params=["seed", "rust"])
def live_db(request: pytest.FixtureRequest, generated: dict[str, Path],
            tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / f"{request.param}.db"
    shutil.copyfile(generated[request.param], path)
    yield path


def test_live_additions_new_sessions_and_the_end_of_a_running_one(live_db: Path) -> None:
    now = HISTORY_END + timedelta(minutes=2)
    with SqliteStore.open(live_db, read_only=True) as store, SqliteStore.open(live_db) as writer:
        reader = SessionReader(store)
        first = reader.page(limit=5, now=now)
        running = [s for s in first.sessions if not s.final]
        assert running and running[0].running
        nothing = reader.refresh(None, first.top_id, running, now=now)
        assert (nothing.new, nothing.changed, nothing.top_id) == ([], [], first.top_id)
        # The running session gets a warning and ends; a new one starts, then another entry.
        old = running[0]
        t = HISTORY_END + timedelta(minutes=1)
        sid = "55555555-5555-4555-8555-555555555555"
        for when, event in [
                (t, WarningIssued(old.session_id, 60)),
                (t + timedelta(seconds=5), ClientConnected("c", "Shell", None)),
                (t + timedelta(seconds=9), SessionEnded(old.session_id, old.entry_id,
                                                        UserStop(), timedelta(minutes=7))),
                (t + timedelta(minutes=1), SessionStarted(sid, "minecraft", "Minecraft",
                                                          t + timedelta(minutes=31)))]:
            writer.append_audit(AuditEvent(0, when, event))
        update = reader.refresh(None, first.top_id, running, now=now)
        assert [s.session_id for s in update.new] == [sid]
        assert update.new[0].running and how_text(update.new[0]).startswith("running")
        assert [s.session_id for s in update.changed] == [old.session_id]
        ended = update.changed[0]
        assert (ended.status, ended.reason, ended.final) == ("ended", "user_stop", True)
        assert ended.warning_ids[-1] > first.top_id and ended.warnings[-1] == 60
        assert update.top_id == first.top_id + 4
        # Under an entry filter, only that entry's new sessions come in.
        tux = "66666666-6666-4666-8666-666666666666"
        writer.append_audit(AuditEvent(0, t + timedelta(minutes=2), SessionStarted(
            tux, "tuxmath", "Tux Math", None)))
        minecraft_only = reader.refresh(SessionFilter(entry_id="minecraft"), update.top_id,
                                        update.new, now=now)
        assert minecraft_only.new == []
        # ... and a session cut by the next start is told again as interrupted.
        assert [(s.session_id, s.interruption) for s in minecraft_only.changed] == [
            (sid, "next_session")]
        tux_only = reader.refresh(SessionFilter(text="tux"), update.top_id, [], now=now)
        assert [s.session_id for s in tux_only.new] == [tux]


def test_a_log_that_went_back_asks_for_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "clean.db"
    shutil.copyfile(fixture_path("rust-clean.db"), path)
    with SqliteStore.open(path, read_only=True) as store:
        update = SessionReader(store).refresh(None, 10_000, [], now=NEXT_MORNING)
    assert update.reset and update.top_id == 109


def test_words_for_a_running_and_unlimited_session() -> None:
    start = datetime(2026, 3, 7, 15, 0, tzinfo=NY)
    s = Session("77777777-7777-4777-8777-777777777777", "tuxmath", "Tux Math", 1, start, None,
                None, "running")
    assert how_text(s) == "running, no time limit"
    assert length_text(s, start + timedelta(minutes=12, seconds=59)) == "12 min so far"
    assert ended_text(s) == "—" and warnings_text(s) == "" and extensions_text(s) == ""
    two = Session("x", "e", "", 1, start, start, start, "ended", ended_at=start + timedelta(
        days=1, minutes=5), duration=timedelta(days=1, minutes=5),
        extensions=(timedelta(minutes=10), timedelta(minutes=15)))
    assert two.name == "e" and extensions_text(two) == "+25 min (2×)"
    assert ended_text(two).endswith("+1 d")


def test_end_reason_words_cover_every_reason_type() -> None:
    from shepherd_store.events import REASON_TYPES
    for tag in REASON_TYPES:
        assert end_words(tag) != "ended", tag
    assert end_words(None) == "ended"


def test_a_cancelled_page_keeps_what_it_told_and_continues_where_it_stopped(
        generated: dict[str, Path]) -> None:
    now = HISTORY_END + timedelta(hours=3)
    with SqliteStore.open(generated["rust"], read_only=True) as store:
        reader = SessionReader(store)
        whole = reader.page(limit=10, now=now).sessions
        told: list[int] = []

        def stop_after_three(done: int, total: int) -> bool:
            if total == 10:  # (the sessions being told, after the search)
                told.append(done)
            return len(told) <= 3

        cut = reader.page(limit=10, now=now, progress=stop_after_three)
        assert cut.cancelled and not cut.complete and cut.sessions == whole[:3]
        rest = reader.page(before_id=cut.next_before_id, limit=7, now=now)
        assert cut.sessions + rest.sessions == whole


def test_a_running_length_without_so_far() -> None:
    start = datetime(2026, 3, 7, 15, 0, tzinfo=NY)
    s = Session("x", "e", "E", 1, start, None, None, "running")
    assert length_text(s, start + timedelta(minutes=41), so_far=False) == "41 min"
