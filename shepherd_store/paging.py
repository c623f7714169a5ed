"""The arithmetic of the inspector's live tables, without Qt: which rows a table shows, what
to read for them, and how a live refresh merges what the service wrote since.

- `AuditPaging`: the event log newest first (`inspector/audit_model.py`). Unfiltered, ids
  are dense (the log is append-only): row *r* shows id `top - r`, and rows are read in
  blocks of `PAGE` ids, the `CACHE_BLOCKS` used last kept. Filtered, rows come in keyset
  pages (`before_id`), and a refresh reads the matching ids in `(scan_top, newest]`.
- `SessionRows`: the session list newest first by start row (`inspector/sessions_model.py`).
- `keep_place`: where a table's scroll goes when rows are inserted above what it shows.

The Qt models keep the signals and the reads; what they decide comes from here, tested
directly (tests/test_paging.py).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from .events import AuditEvent
from .query import AuditFilter
from .sessions import Session

#: Rows read at once: a block of ids (unfiltered) or a keyset page (filtered).
PAGE = 200
#: Blocks of unfiltered rows kept in memory (the least recently used go first).
CACHE_BLOCKS = 64
#: The most new matching rows one live refresh of a filtered log reads.
REFRESH_LIMIT = 100_000


class Refresh(Enum):
    """What a live refresh of the event log does (`RefreshPlan.action`)."""

    NOTHING = "nothing"  # nothing new (or nothing newer than what is shown)
    RELOAD = "reload"  # the log shrank (a different file) or the table was empty: start over
    INSERT = "insert"  # unfiltered: the ids above the top become rows 0..added-1
    READ = "read"  # filtered: read the matching ids in (after_id, before_id)


@dataclass(frozen=True)
class RefreshPlan:
    """A live refresh's decision, given the newest id in the log (`newest`).

    `added` is how many rows an unfiltered refresh inserts (for a reload of an empty table,
    how many ids arrived); `after_id`/`before_id` bound a filtered refresh's read, both
    exclusive, so `before_id` is `newest + 1`: the newest row is read too.
    """

    action: Refresh
    newest: int
    added: int = 0
    after_id: int = 0
    before_id: int = 0


class AuditPaging:
    """The event log's rows under one filter: the model's state and decisions, no reads."""

    def __init__(self, *, page: int = PAGE, cache_blocks: int = CACHE_BLOCKS) -> None:
        self.page = page
        self.cache_blocks = cache_blocks
        self.filter = AuditFilter()
        # unfiltered: rows show ids top..bottom, read in blocks of `page` ids
        self.top = 0
        self.bottom = 1
        self.blocks: OrderedDict[int, dict[int, AuditEvent]] = OrderedDict()
        # filtered: the rows read so far, where the next older page starts, the newest id
        # a read took into account
        self.rows: list[AuditEvent] = []
        self.next_before: int | None = None
        self.scan_top = 0

    @property
    def filtered(self) -> bool:
        return not self.filter.is_empty

    def reset(self) -> None:
        """Forget every row (before the log is read again under `filter`)."""
        self.blocks.clear()
        self.rows = []
        self.next_before = None
        self.top, self.bottom = 0, 1

    def start(self, id_range: tuple[int, int] | None) -> None:
        """Unfiltered: show every id of `id_range` (oldest, newest); None for an empty log."""
        if id_range is not None:
            self.bottom, self.top = id_range

    def start_filtered(self, newest: int) -> None:
        """Filtered: page down from `newest`, the newest id now (0: the log is empty)."""
        self.scan_top = newest
        self.next_before = newest + 1 if newest else None

    def count(self) -> int:
        """How many rows the table has."""
        if self.filtered:
            return len(self.rows)
        return max(self.top - self.bottom + 1, 0)

    # --- unfiltered: blocks of ids -------------------------------------------------------

    def id_at(self, row: int) -> int:
        """The id unfiltered row `row` shows (the log's ids are dense)."""
        return self.top - row

    def block_of(self, event_id: int) -> int:
        return event_id // self.page

    def block_bounds(self, block: int) -> tuple[int, int]:
        """(after_id, before_id), both exclusive: the ids of `block`."""
        return block * self.page - 1, (block + 1) * self.page

    def cached(self, block: int) -> dict[int, AuditEvent] | None:
        """The rows of `block` when they were read (it becomes the most recently used)."""
        rows = self.blocks.get(block)
        if rows is not None:
            self.blocks.move_to_end(block)
        return rows

    def keep(self, block: int, rows: dict[int, AuditEvent]) -> None:
        """Remember the rows read for `block`, forgetting the least recently used blocks
        beyond `cache_blocks`."""
        self.blocks[block] = rows
        while len(self.blocks) > self.cache_blocks:
            self.blocks.popitem(last=False)

    # --- filtered: keyset pages ----------------------------------------------------------

    def can_page(self) -> bool:
        """Whether an older page of a filtered log is left to read."""
        return self.filtered and self.next_before is not None

    def add_older(self, events: list[AuditEvent]) -> None:
        """A page's events go below the rows (`next_before` becomes its `next_before_id`
        after the rows are in: None once the last page was read)."""
        self.rows.extend(events)

    # --- live ----------------------------------------------------------------------------

    def plan_refresh(self, newest: int) -> RefreshPlan:
        """What to do now that `newest` is the newest id in the log."""
        if newest < self.top or (self.filtered and newest < self.scan_top):
            return RefreshPlan(Refresh.RELOAD, newest)  # the log shrank: a different file
        if not self.filtered:
            added = newest - self.top
            if added <= 0:
                return RefreshPlan(Refresh.NOTHING, newest)
            if self.count() == 0:
                return RefreshPlan(Refresh.RELOAD, newest, added)
            return RefreshPlan(Refresh.INSERT, newest, added)
        if newest <= self.scan_top:
            return RefreshPlan(Refresh.NOTHING, newest)
        return RefreshPlan(Refresh.READ, newest, after_id=self.scan_top, before_id=newest + 1)

    def stale_blocks(self) -> list[int]:
        """Blocks read before the ids above the top existed (the top's block on)."""
        return [b for b in self.blocks if b >= self.top // self.page]

    def forget_stale(self) -> None:
        """Before an unfiltered insert: forget the blocks `stale_blocks` names."""
        for block in self.stale_blocks():
            del self.blocks[block]

    def scanned(self, newest: int) -> None:
        """A filtered refresh read every match up to `newest`."""
        self.scan_top = newest

    def add_newer(self, events: list[AuditEvent]) -> None:
        """A filtered refresh's events (newest first) go above the rows."""
        self.rows[0:0] = events


class SessionRows:
    """The Sessions view's rows, newest first by start row, and their live merge."""

    def __init__(self) -> None:
        self.rows: list[Session] = []
        self.keys: list[int] = []  # -started_id per row (ascending: for bisect)

    def clear(self) -> None:
        self.rows, self.keys = [], []

    def __len__(self) -> int:
        return len(self.rows)

    def at(self, row: int) -> Session | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def append(self, sessions: list[Session]) -> None:
        """An older page's sessions go below the rows."""
        self.rows.extend(sessions)
        self.keys.extend(-s.started_id for s in sessions)

    def row_of(self, started_id: int) -> int | None:
        """The row of the session started at log row `started_id`, when it is loaded."""
        i = bisect.bisect_left(self.keys, -started_id)
        return i if i < len(self.keys) and self.keys[i] == -started_id else None

    def row_of_session(self, session_id: str) -> int | None:
        for i, s in enumerate(self.rows):
            if s.session_id == session_id:
                return i
        return None

    def replace(self, row: int, session: Session) -> None:
        """A refresh told `row`'s session again (it ended, was warned or extended)."""
        self.rows[row] = session

    def unseen(self, sessions: Iterable[Session]) -> list[Session]:
        """Those of a refresh's new `sessions` not already shown."""
        return [s for s in sessions if self.row_of(s.started_id) is None]

    def add_newer(self, sessions: list[Session]) -> None:
        """New sessions (newest first) go above the rows."""
        self.rows[0:0] = sessions
        self.keys[0:0] = [-s.started_id for s in sessions]

    def unfinished(self) -> list[Session]:
        """The sessions a refresh must tell again (they may still change)."""
        return [s for s in self.rows if not s.final]

    def any_unfinished(self) -> bool:
        return any(not s.final for s in self.rows)


def keep_place(scroll: int, added: int, *, follow: bool) -> tuple[int, bool]:
    """Where a table's scroll goes when `added` rows are inserted at its top, and whether it
    followed them: with `follow` on, a table showing rows near the top (within `added`)
    goes to the newest; otherwise it keeps the same rows in view."""
    if follow and scroll <= added:
        return 0, True
    return scroll + added, False
