"""The live tables' arithmetic (`shepherd_store.paging`), without Qt: which ids the event
log's rows show, which blocks and pages it reads, how a live refresh merges new rows (with
and without a filter), what it keeps in memory, what happens at both ends; the Sessions
view's rows; where a table's scroll goes when rows arrive above it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shepherd_store import (
    AuditEvent,
    AuditFilter,
    LaunchDenied,
    PolicyLoaded,
    ServiceStarted,
    SessionStarted,
    SqliteStore,
)
from shepherd_store.paging import AuditPaging, Refresh, SessionRows, keep_place
from shepherd_store.sessions import Session

WHEN = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def started(entry: str, n: int) -> SessionStarted:
    return SessionStarted(session_id=str(uuid.UUID(int=n)), entry_id=entry,
                          label=entry.title(), deadline=None)


def append(store: SqliteStore, events: list[object]) -> list[int]:
    ids = []
    for i, ev in enumerate(events):
        event = AuditEvent(0, WHEN + timedelta(seconds=i), ev)  # type: ignore[arg-type]
        store.append_audit(event)
        ids.append(event.id)
    return ids


def unfiltered(top: int, bottom: int = 1, **kw: int) -> AuditPaging:
    paging = AuditPaging(**kw)
    paging.start((bottom, top))
    return paging


def filtered(newest: int, flt: AuditFilter | None = None) -> AuditPaging:
    paging = AuditPaging()
    paging.filter = flt or AuditFilter(entry_id="tuxmath")
    paging.start_filtered(newest)
    return paging


# --- unfiltered: rows are ids, read in blocks -------------------------------------------------


def test_unfiltered_rows_are_the_ids_newest_first_from_top_to_bottom() -> None:
    paging = unfiltered(1000, 5)
    assert not paging.filtered and not paging.can_page()
    assert paging.count() == 996
    assert paging.id_at(0) == 1000 and paging.id_at(995) == 5  # both ends


def test_an_empty_log_has_no_rows_and_nothing_to_page() -> None:
    paging = AuditPaging()
    paging.start(None)
    assert paging.count() == 0
    paging = filtered(0)
    assert paging.count() == 0 and paging.next_before is None and not paging.can_page()


def test_blocks_are_page_aligned_ranges_of_ids_from_zero() -> None:
    paging = AuditPaging()
    assert [paging.block_of(i) for i in (0, 1, 199, 200, 399, 400)] == [0, 0, 0, 1, 1, 2]
    assert paging.block_bounds(0) == (-1, 200)  # ids 0..199 (exclusive bounds)
    assert paging.block_bounds(3) == (599, 800)  # ids 600..799


def test_blocks_read_with_their_bounds_cover_every_id_exactly_once() -> None:
    with SqliteStore.in_memory() as store:
        ids = append(store, [PolicyLoaded(n) for n in range(450)])
        paging = unfiltered(ids[-1], ids[0])
        seen: list[int] = []
        for block in range(paging.block_of(ids[0]), paging.block_of(ids[-1]) + 1):
            after_id, before_id = paging.block_bounds(block)
            page = store.find_audits(AuditFilter(), before_id=before_id, after_id=after_id,
                                     limit=paging.page)
            assert all(paging.block_of(e.id) == block for e in page.events)
            seen += [e.id for e in page.events]
    assert sorted(seen) == ids
    assert [paging.id_at(r) for r in range(paging.count())] == ids[::-1]


def test_the_least_recently_used_blocks_are_forgotten_beyond_the_cache() -> None:
    paging = unfiltered(1000, cache_blocks=2)
    paging.keep(0, {})
    paging.keep(1, {})
    assert paging.cached(0) == {}  # block 0 is now the most recently used
    paging.keep(2, {})
    assert list(paging.blocks) == [0, 2]  # block 1 went
    assert paging.cached(1) is None
    paging.keep(3, {})
    assert list(paging.blocks) == [2, 3]


# --- unfiltered: live refresh -----------------------------------------------------------------


def test_unfiltered_refresh_inserts_the_new_ids_at_the_top() -> None:
    paging = unfiltered(450)
    plan = paging.plan_refresh(457)
    assert plan.action is Refresh.INSERT and plan.added == 7 and plan.newest == 457
    assert paging.plan_refresh(450).action is Refresh.NOTHING


def test_blocks_read_before_the_new_ids_existed_are_forgotten_and_no_others() -> None:
    paging = unfiltered(450)
    for block in (0, 1, 2):
        paging.keep(block, {})
    assert paging.stale_blocks() == [2]  # 400..599 was read when 451.. did not exist
    paging.forget_stale()
    assert list(paging.blocks) == [0, 1]
    paging = unfiltered(399)  # the top is the last id of block 1: block 1 holds it
    paging.keep(1, {})
    assert paging.stale_blocks() == [1]


def test_a_log_that_shrank_or_an_empty_table_is_read_again() -> None:
    plan = unfiltered(450).plan_refresh(300)  # another file at the same path
    assert plan.action is Refresh.RELOAD and plan.added == 0
    empty = AuditPaging()
    empty.start(None)
    plan = empty.plan_refresh(3)
    assert plan.action is Refresh.RELOAD and plan.added == 3


def test_reset_forgets_rows_but_keeps_the_filter() -> None:
    paging = filtered(50)
    paging.add_older([AuditEvent(50, WHEN, started("tuxmath", 1))])
    paging.keep(0, {})
    paging.reset()
    assert paging.rows == [] and not paging.blocks and paging.next_before is None
    assert paging.filter.entry_id == "tuxmath" and paging.count() == 0


# --- filtered: keyset pages and the live merge ------------------------------------------------


def test_a_filtered_log_pages_down_from_the_newest_id() -> None:
    paging = filtered(50)
    assert paging.filtered and paging.next_before == 51 and paging.can_page()
    paging.next_before = None  # the last page was read
    assert not paging.can_page()


def test_a_filtered_refresh_reads_every_id_after_the_last_look_up_to_the_newest() -> None:
    paging = filtered(50)
    plan = paging.plan_refresh(60)
    assert plan.action is Refresh.READ
    assert (plan.after_id, plan.before_id) == (50, 61)  # exclusive: 51..60, the newest too
    assert paging.plan_refresh(50).action is Refresh.NOTHING
    assert paging.plan_refresh(40).action is Refresh.RELOAD  # the log shrank


@pytest.mark.parametrize("flt", [AuditFilter(entry_id="tuxmath"),
                                 AuditFilter(event_types=frozenset({"session_started"}))])
def test_a_filtered_live_refresh_keeps_every_new_matching_row_newest_first(
        flt: AuditFilter) -> None:
    """Qt-free twin of test_faults.py's: a refresh's read, with the plan's bounds, shows the
    newest row when it matches, whatever came around it."""
    def matches(event: object) -> bool:
        if flt.entry_id is None:
            return isinstance(event, SessionStarted)
        return isinstance(event, SessionStarted | LaunchDenied) and \
            event.entry_id == "tuxmath"

    with SqliteStore.in_memory() as store:
        append(store, [ServiceStarted(), started("tuxmath", 1), started("minecraft", 2),
                       started("tuxmath", 3)])
        paging = filtered(store.change_token().last_audit_id, flt)
        while paging.can_page():  # every page, two rows at a time
            page = store.find_audits(flt, before_id=paging.next_before, limit=2)
            paging.add_older(page.events)
            paging.next_before = page.next_before_id
        shown = [e.id for e in paging.rows]
        assert shown == sorted(shown, reverse=True) and len(shown) == (2 if flt.entry_id
                                                                       else 3)
        rounds: list[list[object]] = [
            [started("tuxmath", 10), PolicyLoaded(3), started("tuxmath", 11),
             LaunchDenied(entry_id="minecraft", reasons=("quota",)),
             LaunchDenied(entry_id="tuxmath", reasons=("cooldown",)), started("tuxmath", 12)],
            [started("tuxmath", 13)],  # a single new row, which matches
            [started("tuxmath", 14), PolicyLoaded(4), ServiceStarted()],
        ]
        for events in rounds:
            new = append(store, events)
            plan = paging.plan_refresh(store.change_token().last_audit_id)
            assert plan.action is Refresh.READ and plan.newest == new[-1]
            page = store.find_audits(flt, after_id=plan.after_id, before_id=plan.before_id,
                                     limit=1000)
            paging.scanned(plan.newest)
            paging.add_newer(page.events)
            expected = [i for i, e in zip(new, events, strict=True) if matches(e)][::-1] + shown
            assert [e.id for e in paging.rows] == expected
            assert paging.count() == len(expected)
            shown = expected
            assert paging.plan_refresh(new[-1]).action is Refresh.NOTHING  # nothing twice


# --- the Sessions view's rows -----------------------------------------------------------------


def session(started_id: int, status: str = "ended") -> Session:
    return Session(session_id=str(uuid.UUID(int=started_id)), entry_id="tuxmath",
                   label="Tux Math", started_id=started_id, started_at=WHEN,
                   start_deadline=None, deadline=None, status=status)  # type: ignore[arg-type]


def test_session_rows_are_found_by_start_row_at_both_ends_and_not_beyond() -> None:
    rows = SessionRows()
    assert rows.row_of(5) is None and rows.at(0) is None
    rows.append([session(90), session(70)])
    rows.append([session(40), session(10)])
    assert [rows.row_of(i) for i in (90, 70, 40, 10)] == [0, 1, 2, 3]
    assert [rows.row_of(i) for i in (100, 80, 11, 1)] == [None] * 4
    assert rows.at(3) == session(10) and rows.at(4) is None and rows.at(-1) is None
    assert rows.row_of_session(str(uuid.UUID(int=40))) == 2


def test_a_refresh_adds_only_unseen_sessions_on_top_and_tells_changed_ones_in_place() -> None:
    rows = SessionRows()
    rows.append([session(70, "running"), session(40)])
    assert rows.unfinished() == [session(70, "running")] and rows.any_unfinished()
    new = rows.unseen([session(95), session(80), session(70)])  # 70: shown already
    assert new == [session(95), session(80)]
    rows.add_newer(new)
    assert [rows.row_of(i) for i in (95, 80, 70, 40)] == [0, 1, 2, 3]  # still bisectable
    row = rows.row_of(70)
    assert row is not None
    rows.replace(row, session(70))
    assert not rows.any_unfinished() and len(rows) == 4
    rows.clear()
    assert len(rows) == 0 and rows.row_of(70) is None


# --- rows inserted above: follow or keep the place --------------------------------------------


def test_new_rows_are_followed_from_near_the_top_and_otherwise_keep_the_rows_in_view() -> None:
    assert keep_place(0, 3, follow=True) == (0, True)
    assert keep_place(3, 3, follow=True) == (0, True)  # the newest rows were still in view
    assert keep_place(4, 3, follow=True) == (7, False)  # scrolled down: stay on those rows
    assert keep_place(0, 3, follow=False) == (3, False)
    assert keep_place(10, 0, follow=False) == (10, False)
