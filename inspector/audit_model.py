"""The audit log as a Qt table model that opens a million-row log as fast as a small one.

Unfiltered, row *r* is the event with id `top - r` (the log is append-only, so ids are
dense): the row count is known from two index lookups and rows are read in 200-id blocks
only when painted. Filtered, rows come in keyset pages from a worker (`fetchMore`), so a scan
never runs on the GUI thread. New events are inserted at the top in both modes. Which ids,
pages and blocks, and what a refresh does, is `shepherd_store.paging.AuditPaging`'s
arithmetic; this model reads and tells the views.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QIcon

from shepherd_store import (
    AuditEvent,
    AuditFilter,
    AuditPage,
    LockedError,
    SessionStarted,
    StoreError,
    UnknownEvent,
)
from shepherd_store.paging import PAGE, REFRESH_LIMIT, AuditPaging, Refresh

from . import workers
from .audit_remote import RemoteAuditReads
from .database import Database
from .formatting import (
    entry_display,
    event_kind,
    event_name,
    format_local,
    short_id,
    summarize,
)
from .icons import kind_icon
from .widgets import plain_tip

#: A read the service's write lock turned away is tried again after this long (the GUI
#: thread's reads give up within a few ms rather than freeze the window).
RETRY_MS = 50
EventRole = Qt.ItemDataRole.UserRole + 1
SessionRole = Qt.ItemDataRole.UserRole + 2
COLUMNS = ("Time", "Event", "Entry", "Session", "Summary")
COL_TIME, COL_EVENT, COL_ENTRY, COL_SESSION, COL_SUMMARY = range(5)
#: The roles `data` answers. A delegate asks about nine per cell as it paints (font,
#: alignment, background, check state...): the others are turned away before the event is
#: looked up, which was half the cost of painting a page.
_ROLES = frozenset(int(r) for r in (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.DecorationRole,
    Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.AccessibleTextRole, EventRole,
    SessionRole))
_Index = QModelIndex | QPersistentModelIndex


class AuditModel(QAbstractTableModel):
    """Rows of the audit log, newest first, under the current filter."""

    loadingChanged = Signal(bool)
    progress = Signal(int, int)
    newRows = Signal(int)  # rows inserted at the top by a live refresh
    error = Signal(str)

    def __init__(self, db: Database, parent: Any = None) -> None:
        super().__init__(parent)
        self._db = db
        self._paging = AuditPaging()  # the filter, the rows and what to read for them
        self._loading = False
        self._generation = 0
        self._texts: dict[int, tuple[str, ...]] = {}  # id → column texts (paint is hot)
        self._labels: dict[str, str] = {}
        self._retry: set[str] = set()  # reads to try again: reload, refresh, rows, fetch
        self._retry_timer = QTimer(self)
        self._retry_timer.setSingleShot(True)
        self._retry_timer.setInterval(RETRY_MS)
        self._retry_timer.timeout.connect(self._on_retry)
        self._remote = RemoteAuditReads(self)  # (a remote database's reads: in the pool)
        db.stateChanged.connect(self._on_state)

    # --- state ---------------------------------------------------------------------------

    @property
    def filter(self) -> AuditFilter:
        return self._paging.filter

    @property
    def filtered(self) -> bool:
        return self._paging.filtered

    @property
    def _blocks(self) -> OrderedDict[int, dict[int, AuditEvent]]:
        """The unfiltered rows read so far, by block (tests forget them to force reads)."""
        return self._paging.blocks

    @property
    def loading(self) -> bool:
        return self._loading

    def _set_loading(self, value: bool) -> None:
        if value != self._loading:
            self._loading = value
            self.loadingChanged.emit(value)

    def set_filter(self, flt: AuditFilter) -> None:
        """Show the rows matching `flt` (cancels a scan still running for the old filter)."""
        self._paging.filter = flt
        self.reload()

    def reload(self) -> None:
        """Forget every row and read the log again under the current filter."""
        self._generation += 1
        self.beginResetModel()
        self._paging.reset()
        self._texts.clear()
        self._set_loading(False)
        self._retry.clear()
        self._remote.forget()
        store = self._db.store
        if store is not None and self._db.reads_in_workers:
            self.endResetModel()
            self._remote.start(store)  # the range is read in the pool, then the rows
            return
        if store is not None:
            try:
                if not self.filtered:
                    self._paging.start(store.audit_id_range())
                else:
                    self._paging.start_filtered(store.change_token().last_audit_id)
            except LockedError:
                self._retry_later("reload")
            except StoreError as exc:
                self.error.emit(str(exc))
        self.endResetModel()
        if self._paging.can_page():
            self.fetchMore(QModelIndex())

    # --- Qt model interface --------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._paging.count()

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return ("When it happened, in this computer's local time",
                    "What kind of event", "The application (entry) it concerns",
                    "The session it belongs to; double-click to see the whole session",
                    "What happened, in words")[section]
        return None

    def event_at(self, row: int) -> AuditEvent | None:
        """The event shown in `row`, reading its block if needed; None for a missing id."""
        if row < 0 or row >= self.rowCount():
            return None
        if self.filtered:
            return self._paging.rows[row]
        event_id = self._paging.id_at(row)
        block = self._paging.block_of(event_id)
        rows = self._paging.cached(block)
        if rows is None:
            if "rows" in self._retry or block in self._remote.pending:
                return None  # locked out a moment ago: one wait per paint, not one per cell
            if self._db.reads_in_workers:
                self._remote.load_block(block)  # painted when it arrives
                return None
            rows = self._load_block(block)
        return rows.get(event_id)

    def _load_block(self, block: int) -> dict[int, AuditEvent]:
        store = self._db.store
        rows: dict[int, AuditEvent] = {}
        if store is not None:
            after_id, before_id = self._paging.block_bounds(block)
            try:
                page = store.find_audits(AuditFilter(), before_id=before_id,
                                         after_id=after_id, limit=PAGE)
                rows = {e.id: e for e in page.events}
            except LockedError:
                self._retry_later("rows")
                return rows  # not remembered: read again once the lock is gone
            except StoreError as exc:
                self.error.emit(str(exc))
        self._learn(rows.values())
        self._paging.keep(block, rows)
        return rows

    def _learn(self, events: Any) -> None:
        for e in events:
            if isinstance(e.event, SessionStarted):
                self._db.note_label(e.event.entry_id, e.event.label)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():
            return None
        event = self.event_at(index.row())
        col = index.column()
        if event is None:
            if role == Qt.ItemDataRole.DisplayRole and col == COL_SUMMARY and \
                    "rows" not in self._retry and not self._remote.pending:
                return f"(no row with id {self._paging.id_at(index.row())})"
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._row_texts(event)[col]
        if role == EventRole:
            return event
        if role == SessionRole:
            return getattr(event.event, "session_id", None)
        if role == Qt.ItemDataRole.ToolTipRole:  # escaped: Qt would render markup in tips
            if col == COL_SESSION:
                sid = getattr(event.event, "session_id", None)
                return plain_tip(f"{sid}\nDouble-click to see this whole session") if sid else None
            return plain_tip(self._row_texts(event)[COL_SUMMARY])
        if role == Qt.ItemDataRole.DecorationRole and col == COL_EVENT:
            return self._icon(event)
        if role == Qt.ItemDataRole.ForegroundRole and isinstance(event.event, UnknownEvent):
            return QBrush(QColor("#C62828")) if event.event.malformed else None
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._text(event, col)
        return None

    def _icon(self, event: AuditEvent) -> QIcon:
        return kind_icon(event_kind(event.event))

    def _row_texts(self, event: AuditEvent) -> tuple[str, ...]:
        texts = self._texts.get(event.id)
        if texts is None:
            if len(self._texts) > 20_000:
                self._texts.clear()
            texts = tuple(self._text(event, c) for c in range(len(COLUMNS)))
            self._texts[event.id] = texts
        return texts

    def _on_state(self) -> None:
        """Labels learnt or a policy loaded: entry names and summaries may read differently."""
        labels = self._db.labels
        if labels != self._labels:
            self._labels = dict(labels)
            self._texts.clear()
            if self.rowCount():
                self.dataChanged.emit(self.index(0, COL_ENTRY),
                                      self.index(self.rowCount() - 1, COL_SUMMARY))

    def _text(self, event: AuditEvent, col: int) -> str:
        ev = event.event
        labels = self._db.labels
        if col == COL_TIME:
            return format_local(event.timestamp)
        if col == COL_EVENT:
            malformed = isinstance(ev, UnknownEvent) and ev.malformed
            return event_name(event.type, malformed=malformed)
        if col == COL_ENTRY:
            return entry_display(getattr(ev, "entry_id", None), labels)
        if col == COL_SESSION:
            return short_id(getattr(ev, "session_id", None))
        return summarize(ev, labels)

    # --- paging (filtered mode) ----------------------------------------------------------

    def canFetchMore(self, parent: _Index) -> bool:
        return not parent.isValid() and self._paging.can_page() and not self._loading

    def fetchMore(self, parent: _Index) -> None:
        if not self.canFetchMore(parent):
            return
        store = self._db.store
        if store is None:
            return
        flt, before, gen = self._paging.filter, self._paging.next_before, self._generation
        # An index lookup: faster inline than a thread hop (not over a link, though).
        if not self._db.reads_in_workers and store.is_indexed(flt):
            try:
                self._append_page(store.find_audits(flt, before_id=before, limit=PAGE))
            except LockedError:
                self._retry_later("fetch")
            except StoreError as exc:
                self._paging.next_before = None
                self.error.emit(str(exc))
            return
        self._set_loading(True)

        def run(report: Any) -> Any:
            def progress(done: int, total: int) -> bool:
                if gen != self._generation:
                    return False  # the filter changed: abandon this scan
                report(done, total)
                return True
            return store.find_audits(flt, before_id=before, limit=PAGE, progress=progress)

        def done(page: Any) -> None:
            if gen != self._generation:
                return
            self._set_loading(False)
            self._append_page(page)
            self.progress.emit(1, 1)

        def failed(message: str) -> None:
            if gen == self._generation:
                self._set_loading(False)
                self._paging.next_before = None
                self.error.emit(message)

        def progress(done_: int, total: int) -> None:
            if gen == self._generation:
                self.progress.emit(done_, total)

        workers.start(run, done, failed, progress)

    def _append_page(self, page: AuditPage) -> None:
        if page.events:
            start = len(self._paging.rows)
            self.beginInsertRows(QModelIndex(), start, start + len(page.events) - 1)
            self._paging.add_older(page.events)
            self.endInsertRows()
            self._learn(page.events)
        self._paging.next_before = page.next_before_id

    # --- live ----------------------------------------------------------------------------

    def refresh(self) -> int:
        """Insert events committed since the last look at the top; returns how many."""
        store = self._db.store
        if store is None:
            return 0
        if self._db.reads_in_workers:
            return self._remote.refresh()
        paging = self._paging
        try:
            plan = paging.plan_refresh(store.change_token().last_audit_id)
            if plan.action is Refresh.RELOAD:
                self.reload()  # the log shrank (a different file) or was empty: start over
                return plan.added
            if plan.action is Refresh.NOTHING:
                return 0
            if plan.action is Refresh.INSERT:
                added = plan.added
                paging.forget_stale()  # read before the new ids existed
                self.beginInsertRows(QModelIndex(), 0, added - 1)
                paging.top = plan.newest
                self.endInsertRows()
            else:
                page = store.find_audits(paging.filter, after_id=plan.after_id,
                                         before_id=plan.before_id, limit=REFRESH_LIMIT)
                paging.scanned(plan.newest)
                added = len(page.events)
                if added:
                    self.beginInsertRows(QModelIndex(), 0, added - 1)
                    paging.add_newer(page.events)
                    self.endInsertRows()
                    self._learn(page.events)
        except LockedError:
            self._retry_later("refresh")
            return 0
        except StoreError as exc:
            self.error.emit(str(exc))
            return 0
        if added:
            self.newRows.emit(added)
        return added

    # --- a read the service's lock turned away -------------------------------------------

    def _retry_later(self, what: str) -> None:
        self._retry.add(what)
        if not self._retry_timer.isActive():
            self._retry_timer.start()

    def _on_retry(self) -> None:
        todo, self._retry = self._retry, set()
        if "reload" in todo:
            self.reload()
            return
        if "refresh" in todo:
            self.refresh()
        if "fetch" in todo:
            self.fetchMore(QModelIndex())
        if "rows" in todo:
            self.repaint_rows()

    def repaint_rows(self) -> None:
        """Ask the views to paint every row again (rows that were read meanwhile)."""
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, len(COLUMNS) - 1))
