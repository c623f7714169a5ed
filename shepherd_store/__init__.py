"""shepherd_store: the persistence library of the Shepherd screen-time service.

A typed Python reimplementation of the Rust crate `shepherd-store`: the audit log, usage per
entry per day, cooldowns and the crash-recovery snapshot, in one SQLite file, read and written
without ever breaking what the Rust daemon can read.
"""

from typing import TYPE_CHECKING, Any

from .errors import (
    ConflictError,
    CorruptDatabaseError,
    DatabaseError,
    IncompatibleSchemaError,
    LockedError,
    NotFoundError,
    ReadOnlyError,
    SerializationError,
    StoreError,
)
from .events import (
    AdminStop,
    AuditEvent,
    ClientConnected,
    ClientDisconnected,
    ConfigReloaded,
    Event,
    Expired,
    LaunchDenied,
    LaunchFailed,
    ManualOverride,
    PolicyLoaded,
    PolicyStop,
    ProcessExited,
    ServiceShutdown,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionEndReason,
    SessionExtended,
    SessionStarted,
    UnknownEvent,
    UserStop,
    WarningIssued,
    decode_event,
    encode_event,
)
from .query import AuditFilter, AuditPage
from .schema import Layout
from .snapshot import SessionSnapshot, StateSnapshot, decode_snapshot, encode_snapshot
from .store import (
    ChangeToken,
    CooldownRecord,
    OverrideRecord,
    SqliteStore,
    Store,
    UsageRecord,
)

if TYPE_CHECKING:
    from .recovery import (
        RecoveredSession,
        RecoveryConflict,
        RecoveryFinding,
        RecoveryReport,
        RecoveryScanner,
        RepairResult,
        Run,
        credited_day,
        recover,
        repair,
        repair_cooldown,
        repair_usage_lost,
    )

__version__ = "0.1.0"

#: Crash recovery (`shepherd_store.recovery`), imported on first use: the command line
#: starts without it.
_RECOVERY = frozenset({
    "RecoveredSession", "RecoveryConflict", "RecoveryFinding", "RecoveryReport",
    "RecoveryScanner", "RepairResult", "Run", "credited_day", "recover", "repair",
    "repair_cooldown", "repair_usage_lost"})


def __getattr__(name: str) -> Any:
    if name in _RECOVERY:
        from . import recovery

        return getattr(recovery, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdminStop", "AuditEvent", "AuditFilter", "AuditPage", "ChangeToken", "ClientConnected",
    "ClientDisconnected", "ConfigReloaded", "ConflictError", "CooldownRecord",
    "CorruptDatabaseError", "DatabaseError", "Event", "Expired", "IncompatibleSchemaError",
    "LaunchDenied", "LaunchFailed", "Layout", "LockedError", "ManualOverride", "NotFoundError",
    "OverrideRecord", "PolicyLoaded", "PolicyStop", "ProcessExited", "ReadOnlyError",
    "RecoveredSession", "RecoveryConflict", "RecoveryFinding", "RecoveryReport", "RecoveryScanner",
    "RepairResult", "Run", "SerializationError", "ServiceShutdown", "ServiceStarted",
    "ServiceStopped", "SessionEndReason", "SessionEnded", "SessionExtended", "SessionSnapshot",
    "SessionStarted", "SqliteStore", "StateSnapshot", "Store", "StoreError", "UnknownEvent",
    "UsageRecord", "UserStop", "WarningIssued", "__version__", "credited_day", "decode_event",
    "decode_snapshot", "encode_event", "encode_snapshot", "recover", "repair", "repair_cooldown",
    "repair_usage_lost",
]
