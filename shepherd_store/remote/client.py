"""`RemoteStore`: a Shepherd database on another computer, read (and, when asked, edited)
over SSH with the same calls and the same answers as a local `SqliteStore`.

    store = RemoteStore.open("ssh://parent@kids-pc/var/lib/shepherdd/shepherdd.db",
                             on_change=lambda token: ...)
    page = store.find_audits(AuditFilter(entry_id="minecraft"))

It starts the system `ssh` client (`launch`), which runs `python -m shepherd_store.remote
serve --stdio` there (`server`). Made for a window: every method may be called from any
thread, each request has a timeout, commits made there arrive as `on_change(token)` (on the
connection's reader thread: hand it to the GUI thread, and return quickly), a dropped
connection raises `ConnectionLostError` (and calls `on_disconnect(error)`), and
`reconnect()` tries again with backoff. Calls block until the answer arrives: a window makes
them off its GUI thread, as it does for long local reads.

Edits need `write=True` here and the remote file writable; each is one request and one
transaction there, through `overrides.py` or recovery's repairs (the same checks and trace as
a local edit; the trace names this side's `user@host`). Each carries an `edit_id`: when a
call fails with `ConnectionLostError` or `RemoteTimeoutError`, its `edit_id` says which
edit was in flight, and calling again with that `edit_id` after `reconnect()` applies it
once (the first outcome is answered if it had been applied).

The connection itself (connecting, reconnecting, closing, callbacks) is `link.RemoteLink`,
the base of `RemoteStore`; here are the reads and the edits.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from ..check import CheckReport
from ..errors import ProtocolError, ReadOnlyError, StoreError
from ..events import AuditEvent
from ..overrides import CooldownChange
from ..policy import Policy
from ..query import AuditFilter, AuditPage
from ..recovery import RecoveryFinding, RecoveryReport, RepairResult
from ..schema import Layout
from ..sessions import Session, SessionFilter, SessionPage, SessionUpdate
from ..snapshot import StateSnapshot
from ..store import ChangeToken, CooldownRecord, OverrideRecord, UsageRecord
from ..store_queries import Progress
from .link import RemoteLink, expect

__all__ = ["RemoteStore", "new_edit_id"]


def new_edit_id() -> str:
    """A new id for an edit (keep it to send the edit again after a dropped connection)."""
    return uuid.uuid4().hex


class RemoteStore(RemoteLink):
    """A database on another computer, behind one ssh connection (see the module): the
    reads of `SqliteStore`, recovery and check run there, and the edits of `overrides`."""

    # --- facts ---------------------------------------------------------------------------

    @property
    def layout(self) -> Layout:
        """The database's layout (as of the last connect)."""
        return expect(self.facts.get("layout"), Layout, "layout")

    @property
    def remote_path(self) -> str:
        """The database's path on the remote computer, as the server resolved it."""
        return str(self.facts.get("path", self.url.path))

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode there (as of the last connect or `refresh_facts`)."""
        return str(self.facts.get("journal_mode", "unknown"))

    @property
    def read_only_reason(self) -> str | None:
        """Why edits are impossible (as of the last connect or `refresh_facts`), or None."""
        if self.read_only:
            return "opened read-only"
        reason = self.facts.get("read_only_reason")
        return reason if isinstance(reason, str) else None

    @property
    def writable(self) -> bool:
        return self.read_only_reason is None

    def refresh_facts(self) -> dict[str, Any]:
        """Ask again for the journal mode and whether the file is writable there."""
        facts = self._get(dict, "facts")
        self.facts = {**self.facts, **facts}
        return facts

    def is_healthy(self) -> bool:
        """Whether the remote side answers and its connection reads."""
        try:
            return self._call("is_healthy") is True
        except StoreError:
            return False

    def change_token(self) -> ChangeToken:
        """The remote database's change token (commits there also arrive as `on_change`)."""
        return self._get(ChangeToken, "change_token")

    # --- reads (as `SqliteStore`'s) ------------------------------------------------------

    def find_audits(self, flt: AuditFilter | None = None, *, before_id: int | None = None,
                    after_id: int | None = None, limit: int = 200,
                    progress: Progress | None = None) -> AuditPage:
        """As `SqliteStore.find_audits` (at most `ops.MAX_PAGE` events). The scan runs
        there, so `progress` hears only of its end and cannot cancel it."""
        page = self._get(AuditPage, "find_audits", {
            "flt": flt, "before_id": before_id, "after_id": after_id, "limit": limit},
            timeout=self.scan_timeout)
        if progress is not None:
            progress(1, 1)
        return page

    def get_recent_audits(self, limit: int) -> list[AuditEvent]:
        """The newest `limit` events, newest first."""
        return self.find_audits(AuditFilter(), limit=limit).events

    def audit_id_range(self) -> tuple[int, int] | None:
        result = self._call("audit_id_range")
        if result is not None and not (isinstance(result, tuple) and len(result) == 2
                                       and all(isinstance(i, int) for i in result)):
            raise ProtocolError("audit_id_range answered with something else")
        return result

    def is_indexed(self, flt: AuditFilter) -> bool:
        return self._get(bool, "is_indexed", {"flt": flt})

    def usage_between(self, start: date | None = None, end: date | None = None,
                      entry_id: str | None = None) -> list[UsageRecord]:
        return self._get_list(UsageRecord, "usage_between",
                              {"start": start, "end": end, "entry_id": entry_id})

    def get_usage(self, entry_id: str, day: date) -> timedelta:
        return self._get(timedelta, "get_usage", {"entry_id": entry_id, "day": day})

    def all_cooldowns(self) -> list[CooldownRecord]:
        return self._get_list(CooldownRecord, "all_cooldowns")

    def get_cooldown_until(self, entry_id: str) -> datetime | None:
        result = self._call("get_cooldown_until", {"entry_id": entry_id})
        return None if result is None else expect(result, datetime, "get_cooldown_until")

    def load_snapshot_text(self) -> str | None:
        result = self._call("load_snapshot_text")
        return None if result is None else expect(result, str, "load_snapshot_text")

    def load_snapshot(self) -> StateSnapshot | None:
        result = self._call("load_snapshot")
        return None if result is None else expect(result, StateSnapshot, "load_snapshot")

    def list_overrides(self) -> list[OverrideRecord]:
        return self._get_list(OverrideRecord, "list_overrides")

    def entry_labels(self) -> dict[str, str]:
        result = self._get(dict, "entry_labels", timeout=self.scan_timeout)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in result.items()):
            raise ProtocolError("entry_labels answered with something else")
        return result

    def known_entries(self) -> list[str]:
        return self._get_list(str, "known_entries")

    def session_page(self, flt: SessionFilter | None = None, *, before_id: int | None = None,
                     after_id: int | None = None, limit: int = 100,
                     now: datetime | None = None) -> SessionPage:
        """`sessions.SessionReader.page` run there (one request; no progress)."""
        return self._get(SessionPage, "session_page", {
            "flt": flt, "before_id": before_id, "after_id": after_id, "limit": limit,
            "now": now}, timeout=self.scan_timeout)

    def session_refresh(self, flt: SessionFilter | None, after_id: int,
                        unfinished: Sequence[Session], *,
                        now: datetime | None = None) -> SessionUpdate:
        """`sessions.SessionReader.refresh` run there."""
        return self._get(SessionUpdate, "session_refresh", {
            "flt": flt, "after_id": after_id, "unfinished": list(unfinished), "now": now},
            timeout=self.scan_timeout)

    def recover(self, policy: Policy | None = None, *, since: datetime | None = None,
                now: datetime | None = None) -> RecoveryReport:
        """`recovery.recover` run there (its "local time" is the remote computer's, where
        the service runs)."""
        return self._get(RecoveryReport, "recover", {"policy": policy, "since": since,
                                                     "now": now}, timeout=self.scan_timeout)

    def check(self, *, quick: bool = False, full: bool = False,
              max_problems: int = 1000) -> CheckReport:
        """`check.check` run there."""
        return self._get(CheckReport, "check", {"quick": quick, "full": full,
                                                "max_problems": max_problems},
                         timeout=self.scan_timeout)

    # --- edits (as `overrides.py`'s) -----------------------------------------------------

    def _edit(self, op: str, args: dict[str, Any], edit_id: str | None, *,
              timeout: float | None = None) -> Any:
        if self.read_only:
            raise ReadOnlyError(f"Cannot change {self.path}: it was opened read-only. "
                                "Connect with write=True to edit. Nothing was written.",
                                path=self.path)
        edit_id = edit_id or new_edit_id()
        return self._call(op, {**args, "edit_id": edit_id}, timeout=timeout, edit_id=edit_id)

    def apply_cooldowns(self, changes: Sequence[CooldownChange], *,
                        edit_id: str | None = None) -> dict[str, str | None]:
        """`overrides.apply_cooldowns` there: all or none; the new raw texts by entry."""
        result = self._edit("apply_cooldowns", {"changes": list(changes)}, edit_id)
        return expect(result, dict, "apply_cooldowns")

    def set_cooldown(self, entry_id: str, until: datetime, *, expected: str | None,
                     edit_id: str | None = None) -> str:
        """`overrides.set_cooldown` there; the stored text."""
        return expect(self._edit("set_cooldown", {
            "entry_id": entry_id, "until": until, "expected": expected}, edit_id), str,
            "set_cooldown")

    def clear_cooldown(self, entry_id: str, *, expected: str | None,
                       edit_id: str | None = None) -> None:
        """`overrides.clear_cooldown` there."""
        self._edit("clear_cooldown", {"entry_id": entry_id, "expected": expected}, edit_id)

    def adjust_usage(self, entry_id: str, day: date, seconds: int, *, reason: str,
                     edit_id: str | None = None) -> int:
        """`overrides.add_usage` there (not the trait's `add_usage`): the new total."""
        return expect(self._edit("add_usage", {
            "entry_id": entry_id, "day": day, "seconds": seconds, "reason": reason},
            edit_id), int, "add_usage")

    def save_snapshot(self, snapshot: StateSnapshot, *, expected: str | None,
                      edit_id: str | None = None) -> str:
        """`overrides.save_snapshot` there; the stored JSON."""
        return expect(self._edit("save_snapshot", {"snapshot": snapshot,
                                                    "expected": expected}, edit_id), str,
                       "save_snapshot")

    def save_snapshot_text(self, text: str, *, expected: str | None,
                           edit_id: str | None = None) -> str:
        """`overrides.save_snapshot_text` there; the stored JSON."""
        return expect(self._edit("save_snapshot_text", {"text": text, "expected": expected},
                                  edit_id), str, "save_snapshot_text")

    def clear_active_session(self, *, expected: str | None, now: datetime | None = None,
                             edit_id: str | None = None) -> str:
        """`overrides.clear_active_session` there; the stored JSON."""
        return expect(self._edit("clear_active_session", {"expected": expected, "now": now},
                                  edit_id), str, "clear_active_session")

    def delete_snapshot(self, *, expected: str | None, edit_id: str | None = None) -> None:
        """`overrides.delete_snapshot` there."""
        self._edit("delete_snapshot", {"expected": expected}, edit_id)

    # --- repairs (as `recovery`'s) -------------------------------------------------------

    def repair(self, session_id: str, *, seconds: int | None = None, cooldown: bool = False,
               policy: Policy | None = None, finding: RecoveryFinding | None = None,
               report: RecoveryReport | None = None,
               edit_id: str | None = None) -> RepairResult:
        """`recovery.repair` there, in one transaction with its checks (refused with
        `RecoveryConflict` as locally). `report` (as `recover` answered it) goes with only
        what the repair reads of it: the id read up to, and the session's run and finding;
        without it, the scan is made there. Its "now" is the remote computer's."""
        return expect(self._edit("repair", {
            "session_id": session_id, "seconds": seconds, "cooldown": cooldown,
            "policy": policy, "finding": finding,
            "report": None if report is None else _about_session(report, session_id)},
            edit_id, timeout=self.scan_timeout), RepairResult, "repair")

    def repair_usage_lost(self, finding: RecoveryFinding, *,
                          edit_id: str | None = None) -> RepairResult:
        """`recovery.repair_usage_lost` there."""
        return expect(self._edit("repair_usage_lost", {"finding": finding}, edit_id),
                      RepairResult, "repair_usage_lost")

    def repair_cooldown(self, finding: RecoveryFinding, *,
                        edit_id: str | None = None) -> RepairResult:
        """`recovery.repair_cooldown` there."""
        return expect(self._edit("repair_cooldown", {"finding": finding}, edit_id),
                      RepairResult, "repair_cooldown")


def _about_session(report: RecoveryReport, session_id: str) -> RecoveryReport:
    """`report` with only the run holding `session_id` and its findings (all `repair` reads
    of a report, with `last_id`): the rest of a long log's runs need not cross again."""
    return dataclasses.replace(
        report, runs=tuple(r for r in report.runs
                           if any(s.session_id == session_id for s in r.sessions)),
        findings=tuple(f for f in report.findings if f.session_id == session_id), notes=())
