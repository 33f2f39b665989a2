"""Per-record checks of native records against the types their WSDL declares.

zeep turns a number it cannot read into a silent None; the adapters read
records natively instead and check each typed leaf here, so that one bad
record is refused on its own while the rest of its page goes on.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from zeep.xsd.types.builtins import Decimal, Integer

from bridge.errors import ValidationError
from bridge.mapping.converters import halfwidth

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def numeric_paths(xsd_type: Any, prefix: str = "") -> dict[str, re.Pattern[str]]:
    """Paths below a zeep complex type whose leaves are integers or decimals."""
    found: dict[str, re.Pattern[str]] = {}
    for name, element in getattr(xsd_type, "elements", []):
        path = f"{prefix}{name}"
        leaf = element.type
        if isinstance(leaf, Integer):
            found[path] = _INTEGER
        elif isinstance(leaf, Decimal):
            found[path] = _DECIMAL
        elif getattr(leaf, "elements", None):
            found.update(numeric_paths(leaf, f"{path}/"))
    return found


def check_numbers(
    record: etree._Element,
    paths: dict[str, re.Pattern[str]],
    *,
    system: str,
    operation: str,
    key: str,
) -> ValidationError | None:
    """Normalise typed numbers in place; the first unreadable one as an error."""
    for path, pattern in paths.items():
        for leaf in record.iterfind(path):
            value = halfwidth(leaf.text or "").strip()
            if not pattern.fullmatch(value):
                return ValidationError(
                    f"{path} is not a number: {leaf.text!r}",
                    system=system,
                    operation=operation,
                    record=key,
                    field=path,
                )
            leaf.text = value
    return None
