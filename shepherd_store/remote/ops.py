"""What a client may ask the server: each request is one call of the library's bounded reads
(keyset pages, short statements), one check or recovery scan (series of short statements),
or one edit (one transaction: an override, or one of recovery's repairs). Arguments are
checked by name and type before anything runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..errors import ProtocolError, ReadOnlyError
from ..overrides import CooldownChange
from ..policy import Policy
from ..query import AuditFilter
from ..recovery import RecoveryFinding, RecoveryReport
from ..sessions import Session as StoredSession
from ..sessions import SessionFilter
from ..snapshot import StateSnapshot
from ..store import SqliteStore, file_read_only_reason
from .edits import EDITS, apply_edit
from .watcher import ChangeWatcher

__all__ = ["MAX_PAGE", "OPS", "Op", "Session", "run_op"]

#: The most events one page request returns (the window asks for 200).
MAX_PAGE = 10_000
NONE = type(None)
#: The longest edit id accepted (the client makes a UUID).
MAX_EDIT_ID = 100


@dataclass
class Session:
    """What the server serves once the client said `open`."""

    store: SqliteStore  # read-only: every read goes through it
    path: str  # as given on the command line (edits open it anew)
    write: bool  # edits allowed (the server's --write and the client's wish)
    who: str  # who edits, from where: the traces' user
    watcher: ChangeWatcher | None = None
    edit_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def read_only_reason(self) -> str | None:
        """Why edits are refused, as `SqliteStore.read_only_reason` says it."""
        if not self.write:
            return "opened read-only"
        return file_read_only_reason(self.store.path)

    def facts(self) -> dict[str, Any]:
        return {"path": self.store.path, "layout": self.store.layout,
                "journal_mode": self.store.journal_mode,
                "read_only_reason": self.read_only_reason}


@dataclass(frozen=True)
class Op:
    """A request: its arguments' allowed types, the required ones, and what it does."""

    run: Callable[[Session, dict[str, Any]], Any]
    args: Mapping[str, tuple[type[Any], ...]] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    edit: bool = False


def _method(name: str) -> Callable[[Session, dict[str, Any]], Any]:
    def run(session: Session, args: dict[str, Any]) -> Any:
        return getattr(session.store, name)(**args)
    return run


def _find(session: Session, args: dict[str, Any]) -> Any:
    args["limit"] = min(args.get("limit", 200), MAX_PAGE)
    return session.store.find_audits(**args)


def _recent(session: Session, args: dict[str, Any]) -> Any:
    return session.store.get_recent_audits(min(args["limit"], MAX_PAGE))


def _token(session: Session, _args: dict[str, Any]) -> Any:
    if session.watcher is None:
        return session.store.change_token()
    return session.watcher.token_now()


def _recover(session: Session, args: dict[str, Any]) -> Any:
    from ..recovery import recover

    return recover(session.store, args.get("policy"), since=args.get("since"),
                   now=args.get("now"))


def _check(session: Session, args: dict[str, Any]) -> Any:
    from ..check import check

    return check(session.store, **args)


def _session_page(session: Session, args: dict[str, Any]) -> Any:
    from ..sessions import SessionReader

    args["limit"] = min(args.get("limit", 100), MAX_PAGE)
    return SessionReader(session.store).page(**args)


def _session_refresh(session: Session, args: dict[str, Any]) -> Any:
    from ..sessions import SessionReader

    if not all(isinstance(s, StoredSession) for s in args["unfinished"]):
        raise ProtocolError("session_refresh: unfinished must be a list of Session")
    return SessionReader(session.store).refresh(**args)


_FLT = (AuditFilter, NONE)
_ID = (int, NONE)
_DAY = (date, NONE)
_STR = (str, NONE)

OPS: dict[str, Op] = {
    "ping": Op(lambda _s, _a: "pong"),
    "facts": Op(lambda s, _a: s.facts()),
    "change_token": Op(_token),
    "is_healthy": Op(_method("is_healthy")),
    "find_audits": Op(_find, {"flt": _FLT, "before_id": _ID, "after_id": _ID,
                              "limit": (int,)}),
    "get_recent_audits": Op(_recent, {"limit": (int,)}, frozenset({"limit"})),
    "audit_id_range": Op(_method("audit_id_range")),
    "is_indexed": Op(_method("is_indexed"), {"flt": (AuditFilter,)}, frozenset({"flt"})),
    "usage_between": Op(_method("usage_between"), {"start": _DAY, "end": _DAY,
                                                   "entry_id": _STR}),
    "get_usage": Op(_method("get_usage"), {"entry_id": (str,), "day": (date,)},
                    frozenset({"entry_id", "day"})),
    "all_cooldowns": Op(_method("all_cooldowns")),
    "get_cooldown_until": Op(_method("get_cooldown_until"), {"entry_id": (str,)},
                             frozenset({"entry_id"})),
    "load_snapshot_text": Op(_method("load_snapshot_text")),
    "load_snapshot": Op(_method("load_snapshot")),
    "list_overrides": Op(_method("list_overrides")),
    "entry_labels": Op(_method("entry_labels")),
    "known_entries": Op(_method("known_entries")),
    "recover": Op(_recover, {"policy": (Policy, NONE), "since": (datetime, NONE),
                             "now": (datetime, NONE)}),
    "session_page": Op(_session_page, {"flt": (SessionFilter, NONE), "before_id": _ID,
                                       "after_id": _ID, "limit": (int,),
                                       "now": (datetime, NONE)}),
    "session_refresh": Op(_session_refresh, {"flt": (SessionFilter, NONE), "after_id": (int,),
                                             "unfinished": (list,), "now": (datetime, NONE)},
                          frozenset({"after_id", "unfinished"})),
    "check": Op(_check, {"quick": (bool,), "full": (bool,), "max_problems": (int,)}),
}
_EDIT_ARGS: dict[str, dict[str, tuple[type[Any], ...]]] = {
    "apply_cooldowns": {"changes": (list,)},
    "set_cooldown": {"entry_id": (str,), "until": (datetime,), "expected": _STR},
    "clear_cooldown": {"entry_id": (str,), "expected": _STR},
    "add_usage": {"entry_id": (str,), "day": (date,), "seconds": (int,), "reason": (str,)},
    "save_snapshot": {"snapshot": (StateSnapshot,), "expected": _STR},
    "save_snapshot_text": {"text": (str,), "expected": _STR},
    "clear_active_session": {"expected": _STR, "now": (datetime, NONE)},
    "delete_snapshot": {"expected": _STR},
    "repair": {"session_id": (str,), "seconds": (int, NONE), "cooldown": (bool,),
               "policy": (Policy, NONE), "finding": (RecoveryFinding, NONE),
               "report": (RecoveryReport, NONE)},
    "repair_usage_lost": {"finding": (RecoveryFinding,)},
    "repair_cooldown": {"finding": (RecoveryFinding,)},
}


def _edit_op(name: str) -> Callable[[Session, dict[str, Any]], Any]:
    def run(session: Session, args: dict[str, Any]) -> Any:
        return _edit(session, name, args)
    return run


for _name, _args in _EDIT_ARGS.items():
    assert _name in EDITS
    OPS[_name] = Op(_edit_op(_name), {**_args, "edit_id": (str,)},
                    frozenset(_args) - {"now"} | {"edit_id"}, edit=True)


def check_args(name: str, op: Op, args: Mapping[str, Any]) -> None:
    """Refuse unknown, missing or mistyped arguments with a message that names them."""
    for key, value in args.items():
        allowed = op.args.get(key)
        if allowed is None:
            raise ProtocolError(f"{name} takes no argument {key!r}")
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            kinds = " or ".join("null" if t is NONE else t.__name__ for t in allowed)
            raise ProtocolError(f"{name}: {key} must be {kinds}, got {type(value).__name__}")
    missing = sorted(op.required - set(args))
    if missing:
        raise ProtocolError(f"{name} needs the argument {missing[0]!r}")
    if name == "apply_cooldowns" and not all(isinstance(c, CooldownChange)
                                             for c in args["changes"]):
        raise ProtocolError("apply_cooldowns: changes must be a list of CooldownChange")
    edit_id = args.get("edit_id")
    if op.edit and (not isinstance(edit_id, str) or not 0 < len(edit_id) <= MAX_EDIT_ID):
        raise ProtocolError(f"{name} needs an edit_id of 1 to {MAX_EDIT_ID} characters")


def _edit(session: Session, op: str, args: dict[str, Any]) -> Any:
    edit_id = args.pop("edit_id")
    reason = session.read_only_reason
    if reason is not None:
        raise ReadOnlyError(
            f"Cannot change {session.path}: {reason}"
            + (" (connect with write access to edit)" if not session.write else "")
            + ". Nothing was written.", path=session.path)
    with session.edit_lock:  # one edit at a time (SQLite would serialize them anyway)
        outcome, _again = apply_edit(session.path, op, args, who=session.who,
                                     edit_id=edit_id)
    return outcome


def run_op(session: Session, name: str, args: dict[str, Any]) -> Any:
    """Run the request `name` (its arguments checked first)."""
    op = OPS.get(name)
    if op is None:
        raise ProtocolError(f"unknown request {name[:60]!r}; this server knows "
                            f"{', '.join(sorted(OPS))}")
    check_args(name, op, args)
    return op.run(session, dict(args))
