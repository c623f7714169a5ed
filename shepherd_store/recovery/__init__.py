"""Crash recovery: the service's runs rebuilt from the audit log, and the play it never counted.

The shipped service (`shepherdd`) writes a session's usage, its cooldown and its
`session_ended` row only when the session ends; it never saves a snapshot. A crash, a power
loss or a forced kill during a session therefore leaves a `session_started` (perhaps some
`warning_issued`) and nothing else, and the play is missing from the day's quota. Even a
clean shutdown stops a running game without ending its session (upstream `main.rs`): the log
then shows `service_stopped` with the session still open.

`RecoveryScanner` reads the log once, keeps what it learnt, and afterwards reads only the
rows added since (`update`). `recover(store)` is the one-shot form; `repair(store,
session_id)` records the missing play the way the service would have, once.

Every read is a series of short statements (DESIGN.md, "Short reads"): ranges of the log go
through `SqliteStore.read_id_ranges` (each statement sized to about 10 ms, its rows staged,
the lock released between them), the usage table is read in keyset statements of a bounded
number of rows, and the lookups a scan needs by the hundred (the last row before each
restart, the warnings of old runs' interrupted sessions) are batched, one seek or one short
range per item. `tests/test_recovery.py` checks the structure;
`benchmarks/bench_service_latency.py` measures what the service's writes wait.

Rules (what the report means):

* A **run** starts at `service_started` and ends at `service_stopped` (`clean`), at the next
  `service_started` (`unclean`: the service died without a trace) or at the end of the log
  (`open`: the service is running, or it stopped without a trace; the log cannot tell).
  Session rows with no `service_started` before them (the log's beginning was pruned, or rows
  written after a stop) form a run whose `started_id` is None.
* A session never ended is **interrupted** when its run is closed (clean or unclean), when
  another session started after it in the same run (the service runs one at a time), or,
  in the open run, when its deadline passed more than `DEADLINE_GRACE` ago (the service ends
  a session at its deadline: one still open then cannot be running). Otherwise it is
  **running** (which also covers "interrupted, but the log cannot show it yet").
* The unrecorded play of an interrupted session lies between two bounds. `min_seconds` runs
  from its start to the last sign of life of its run: the run's last row before the
  `service_stopped` / next `service_started` (or the log's last row for the open run; rows
  written by this library are no sign of life), and `deadline - T` for a `warning_issued`
  with threshold T (warnings keep the original schedule). `max_seconds` runs to the earliest
  of the run's end (the next `service_started` or the `service_stopped`), the start of a
  session that followed it in the same run, and the (extended) deadline; it is None when
  none exists (no deadline, and the service never came back). The lower bound is rounded
  down to whole seconds and the upper one up (the service ends an expired session a moment
  after its deadline).
* The **day** a repair credits is the day the session would have ended (the service adds
  usage to its local date at the end of the session): `started_at + credited seconds` as a
  local date (`credited_day`). When the offsets of the rows around the session (its start,
  its run's last sign of life, the run's end) are this machine's time zone's at those
  instants (the inspector runs where the service does), that zone's date at that moment;
  otherwise the date in the offset of the latest of those rows at or before it. Both are
  the session's own offset unless the offset changed while it ran (a DST change). Findings
  give it for `min_seconds`.
* **usage_lost**: a day whose stored usage for an entry is below the sum of that day's
  `session_ended` durations (whole seconds each, the day in the row's own offset), plus the
  seconds recorded by manual usage changes (`what` = `usage`, including repairs). A session
  ended twice counts once.
* A repair is a manual usage change whose recorded JSON names the session (`session_id`);
  one made by `snapshot diagnose`'s fix (which names it in the reason) counts too.
* Rows are read as the service wrote them (serde's compact JSON, parsed by a fast path; any
  other form goes through `json.loads`). Rows recovery does not need (clients, denials,
  policy loads, warnings) are left out in SQL when they begin exactly as the service writes
  them; their timestamps are not read (warnings are read for the newest runs, and for an
  older run's interrupted session). Timestamps are parsed where they are used; clock jumps
  are looked for between consecutive rows that recovery reads.
* In a run that the rest of the log pushes out of the report's detail (`DETAIL_RUNS`), an
  ordinary session whose end is the next row read is only counted (its play, its id):
  nothing can ask for it later, and `RecoveryScanner.run_sessions` reads such a run again.

The package's modules: `results` (the public results), `rows` (reading the log's rows),
`state` (the runs and sessions rebuilt from them), `notes`, `stored_usage` (the usage table),
`changes` (manual changes and recorded repairs), `findings` (what is missing, its bounds and
`credited_day`), `scanner` (`RecoveryScanner`, `recover`) and `repairs` (`repair`,
`repair_usage_lost`, `repair_cooldown`).
"""

from __future__ import annotations

from .findings import credited_day
from .repairs import repair, repair_cooldown, repair_usage_lost
from .results import (
    FINDING_KINDS,
    RecoveredSession,
    RecoveryConflict,
    RecoveryFinding,
    RecoveryReport,
    RepairResult,
    Run,
)
from .scanner import DETAIL_RUNS, RecoveryScanner, recover

__all__ = [
    "DETAIL_RUNS",
    "FINDING_KINDS",
    "RecoveredSession",
    "RecoveryConflict",
    "RecoveryFinding",
    "RecoveryReport",
    "RecoveryScanner",
    "RepairResult",
    "Run",
    "credited_day",
    "recover",
    "repair",
    "repair_cooldown",
    "repair_usage_lost",
]
