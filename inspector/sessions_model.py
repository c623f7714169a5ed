"""The session list as a Qt table model: pages from a worker, live rows at the top.

Every read runs in the pool (`workers`): the first page, the older pages (`fetchMore`) and
the live refresh, which reads only the rows added since and tells again the sessions they
can still change (`shepherd_store.sessions`). Results of reads a filter change or a reload
made stale are dropped (by generation). Rows are sorted by start row, newest first; where a
session is and how a refresh merges is `shepherd_store.paging.SessionRows`'.
"""

from __future__ import annotations

from datetime import datetime
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

from shepherd_store.paging import SessionRows
from shepherd_store.remote import RemoteStore
from shepherd_store.sessions import (
    PAGE,
    Session,
    SessionFilter,
    SessionPage,
    SessionReader,
    SessionUpdate,
    ended_text,
    extensions_text,
    how_text,
    interruption_note,
    length_text,
    warnings_text,
)
from shepherd_store.store import SqliteStore
from shepherd_store.timefmt import local_now

from . import workers
from .audit_remote import RemoteSessionReader
from .database import Database
from .formatting import format_local, format_stored
from .icons import kind_icon
from .theme import is_dark
from .widgets import plain_tip

SessionRole = Qt.ItemDataRole.UserRole + 2  # the session id (as the event model's)
SessionObjectRole = Qt.ItemDataRole.UserRole + 3  # the `Session`
COLUMNS = ("Started", "Ended", "Entry", "Length", "Warnings", "Extended", "How it ended")
(COL_STARTED, COL_ENDED, COL_ENTRY, COL_LENGTH, COL_WARNINGS, COL_EXTENDED,
 COL_HOW) = range(len(COLUMNS))
TIPS = ("When it started, in this computer's local time",
        "When it ended (the time alone on the day it started)",
        "The application (entry) played",
        "How long it lasted; ≥ for an interrupted session (what the log proves)",
        "The warnings the service gave before its time was up (time left)",
        "Time added by a parent",
        "How it ended; double-click a session to see its events")
#: How often the lengths of running sessions are redrawn, and their status read again
#: (a running session whose deadline is long past is shown interrupted).
TICK_MS = 30_000
#: A read a lock turned away (or that failed) is tried again after this long.
RETRY_MS = 250
_Index = QModelIndex | QPersistentModelIndex
_COLORS = {"interrupted": ("#E65100", "#FFB74D"), "running": ("#1565C0", "#64B5F6")}
#: The roles `data` answers; the others are turned away before the session is looked up.
_ROLES = frozenset(int(r) for r in (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.DecorationRole,
    Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.TextAlignmentRole,
    Qt.ItemDataRole.AccessibleTextRole, SessionRole, SessionObjectRole))


class SessionsModel(QAbstractTableModel):
    """One row per session, newest first, under a `SessionFilter`."""

    loadingChanged = Signal(bool)
    newRows = Signal(int)  # sessions inserted at the top by a live refresh
    pageLoaded = Signal()  # the first page (after a reload) or an older one arrived
    error = Signal(str)

    def __init__(self, db: Database, parent: Any = None) -> None:
        super().__init__(parent)
        self._db = db
        self._filter = SessionFilter()
        self._rows = SessionRows()
        self._next_before: int | None = None
        self._top = 0  # the newest log row taken into account
        self._loaded = False  # the first page has arrived
        # Reads only while its view is shown (`set_active`): a reload meanwhile waits.
        self._active = True
        self._stale = False
        self._loading = False
        self._generation = 0
        self._unreadable = 0
        self._refreshing = False
        self._refresh_again = False
        self._reader: SessionReader | None = None
        self._texts: dict[int, tuple[str, ...]] = {}  # started_id → column texts
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._on_tick)
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(RETRY_MS)
        self._retry.timeout.connect(self.refresh)

    # --- state ---------------------------------------------------------------------------

    @property
    def filter(self) -> SessionFilter:
        return self._filter

    @property
    def loading(self) -> bool:
        return self._loading

    @property
    def loaded(self) -> bool:
        """Whether the first page under the current filter has arrived."""
        return self._loaded

    @property
    def complete(self) -> bool:
        """Whether every matching session is in the model (the count is exact)."""
        return self._loaded and self._next_before is None

    @property
    def top_id(self) -> int:
        """The newest log row the rows take into account (a refresh reads after it)."""
        return self._top

    @property
    def refreshing(self) -> bool:
        return self._refreshing

    @property
    def unreadable(self) -> int:
        """Start rows that could not be read so far (the event log shows them)."""
        return self._unreadable

    def set_active(self, active: bool) -> None:
        """Read only while the Sessions view is shown: the event log opened alone pays
        nothing for it. Shown again, it reads what it missed."""
        if active == self._active:
            return
        self._active = active
        if not active:
            self._tick.stop()
            if not self._loaded or self._loading:  # drop the read under way: read when shown
                self._generation += 1
                self._stale = True
                self._set_loading(False)
        elif self._stale:
            self.reload()
        else:
            self.refresh()
            self._arm_tick()

    def set_filter(self, flt: SessionFilter) -> None:
        """Show the sessions matching `flt` (a read still running for the old one is
        dropped)."""
        if flt != self._filter:
            self._filter = flt
            self.reload()

    def _set_loading(self, value: bool) -> None:
        if value != self._loading:
            self._loading = value
            self.loadingChanged.emit(value)

    def _store(self) -> SqliteStore | None:
        store = self._db.store
        if store is None:
            self._reader = None
        elif self._reader is None or self._reader.store is not store:
            self._reader = (RemoteSessionReader(store) if isinstance(store, RemoteStore)
                            else SessionReader(store))  # type: ignore[assignment]
        return store

    # --- reading -------------------------------------------------------------------------

    def reload(self) -> None:
        """Forget every row and read the first page again (in a worker)."""
        self._generation += 1
        self.beginResetModel()
        self._rows.clear()
        self._texts.clear()
        self._next_before = None
        self._top = 0
        self._loaded = False
        self._unreadable = 0
        self._refreshing = self._refresh_again = False
        self.endResetModel()
        self._tick.stop()
        self._set_loading(False)
        self._stale = False
        if self._store() is None:
            self._loaded = True
            self.pageLoaded.emit()
            return
        if not self._active:
            self._stale = True  # read when shown
            return
        self._read_page(None)

    def canFetchMore(self, parent: _Index) -> bool:
        return (not parent.isValid() and self._loaded and self._next_before is not None
                and not self._loading)

    def fetchMore(self, parent: _Index) -> None:
        if self.canFetchMore(parent):
            self._read_page(self._next_before)

    def _read_page(self, before: int | None) -> None:
        if self._store() is None or self._reader is None:
            return
        reader, flt, gen = self._reader, self._filter, self._generation
        self._set_loading(True)

        def run(_report: Any) -> SessionPage | None:
            # Cancelled between statements once a newer filter or reload made it stale.
            if gen != self._generation:
                return None
            return reader.page(flt, before_id=before, limit=PAGE, now=local_now(),
                               progress=lambda _d, _t: gen == self._generation)

        def done(page: object) -> None:
            if gen != self._generation or not isinstance(page, SessionPage):
                return
            first = before is None
            if first:
                self._top = page.top_id
            self._next_before = page.next_before_id
            self._unreadable += page.unreadable
            self._loaded = True
            self._append(page.sessions)
            self._set_loading(False)
            self._arm_tick()
            self.pageLoaded.emit()
            if first and self._refresh_again:  # the log changed while the page was read
                self._refresh_again = False
                self.refresh()

        def failed(message: str) -> None:
            if gen == self._generation:
                self._loaded = True
                self._next_before = before  # a scroll (or F5) tries the page again
                self._set_loading(False)
                self.error.emit(message)
                self.pageLoaded.emit()

        workers.start(run, done, failed)

    def _append(self, sessions: list[Session]) -> None:
        if not sessions:
            return
        start = len(self._rows)
        self.beginInsertRows(QModelIndex(), start, start + len(sessions) - 1)
        self._rows.append(sessions)
        self.endInsertRows()

    # --- live ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read what the service wrote since the last look (in a worker): new sessions go
        on top, the ones it changed are redrawn where they are."""
        if self._store() is None or self._reader is None or not self._active:
            return
        if not self._loaded or self._refreshing:
            self._refresh_again = True  # once the first page or the running refresh is in
            return
        reader, flt, gen, after = self._reader, self._filter, self._generation, self._top
        unfinished = self._rows.unfinished()
        self._refreshing, self._refresh_again = True, False

        def run(_report: Any) -> SessionUpdate:
            return reader.refresh(flt, after, unfinished, now=local_now())

        def done(update: object) -> None:
            if gen != self._generation or not isinstance(update, SessionUpdate):
                return
            self._refreshing = False
            if update.reset:
                self.reload()
                return
            self._apply(update)
            if self._refresh_again:
                self.refresh()

        def failed(_message: str) -> None:
            if gen == self._generation:
                self._refreshing = False
                self._retry.start()  # most often the service's lock: read again shortly

        workers.start(run, done, failed)

    def _apply(self, update: SessionUpdate) -> None:
        self._top = max(self._top, update.top_id)
        self._unreadable += update.unreadable
        for session in update.changed:
            row = self._rows.row_of(session.started_id)
            if row is None:
                continue
            self._rows.replace(row, session)
            self._texts.pop(session.started_id, None)
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        new = self._rows.unseen(update.new)
        if new:
            self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
            self._rows.add_newer(new)
            self.endInsertRows()
            self.newRows.emit(len(new))
        self._arm_tick()

    def _arm_tick(self) -> None:
        if self._active and self._rows.any_unfinished():
            if not self._tick.isActive():
                self._tick.start()
        else:
            self._tick.stop()

    def _on_tick(self) -> None:
        for row, s in enumerate(self._rows.rows):
            if s.running:
                self._texts.pop(s.started_id, None)
                self.dataChanged.emit(self.index(row, COL_LENGTH), self.index(row, COL_LENGTH))
        self.refresh()

    # --- rows ----------------------------------------------------------------------------

    def session_at(self, row: int) -> Session | None:
        return self._rows.at(row)

    def row_of(self, started_id: int) -> int | None:
        """The row of the session started at log row `started_id`, when it is loaded."""
        return self._rows.row_of(started_id)

    def row_of_session(self, session_id: str) -> int | None:
        return self._rows.row_of_session(session_id)

    # --- Qt model interface --------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS[section]
        return None

    def texts(self, s: Session, now: datetime | None = None) -> tuple[str, ...]:
        """The row's column texts (kept: painting asks for them often)."""
        cached = self._texts.get(s.started_id)
        if cached is None:
            if len(self._texts) > 20_000:
                self._texts.clear()
            cached = (format_local(s.started_at, seconds=False), ended_text(s), s.name,
                      length_text(s, now, so_far=False), warnings_text(s), extensions_text(s),
                      how_text(s))
            self._texts[s.started_id] = cached
        return cached

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES:  # (a delegate asks about nine roles per cell as it paints)
            return None
        s = self.session_at(index.row()) if index.isValid() else None
        if s is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.texts(s)[col]
        if role == SessionRole:
            return s.session_id
        if role == SessionObjectRole:
            return s
        if role == Qt.ItemDataRole.ToolTipRole:  # escaped: Qt would render markup in tips
            return plain_tip(self._tip(s, col))
        if role == Qt.ItemDataRole.DecorationRole and col == COL_HOW:
            return self._icon(s)
        if role == Qt.ItemDataRole.ForegroundRole and col in (COL_LENGTH, COL_HOW):
            colors = _COLORS.get(s.status)
            return QBrush(QColor(colors[1 if is_dark() else 0])) if colors else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_LENGTH:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{COLUMNS[col]}: {self.texts(s)[col]}"
        return None

    def _tip(self, s: Session, col: int) -> str:
        texts = self.texts(s)
        if col == COL_STARTED:
            stored = format_stored(s.started_at) if s.started_at is not None else "unreadable"
            return f"{format_local(s.started_at)} (local time)\nas stored: {stored}"
        if col == COL_ENTRY:
            return f"{s.name} ({s.entry_id})\nsession {s.session_id}"
        if col == COL_HOW:
            note = interruption_note(s)
            tail = "\n\nDouble-click to see this session's events."
            return f"{texts[COL_HOW]}\n\n{note}{tail}" if note else texts[COL_HOW] + tail
        if col == COL_LENGTH:
            return length_text(s)  # ("so far" while running)
        return texts[col] or COLUMNS[col] + ": none"

    @staticmethod
    def _icon(s: Session) -> QIcon:
        return kind_icon("warning" if s.interrupted else "session")
