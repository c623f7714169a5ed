"""The Usage tab's reading: full reads in the worker pool, live changes at once.

A full read (open, range change, and a reconciling re-read after live changes) runs in the
worker pool; a live change first re-reads only yesterday and today on the GUI thread (a
few rows, about a millisecond), so the chart follows the service at once and never loses
the user's range, zoom, selection or hidden entries. A read that a newer one superseded is
dropped; changes committed during a read are swapped in when it arrives and read again
once things settle. What is read is `usage_data` (pure).

A database on another computer (`Database.reads_in_workers`) reads yesterday and today in
the pool too (each read is a round trip over the link), and applies them when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QWidget

from shepherd_store import SqliteStore, StoreError
from shepherd_store.usage import DailyUsage, DayRange, Preset

from . import workers
from .database import Database
from .usage_data import Loaded, range_moved, read_recent, read_usage
from .widgets import WhenShown

RECONCILE_MS = 1500  # after live changes settle, re-read the whole range once


class UsageReader(WhenShown):
    """What the Usage tab read (`daily`) and when it reads again.

    The tab (a subclass) says what to read (`preset`, `custom_range`) and shows it:
    `_apply` lays the data out, `_show_dates`, `_set_message` and `_show_empty` the rest.
    """

    #: Emitted after every completed read (full or live) has been laid out.
    dataApplied = Signal()

    def __init__(self, db: Database, parent: QWidget | None,
                 today: Callable[[], date]) -> None:
        super().__init__(parent)
        self._db = db
        self._today = today
        self._data: Loaded | None = None
        self._gen = 0
        self._loading = False
        self._pending = False
        self._reconcile = QTimer(self)
        self._reconcile.setSingleShot(True)
        self._reconcile.setInterval(RECONCILE_MS)
        self._reconcile.timeout.connect(self._on_reconcile)

    @property
    def daily(self) -> DailyUsage | None:
        """The usage of the range as last read (None before the first read)."""
        return self._data.daily if self._data is not None else None

    # --- what the tab reads and how it shows it -------------------------------------------------

    @property
    def preset(self) -> Preset | None:
        """The chosen preset, or None for a custom range."""
        raise NotImplementedError

    def custom_range(self) -> DayRange:
        """The days of a custom range."""
        raise NotImplementedError

    def _apply(self, *, keep_view: bool) -> None:
        """Lay the data out (`keep_view`: keep the user's zoom)."""
        raise NotImplementedError

    def _show_dates(self, rng: DayRange) -> None:
        raise NotImplementedError

    def _set_message(self, text: str) -> None:
        raise NotImplementedError

    def _show_empty(self, text: str) -> None:
        raise NotImplementedError

    # --- reading --------------------------------------------------------------------------

    def reload(self, *, keep_view: bool = False, wait: bool = False) -> None:
        """Read the whole range again, in the worker pool (or here with `wait`)."""
        store = self._db.store
        if store is None:
            return
        self._gen += 1
        gen = self._gen
        preset, today = self.preset, self._today()
        custom = self.custom_range() if preset is None else None
        self._loading = True
        self._reconcile.stop()

        def load(_report: Callable[[int, int], None]) -> Loaded:
            return read_usage(store, preset, custom, today)

        if wait:
            try:
                result = load(lambda _a, _b: None)
            except StoreError as exc:
                self._on_load_error(gen, str(exc))
                return
            self._on_loaded(gen, keep_view, result)
        else:
            workers.start(load, lambda r: self._on_loaded(gen, keep_view, r),
                          lambda msg: self._on_load_error(gen, msg))

    def _on_loaded(self, gen: int, keep_view: bool, result: object) -> None:
        if gen != self._gen or not isinstance(result, Loaded):
            return
        self._loading = False
        before, self._data = self._data, result
        store = self._db.store
        if self._pending and store is not None and not self._db.reads_in_workers:
            # changes arrived while reading: the newest days win over what was read
            self._overlay_recent(store)
        if self.preset is not None:
            self._show_dates(result.daily.range)
        if before != self._data:
            self._apply(keep_view=keep_view)
        if self._pending:
            self._pending = False
            self._reconcile.start()
        self.dataApplied.emit()

    def _on_load_error(self, gen: int, message: str) -> None:
        if gen != self._gen:
            return
        self._loading = False
        if self._db.store is not None:  # the database itself reports its own failures
            self._set_message(f"Cannot read usage: {message}")

    # --- database signals -------------------------------------------------------------------

    def _on_failed(self, message: str) -> None:
        self._gen += 1  # drop reads in flight
        self._loading = False
        self._reconcile.stop()
        self._show_empty(f"Cannot show usage: {message}")

    def _on_changed(self) -> None:
        """Another connection committed: re-read yesterday and today now, the rest later.

        A hidden tab reads once when shown instead (`WhenShown`).
        """
        store = self._db.store
        if store is None:
            return
        if self.later_if_hidden(self._catch_up):
            return
        if self._loading:
            self._pending = True  # the read in flight may predate this commit
        if self._data is None:
            return
        if range_moved(self.preset, self._data.daily.range, self._today()):
            self.reload(keep_view=True)  # the day changed: the range moves with it
            return
        if self._db.reads_in_workers:
            self._overlay_in_pool(store)
            return
        if not self._overlay_recent(store):
            return  # the database reports its own failure
        self._apply(keep_view=True)
        if not self._loading:
            self._reconcile.start()
        self.dataApplied.emit()

    def _catch_up(self) -> None:
        """Read the whole range again, keeping the user's range and zoom."""
        self.reload(keep_view=True)

    def _on_reconcile(self) -> None:
        if not self.later_if_hidden(self._catch_up):
            self._catch_up()

    def _overlay_in_pool(self, store: SqliteStore) -> None:
        """`_overlay_recent` for a remote database: read in the pool, applied on arrival
        (dropped when a full read started meanwhile; that read sees the change)."""
        data, gen, today = self._data, self._gen, self._today()
        assert data is not None

        def done(result: object) -> None:
            if gen != self._gen or self._data is not data or not isinstance(result, Loaded):
                return
            self._data = result
            self._apply(keep_view=True)
            if not self._loading:
                self._reconcile.start()
            self.dataApplied.emit()

        workers.start(lambda _report: read_recent(store, data, today), done,
                      lambda _message: None)  # (the database reports its own failures)

    def _overlay_recent(self, store: SqliteStore) -> bool:
        """Swap a fresh read of yesterday and today into the data (`read_recent`)."""
        assert self._data is not None
        try:
            self._data = read_recent(store, self._data, self._today())
        except StoreError:
            return False
        return True
