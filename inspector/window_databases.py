"""The main window's several databases (issue #17: one window, one database per child's
computer): adding one beside the others, switching, closing, the row that shows them
(`database_switcher`), their usage side by side (`usage_side_by_side`), and the set
remembered for the next start.

`WindowDatabases` is a base of `MainWindow` (main_window.py), as `RemoteDatabase` is of
`Database`: it uses the window's `workspace`, `switcher`, `banner`, `status`, `settings`
and actions. Every database has its own slot (`workspace.DatabaseSlot`: its `Database` and
its own tab set); `window.db`, `window.tabs`, `window.audit`, ... are the current slot's,
and the title, status bar and banner speak of it. What a database's signals say reaches
the window through `_attach`: the banner and status bar follow the current one, the
switcher all of them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMenu

from shepherd_store.remote import looks_remote

from .audit_view import AuditTab
from .database import Database
from .database_switcher import MAX_KEYED, SwitcherItem, database_names
from .lazy_tabs import LazyTabs
from .remote_connection import RemoteConnection
from .remote_window import ConnectionBanner, OpenRemoteDialog, remember_remote
from .usage_side_by_side import UsageSideBySide
from .workspace import DatabaseSlot

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["DATABASES_KEY", "WindowDatabases"]

#: QSettings: the locations of the databases open together (two or more) when the window
#: closed, and the index of the one shown.
DATABASES_KEY = "workspace/databases"
CURRENT_KEY = "workspace/current"


class WindowDatabases:
    """`MainWindow`'s several databases (see the module); not used on its own."""

    side_by_side: UsageSideBySide | None
    _closed_dbs: list[Database]
    _closed_remotes: list[RemoteConnection]

    # --- the current database's (workspace.py) ------------------------------------------------

    @property
    def db(self: MainWindow) -> Database:
        """The database shown (the current one, when several are open)."""
        return self.workspace.current.db

    @property
    def tabs(self: MainWindow) -> LazyTabs:
        """The current database's tabs."""
        return self.workspace.current.build()

    @property
    def audit(self: MainWindow) -> AuditTab:
        """The current database's Audit log tab."""
        self.workspace.current.build()
        audit = self.workspace.current.audit
        assert audit is not None
        return audit

    @property
    def connection_banner(self: MainWindow) -> ConnectionBanner:
        """The current database's connection banner (a remote one's)."""
        return self.workspace.current.connection_banner

    def _on_slot_built(self: MainWindow, slot: DatabaseSlot) -> None:
        """Another database's tab set was built (first shown): its views' stored state."""
        assert slot.tabs is not None and slot.audit is not None
        slot.tabs.built.connect(self._restore_views)
        self._restore_views(slot.audit)

    # --- adding, switching, closing ---------------------------------------------------------

    def new_database(self: MainWindow) -> Database:
        """A database for a new slot, reaching remote computers as the current one does."""
        db = Database(self)
        db.remote_options = dict(self.db.remote_options)
        return db

    def add_database(self: MainWindow, location: str | Path, *, show: bool = True,
                     read_only: bool | None = None) -> DatabaseSlot:
        """Open `location` (a path or an `ssh://` address, which connects in the background
        read-only) beside the databases open now; shown at once unless `show` is False. A
        database open already is shown instead; nothing open yet is replaced."""
        text = location if isinstance(location, str) and looks_remote(location) else str(
            Path(location).expanduser().absolute())
        found = self.workspace.slot_at(text)
        if found is None and self.db.location is None and self.db.remote is None:
            found = self.workspace.current  # (nothing open: no empty slot left behind)
            if show:
                self.show_database(found)
            self.open_path(location, read_only=read_only)
            return found
        if found is None:
            found = self._add_slot(self.new_database())
            remote = isinstance(location, str) and looks_remote(location)
            if remote:
                found.db.open_remote(location, read_only=True)
            else:
                ro = self.action_read_only.isChecked() if read_only is None else read_only
                if found.db.open(location, read_only=ro):
                    self._remember(Path(location))
        if show:
            self.show_database(found)
        return found

    def add_remote(self: MainWindow, connection: RemoteConnection) -> DatabaseSlot:
        """A slot for the database of a connected `connection` (File ▸ Add Remote
        Database…'s dialog), shown at once, read-only until allowed."""
        slot = self.workspace.slot_at(str(connection.url))
        if slot is not None:
            connection.close()
            self._closed_remotes.append(connection)
        else:
            slot = self._add_slot(self.new_database())
            slot.db.use_remote(connection, read_only=True)
        self.show_database(slot)
        return slot

    def _add_slot(self: MainWindow, db: Database) -> DatabaseSlot:
        slot = self.workspace.add(db)
        self._attach(slot)
        self._databases_changed()
        return slot

    def choose_add_file(self: MainWindow) -> None:
        """File ▸ Add Database…: a file opened beside the others."""
        path = self.ask_database_file()
        if path:
            self.add_database(path)

    def choose_add_remote(self: MainWindow) -> OpenRemoteDialog:
        """File ▸ Add Remote Database…: File ▸ Open Remote's dialog; the database it
        connects to is added beside the others."""
        dialog = OpenRemoteDialog(self.settings, self, options=self.db.remote_options)
        dialog.setWindowTitle("Add a database on another computer")
        dialog.connectedTo.connect(self.add_remote)
        self.remote_dialog = dialog
        dialog.open()
        return dialog

    def show_database(self: MainWindow, which: DatabaseSlot | int) -> None:
        """Show a database's tabs (by slot or index), as they were left."""
        slots = self.workspace.slots
        if isinstance(which, int):
            if not 0 <= which < len(slots):
                return
            which = slots[which]
        if which is not self.workspace.current or not self.workspace.showing_slot:
            self.workspace.show_slot(which)

    def show_tab(self: MainWindow, index: int) -> None:
        """The current database's tab `index` (leaving the side-by-side view)."""
        self.show_database(self.workspace.current)
        self.tabs.setCurrentIndex(index)

    def _close_at(self: MainWindow, index: int) -> None:
        """Close the database at `index` (the switcher's menu)."""
        self.show_database(index)
        self.close_database()

    def step_database(self: MainWindow, step: int) -> None:
        """The next (1) or previous (-1) database, round the end (Ctrl+PgDown/PgUp)."""
        slots = self.workspace.slots
        index = slots.index(self.workspace.current)
        if not self.workspace.showing_slot and step > 0:
            index -= 1  # from the side-by-side view the next one is the current one
        self.show_database((index + step) % len(slots))

    def close_database(self: MainWindow) -> None:
        """File ▸ Close Database: close the database shown (never the last one open, and
        none while the side-by-side view is shown)."""
        slot = self.workspace.current
        if len(self.workspace.slots) < 2 or not self.workspace.showing_slot:
            return
        slot.db.close()
        self._closed_dbs.append(slot.db)
        self.workspace.remove(slot)
        self._databases_changed()

    def all_databases(self: MainWindow) -> list[Database]:
        """Every open database, in the switcher's order."""
        return [s.db for s in self.workspace.slots]

    def wait_closed(self: MainWindow, timeout: float = 10.0) -> bool:
        """Wait for every remote connection closed so far to end (tests and quitting)."""
        dbs = self.all_databases() + self._closed_dbs
        done = all([db.wait_closed(timeout) for db in dbs])
        return all([r.wait_closed(timeout) for r in self._closed_remotes]) and done

    # --- what the databases say ---------------------------------------------------------------

    def _attach(self: MainWindow, slot: DatabaseSlot) -> None:
        """Pass `slot`'s database's signals to the window (banner and status: when it is the
        current one; the switcher: always)."""
        db = slot.db
        db.opened.connect(lambda: self._on_opened(slot))
        db.failed.connect(lambda message: self._on_failed(message, slot))
        db.stateChanged.connect(lambda: self._on_db_state(slot))
        db.connectionChanged.connect(lambda: self._on_db_state(slot))

    def show_message(self: MainWindow, text: str, *, offer_demo: bool = False) -> None:
        """Say what is wrong (plain text) above the tabs; the rest keeps working. It is the
        current database's message: shown again whenever that database is."""
        self.workspace.current.message = (text, offer_demo)
        self.banner.say(text, offer_demo=offer_demo)

    def _on_opened(self: MainWindow, slot: DatabaseSlot | None = None) -> None:
        slot = slot or self.workspace.current
        db = slot.db
        if db.url is not None:
            self._remember(db.url)
            remember_remote(self.settings, db.url)
        slot.message = None
        if slot is self.workspace.current:
            self.status.forget_journal()
            self.pages.setCurrentIndex(0)
            self.banner.setVisible(False)
            self._update_status()
        self._refresh_switcher()

    def _on_failed(self: MainWindow, message: str, slot: DatabaseSlot | None = None) -> None:
        slot = slot or self.workspace.current
        db = slot.db
        current = slot is self.workspace.current
        if current:
            self.pages.setCurrentIndex(0)
        if db.remote is None or db.remote.state != "failed":
            slot.message = (message, False)  # (a connection's failure: its own banner says it)
            if current:
                self.banner.say(message)
        if current:
            self._update_status()
        self._refresh_switcher()

    def _on_db_state(self: MainWindow, slot: DatabaseSlot) -> None:
        if slot is self.workspace.current:
            self._update_status()
        self._refresh_switcher()

    def _on_shown(self: MainWindow) -> None:
        """Another database (or the side-by-side view) is shown: the window speaks of it."""
        slot = self.workspace.current
        db = slot.db
        self.status.set_database(db)
        if slot.message is not None:
            self.banner.say(slot.message[0], offer_demo=slot.message[1])
        else:
            self.banner.setVisible(False)
        self.action_read_only.blockSignals(True)
        self.action_read_only.setChecked(db.user_read_only)
        self.action_read_only.blockSignals(False)
        self.action_close_db.setEnabled(len(self.workspace.slots) > 1)
        self._update_status()
        self._refresh_switcher()

    def _databases_changed(self: MainWindow) -> None:
        """A database was added or closed: the switcher, the side-by-side view, Close."""
        if self.side_by_side is not None:
            self.side_by_side.set_databases(self._named())
            if len(self.workspace.slots) < 2 and not self.workspace.showing_slot:
                self.show_database(self.workspace.current)
        self.action_close_db.setEnabled(len(self.workspace.slots) > 1)
        self._refresh_switcher()

    def database_names(self: MainWindow) -> list[str]:
        """The open databases' names as the switcher shows them, in its order."""
        return database_names([s.db.location for s in self.workspace.slots])

    def _named(self: MainWindow) -> list[tuple[str, Database]]:
        return list(zip(self.database_names(), self.all_databases(), strict=True))

    def _refresh_switcher(self: MainWindow) -> None:
        slots = self.workspace.slots
        names = self.database_names()
        items = [SwitcherItem.of(s.db, n) for s, n in zip(slots, names, strict=True)]
        side = not self.workspace.showing_slot
        state = (items, slots.index(self.workspace.current), side)
        if state != getattr(self, "_switcher_state", None):
            self._switcher_state = state
            self.switcher.set_items(items, state[1], side_by_side=side)
            if self.side_by_side is not None:
                for panel, name in zip(self.side_by_side.panels, names, strict=False):
                    panel.set_name(name)

    # --- side by side ----------------------------------------------------------------------------

    def show_side_by_side(self: MainWindow) -> UsageSideBySide:
        """View ▸ Usage Side by Side: every open database's usage in one view (built the
        first time it is asked for)."""
        view = self.side_by_side
        if view is None:
            view = self.side_by_side = UsageSideBySide(self.workspace, settings=self.settings)
            view.set_databases(self._named())
        self.workspace.show_page(view)
        return view

    # --- the set remembered -----------------------------------------------------------------------

    def save_databases(self: MainWindow) -> None:
        """Remember the databases open together (two or more) and the one shown; with one
        open, nothing is remembered (the next start opens what it is given, as always)."""
        locations = [db.location for db in self.all_databases() if db.location is not None]
        if len(locations) >= 2:
            self.settings.setValue(DATABASES_KEY, locations)
            current = self.db.location
            self.settings.setValue(CURRENT_KEY, locations.index(current)
                                   if current in locations else 0)
        else:
            self.settings.remove(DATABASES_KEY)
            self.settings.remove(CURRENT_KEY)

    def remembered_databases(self: MainWindow) -> list[str]:
        """The databases open together when the window closed last (see `save_databases`)."""
        value = self.settings.value(DATABASES_KEY, [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def reopen_databases(self: MainWindow) -> int:
        """Open again the databases open together last time, beside the one open now (remote
        ones connect in the background, read-only; files that are gone are left out); the
        one shown then is shown again unless another was asked for. How many were opened."""
        saved = self.remembered_databases()
        shown = saved[0] if saved else None
        with contextlib.suppress(TypeError, ValueError, IndexError):
            shown = saved[int(self.settings.value(CURRENT_KEY, 0))]  # type: ignore[call-overload]
        remembered = [loc for loc in saved if looks_remote(loc) or Path(loc).exists()]
        asked = self.db.location
        opened = 0
        for location in remembered:
            if self.workspace.slot_at(location) is None:
                self.add_database(location, show=False)
                opened += 1
        if opened:
            self._order_slots(remembered)
            slot = self.workspace.slot_at(shown) if shown is not None else None
            if asked is None and slot is not None:
                self.show_database(slot)
        return opened

    def _order_slots(self: MainWindow, order: list[str]) -> None:
        """Put the slots in the remembered `order` (others after them, as they were)."""
        rank = {loc: i for i, loc in enumerate(order)}
        slots = self.workspace.slots
        slots.sort(key=lambda s: rank.get(s.db.location or "", len(order)))
        self._databases_changed()

    def _database_actions(self: MainWindow, view_menu: QMenu) -> None:
        """View ▸ the side-by-side view, next and previous database, Alt+0…9."""
        view_menu.addSeparator()
        self.action_side_by_side = self._action(
            view_menu, "&Usage Side by Side", self.show_side_by_side, "Alt+0",
            "actionSideBySide")
        self._action(view_menu, "&Next Database", lambda: self.step_database(1),
                     "Ctrl+PgDown", "actionNextDatabase")
        self._action(view_menu, "&Previous Database", lambda: self.step_database(-1),
                     "Ctrl+PgUp", "actionPreviousDatabase")
        for i in range(MAX_KEYED):
            action = self._action(view_menu, f"Database {i + 1}", lambda _c=False, i=i:
                                  self.show_database(i), f"Alt+{i + 1}", f"actionDatabase{i + 1}")
            view_menu.removeAction(action)  # (keys only: the switcher's tooltips name them)
