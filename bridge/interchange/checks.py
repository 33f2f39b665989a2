"""Check characters of Chinese identifiers, which an XSD pattern cannot verify.

Resident identity numbers (GB 11643: ISO 7064 MOD 11-2), organisation codes
(GB 11714: weighted MOD 11) and unified social credit codes (GB 32100:
weighted MOD 31 over a 31-character alphabet, with an organisation code in
positions 9 to 17). Each ``*_problem`` function gives "" for a good value and
otherwise says what is wrong without repeating the value, which may be
personal.
"""

from __future__ import annotations

import re
from datetime import date

RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_CHECKS = "10X98765432"
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_RESIDENT = re.compile(r"[0-9]{17}[0-9X]")
_ORG = re.compile(r"([0-9A-Z]{8})-?([0-9X])")
_CREDIT = re.compile(f"[{CREDIT_ALPHABET}]{{18}}")


def resident_check_char(first17: str) -> str:
    """The GB 11643 check character of the 17 leading digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, RESIDENT_WEIGHTS, strict=True))
    return RESIDENT_CHECKS[total % 11]


def org_check_char(first8: str) -> str:
    """The GB 11714 check character of the 8 leading characters of a code."""
    total = sum(_org_value(c) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_check_char(first17: str) -> str:
    """The GB 32100 check character of the 17 leading characters of a code."""
    total = sum(
        CREDIT_ALPHABET.index(c) * w
        for c, w in zip(first17, CREDIT_WEIGHTS, strict=True)
    )
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def resident_id_problem(value: str) -> str:
    """What is wrong with an 18-character resident identity number, or ""."""
    if not _RESIDENT.fullmatch(value):
        return "expected 17 ASCII digits and a check digit or upper-case X"

    if not _is_date(value[6:14]):
        return "expected a birth date (yyyymmdd) in characters 7 to 14"

    expected = resident_check_char(value[:17])
    if value[17] != expected:
        return "the check character does not match (GB 11643)"
    return ""


def org_code_problem(value: str) -> str:
    """What is wrong with a 9-character organisation code (hyphen allowed), or ""."""
    match = _ORG.fullmatch(value)
    if match is None:
        return "expected 8 digits or upper-case letters and a check character"

    if match.group(2) != org_check_char(match.group(1)):
        return "the check character does not match (GB 11714)"
    return ""


def credit_code_problem(value: str) -> str:
    """What is wrong with an 18-character unified social credit code, or ""."""
    if not _CREDIT.fullmatch(value):
        return "expected 18 characters of the GB 32100 set (no I, O, S, V or Z)"

    if value[17] != credit_check_char(value[:17]):
        return "the check character does not match (GB 32100)"

    inner = org_code_problem(value[8:17])
    if inner:
        return f"the organisation code inside: {inner}"
    return ""


def organisation_problem(value: str) -> str:
    """An organisation code or a credit code, told apart by length."""
    if len(value) == 18:
        return credit_code_problem(value)
    return org_code_problem(value)


def _org_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    return ord(char) - ord("A") + 10


def _is_date(text: str) -> bool:
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return True
