"""A usage day's sum of ended sessions stays exact past int64 (`_State.sums` keeps it in an
array, and in a list once it no longer fits), on each of `ingest`'s three ways of reading
an end: ended right after its start in a run not kept in detail, the usual end, and an end
in another form (through `json.loads`)."""

from __future__ import annotations

import uuid

import pytest

from shepherd_store.recovery.rows import _SEP
from shepherd_store.recovery.state import SUM_IDS, _State, ingest
from shepherd_store.timefmt import MAX_DURATION_SECS

#: Sessions of the longest duration an end row can give, enough for their sum to pass int64.
SESSIONS = (2**63 - 1) // MAX_DURATION_SECS + 50
PER_RUN = 100
TS = "2026-06-01T10:00:00.000000-05:00"


def _rows(other_form: bool) -> list[tuple[int, str, str]]:
    rows: list[tuple[int, str, str]] = []
    for i in range(SESSIONS):
        if i % PER_RUN == 0:
            rows.append((len(rows) + 1, TS, '{"type":"service_started"}'))
        sid = str(uuid.UUID(int=i + 1, version=4))
        rows.append((len(rows) + 1, TS, '{"type":"session_started","session_id":"' + sid
                     + '","entry_id":"minecraft","label":"Minecraft","deadline":null}'))
        sep = ": " if other_form else ":"
        rows.append((len(rows) + 1, TS, f'{{"type"{sep}"session_ended","session_id":"{sid}",'
                     '"entry_id":"minecraft","reason":{"type":"expired"},"duration":'
                     f'{{"secs":{MAX_DURATION_SECS},"nanos":0}}}}'))
    return rows


@pytest.mark.parametrize("way", ["ended at the next row", "usual end", "another form"])
def test_a_days_sum_past_int64_stays_exact(way: str) -> None:
    rows = _rows(other_form=way == "another form")
    # (a run is kept in detail unless `detail_runs` is 0: only then are pairs only counted)
    state = _State(0, 0 if way == "ended at the next row" else 1)
    for at in range(0, len(rows), 5_000):
        ingest(state, rows[at:at + 5_000])
    item = state.sums["minecraft" + _SEP + "2026-06-01"]
    ends = [rid for rid, _ts, text in rows if "session_ended" in text]
    assert item[0] == SESSIONS * MAX_DURATION_SECS > 2**63
    assert list(item[1:]) == ends[:SUM_IDS]
    assert sum(run.count for run in state.runs) == SESSIONS
