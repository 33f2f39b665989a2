"""The city's interchange format: schema validation and document helpers."""

from __future__ import annotations

from bridge.interchange._paths import (
    KINDS,
    NS,
    get,
    get_all,
    ns_path,
    qname,
    set_case_number,
)
from bridge.interchange._validator import Interchange

__all__ = [
    "KINDS",
    "NS",
    "Interchange",
    "get",
    "get_all",
    "ns_path",
    "qname",
    "set_case_number",
]
