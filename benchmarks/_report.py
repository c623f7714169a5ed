"""The reporting convention of every benchmark: figures beside goals, printed and as JSON.

A figure is one number with its unit and either a goal (at most and/or at least a limit) or
none (information). A value that is None, NaN or infinite was *not measured*, and that is a
failure exactly like a missed goal: a benchmark never passes on a number it did not get.

Each script makes one `Report`, records its figures with `check` / `info` (each is printed
as it comes), and ends with `sys.exit(report.finish())`, which prints the script's table
and returns 1 if any goal was missed or any figure not measured. When the environment names
a file in BENCH_REPORT (as `run_all.py` does), the figures are written there as JSON after
every figure, so a script that crashes half way still leaves what it measured, and marked
complete by `finish()`; the runner tells a crash from a finished run by that mark.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPORT_ENV = "BENCH_REPORT"
MET, MISSED, UNMEASURED, INFO = "met", "MISSED", "NOT MEASURED", "info"
FAILED = (MISSED, UNMEASURED)


@dataclass(frozen=True)
class Figure:
    """One measured number, its unit and its goal (none: information only)."""

    name: str
    value: float | None
    unit: str
    at_most: float | None = None
    at_least: float | None = None
    note: str = ""
    raw: str = ""  # what was reported instead of a number ("nan"), once read back from JSON

    @property
    def measured(self) -> bool:
        return self.value is not None and math.isfinite(self.value)

    @property
    def status(self) -> str:
        """MET, MISSED, UNMEASURED (None, NaN or inf: a failure) or INFO."""
        if not self.measured:
            return UNMEASURED
        if self.at_most is None and self.at_least is None:
            return INFO
        assert self.value is not None
        ok = ((self.at_most is None or self.value <= self.at_most)
              and (self.at_least is None or self.value >= self.at_least))
        return MET if ok else MISSED

    @property
    def goal(self) -> str:
        parts = []
        if self.at_least is not None and self.at_least == self.at_most:
            parts.append(f"= {_number(self.at_least)}")
        elif self.at_least is not None:
            parts.append(f">= {_number(self.at_least)}")
        if self.at_most is not None and self.at_most != self.at_least:
            parts.append(f"<= {_number(self.at_most)}")
        text = " and ".join(f"{p} {self.unit}".rstrip() for p in parts) or "(information)"
        return f"{text}; {self.note}" if self.note else text

    @property
    def shown(self) -> str:
        """The value as printed: a number and its unit, or "not measured (nan)"."""
        if not self.measured:
            return f"not measured ({self.raw or repr(self.value)})"
        assert self.value is not None
        return f"{_number(self.value)} {self.unit}".rstrip()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value if self.measured else None,
                "raw": repr(self.value), "unit": self.unit, "at_most": self.at_most,
                "at_least": self.at_least, "note": self.note, "status": self.status}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        """The figure back from `to_json` (the status is recomputed, never trusted)."""
        value = data.get("value")
        return cls(str(data["name"]), None if value is None else float(value),
                   str(data.get("unit", "")), _opt_float(data.get("at_most")),
                   _opt_float(data.get("at_least")), str(data.get("note", "")),
                   "" if value is not None else str(data.get("raw", "")))


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _number(value: float) -> str:
    """Precision that suits the size: 1,234,567 / 123 / 12.3 / 1.23."""
    size = abs(value)
    if size >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.1f}" if size >= 10 else f"{value:.2f}"


Row = tuple[str, str, str, str, str]  # benchmark, figure, goal, measured, met


def row(benchmark: str, figure: Figure) -> Row:
    return (benchmark, figure.name, figure.goal, figure.shown, figure.status)


def table(rows: list[Row]) -> list[str]:
    """Lines of one table (benchmark, figure, goal, measured, met) of `rows`."""
    cells: list[Row] = [("benchmark", "figure", "goal", "measured", "met"), *rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = []
    for k, cell in enumerate(cells):
        lines.append("  ".join([*(c.ljust(w) for c, w in zip(cell[:4], widths, strict=True)),
                                cell[4]]).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in [*widths, 12]))
    return lines


class Report:
    """The figures of one benchmark script, printed as they come and written as JSON."""

    def __init__(self, benchmark: str, path: str | Path | None = None) -> None:
        self.benchmark = benchmark
        target = path if path is not None else os.environ.get(REPORT_ENV)
        self.path = Path(target) if target else None
        self.figures: list[Figure] = []
        self._write(complete=False)

    def check(self, name: str, value: float | None, unit: str, *, at_most: float | None = None,
              at_least: float | None = None, note: str = "") -> Figure:
        """Record a figure with a goal; None/NaN/inf is recorded as not measured."""
        if at_most is None and at_least is None:
            raise ValueError(f"{name}: a goal needs at_most or at_least (else use info)")
        return self._add(Figure(name, _as_float(value), unit, at_most, at_least, note))

    def info(self, name: str, value: float | None, unit: str, note: str = "") -> Figure:
        """Record a figure without a goal (still a failure if it was not measured)."""
        return self._add(Figure(name, _as_float(value), unit, note=note))

    def _add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  {figure.name:<48} {figure.shown:>16}   {figure.goal}   {figure.status}",
              flush=True)
        self._write(complete=False)
        return figure

    @property
    def failed(self) -> list[Figure]:
        return [f for f in self.figures if f.status in FAILED]

    def finish(self) -> int:
        """Print this script's table, mark the JSON complete; 1 if anything failed."""
        print(f"\n{self.benchmark}: {len(self.figures)} figures, "
              f"{sum(f.status == MISSED for f in self.figures)} goals missed, "
              f"{sum(f.status == UNMEASURED for f in self.figures)} not measured")
        for line in table([row(self.benchmark, f) for f in self.figures]):
            print(line)
        self._write(complete=True)
        return 1 if self.failed or not self.figures else 0

    def _write(self, *, complete: bool) -> None:
        if self.path is None:
            return
        data = {"benchmark": self.benchmark, "complete": complete,
                "figures": [f.to_json() for f in self.figures]}
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(self.path)


def _as_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def load(path: Path) -> tuple[bool, list[Figure]]:
    """(complete, figures) of a JSON report written by `Report`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return bool(data.get("complete")), [Figure.from_json(f) for f in data.get("figures", [])]


def isolate_user_config() -> Path:
    """Give this process (and its children) a private, empty XDG config directory.

    The window restores and saves QSettings: a person's saved tab other than the audit log
    hid the table from bench_inspector (its first page was never painted), and benchmarks
    must not write their windows' state into the person's configuration either.
    """
    path = Path(tempfile.mkdtemp(prefix="shepherd-bench-config-"))
    atexit.register(shutil.rmtree, path, True)
    os.environ["XDG_CONFIG_HOME"] = str(path)
    return path
