"""Rules checked in code after XSD validation: check characters, due dates, digests."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from bridge.interchange import checks
from bridge.interchange._paths import get, qname
from bridge.interchange.calendar import WorkCalendar

ID_CHECKS = {
    "idCard": checks.resident_id_problem,
    "creditCode": checks.credit_code_problem,
    "organisationCode": checks.org_code_problem,
}


@dataclass(frozen=True)
class Problem:
    """One bad node: its XPath, its source line and what is wrong with it."""

    path: str
    line: int | None
    message: str


def problems(root: etree._Element, calendar: WorkCalendar) -> Iterator[Problem]:
    """Every rule an XSD-valid document breaks, in document order."""
    for element in root.iter(qname("applicant"), qname("departmentCode")):
        yield from _identifier(element)

    for promise in root.iter(qname("promise")):
        yield from _due_date(promise, calendar)

    for attachment in root.iter(qname("attachment")):
        yield from _digest(attachment)


def line_of(element: etree._Element) -> int | None:
    """The source line of ``element``, when it was parsed from text."""
    line = element.sourceline
    return line if isinstance(line, int) else None


def xpath_of(element: etree._Element) -> str:
    """The XPath of ``element`` without prefixes, with positions where repeated."""
    steps = []
    node: etree._Element | None = element
    while node is not None:
        step = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [child for child in parent if child.tag == node.tag]
            if len(same) > 1:
                step += f"[{same.index(node) + 1}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))


def _identifier(element: etree._Element) -> Iterator[Problem]:
    if element.tag == qname("departmentCode"):
        message = checks.organisation_problem((element.text or "").strip())
        if message:
            yield Problem(xpath_of(element), line_of(element), message)
        return

    check = ID_CHECKS.get(get(element, "idType"))
    number = element.find(qname("idNumber"))
    if check is None or number is None:
        return
    message = check((number.text or "").strip())
    if message:
        yield Problem(xpath_of(number), line_of(number), message)


#: the longest promised limit the due-date rule counts out (ten years, in
#: either unit; statutory limits are weeks or months): a longer one is a
#: problem, not a walk through the calendar to its last year
LONGEST_LIMIT = 3650


def _due_date(promise: etree._Element, calendar: WorkCalendar) -> Iterator[Problem]:
    due = promise.find(qname("dueDate"))
    accepted = _acceptance_day(promise.getparent())
    if due is None or accepted is None:
        return

    limit = int(get(promise, "limit"))
    if limit > LONGEST_LIMIT:
        node = promise.find(qname("limit"))
        yield Problem(
            xpath_of(node),
            line_of(node),
            f"limit {limit} {get(promise, 'unit')} is longer than the due-date "
            f"rule counts ({LONGEST_LIMIT})",
        )
        return
    expected = calendar.due_date(accepted, limit, get(promise, "unit"))
    found = date.fromisoformat(get(promise, "dueDate"))
    if found != expected:
        message = (
            f"found due date {found}, expected {expected}: acceptance on "
            f"{accepted} plus {get(promise, 'limit')} {get(promise, 'unit')}"
        )
        yield Problem(xpath_of(due), line_of(due), message)


def _acceptance_day(case: etree._Element | None) -> date | None:
    if case is None:
        return None
    text = get(case, "acceptance/time")
    if not text:
        return None
    return datetime.fromisoformat(text).date()


def _digest(attachment: etree._Element) -> Iterator[Problem]:
    content = attachment.find(qname("content"))
    if content is None:
        return

    try:
        data = base64.b64decode("".join((content.text or "").split()), validate=True)
    except ValueError:  # binascii.Error, or a character beyond ASCII
        yield Problem(xpath_of(content), line_of(content), "not valid base64")
        return

    size = attachment.find(qname("size"))
    if size is not None and int(get(attachment, "size")) != len(data):
        text = f"found size {get(attachment, 'size')}, the content has {len(data)}"
        yield Problem(xpath_of(size), line_of(size), text)

    digest = attachment.find(qname("sha256"))
    if digest is not None and get(attachment, "sha256") != _sha256(data):
        text = "the SHA-256 digest does not match the content"
        yield Problem(xpath_of(digest), line_of(digest), text)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
