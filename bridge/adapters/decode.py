"""Encoding rules for legacy answers: which charset to trust and how to fail.

The order of trust is: a byte order mark, the XML declaration, the HTTP
``charset`` parameter, the counterpart's configured encoding, UTF-8. The GB
family is always read with its superset GB18030, because systems that declare
GB2312 routinely send GBK characters (镕, 喆, 堃). A body that is not valid in
the chosen encoding is a DecodeError naming the byte offset; nothing is ever
decoded with replacement characters. Entity declarations are refused before
any parser sees the bytes.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from bridge.errors import DecodeError, ProtocolError, SecurityError

_DECLARATION = re.compile(
    rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>"
)
_ANY_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)
_ENTITIES = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_GB_FAMILY = {"gb2312", "gb_2312-80", "gbk", "cp936", "x-gbk", "euc-cn", "gb18030"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
UTF8_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def superset(encoding: str) -> str:
    """The codec to read ``encoding`` with: GB18030 for the whole GB family."""
    name = encoding.strip().lower()
    return "gb18030" if name in _GB_FAMILY else name


def header_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if any."""
    found = _CHARSET.search(content_type or "")
    return found.group(1) if found else None


def declared_encoding(raw: bytes) -> str | None:
    """The encoding named in the XML declaration, if any."""
    found = _DECLARATION.match(raw[:512])
    return found.group(1).decode("ascii") if found else None


def choose_encoding(
    raw: bytes, content_type: str | None, default: str | None = None
) -> tuple[str, int]:
    """The codec to decode ``raw`` with and the length of its byte order mark."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name, len(bom)
    chosen = declared_encoding(raw) or header_charset(content_type) or default
    return superset(chosen or "utf-8"), 0


def refuse_entities(raw: bytes, system: str | None, operation: str | None) -> None:
    """Raise SecurityError when a document declares a DTD or entities."""
    if _ENTITIES.search(raw):
        raise SecurityError(
            "answer declares a DTD or entities; refused unread",
            system=system,
            operation=operation,
        )


def decode_xml(
    raw: bytes,
    content_type: str | None,
    *,
    system: str | None = None,
    operation: str | None = None,
    default: str | None = None,
) -> str:
    """The text of an XML answer, by the rules above, without its declaration."""
    refuse_entities(raw, system, operation)
    codec, skip = choose_encoding(raw, content_type, default)
    try:
        text = raw[skip:].decode(codec)
    except LookupError as exc:
        raise DecodeError(
            f"unknown encoding {codec!r}", system=system, operation=operation
        ) from exc
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        raise DecodeError(
            f"answer is not valid {codec} at byte offset {offset}",
            system=system,
            operation=operation,
            field=f"byte {offset}",
        ) from exc
    return _ANY_DECLARATION.sub("", text, count=1)


def to_utf8(
    raw: bytes,
    content_type: str | None,
    *,
    system: str | None = None,
    operation: str | None = None,
    default: str | None = None,
) -> bytes:
    """The same XML answer re-encoded as UTF-8 with a matching declaration."""
    text = decode_xml(
        raw, content_type, system=system, operation=operation, default=default
    )
    return (UTF8_DECLARATION + text).encode("utf-8")


def looks_like_xml(raw: bytes) -> bool:
    """Whether a body starts like an XML document (after any BOM and blanks)."""
    for bom, _name in _BOMS:
        if raw.startswith(bom):
            return True
    return raw.lstrip()[:1] == b"<"


def parse_answer(
    raw: bytes, *, system: str | None = None, huge: bool = False
) -> etree._Element:
    """Parse an answer the transport already re-encoded; entities stay refused."""
    refuse_entities(raw, system, None)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=huge
    )
    try:
        return etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(
            f"answer is not well-formed XML: {exc}", system=system
        ) from exc
