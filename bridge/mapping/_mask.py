"""Masking of personal values (ID numbers, mobiles, names of persons) for logs."""

from __future__ import annotations

PERSONAL_KINDS = ("id_number", "mobile", "name")


def mask(value: str, kind: str) -> str:
    """``value`` with its identifying middle replaced by ``*``.

    id_number keeps the first and last four characters, mobile the first three
    and last four, name its first character; anything short is masked whole.
    An unknown kind masks the whole value.
    """
    if not value:
        return ""

    size = len(value)
    if kind == "id_number" and size > 8:
        return value[:4] + "*" * (size - 8) + value[-4:]
    if kind == "mobile" and size >= 11:
        return value[:3] + "*" * (size - 7) + value[-4:]
    if kind == "name" and size >= 2:
        return value[0] + "*" * (size - 1)
    return "*" * size
