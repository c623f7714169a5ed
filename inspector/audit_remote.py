"""The audit model's reads when the database is on another computer (issue #17).

Locally, `AuditModel` reads the id range, a painted block of rows and an indexed page on
the GUI thread (each well under a millisecond). Over a link each read is a round trip, so
for a remote database (`Database.reads_in_workers`) every one of them runs in the worker
pool and its result is applied on the GUI thread: the id range after a reload, the blocks
being painted (shown empty until they arrive, then repainted), and the rows a live refresh
reads. A refresh plans with the change token the remote side sent with its notice
(`Database.known_token`), so a commit costs one read, not two. The Sessions view reads
through `RemoteSessionReader`: its pages are made on the remote side.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QTimer

from shepherd_store import AuditEvent, AuditFilter, AuditPage
from shepherd_store.paging import PAGE, REFRESH_LIMIT, Refresh
from shepherd_store.remote import RemoteStore
from shepherd_store.sessions import PAGE as SESSION_PAGE
from shepherd_store.sessions import Session, SessionFilter, SessionPage, SessionUpdate

from . import workers

if TYPE_CHECKING:
    from .audit_model import AuditModel

__all__ = ["RemoteAuditReads", "RemoteSessionReader"]

#: How often rows that could not be read are asked for again while the link is down.
RETRY_DOWN_MS = 1000


class RemoteAuditReads:
    """The worker-pool reads of one `AuditModel` over a remote database (see module)."""

    def __init__(self, model: AuditModel) -> None:
        self.model = model
        #: Blocks whose read is under way (painted as empty rows until they arrive).
        self.pending: set[int] = set()
        self._refreshing = False
        self._refresh_again = False
        self._starting = False
        self._down_retry = QTimer(model)
        self._down_retry.setSingleShot(True)
        self._down_retry.setInterval(RETRY_DOWN_MS)
        self._down_retry.timeout.connect(model.repaint_rows)

    def forget(self) -> None:
        """A reload: reads still under way are dropped when they arrive (generation)."""
        self.pending.clear()
        self._refreshing = self._refresh_again = self._starting = False

    def start(self, store: Any) -> None:
        """Read where the rows start (the id range, or the newest id), then page."""
        model = self.model
        gen, filtered = model._generation, model.filtered
        token = model._db.known_token
        self._starting = True
        if filtered and token is not None:
            self._started(gen, ("filtered", token.last_audit_id))
            return

        def run(_report: Any) -> Any:
            if filtered:
                return "filtered", store.change_token().last_audit_id
            return "range", store.audit_id_range()

        workers.start(run, lambda result: self._started(gen, result),
                      lambda message: self._failed(gen, message))

    def _started(self, gen: int, result: Any) -> None:
        model = self.model
        if gen != model._generation:
            return
        self._starting = False
        kind, value = result
        model.beginResetModel()
        if kind == "filtered":
            model._paging.start_filtered(value)
        else:
            model._paging.start(value)
        model.endResetModel()
        if model._paging.can_page():
            model.fetchMore(QModelIndex())

    def _failed(self, gen: int, message: str) -> None:
        if gen == self.model._generation:
            self.model.error.emit(message)

    def load_block(self, block: int) -> None:
        """Read `block` in the pool; its rows are repainted when they arrive."""
        model = self.model
        store = model._db.store
        if block in self.pending or store is None:
            return
        self.pending.add(block)
        gen = model._generation
        after_id, before_id = model._paging.block_bounds(block)

        def run(_report: Any) -> AuditPage:
            return store.find_audits(AuditFilter(), before_id=before_id, after_id=after_id,
                                     limit=PAGE)

        def done(page: object) -> None:
            if gen != model._generation or not isinstance(page, AuditPage):
                return
            self.pending.discard(block)
            rows: dict[int, AuditEvent] = {e.id: e for e in page.events}
            model._learn(rows.values())
            model._paging.keep(block, rows)
            model.repaint_rows()

        def failed(message: str) -> None:
            if gen == model._generation:
                self.pending.discard(block)
                remote = model._db.remote
                if remote is not None and remote.connected_now:
                    model._retry_later("rows")  # (a lock there: try again shortly)
                else:  # the link is down: look again in a while, not 20 times a second
                    self._down_retry.start()

        workers.start(run, done, failed)

    def refresh(self) -> int:
        """Insert the events committed since the last look; the rows a filter needs are read
        in the pool (0 now, `newRows` when they are in)."""
        model = self.model
        store, token = model._db.store, model._db.known_token
        if store is None or token is None:
            return 0
        if self._refreshing or self._starting:
            self._refresh_again = not self._starting
            return 0
        paging = model._paging
        plan = paging.plan_refresh(token.last_audit_id)
        if plan.action is Refresh.RELOAD:
            model.reload()
            return 0
        if plan.action is Refresh.NOTHING:
            return 0
        if plan.action is Refresh.INSERT:
            paging.forget_stale()
            model.beginInsertRows(QModelIndex(), 0, plan.added - 1)
            paging.top = plan.newest
            model.endInsertRows()
            model.newRows.emit(plan.added)
            return plan.added
        gen, flt = model._generation, paging.filter
        self._refreshing = True

        def run(_report: Any) -> AuditPage:
            return store.find_audits(flt, after_id=plan.after_id, before_id=plan.before_id,
                                     limit=REFRESH_LIMIT)

        def done(page: object) -> None:
            if gen != model._generation or not isinstance(page, AuditPage):
                return
            self._refreshing = False
            paging.scanned(plan.newest)
            if page.events:
                model.beginInsertRows(QModelIndex(), 0, len(page.events) - 1)
                paging.add_newer(page.events)
                model.endInsertRows()
                model._learn(page.events)
                model.newRows.emit(len(page.events))
            if self._refresh_again:
                self._refresh_again = False
                self.refresh()

        def failed(message: str) -> None:
            if gen != model._generation:
                return
            self._refreshing = False
            if "locked" in message.lower():
                model._retry_later("refresh")
            else:
                model.error.emit(message)

        workers.start(run, done, failed)
        return 0



class RemoteSessionReader:
    """`SessionReader`'s reads run on the remote side (`RemoteStore.session_page` and
    `session_refresh`): one request per page instead of one per statement. The page comes
    whole (no progress, no cancel between statements)."""

    def __init__(self, store: RemoteStore) -> None:
        self.store = store

    def page(self, flt: SessionFilter | None = None, *, before_id: int | None = None,
             limit: int = SESSION_PAGE, now: datetime | None = None,
             progress: Any = None) -> SessionPage:
        return self.store.session_page(flt, before_id=before_id, limit=limit, now=now)

    def refresh(self, flt: SessionFilter | None, after_id: int, unfinished: list[Session],
                *, now: datetime | None = None) -> SessionUpdate:
        return self.store.session_refresh(flt, after_id, unfinished, now=now)
