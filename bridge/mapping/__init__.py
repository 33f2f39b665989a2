"""Declarative per-bureau mappings between native records and the interchange."""

from __future__ import annotations

from bridge.mapping._check import (
    CheckReport,
    Finding,
    check_bureau,
    check_report,
)
from bridge.mapping._engine import BureauMapping, NativeMessage, load_bureau
from bridge.mapping._mask import PERSONAL_KINDS, mask
from bridge.mapping._samples import SampleResult, run_samples

__all__ = [
    "PERSONAL_KINDS",
    "BureauMapping",
    "CheckReport",
    "Finding",
    "NativeMessage",
    "SampleResult",
    "check_bureau",
    "check_report",
    "load_bureau",
    "mask",
    "run_samples",
]
