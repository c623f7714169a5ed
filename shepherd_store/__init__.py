"""shepherd_store: the persistence library of the Shepherd screen-time service.

A typed Python reimplementation of the Rust crate `shepherd-store`: the audit log, usage per
entry per day, cooldowns and the crash-recovery snapshot, in one SQLite file, read and written
without ever breaking what the Rust daemon can read.
"""

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

__version__ = "0.1.0"

__all__ = [
    "AdminStop", "AuditEvent", "AuditFilter", "AuditPage", "ChangeToken", "ClientConnected",
    "ClientDisconnected", "ConfigReloaded", "ConflictError", "CooldownRecord",
    "CorruptDatabaseError", "DatabaseError", "Event", "Expired", "IncompatibleSchemaError",
    "LaunchDenied", "LaunchFailed", "Layout", "LockedError", "ManualOverride", "NotFoundError",
    "OverrideRecord", "PolicyLoaded", "PolicyStop", "ProcessExited", "ReadOnlyError",
    "SerializationError", "ServiceShutdown", "ServiceStarted", "ServiceStopped",
    "SessionEndReason", "SessionEnded", "SessionExtended", "SessionSnapshot", "SessionStarted",
    "SqliteStore", "StateSnapshot", "Store", "StoreError", "UnknownEvent", "UsageRecord",
    "UserStop", "WarningIssued", "__version__", "decode_event", "decode_snapshot",
    "encode_event", "encode_snapshot",
]
