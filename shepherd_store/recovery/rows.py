"""Reading the log's rows for recovery: the service's own forms on a fast path, anything
else through `json.loads` with the same checks; timestamps; the statements of a scan.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, tzinfo
from typing import Any

from ..events import REASON_TYPES, U64_MAX, ManualOverride, decode_event, is_uuid
from ..schema import Layout
from ..timefmt import MAX_DURATION_SECS, parse_timestamp

_U = r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
_S = r'"([^"\\\x00-\x1f]*)"'
_N = r"(0|[1-9][0-9]{0,19})"
# serde_json's compact output of the daemon's events (field order of the Rust enum). A row
# these do not match exactly is read with json.loads (same fields, same checks).
_FAST_START = re.compile(r'\{"type":"session_started","session_id":"' + _U + r'","entry_id":'
                         + _S + r',"label":' + _S + r',"deadline":(?:null|' + _S + r')\}')
_FAST_WARN = re.compile(r'\{"type":"warning_issued","session_id":"' + _U
                        + r'","threshold_seconds":' + _N + r'\}')
_FAST_END = re.compile(
    r'\{"type":"session_ended","session_id":"' + _U + r'","entry_id":' + _S
    + r',"reason":\{"type":"(expired|user_stop|admin_stop|policy_stop|service_shutdown|'
    r'process_exited|launch_failed)"(?:,"exit_code":(null|-?(?:0|[1-9][0-9]{0,9}))|,"error":'
    + _S + r')?\},"duration":\{"secs":' + _N + r',"nanos":' + _N + r'\}\}')
#: The end row after its session id, for a session id already known (validated at its start).
_END_HEAD = '{"type":"session_ended","session_id":"'
_FAST_END_TAIL = re.compile(
    r'","entry_id":' + _S
    + r',"reason":\{"type":"(expired|user_stop|admin_stop|policy_stop|service_shutdown|'
    r'process_exited|launch_failed)"(?:,"exit_code":(null|-?(?:0|[1-9][0-9]{0,9}))|,"error":'
    + _S + r')?\},"duration":\{"secs":' + _N + r',"nanos":' + _N + r'\}\}')
#: The usual forms of that tail, for a session ended at the next row (`ingest`'s pairs): a
#: subset of what `_FAST_END_TAIL` takes, nanos already below 1e9; the entry, the exit
#: code and the seconds.
_PAIR_END_TAIL = re.compile(
    r'","entry_id":' + _S + r',"reason":\{"type":"(?:(?:expired|user_stop|admin_stop|'
    r'policy_stop|service_shutdown)"|process_exited"(?:,"exit_code":(null|-?(?:0|[1-9]'
    r'[0-9]{0,9})))?|launch_failed","error":"[^"\\\x00-\x1f]*")\},"duration":\{"secs":'
    + _N + r',"nanos":(?:0|[1-9][0-9]{0,8})\}\}')
_FAST_EXT = re.compile(r'\{"type":"session_extended","session_id":"' + _U
                       + r'","extended_by":\{"secs":' + _N + r',"nanos":' + _N
                       + r'\},"new_deadline":' + _S + r'\}')
_SVC_START = '{"type":"service_started"}'
#: Usage keys are `entry_id + _SEP + day`: the day (10 characters) last, so never ambiguous.
_SEP = "\x1f"
_SVC_STOP = '{"type":"service_stopped"}'
#: Types recovery does not read: rows of them are only checked in SQL.
_OTHER_TYPES = ("client_connected", "client_disconnected", "launch_denied", "policy_loaded",
                "config_reloaded")
#: Skipped by the main pass too (a third of a log): read for the newest runs only.
_WARNING = "warning_issued"
_HEAD = 30
_SKIPPED_HEADS = tuple(h[:_HEAD] for h in (
    '{"type":"client_connected","client_id":"', '{"type":"client_disconnected","client_id":"',
    '{"type":"launch_denied","entry_id":"', '{"type":"policy_loaded","entry_count":',
    '{"type":"config_reloaded","success":', '{"type":"warning_issued","session_id":"'))
_I32 = (-(2**31), 2**31 - 1)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _after_prefix(head: str) -> str:
    """The least text after every text that begins with `head` (ASCII, not ending in DEL),
    in SQLite's BINARY order: `head` with its last character's successor."""
    return head[:-1] + chr(ord(head[-1]) + 1)


def _select(col: str, *, utf8: bool = True) -> str:
    """The rows recovery reads in an id range: every row except those that begin exactly as
    the service writes the types recovery skips (`_SKIPPED_HEADS`: the tag and the next key,
    so a newer type sharing a prefix is still read). `instr` or `json_valid` on every row
    cost up to a third of the scan. In a UTF-8 database "begins with" is asked as
    comparisons of the stored bytes: the text lies in one of the gaps between the heads and
    their `_after_prefix`es (the usual rows' gap asked first). No substring is made per
    row: a fifth of the statement's time. (Other values compare as `substr` does: NULL is
    never read, a number is below every text and a BLOB above.) Otherwise one fixed-length
    `substr` per row."""
    if utf8:
        value = f"{col} COLLATE BINARY"
        heads = sorted(_SKIPPED_HEADS)  # (ASCII: as SQLite orders them)
        edges: list[tuple[str | None, str | None]] = list(zip(
            [None, *map(_after_prefix, heads)], [*heads, None], strict=True))
        usual = '{"type":"session_started"'
        edges.sort(key=lambda e: not ((e[0] or "") <= usual and (e[1] is None or usual < e[1])))
        gaps = [" AND ".join(([f"{value} >= {_quote(lo)}"] if lo is not None else [])
                             + ([f"{value} < {_quote(hi)}"] if hi is not None else []))
                for lo, hi in edges]
        cond = "(" + " OR ".join(f"({gap})" for gap in gaps) + ")"
    else:
        cond = f"substr({col}, 1, {_HEAD}) NOT IN ({','.join(map(_quote, _SKIPPED_HEADS))})"
    return (f"SELECT id, timestamp, {col} FROM audit_log WHERE id > ? AND id <= ? AND "
            f"{cond} ORDER BY id")



def _warnings_sql(col: str, *, utf8: bool = True) -> str:
    """The rows in an id range that begin as a warning (see `_select` for the UTF-8 form)."""
    head = f'{{"type":"{_WARNING}"'
    cond = (f"{col} COLLATE BINARY >= {_quote(head)} AND {col} COLLATE BINARY < "
            f"{_quote(_after_prefix(head))}" if utf8 else
            f"substr({col}, 1, {len(head)}) = {_quote(head)}")
    return (f"SELECT id, {col} FROM audit_log WHERE id > ? AND id <= ? AND {cond} "
            "ORDER BY id")


def _scan_sql(col: str, *, utf8: bool) -> tuple[str, str, str, str]:
    """The statements of a scan: its rows (`_select`), the warnings in an id range
    (`_warnings_sql`), a session's warnings in an id range (its id a third parameter), and
    many sessions' at once (a JSON array of [after id, up to id, session id])."""
    warnings = _warnings_sql(col, utf8=utf8)
    session_warnings = warnings.replace("ORDER BY", f"AND instr({col}, ?) > 0 ORDER BY")
    part = "json_extract(j.value, '$[{}]')"
    where = warnings.split(" WHERE ", 1)[1].split(" ORDER BY")[0]
    where = where.replace("id > ? AND id <= ?", f"a.id > {part.format(0)} AND a.id <= "
                          f"{part.format(1)}").replace(col, "a." + col)
    batch_warnings = (
        f"SELECT j.key, a.id, a.{col} FROM json_each(?) AS j JOIN audit_log AS a ON {where} "
        f"AND instr(a.{col}, {part.format(2)}) > 0 ORDER BY j.key, a.id")
    return _select(col, utf8=utf8), warnings, session_warnings, batch_warnings

def _parse_warning(text: object) -> tuple[str, int] | None:
    """(session id, threshold) of a warning row, or None when it cannot be read."""
    if text.__class__ is str:
        m = _FAST_WARN.fullmatch(text)
        if m is not None and int(m[2]) <= U64_MAX:
            return m[1], int(m[2])
    parsed = _slow_parse(text)
    return (parsed[1], parsed[2]) if parsed[0] == "warn" else None


def _not_mine(layout: Layout, col: str) -> str:
    """A condition on `col` (the audit JSON) leaving out this library's own rows (seed)."""
    head = '{"type":"manual_override"'
    return f" AND substr({col}, 1, {len(head)}) <> '{head}'" if layout is Layout.SEED else ""


def _alive_sql(layout: Layout) -> str:
    """The last rows before an id: signs of life (this library's own rows excluded)."""
    mine = _not_mine(layout, layout.audit_json)
    return (f"SELECT id, timestamp FROM audit_log WHERE id < ? AND id >= ?{mine} "
            "ORDER BY id DESC LIMIT 16")


def _alive_batch_sql(layout: Layout) -> str:
    """For each [before, first] of a JSON array: `before`, and the id and time (as `id
    time`) of the last row before it, not before `first`, when its time is text; NULL
    otherwise (then `_last_alive` asks the usual way). One seek each."""
    mine = _not_mine(layout, "b." + layout.audit_json)
    before, first = "json_extract(j.value, '$[0]')", "json_extract(j.value, '$[1]')"
    return (f"SELECT {before}, (SELECT CASE WHEN typeof(b.timestamp) = 'text' THEN "
            f"b.id || ' ' || b.timestamp END FROM audit_log AS b WHERE b.id < {before} AND "
            f"b.id >= {first}{mine} ORDER BY b.id DESC LIMIT 1) FROM json_each(?) AS j "
            "ORDER BY j.key")


# Parsed rows: ("start", sid, entry, label, deadline_raw) / ("warn", sid, threshold) /
# ("ext", sid, new_deadline_raw) / ("end", sid, entry, reason_tag, reason_extra, secs, micros)
# / ("svc_start",) / ("svc_stop",) / ("override", ManualOverride) / ("unknown", tag) /
# ("malformed", error) / ("other",)
_Parsed = tuple[Any, ...]


def _slow_parse(text: object) -> _Parsed:
    """Any row: json.loads and the same field checks as the fast path (the decoder's rules
    for the fields recovery uses)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return ("malformed", "the event is not text")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return ("malformed", f"invalid JSON: {exc}"[:200])
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        return ("malformed", "not an object with a string type")
    tag = obj["type"]
    try:
        if tag == "service_started":
            return ("svc_start",)
        if tag == "service_stopped":
            return ("svc_stop",)
        if tag == "session_started":
            deadline = obj.get("deadline")
            if deadline is not None and not isinstance(deadline, str):
                raise ValueError("deadline must be a timestamp or null")
            return ("start", _sid(obj), _text(obj, "entry_id"), _text(obj, "label"), deadline)
        if tag == "warning_issued":
            value: Any = obj.get("threshold_seconds")
            if not _uint(value) or value > U64_MAX:
                raise ValueError("threshold_seconds must be a whole number")
            return ("warn", _sid(obj), value)
        if tag == "session_extended":
            _duration(obj.get("extended_by"))
            return ("ext", _sid(obj), _text(obj, "new_deadline"))
        if tag == "session_ended":
            reason = obj.get("reason")
            if not isinstance(reason, dict) or reason.get("type") not in REASON_TYPES:
                raise ValueError("reason must be an end reason")
            rtag: str = reason["type"]
            extra: object = None
            if rtag == "process_exited":
                extra = reason.get("exit_code")
                if extra is not None and (not isinstance(extra, int) or isinstance(extra, bool)
                                          or not _I32[0] <= extra <= _I32[1]):
                    raise ValueError("exit_code must be a 32-bit integer")
            elif rtag == "launch_failed":
                extra = _text(reason, "error")
            secs, nanos = _duration(obj.get("duration"))
            return ("end", _sid(obj), _text(obj, "entry_id"), rtag, extra, secs, nanos // 1000)
        if tag == "manual_override":
            event = decode_event(text)
            if isinstance(event, ManualOverride):
                return ("override", event)
            return ("malformed", getattr(event, "error", None) or "bad manual_override")
    except ValueError as exc:
        return ("malformed", f"{tag}: {exc}"[:200])
    if tag in _OTHER_TYPES:
        return ("other",)
    return ("unknown", tag)


def _duration(value: object) -> tuple[int, int]:
    """serde's {secs, nanos}, checked as the decoder does."""
    if not isinstance(value, dict):
        raise ValueError("a duration must be {secs, nanos}")
    secs, nanos = value.get("secs"), value.get("nanos")
    if not (_uint(secs) and _uint(nanos)):
        raise ValueError("a duration must be {secs, nanos}")
    assert isinstance(secs, int) and isinstance(nanos, int)
    if nanos >= 1_000_000_000 or secs > MAX_DURATION_SECS:
        raise ValueError("a duration is out of range")
    return secs, nanos


def _sid(obj: dict[str, Any]) -> str:
    value = obj.get("session_id")
    if not is_uuid(value):
        raise ValueError("session_id is not a UUID")
    assert isinstance(value, str)
    return value


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


#: The service's own timestamp form (ASCII digits; hours, minutes and seconds in range;
#: 0-9 fraction digits; a numeric offset), which `datetime.fromisoformat` reads as
#: `parse_timestamp` does.
_CANONICAL_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:"
                           r"[0-5][0-9](?:\.[0-9]{1,9})?[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]")


#: One `timezone` object per offset. `fromisoformat` makes a new one for every time it
#: parses, and a scan of a long log keeps about 100,000 times: 80 of each one's 128 bytes
#: were its own copy of the zone (at most 2,880 offsets: HH:MM, one sign).
_ZONES: dict[tzinfo, tzinfo] = {}


def _parse_ts(text: object) -> datetime | None:
    """`parse_timestamp`, or None. The service's own form (`2026-03-07T15:00:00.137386072
    -05:00`: 0-9 fraction digits, a numeric offset) goes through `datetime.fromisoformat`,
    ten times faster and the same result (tests/test_recovery.py compares them), with the
    zone shared among the times of the same offset (`_ZONES`)."""
    if isinstance(text, str) and _CANONICAL_TS.fullmatch(text) is not None:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            zone = value.tzinfo
            if zone is None:
                return value
            shared = _ZONES.setdefault(zone, zone)
            # (`combine` makes the same datetime as `replace(tzinfo=shared)`, 4 times faster)
            return value if shared is zone else datetime.combine(value, value.time(), shared)
    try:
        return parse_timestamp(text)
    except ValueError:
        return None

