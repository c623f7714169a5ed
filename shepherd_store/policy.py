"""The service's policy file (TOML): entry labels, daily quotas and cooldown lengths.

Only what the inspector and the command line show is read: `[[entries]]` with `id`,
`label` and `[entries.limits]` `daily_quota_seconds`, `cooldown_seconds`,
`max_run_seconds` (0 or absent means unlimited / none).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import NotFoundError, SerializationError


@dataclass(frozen=True)
class PolicyEntry:
    """One entry of the policy; limits in seconds, None when unlimited."""

    id: str
    label: str
    daily_quota_seconds: int | None = None
    cooldown_seconds: int | None = None
    max_run_seconds: int | None = None


@dataclass(frozen=True)
class Policy:
    """The entries of a policy file, by id, in file order."""

    path: str
    entries: dict[str, PolicyEntry]

    def label(self, entry_id: str) -> str | None:
        entry = self.entries.get(entry_id)
        return entry.label if entry else None


def _limit(table: dict[str, object], key: str, where: str) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SerializationError(f"{where}: {key} must be a whole number of seconds >= 0")
    return value or None


def load_policy(path: str | Path) -> Policy:
    """Read a policy file; raise `StoreError` (NotFound / Serialization) with a clear message."""
    p = Path(path).expanduser()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"Policy file {p} does not exist.", path=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NotFoundError(f"Cannot read policy file {p}: {exc}", path=str(p)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SerializationError(f"Policy file {p} is not valid TOML: {exc}", path=str(p)) from None
    raw_entries = data.get("entries", [])
    if not isinstance(raw_entries, list):
        raise SerializationError(f"Policy file {p}: 'entries' must be a list of [[entries]]",
                                 path=str(p))
    entries: dict[str, PolicyEntry] = {}
    for i, raw in enumerate(raw_entries, 1):
        where = f"Policy file {p}, entry {i}"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise SerializationError(f"{where}: every [[entries]] needs a string id", path=str(p))
        limits = raw.get("limits", {})
        if not isinstance(limits, dict):
            raise SerializationError(f"{where}: [entries.limits] must be a table", path=str(p))
        label = raw.get("label")
        entries[raw["id"]] = PolicyEntry(
            id=raw["id"],
            label=label if isinstance(label, str) else raw["id"],
            daily_quota_seconds=_limit(limits, "daily_quota_seconds", where),
            cooldown_seconds=_limit(limits, "cooldown_seconds", where),
            max_run_seconds=_limit(limits, "max_run_seconds", where),
        )
    return Policy(str(p), entries)
