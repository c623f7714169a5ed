"""The watcher's decisions (`inspector.watcher_logic`), without Qt: which paths are watched,
what a look at the file finds, the re-checks after a file event and how events coalesce, and
when a commit is passed on to the views."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inspector.watcher_logic import (
    BURST_MS,
    ChangePacer,
    Look,
    WatchState,
    burst_steps,
    file_identity,
    paths_to_add,
    watched_paths,
)
from shepherd_store import ChangeToken, LockedError, StoreError

DB = Path("/var/lib/shepherdd/shepherdd.db")
ID = (1, 100)
TOKEN = ChangeToken(3, 40)


def test_the_watcher_qt_free_module_does_not_import_qt() -> None:
    import inspector.watcher_logic as logic

    source = Path(logic.__file__).read_text(encoding="utf-8")
    assert "PySide6" not in source and "QtCore" not in source


# --- which file changes count -----------------------------------------------------------------


def test_the_file_its_wal_and_its_directory_are_watched() -> None:
    """A WAL commit touches only `-wal`; a rollback-journal commit creates and deletes
    `-journal`, which only the directory's watch sees."""
    assert watched_paths(DB) == [str(DB), f"{DB}-wal", "/var/lib/shepherdd"]


def test_only_missing_paths_that_exist_are_added() -> None:
    exists = {str(DB), "/var/lib/shepherdd"}.__contains__  # no -wal (rollback journal)
    assert paths_to_add(DB, set(), exists) == [str(DB), "/var/lib/shepherdd"]
    assert paths_to_add(DB, {str(DB), "/var/lib/shepherdd"}, exists) == []
    # -wal appeared (the first WAL commit) or came back after a checkpoint removed it
    assert paths_to_add(DB, {str(DB), "/var/lib/shepherdd"}, lambda _p: True) == [f"{DB}-wal"]


def test_file_identity_tells_a_replaced_file_apart_and_a_gone_one(tmp_path: Path) -> None:
    path = tmp_path / "shepherdd.db"
    assert file_identity(path) is None
    path.write_bytes(b"one")
    first = file_identity(path)
    assert first is not None and file_identity(path) == first
    other = tmp_path / "restored.db"
    other.write_bytes(b"two")
    os.replace(other, path)  # restored from a backup by an atomic rename
    assert file_identity(path) not in (None, first)


# --- what a look finds ------------------------------------------------------------------------


def state() -> WatchState:
    return WatchState(DB, ID, TOKEN)


def test_a_new_token_is_a_change_once_and_the_same_token_is_nothing() -> None:
    watch = state()
    assert watch.look(ID, True, lambda: TOKEN).look is Look.NOTHING  # our own reads
    assert watch.look(ID, True, lambda: ChangeToken(4, 40)).look is Look.CHANGED
    assert watch.look(ID, True, lambda: ChangeToken(4, 40)).look is Look.NOTHING
    assert watch.look(ID, True, lambda: ChangeToken(4, 41)).look is Look.CHANGED
    assert watch.active


def test_an_unreadable_token_at_open_makes_the_first_readable_one_a_change() -> None:
    watch = WatchState(DB, ID, None)
    assert watch.look(ID, True, lambda: TOKEN).look is Look.CHANGED


def never(reason: str = "must not be read") -> ChangeToken:
    raise AssertionError(reason)


@pytest.mark.parametrize("identity", [None, (1, 101), (2, 100)], ids=["gone", "replaced",
                                                                       "other device"])
def test_a_replaced_or_gone_file_stops_the_watch_without_reading_it(
        identity: tuple[int, int] | None) -> None:
    watch = state()
    assert watch.look(identity, False, never).look is Look.GONE
    assert not watch.active
    assert watch.look(ID, True, never).look is Look.NOTHING  # stopped: nothing more
    assert watch.next_recheck() is None


def test_a_file_that_lost_its_read_permission_fails_with_a_message() -> None:
    watch = state()
    verdict = watch.look(ID, False, never)
    assert verdict.look is Look.FAILED and not watch.active
    assert str(DB) in verdict.message and "permission denied" in verdict.message


def test_a_lock_is_looked_at_again_and_another_error_fails() -> None:
    watch = state()

    def locked() -> ChangeToken:
        raise LockedError("database is locked")

    def broken() -> ChangeToken:
        raise StoreError("file is not a database")

    assert watch.look(ID, True, locked).look is Look.NOTHING and watch.active
    verdict = watch.look(ID, True, broken)
    assert verdict.look is Look.FAILED and verdict.message.startswith("file is not a database")
    assert not watch.active


# --- re-checks after a file event -------------------------------------------------------------


def test_a_file_event_is_rechecked_over_the_next_70_ms() -> None:
    assert burst_steps() == [4, 6, 10, 20, 30] and sum(burst_steps()) == BURST_MS[-1]
    watch = state()
    waits = [watch.file_event()]
    while (wait := watch.next_recheck()) is not None:
        waits.append(wait)
    assert waits == burst_steps()


def test_events_during_the_rechecks_start_them_over_as_one_schedule() -> None:
    watch = state()
    watch.file_event()
    assert watch.next_recheck() == 6
    assert watch.file_event() == 4  # a second event: from the start, not a second schedule
    assert [watch.next_recheck() for _ in range(5)] == [6, 10, 20, 30, None]


def test_the_rechecks_end_when_the_watch_stops() -> None:
    watch = state()
    watch.file_event()
    watch.stop()
    assert watch.next_recheck() is None
    assert watch.look(ID, True, never).look is Look.NOTHING


# --- passing commits on to the views ----------------------------------------------------------


def test_a_commit_after_a_quiet_spell_is_passed_on_at_once() -> None:
    pacer = ChangePacer()
    assert pacer.commit(100.0, immediate=False, pending=False) is None


def test_during_a_burst_refreshing_takes_at_most_a_quarter_of_the_time() -> None:
    pacer = ChangePacer()
    pacer.passed_on(0.010, 100.0)  # the views took 10 ms: wait 30 ms before the next
    assert pacer.next_change == pytest.approx(100.030)
    assert pacer.commit(100.001, immediate=False, pending=False) == 29
    assert pacer.commit(100.002, immediate=False, pending=True) == -1  # that one sees it
    assert pacer.commit(100.030, immediate=False, pending=False) is None
    assert pacer.commit(100.001, immediate=True, pending=True) is None  # after our own write


def test_a_slow_refresh_holds_changes_back_at_most_half_a_second() -> None:
    pacer = ChangePacer()
    pacer.passed_on(2.0, 100.0)
    assert pacer.next_change == pytest.approx(100.5)
    assert pacer.commit(100.0, immediate=False, pending=False) == 500


def test_a_refresh_a_lock_turned_away_is_passed_on_again_soon_as_a_retry() -> None:
    pacer = ChangePacer()
    pacer.passed_on(0.001, 100.0)  # next change allowed at 100.003
    assert pacer.locked_out(100.0) == 50  # never sooner than LOCKED_RETRY_MS
    assert pacer.only_retry
    pacer.passed_on(0.1, 100.0)  # next change allowed at 100.3
    assert pacer.locked_out(100.0) == 300
    assert pacer.commit(100.1, immediate=False, pending=True) == -1
    assert not pacer.only_retry  # a real commit arrived meanwhile: not only a retry
