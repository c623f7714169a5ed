"""What the inspector shows beyond the library's words: detail rows, raw JSON, colours.

Events and times in words live in `shepherd_store.describe` (the command line prints the
same sentences); they are re-exported here for the views. Everything returns plain strings.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import fields
from datetime import datetime, timedelta

from shepherd_store.describe import (
    EVENT_KINDS,
    EVENT_NAMES,
    MAX_DISPLAY_CHARS,
    TimeStyle,
    clip,
    entry_display,
    event_kind,
    event_name,
    format_clock,
    format_date,
    format_duration,
    format_local,
    format_local_time,
    format_stored,
    reason_text,
    set_time_style,
    short_id,
    summarize,
    to_local,
)
from shepherd_store.events import AuditEvent, Event, UnknownEvent

__all__ = [
    "ENTRY_PALETTE", "EVENT_KINDS", "EVENT_NAMES", "MAX_DISPLAY_CHARS", "TimeStyle", "clip",
    "entry_color", "entry_colors", "entry_display", "event_fields", "event_kind", "event_name",
    "format_clock", "format_date", "format_duration", "format_local", "format_local_time",
    "format_stored", "pretty_json", "reason_text", "set_time_style", "short_id", "summarize",
    "to_local",
]


def event_fields(event: AuditEvent, labels: dict[str, str]) -> list[tuple[str, str]]:
    """(name, value) pairs for the detail pane: every field, times local and as stored."""
    rows: list[tuple[str, str]] = [
        ("Id", str(event.id)),
        ("Type", event_name(event.type, malformed=_malformed(event.event))),
        ("Time (local)", format_local(event.timestamp)),
        ("Time (as stored)", format_stored(event.timestamp)),
    ]
    ev = event.event
    if isinstance(ev, UnknownEvent):
        if ev.malformed:
            rows.append(("Problem", ev.error or "unreadable"))
        else:
            rows.append(("Note", "This event type is not known to this version of the inspector"))
        return rows
    for f in fields(ev):
        rows.extend(_field_rows(f.name, getattr(ev, f.name), labels))
    return rows


def _field_rows(name: str, value: object, labels: dict[str, str]) -> list[tuple[str, str]]:
    label = name.replace("_", " ").capitalize()
    if isinstance(value, datetime):
        return [(f"{label} (local)", format_local(value)),
                (f"{label} (as stored)", format_stored(value))]
    if isinstance(value, timedelta):
        return [(label, f"{format_duration(value)} ({value.total_seconds():g} s)")]
    if value is None:
        return [(label, "none")]
    if name == "entry_id" and isinstance(value, str):
        return [(label, entry_display(value, labels))]
    if name == "reason" and hasattr(value, "TYPE"):
        return [(label, f"{reason_text(value)} ({value.TYPE})")]  # type: ignore[arg-type]
    if isinstance(value, tuple):
        return [(f"{label} {i + 1}", clip(str(v))) for i, v in enumerate(value)] or [
            (label, "none")]
    if isinstance(value, bool):
        return [(label, "yes" if value else "no")]
    return [(label, clip(str(value)))]


def _malformed(event: Event) -> bool:
    return isinstance(event, UnknownEvent) and event.malformed


MAX_LINE_CHARS = 2000  # longer lines are broken for display


def break_long_lines(text: str, width: int = MAX_LINE_CHARS) -> str:
    """`text` with every line longer than `width` broken into pieces, for display only:
    Qt takes seconds to lay out one unbroken line of 100,000 characters (4 s for 200,000),
    and a 10 MB event or JSON nested 100,000 deep is exactly that."""
    if len(text) <= width:
        return text
    lines = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
        else:
            lines.extend(line[i:i + width] for i in range(0, len(line), width))
    return "\n".join(lines)


def pretty_json(raw: str, limit: int = 200_000) -> str:
    """Indented JSON for the raw pane; the text itself when it is not JSON; cut when huge,
    long lines broken (display only)."""
    if len(raw) > limit:
        return break_long_lines(raw[:limit]) + \
            f"\n… ({len(raw) - limit:,} more characters not shown)"
    try:
        return break_long_lines(json.dumps(json.loads(raw), indent=2, ensure_ascii=False))
    except (ValueError, RecursionError):
        return break_long_lines(raw)


#: Distinct colours readable on light and dark backgrounds (Okabe-Ito plus Tableau tones).
ENTRY_PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#8C6D31", "#7F7F7F",
    "#BCBD22", "#9467BD", "#17BECF", "#E15759", "#59A14F", "#B07AA1", "#FF9DA7", "#4E79A7",
)


def entry_color(entry_id: str) -> str:
    """The entry's colour (`#RRGGBB`), the same in every view and every run."""
    return ENTRY_PALETTE[zlib.crc32(entry_id.encode("utf-8", "replace")) % len(ENTRY_PALETTE)]


def entry_colors(entry_ids: list[str] | set[str]) -> dict[str, str]:
    """Colours for a set of entries: each its hashed colour unless taken, then the next free.

    Deterministic for a given set (sorted first), so every view showing the same entries
    agrees; collisions only when there are more entries than palette colours.
    """
    out: dict[str, str] = {}
    used: set[int] = set()
    n = len(ENTRY_PALETTE)
    for entry in sorted(entry_ids):
        slot = zlib.crc32(entry.encode("utf-8", "replace")) % n
        for step in range(n):
            if (slot + step) % n not in used:
                slot = (slot + step) % n
                break
        used.add(slot)
        if len(used) == n:
            used.clear()
        out[entry] = ENTRY_PALETTE[slot]
    return out
