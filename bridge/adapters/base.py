"""What the engine expects of the adapters, and the values they return."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from lxml import etree

from bridge.errors import BridgeError


@dataclass(frozen=True)
class Cursor:
    """A compound watermark on a paged source: (change time, record key)."""

    time: str  # the source's own zone-less local time text
    key: str


@dataclass
class Page:
    """One page of native records from a paged source."""

    records: list[etree._Element]
    has_more: bool
    cursor: Cursor | None = None  # of the last record, for the next page
    #: records of this page that the adapter refused, by record key
    rejected: dict[str, BridgeError] = field(default_factory=dict)


class WriteOutcome(enum.Enum):
    """How a target took a write."""

    DONE = "done"  # the write was applied now
    ALREADY = "already"  # the target says it already holds it


@dataclass
class Attachment:
    """A file fetched from a source system."""

    attachment_id: str
    file_name: str
    media_type: str
    content: bytes = field(repr=False)
