"""The A8 upload servlet's request: one file part of a multipart/form-data body."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_FILENAME_STAR = re.compile(r"filename\*=([\w-]+)''([^;\s]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename="([^"]*)"', re.IGNORECASE)


class UploadError(ValueError):
    """A body that is not a multipart upload with one file."""


@dataclass
class Upload:
    """The file of an upload request."""

    file_name: str
    media_type: str
    content: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _headers(block: bytes) -> dict[str, str]:
    headers = {}
    for line in block.decode("utf-8", errors="replace").split("\r\n"):
        name, _, value = line.partition(":")
        if value:
            headers[name.strip().lower()] = value.strip()
    return headers


def _file_name(disposition: str) -> str | None:
    star = _FILENAME_STAR.search(disposition)
    if star:
        return unquote(star.group(2), encoding=star.group(1))
    plain = _FILENAME.search(disposition)
    return plain.group(1) if plain else None


def parse_upload(content_type: str, body: bytes) -> Upload:
    """The first file part of ``body``; its file name may be UTF-8 or RFC 2231."""
    found = _BOUNDARY.search(content_type)
    if "multipart/form-data" not in content_type.lower() or not found:
        raise UploadError("expected multipart/form-data with a boundary")
    delimiter = b"--" + found.group(1).encode("ascii")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.partition(b"\r\n\r\n")
        headers = _headers(head.strip(b"\r\n"))
        name = _file_name(headers.get("content-disposition", ""))
        if name is None:
            continue
        media_type = headers.get("content-type", "application/octet-stream")
        return Upload(name, media_type, content.removesuffix(b"\r\n"))
    raise UploadError("no file part in the upload")
