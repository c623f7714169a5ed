"""The Recovery tab's words and shapes, decided without Qt (tested without a display).

`shepherd_store.recovery` rebuilds the service's runs from the audit log and finds the
sessions a crash interrupted; this module turns its report into what the tab shows: a line
per run, the repair's amount, day and cooldown in words, the confirmation text, and the
timeline of one run as plain dataclasses that `recovery_timeline.RunTimeline` paints.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shepherd_store.diagnose import DEADLINE_GRACE
from shepherd_store.policy import Policy
from shepherd_store.recovery import (
    RecoveredSession,
    RecoveryFinding,
    RecoveryReport,
    Run,
    credited_day,
)

from .formatting import format_duration, format_local, format_local_time, short_id, to_local

#: The longest amount the repair offers when the log gives no upper bound (no deadline and
#: the service never came back): a day. The library accepts up to "now - start".
UNBOUNDED_CAP = 24 * 3600

RUN_END_TEXT = {"clean": "✔ stopped cleanly", "unclean": "✖ crashed, restarted",
                "open": "● running, or down"}
RUN_END_TIPS = {
    "clean": "The service wrote service_stopped: it stopped the normal way.",
    "unclean": "The next service_started came with no service_stopped before it: the service "
               "crashed, was killed or lost power, and was started again.",
    "open": "The newest run has no service_stopped yet: the service is running, or it "
            "stopped without a trace and has not started again (the log cannot tell which).",
}


# --- amounts and days --------------------------------------------------------------------


def amount_text(seconds: int) -> str:
    """An amount of play in minutes and seconds: `55 min 00 s`, `1 h 02 min 05 s`, `40 s`."""
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def day_words(day: date) -> str:
    """A day as a sentence says it: `Saturday 7 March 2026`."""
    return f"{day:%A} {day.day} {day:%B} {day.year}"


def repair_bounds(finding: RecoveryFinding, now: datetime) -> tuple[int, int, bool]:
    """(lowest, highest, unbounded) amount the repair may record for `finding`, in seconds.

    The library refuses anything outside [min_seconds, max_seconds]; without an upper bound
    it takes up to `now - started_at`, and the tab offers at most `UNBOUNDED_CAP` of that.
    """
    low = finding.min_seconds or 0
    if finding.max_seconds is not None:
        return low, max(finding.max_seconds, low), False
    high = low + UNBOUNDED_CAP
    if finding.started_at is not None:
        high = min(high, math.ceil((now - finding.started_at).total_seconds()))
    return low, max(high, low), True


def credit_day(finding: RecoveryFinding, seconds: int) -> date | None:
    """The usage day a repair of `seconds` credits: the day the session would have ended,
    exactly as `shepherd_store.recovery.repair` will write it (across a DST change too)."""
    if finding.started_at is None:
        return finding.day
    return credited_day(finding, seconds)


def policy_cooldown(policy: Policy | None, entry_id: str | None) -> int | None:
    """The policy's cooldown for the entry in seconds; None without a policy or cooldown."""
    if policy is None or entry_id is None:
        return None
    entry = policy.entries.get(entry_id)
    return entry.cooldown_seconds if entry is not None and entry.cooldown_seconds else None


def cooldown_until(finding: RecoveryFinding, seconds: int, cooldown: int) -> datetime | None:
    """When the cooldown the repair sets would end: the session's end plus the cooldown."""
    if finding.started_at is None:
        return None
    return finding.started_at + timedelta(seconds=seconds + cooldown)


def cooldown_why_not(policy: Policy | None, finding: RecoveryFinding | None) -> str | None:
    """Why "also start the cooldown" is not offered, or None when it is."""
    if finding is None:
        return "Select an interrupted session first."
    if policy is None:
        return ("No policy file is loaded, so the cooldown's length is unknown "
                "(File ▸ Open Policy File…).")
    if policy_cooldown(policy, finding.entry_id) is None:
        label = finding.label or finding.entry_id or "this entry"
        return f"The policy gives {label} no cooldown after a session."
    return None


# --- the confirmation ----------------------------------------------------------------------


def describe_repair(finding: RecoveryFinding, seconds: int, *, cooldown: int | None,
                    stored_cooldown: datetime | None, now: datetime) -> str:
    """What the repair will write, exactly, for the question before it is written."""
    label = finding.label or finding.entry_id or "?"
    entry = finding.entry_id or "?"
    day = credit_day(finding, seconds)
    day_text = f"{day_words(day)} ({day.isoformat()})" if day is not None else "its day"
    lines = [f"Record {amount_text(seconds)} ({seconds} s) of {label} that the service never "
             "counted?", ""]
    started = format_local(finding.started_at) if finding.started_at is not None else "?"
    lines.append(f"The session started at {started} (session {short_id(finding.session_id)}) "
                 "and was interrupted; the log proves at least "
                 f"{amount_text(finding.min_seconds or 0)}"
                 + (f" and at most {amount_text(finding.max_seconds)}."
                    if finding.max_seconds is not None else " and gives no upper bound."))
    lines += ["", "This writes, in one transaction:"]
    before = finding.recorded_seconds if day is not None and day == finding.day else None
    usage = f"• usage of {entry} on {day_text}: + {seconds} s"
    if before is not None:
        usage += f" ({before} s stored when read → {before + seconds} s)"
    lines.append(usage)
    if cooldown is not None:
        until = cooldown_until(finding, seconds, cooldown)
        if until is not None:
            text = (f"• cooldown of {entry} until {format_local(until)} "
                    f"({format_duration(cooldown)} after the session would have ended)")
            if stored_cooldown is not None and stored_cooldown >= until:
                text += (f" — not written: the stored cooldown already lasts until "
                         f"{format_local(stored_cooldown)}")
            elif until <= now:
                text += " — already over now, so it blocks nothing"
            lines.append(text)
    lines.append("• a record of this manual change naming the session, so it cannot be "
                 "recorded twice")
    lines += ["", "The audit log itself is not changed."]
    return "\n".join(lines)


def describe_result(label: str, result_seconds: int, day: date, before: int, after: int,
                    cooldown: datetime | None, cooldown_note: str | None) -> str:
    """One line saying what a repair wrote."""
    text = (f"Recorded: {amount_text(result_seconds)} of {label} added to the usage of "
            f"{day_words(day)} ({amount_text(before)} → {amount_text(after)}).")
    if cooldown is not None:
        text += f" Cooldown set until {format_local(cooldown, seconds=False)}."
    elif cooldown_note:
        text += f" Cooldown not changed: {cooldown_note}."
    return text


# --- the headline and the details ---------------------------------------------------------


def _s(n: int, word: str = "s") -> str:
    return word if n != 1 else ""


def headline(report: RecoveryReport) -> tuple[str, str]:
    """The tab's first line, and its tone: `problem`, `warning`, `good` or ``."""
    todo = [f for f in report.findings if f.needs_action]
    sessions = [f for f in todo if f.kind == "interrupted_session"]
    done = [f for f in report.findings if f.resolved]
    if sessions:
        n = len(sessions)
        text, tone = (f"✖ {n} interrupted session{_s(n)} never counted: "
                      f"{'its' if n == 1 else 'their'} play is missing from the daily usage. "
                      "Select one and repair it below."), "problem"
    elif todo:
        text, tone = f"▲ {len(todo)} finding{_s(len(todo))} to check (below).", "warning"
    elif done:
        text, tone = (f"✔ Nothing left to repair: {len(done)} interrupted "
                      f"session{_s(len(done), 's were')}{'' if len(done) != 1 else ' was'} "
                      "repaired."), "good"
    elif report.findings:
        text, tone = ("✔ No play was lost: the service stopped without a trace, but no "
                      "session was running then."), "good"
    elif not report.runs:
        text, tone = "The audit log has no run of the service yet: nothing to check.", ""
    else:
        text, tone = ("✔ No crash found: every run of the service ended cleanly or is still "
                      "running, and every session that started has ended. Nothing to "
                      "repair."), "good"
    if not report.complete:
        text += " (The log was not read to the end.)"
    return text, tone


def subline(report: RecoveryReport) -> str:
    """`7 runs of the service: 6 stopped cleanly, 1 crashed and restarted.` (and notes)."""
    runs = report.runs
    down = sum(down_for_good(r) for r in runs)
    counts = {"stopped cleanly": sum(r.end == "clean" for r in runs),
              "crashed and restarted": sum(r.end == "unclean" for r in runs),
              "crashed, not restarted": down,
              "running (or down without a trace)": sum(r.end == "open" for r in runs) - down}
    parts = [f"{n} {words}" for words, n in counts.items() if n]
    line = f"{len(runs)} run{_s(len(runs))} of the service"
    line += (": " + ", ".join(parts) + ".") if parts else "."
    if report.notes:
        n = len(report.notes)
        line += f" {n} note{_s(n)} on the log (in the findings' details)."
    return line


def finding_detail(f: RecoveryFinding | None, report: RecoveryReport) -> str:
    """The details pane: the finding in full (or why there is none), and the notes."""
    notes = "\n".join(f"• {n}" for n in report.notes)
    notes = f"\n\nNotes on the log:\n{notes}" if notes else ""
    if f is None:
        if not report.findings:
            text = ("No findings. Every session that started in the log also ended, and every "
                    "stop of the service was written, so no play is missing from the usage.")
        else:
            text = "Select a finding to read it in full."
        return text + notes
    rows = ", ".join(str(i) for i in f.evidence)
    status = "\n\nRepaired: its play was recorded by hand." if f.resolved else ""
    state = "repaired" if f.resolved else f.severity
    return (f"{f.title} ({state})\n\n{f.explanation}\n\nWhat to do: {f.action}{status}"
            f"\n\nAudit log rows: {rows or '—'}{notes}")


# --- runs ----------------------------------------------------------------------------------


def run_key(run: Run) -> tuple[int | None, int | None]:
    """What identifies a run across reports (its start row; else its last row)."""
    return (run.started_id, None if run.started_id is not None else run.last_event_id)


RunKey = tuple[int | None, int | None]


def findings_by_run(report: RecoveryReport) -> dict[RunKey, list[RecoveryFinding]]:
    """The `interrupted_session` findings of each run, by `run_key`.

    A report lists the sessions of its newest `DETAIL_RUNS` runs only, but has a finding for
    every interrupted session: a finding belongs to the run whose rows hold its session's
    start (the smallest id of its evidence), found by the runs' first ids."""
    firsts: list[tuple[int, int]] = []  # (first id, index), oldest first
    previous_end = 0
    for i in range(len(report.runs) - 1, -1, -1):
        run = report.runs[i]
        first = run.started_id if run.started_id is not None else previous_end + 1
        firsts.append((first, i))
        previous_end = run.ended_id or run.last_event_id or first
    keys = [f for f, _i in firsts]
    out: dict[RunKey, list[RecoveryFinding]] = {}
    for f in report.findings:
        if f.kind != "interrupted_session" or not f.evidence:
            continue
        at = bisect.bisect_right(keys, min(f.evidence)) - 1
        if at >= 0:
            out.setdefault(run_key(report.runs[firsts[at][1]]), []).append(f)
    return out


def run_cells(run: Run, findings: list[RecoveryFinding] | None = None
              ) -> tuple[str, str, str, str, str]:
    """Started, ended, how it ended, sessions, interrupted: the runs table's texts
    (`findings`: the run's `interrupted_session` findings, see `findings_by_run`)."""
    started = format_local(run.started_at) if run.started_id is not None else \
        "before the log"
    if run.end == "clean":
        ended = format_local(run.ended_at)
        how = RUN_END_TEXT["clean"]
    elif run.end == "unclean":
        ended = f"after {when_after(run.last_event_at, run.started_at)}"
        how = f"✖ crashed, restarted {when_after(run.ended_at, run.last_event_at)}"
    elif down_for_good(run):
        ended = f"after {when_after(run.last_event_at, run.started_at)}"
        how = "✖ crashed, not restarted"
    else:
        ended = "—"
        how = RUN_END_TEXT["open"]
    total, open_ = _tally(run, findings)
    if not total:
        broken = "—"
    elif open_:
        broken = f"{open_} to repair" if open_ == total else \
            f"{open_} to repair, {total - open_} repaired"
    else:
        broken = f"✔ {total} repaired"
    return started, ended, how, str(run.session_count), broken


def _tally(run: Run, findings: list[RecoveryFinding] | None) -> tuple[int, int]:
    """(interrupted sessions, of which not repaired) of a run."""
    if run.detailed or findings is None:
        interrupted = [s for s in run.sessions if s.interrupted]
        return len(interrupted), sum(not s.resolved for s in interrupted)
    return len(findings), sum(not f.resolved for f in findings)


def run_status(run: Run, findings: list[RecoveryFinding] | None = None) -> str:
    """`needs_repair`, `repaired`, `unclean`, `clean` or `open`: the row's colour."""
    total, open_ = _tally(run, findings)
    if open_:
        return "needs_repair"
    if total:
        return "repaired"
    return run.end


def run_tip(run: Run) -> str:
    """The runs table's tooltip: the run told in full."""
    lines = [RUN_END_TIPS[run.end] if not down_for_good(run) else
             "No service_stopped and no later service_started, and a session was still open "
             "long after its deadline: the service died then and has not started since."]
    if run.started_id is not None:
        lines.append(f"Started: {format_local(run.started_at)} (row {run.started_id})")
    else:
        lines.append("No service_started before these rows (the log's start was pruned).")
    if run.end == "clean":
        lines.append(f"Stopped: {format_local(run.ended_at)} (row {run.ended_id})")
    elif run.end == "unclean":
        lines.append(f"Last sign of life: {format_local(run.last_event_at)} "
                     f"(row {run.last_event_id})")
        lines.append(f"Started again: {format_local(run.ended_at)} (row {run.ended_id})")
    else:
        lines.append(f"Last row: {format_local(run.last_event_at)} (row {run.last_event_id})")
    lines.append(f"Sessions: {run.session_count}")
    for s in run.sessions:
        lines.append(f"  {session_line(s)}")
    return "\n".join(lines)


def session_line(s: RecoveredSession) -> str:
    """`15:00:00 Minecraft — interrupted (repaired)` and the like."""
    start = format_local_time(s.started_at, seconds=True)
    if s.status == "ended":
        how = f"ended {format_local_time(s.ended_at, seconds=True)}"
        if s.duration is not None:
            how += f" after {amount_text(int(s.duration.total_seconds()))}"
        if s.end_reason:
            how += f" ({s.end_reason})"
    elif s.status == "running":
        how = "running"
    else:
        how = "interrupted, " + ("repaired" if s.resolved else "never counted")
    return f"{start} {s.label} — {how}"


# --- the timeline --------------------------------------------------------------------------

#: A run longer than this is shown from a while before the sessions it lost (or before its
#: end) onwards: a run of weeks drawn whole makes every session a hairline.
MAX_WHOLE_SPAN = timedelta(hours=36)


@dataclass(frozen=True)
class TimelineBar:
    """One session: solid from `start` to `end` (known play), hatched to `possible_end`
    (play the log cannot rule out; None with `unbounded`: to the edge) for an interrupted
    one."""

    session_id: str
    lane: int
    start: datetime
    end: datetime
    possible_end: datetime | None
    status: str  # "ended", "running", "interrupted" or "repaired"
    text: str
    tip: str
    unbounded: bool = False


@dataclass(frozen=True)
class TimelineMark:
    """A moment of the run: `start`, `stop`, `last_sign`, `restart`, `log_end`, or
    `earlier` (the run began before the range shown)."""

    at: datetime
    kind: str
    text: str


@dataclass(frozen=True)
class Timeline:
    """One run, ready to paint: its time range, lanes (one per entry), bars and marks.

    `lanes` are the entries' labels, `entries` their ids. `alive` is the stretch the service
    is known to have run; `gap` the stretch after its last sign of life in which it died (up
    to the restart; for a service down without a trace, to the end of the range)."""

    title: str
    lo: datetime
    hi: datetime
    lanes: tuple[str, ...]
    entries: tuple[str, ...]
    alive: tuple[datetime, datetime]
    gap: tuple[datetime, datetime] | None
    bars: tuple[TimelineBar, ...]
    marks: tuple[TimelineMark, ...]
    summary: str


def _clock(value: datetime | None) -> str:
    return format_local_time(value, seconds=True)


def _hm(value: datetime | None) -> str:
    return format_local_time(value)


def when_after(value: datetime | None, ref: datetime | None) -> str:
    """The clock time of `value`, with its date when that is not the day of `ref`."""
    if value is None or ref is None or to_local(value).date() != to_local(ref).date():
        return format_local(value)
    return _clock(value)


def down_for_good(run: Run) -> bool:
    """An open run with an interrupted session: the service died and has not come back
    (it would have ended the session at its deadline)."""
    return run.end == "open" and any(s.interrupted for s in run.sessions)


def build_timeline(run: Run, sessions: tuple[RecoveredSession, ...],
                   findings: dict[str, RecoveryFinding], now: datetime) -> Timeline | None:
    """The timeline of `run` (None when it has no readable time at all).

    `findings` maps a session id to its `interrupted_session` finding (for the bounds)."""
    starts = [s.started_at for s in sessions if s.started_at is not None]
    first = run.started_at if run.started_at is not None else min(starts, default=None)
    last = run.ended_at if run.end != "open" else run.last_event_at
    if first is None or last is None:
        return None
    down = down_for_good(run)
    alive_to = (run.last_event_at if run.end == "unclean" else last) or first
    shapes: list[tuple[RecoveredSession, datetime, datetime | None, str, str, bool]] = []
    latest = max(last, alive_to)
    for s in sessions:
        if s.started_at is None:
            continue
        possible = None
        unbounded = False
        status: str = s.status
        if s.status == "ended":
            end = s.ended_at or (s.started_at + (s.duration or timedelta(0)))
            text = f"{_hm(s.started_at)}–{_hm(end)}"
        elif s.status == "running":
            end = max(alive_to, s.started_at)
            possible = s.deadline if s.deadline is not None and s.deadline > end else None
            text = f"{_hm(s.started_at)}– running"
        else:
            status = "repaired" if s.resolved else "interrupted"
            end = max(s.last_seen_at or s.started_at, s.started_at)
            f = findings.get(s.session_id)
            if f is not None and f.max_seconds is not None:
                possible = s.started_at + timedelta(seconds=f.max_seconds)
            else:
                unbounded = True
            text = (f"{_hm(s.started_at)}– last seen {_hm(end)}"
                    + (" ✔ repaired" if s.resolved else ""))
        latest = max(latest, end, possible or end)
        shapes.append((s, end, possible, status, text, unbounded))
    lo = first
    if latest - first > MAX_WHOLE_SPAN:
        lost = [s.started_at for s, _e, _p, st, _t, _u in shapes
                if st != "ended" and s.started_at is not None]
        focus = min([*lost, alive_to if run.end == "unclean" else last])
        context = max(latest - focus, timedelta(hours=1))
        lo = max(first, focus - context / 2)
    span = max((latest - lo).total_seconds(), 60.0)
    pad = timedelta(seconds=span * 0.04)
    # Down for good: room after the last sign of life shows the service staying down.
    lo_shown, hi = (lo - pad if lo == first else lo), latest + pad * (3 if down else 1)
    bars: list[TimelineBar] = []
    lanes: list[str] = []
    entries: list[str] = []
    lane_of: dict[str, int] = {}
    for s, end, possible, status, text, unbounded in shapes:
        assert s.started_at is not None
        if max(end, possible or end) < lo_shown and not unbounded:
            continue  # before the range shown
        lane = lane_of.setdefault(s.entry_id, len(lanes))
        if lane == len(lanes):
            lanes.append(s.label)
            entries.append(s.entry_id)
        bars.append(TimelineBar(s.session_id, lane, s.started_at, end, possible, status, text,
                                session_tip(s, findings.get(s.session_id)), unbounded))
    marks: list[TimelineMark] = []
    if run.started_at is not None and run.started_at >= lo_shown:
        marks.append(TimelineMark(run.started_at, "start", f"started {_clock(run.started_at)}"))
    elif lo_shown > first:
        marks.append(TimelineMark(lo_shown, "earlier", f"◀ run started {format_local(first)}"))
    gap: tuple[datetime, datetime] | None = None
    if run.end == "clean":
        marks.append(TimelineMark(last, "stop", f"stopped {_clock(last)}"))
    elif run.end == "unclean":
        marks.append(TimelineMark(alive_to, "last_sign", f"last sign of life {_clock(alive_to)}"))
        marks.append(TimelineMark(last, "restart", f"restarted {_clock(last)}"))
        gap = (alive_to, last)
    elif down:
        marks.append(TimelineMark(last, "last_sign", f"last sign of life {_clock(last)}; "
                                                     "no restart since"))
        gap = (last, hi)
    else:
        marks.append(TimelineMark(last, "log_end", f"log ends {_clock(last)}"))
    title = f"Run started {format_local(first)}" if run.started_id is not None else \
        f"Rows from {format_local(first)} (no service start in the log)"
    title += {"clean": f", stopped cleanly {when_after(last, first)}",
              "unclean": f", crashed after {when_after(alive_to, first)}, restarted "
                         f"{when_after(last, alive_to)}",
              "open": (f", down without a trace since {when_after(last, first)}" if down else
                       f", last row {when_after(last, first)} (running, or down)")}[run.end]
    if lo_shown > first:
        title += f" (showing from {format_local(lo_shown, seconds=False)})"
    summary = "; ".join([title] + [f"{lanes[b.lane]} {b.text}" for b in bars])
    return Timeline(title, lo_shown, hi, tuple(lanes), tuple(entries),
                    (max(first, lo_shown), alive_to), gap, tuple(bars), tuple(marks), summary)


def session_tip(s: RecoveredSession, finding: RecoveryFinding | None) -> str:
    """What a bar's tooltip says about its session."""
    lines = [f"{s.label} ({s.entry_id}), session {short_id(s.session_id)}",
             f"Started: {format_local(s.started_at)} (row {s.started_id})"]
    if s.deadline is not None:
        lines.append(f"Deadline: {format_local(s.deadline)}")
    if s.warnings:
        lines.append("Warnings: " + ", ".join(format_duration(w) for w in s.warnings)
                     + " before the deadline")
    if s.status == "ended":
        lines.append(f"Ended: {format_local(s.ended_at)} (row {s.ended_id})"
                     + (f", {s.end_reason}" if s.end_reason else ""))
        if s.duration is not None:
            lines.append(f"Played: {amount_text(int(s.duration.total_seconds()))}")
    elif s.status == "running":
        lines.append("Running: no end yet, and its deadline has not passed.")
    else:
        lines.append(f"Interrupted: its end was never written. Last sign of life: "
                     f"{format_local(s.last_seen_at)}.")
        if finding is not None:
            high = (amount_text(finding.max_seconds) if finding.max_seconds is not None
                    else "no upper bound")
            lines.append(f"Unrecorded play: at least {amount_text(finding.min_seconds or 0)}, "
                         f"at most {high}.")
        lines.append("Repaired: its play was recorded by hand." if s.resolved else
                     "Not repaired yet: select it and use Repair.")
    return "\n".join(lines)


def needs_refresh(report: RecoveryReport, now: datetime) -> bool:
    """Whether a running session's deadline has passed long enough for the next read to
    call it interrupted (no commit need happen for that: the service may be down)."""
    for run in report.runs:
        if run.end != "open":
            continue
        for s in run.sessions:
            if s.running and s.deadline is not None and now > s.deadline + DEADLINE_GRACE:
                return True
    return False
