"""`shepherd-store usage`: usage per entry per day over a range, with per-entry totals.

The `usage` module aggregates (`DailyUsage`, `summarize`, `csv_rows`); this one prints a
table, CSV or one JSON object. Quotas come from --config.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from .cli_common import EXIT_OK, EXIT_USAGE, CliError, Output, _labels, _note, _open_read, _policy
from .cli_text import Column, render_table
from .describe import entry_name, format_duration
from .timefmt import format_day, local_now

__all__ = ["cmd_usage"]


def cmd_usage(args: argparse.Namespace, out: Output) -> int:
    """`usage`: seconds per entry per day over a range, with per-entry totals."""
    from .usage import MAX_RANGE_DAYS, DailyUsage, DayRange, csv_rows, summarize

    today = local_now().date()
    last = args.to_day or (max(today, args.from_day) if args.from_day else today)
    first = args.from_day or last - timedelta(days=6)
    if first > last:
        raise CliError(f"--from {format_day(first)} is after --to {format_day(last)}",
                       EXIT_USAGE)
    if (last - first).days >= MAX_RANGE_DAYS:
        raise CliError(f"the range is longer than {MAX_RANGE_DAYS} days", EXIT_USAGE)
    policy = _policy(args)
    quotas = {e.id: e.daily_quota_seconds for e in policy.entries.values()} if policy else {}
    with _open_read(args) as store:
        daily = DailyUsage.from_records(store.usage_between(first, last, args.entry),
                                        DayRange.from_dates(first, last))
        labels = _labels(store, policy)
    totals = summarize(daily, today, quotas=quotas)
    if args.csv:
        import csv

        csv.writer(out.stream).writerows(csv_rows(daily, labels, quotas))
        return EXIT_OK
    if args.json:
        json.dump({
            "from": format_day(first), "to": format_day(last),
            "days": [{"day": format_day(d), "entry_id": e, "seconds": s}
                     for d, e, s in daily.rows() if s > 0],
            "totals": [{"entry_id": t.entry_id, "label": labels.get(t.entry_id, t.entry_id),
                        "total_seconds": t.total_seconds,
                        "average_seconds": round(t.average_seconds, 1),
                        "days_used": t.days_used,
                        "busiest_day": format_day(t.busiest_day) if t.busiest_day else None,
                        "busiest_seconds": t.busiest_seconds,
                        "daily_quota_seconds": t.quota_seconds,
                        "quota_reached_days": t.quota_days} for t in totals],
            "total_seconds": sum(t.total_seconds for t in totals),
        }, out.stream, ensure_ascii=False, indent=2)
        out.line()
        return EXIT_OK
    _usage_table(out, daily, totals, labels, first, last, quotas=bool(quotas))
    return EXIT_OK


def _usage_table(out: Output, daily: Any, totals: Sequence[Any], labels: dict[str, str],
                 first: date, last: date, *, quotas: bool) -> None:
    span = format_day(first) if first == last else f"{format_day(first)} to {format_day(last)}"
    if not totals:
        _note(f"No usage recorded from {span}." if first != last else
              f"No usage recorded on {span}.")
        return

    def name(entry: str) -> str:
        return entry_name(entry, labels, with_id=True)

    days = [(format_day(d), name(e), format_duration(s)) for d, e, s in daily.rows() if s > 0]
    cols = [Column("DAY"), Column("ENTRY", flex=True), Column("TIME", right=True)]
    for line in render_table(cols, days, out.width, out.style):
        out.line(line)
    out.line()
    out.line(f"Totals, {span} ({daily.range.days} days):")
    cols = [Column("ENTRY", flex=True), Column("TOTAL", right=True),
            Column("PER DAY", right=True), Column("DAYS USED", right=True),
            Column("BUSIEST DAY")]
    rows: list[list[Any]] = []
    for t in totals:
        busiest = f"{format_day(t.busiest_day)} ({format_duration(t.busiest_seconds)})" \
            if t.busiest_day else "-"
        row: list[Any] = [name(t.entry_id), format_duration(t.total_seconds),
                          format_duration(t.average_seconds), str(t.days_used), busiest]
        if quotas:
            row.append(str(t.quota_days) if t.quota_seconds else "-")
        rows.append(row)
    grand = sum(t.total_seconds for t in totals)
    footer: list[Any] = [("all entries", "bold"), (format_duration(grand), "bold"),
                         format_duration(grand / daily.range.days), "", ""]
    if quotas:
        cols.append(Column("QUOTA REACHED", right=True))
        footer.append("")
    for line in render_table(cols, [*rows, footer], out.width, out.style):
        out.line(line)
