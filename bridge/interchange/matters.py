"""The matter catalogue (config/matters.toml): codes, bureaus and time limits."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

UNITS = ("workingDays", "calendarDays")
_CODE = re.compile(r"[0-9A-Za-z_\-]{1,64}")
_BUREAU = re.compile(r"[a-z][a-z0-9]{1,15}")


@dataclass(frozen=True)
class TimeLimit:
    """A limit and its unit: workingDays or calendarDays."""

    limit: int
    unit: str


@dataclass(frozen=True)
class Matter:
    """One matter (事项) of the catalogue."""

    code: str
    name: str
    bureau: str
    statutory: TimeLimit
    promised: TimeLimit


def load_matters(path: Path | None = None) -> dict[str, Matter]:
    """The catalogue by matter code; a bad entry is a ConfigError naming it."""
    if path is None:
        from bridge.paths import config_dir

        path = config_dir() / "matters.toml"
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("matter", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"matter catalogue {path}: {exc}", system="config") from exc

    matters: dict[str, Matter] = {}
    for index, entry in enumerate(entries, start=1):
        matter = _matter(entry, f"{path} matter #{index}")
        if matter.code in matters:
            raise ConfigError(f"{path}: matter {matter.code} appears twice")
        matters[matter.code] = matter
    return matters


def _matter(entry: dict[str, Any], where: str) -> Matter:
    try:
        matter = Matter(
            code=str(entry["code"]),
            name=str(entry["name"]).strip(),
            bureau=str(entry["bureau"]),
            statutory=_limit(entry["statutory"]),
            promised=_limit(entry["promised"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}", system="config", field=where) from exc

    problem = _problem(matter)
    if problem:
        raise ConfigError(f"{where}: {problem}", system="config", field=where)
    return matter


def _limit(table: dict[str, Any]) -> TimeLimit:
    limit, unit = int(table["limit"]), str(table["unit"])
    if unit not in UNITS or limit < 0:
        raise ValueError(f"expected a non-negative limit in {' or '.join(UNITS)}")
    return TimeLimit(limit, unit)


def _problem(matter: Matter) -> str:
    if not _CODE.fullmatch(matter.code):
        return f"code {matter.code!r} does not fit the interchange matterCodeType"
    if not _BUREAU.fullmatch(matter.bureau):
        return f"bureau {matter.bureau!r} does not fit the interchange bureauCodeType"
    if not matter.name:
        return "the name is empty"
    same_unit = matter.statutory.unit == matter.promised.unit
    if same_unit and matter.promised.limit > matter.statutory.limit:
        return "the promised limit is longer than the statutory one"
    return ""
