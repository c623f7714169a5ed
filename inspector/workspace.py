"""The databases one window holds (issue #17: one per child's computer), each with its own
tab set, and which of them is shown.

A `DatabaseSlot` is one open `Database` and its page: the banner of its connection (a
remote one's) above its own `LazyTabs` (Audit log, Usage, Cooldowns, Recovery). The tab set
is built the first time the slot is shown, so a window that reopens several databases
paints its first page as soon as with one; afterwards switching is instant and every slot
keeps its tab, selection, filters and scroll position. `Workspace` is the stack of those
pages (and of any other page the window shows in their place, such as the usage of all of
them side by side); `current` is the slot the window's menus, title and status bar speak
of.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from .audit_view import AuditTab
from .cooldown_tab import CooldownTab
from .database import Database
from .lazy_tabs import LazyTabs
from .recovery_tab import RecoveryTab
from .remote_window import ConnectionBanner
from .usage_tab import UsageTab

__all__ = ["DatabaseSlot", "Workspace", "build_tabs"]


def build_tabs(db: Database, parent: QWidget) -> tuple[LazyTabs, AuditTab]:
    """`db`'s tab set: the audit log built now, the other views' tabs in reading order
    (each module owns its view), each built the first time it is shown or asked for."""
    tabs = LazyTabs(parent)
    tabs.setObjectName("tabs")
    tabs.setDocumentMode(True)
    audit = AuditTab(db, tabs)
    tabs.add_page(audit, "Audit log", "Every event the service wrote, newest first")
    if db.store is not None:  # opened before its tabs were built: read it as `opened` does
        audit._on_opened()
    tabs.add_lazy(lambda page: UsageTab(db, page), "Usage",
                  "Play time per entry and day, with the daily limits")
    tabs.add_lazy(lambda page: CooldownTab(db, page), "Cooldowns",
                  "Every entry's cooldown, and manual changes")
    tabs.add_lazy(lambda page: RecoveryTab(db, page), "Recovery",
                  "The service's runs, the play its crashes lost and its repair, "
                  "and the saved snapshot")
    return tabs, audit


class DatabaseSlot:
    """One open database, its page (connection banner, then its tabs, built when first
    shown) and what the window's banner says about it."""

    def __init__(self, db: Database, parent: QWidget) -> None:
        self.db = db
        self.page = QWidget(parent)
        self.page.setObjectName("databasePage")
        self._layout = QVBoxLayout(self.page)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.connection_banner = ConnectionBanner(db, self.page)
        self._layout.addWidget(self.connection_banner)
        self.tabs: LazyTabs | None = None
        self.audit: AuditTab | None = None
        #: What the window's banner says of this database (text, offer the demo), if any.
        self.message: tuple[str, bool] | None = None

    @property
    def built(self) -> bool:
        return self.tabs is not None

    def build(self) -> LazyTabs:
        """The slot's tab set (built now if it was not yet)."""
        if self.tabs is None:
            self.tabs, self.audit = build_tabs(self.db, self.page)
            self._layout.addWidget(self.tabs, 1)
        return self.tabs


class Workspace(QStackedWidget):
    """The window's database slots, one page each, and the one shown (see the module)."""

    #: The current slot changed, or another page took the slots' place (or gave it back).
    shown = Signal()
    #: A slot's tab set was just built (the slot).
    slotBuilt = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workspace")
        self.slots: list[DatabaseSlot] = []
        self._current: DatabaseSlot | None = None

    @property
    def current(self) -> DatabaseSlot:
        assert self._current is not None, "a window always holds a database slot"
        return self._current

    @property
    def showing_slot(self) -> bool:
        """Whether the current slot's page is shown (not another page in its place)."""
        return self._current is not None and self.currentWidget() is self._current.page

    def add(self, db: Database, index: int | None = None) -> DatabaseSlot:
        """A slot for `db` at `index` (the end by default); the first one becomes current
        (and is built), the others wait until shown."""
        slot = DatabaseSlot(db, self)
        self.addWidget(slot.page)
        self.slots.insert(len(self.slots) if index is None else index, slot)
        if self._current is None:
            self.show_slot(slot)
        return slot

    def remove(self, slot: DatabaseSlot) -> None:
        """Forget `slot` and delete its page (never the last one); a neighbour becomes
        current if it was."""
        if len(self.slots) < 2 or slot not in self.slots:
            return
        index = self.slots.index(slot)
        self.slots.remove(slot)
        if slot is self._current:
            self._current = None
            self.show_slot(self.slots[min(index, len(self.slots) - 1)])
        self.removeWidget(slot.page)
        slot.page.deleteLater()

    def show_slot(self, slot: DatabaseSlot) -> None:
        """Make `slot` current and show its tabs (building them the first time)."""
        fresh = not slot.built
        slot.build()
        self._current = slot
        self.setCurrentWidget(slot.page)
        if fresh:
            self.slotBuilt.emit(slot)
        self.shown.emit()

    def show_page(self, page: QWidget) -> None:
        """Show `page` (one of this stack's, not a slot's) in the slots' place."""
        if self.indexOf(page) < 0:
            self.addWidget(page)
        self.setCurrentWidget(page)
        self.shown.emit()

    def slot_of(self, db: Database) -> DatabaseSlot | None:
        return next((s for s in self.slots if s.db is db), None)

    def slot_at(self, location: str) -> DatabaseSlot | None:
        """The slot whose database is at `location` (a path or an `ssh://` address)."""
        return next((s for s in self.slots if s.db.location == location), None)
