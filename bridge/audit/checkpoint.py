"""Signed checkpoints of the chain head, written to a file outside the database.

Each checkpoint is one JSON line: the entry count, the head hash, the time,
the algorithms, the signing key's id, and the first 16 hex digits of every
entry hash since the previous checkpoint (so verify can name the entry a
rewrite changed). The signature covers all of it.
"""

from __future__ import annotations

import bisect
import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from bridge.audit.crypto import PrivateKey, PublicKey
from bridge.store.schema import audit_head, audit_log

SHORT = 16


def signed_bytes(record: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's or manifest's signature covers."""
    body = {key: value for key, value in record.items() if key != "signature"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")


def read_checkpoints(path: Path) -> list[dict[str, Any]]:
    """Every checkpoint in the file, oldest first (none when there is no file)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def check_signature(record: dict[str, Any], key: PublicKey) -> bool:
    """Whether ``record`` is signed by ``key``."""
    if record.get("key_id") != key.key_id:
        return False
    return key.verify(signed_bytes(record), str(record.get("signature", "")))


def take_checkpoint(
    conn: Connection, key: PrivateKey, after: int
) -> dict[str, Any] | None:
    """A signed checkpoint of the committed head, or None when nothing is new."""
    head = conn.execute(
        select(audit_head.c.seq, audit_head.c.head_hash).where(audit_head.c.id == 1)
    ).first()
    if head is None or head.seq <= after:
        return None
    rows = conn.execute(
        select(audit_log.c.seq, audit_log.c.entry_hash, audit_log.c.hash_alg)
        .where(audit_log.c.seq > after, audit_log.c.seq <= head.seq)
        .order_by(audit_log.c.seq)
    ).all()
    record: dict[str, Any] = {
        "count": int(head.seq),
        "head": head.head_hash,
        "at": datetime.now(UTC).isoformat(),
        "hash_alg": rows[-1].hash_alg if rows else "sha256",
        "signature_alg": key.algorithm,
        "key_id": key.public.key_id,
        "first": after + 1,
        "hashes": "".join(row.entry_hash[:SHORT] for row in rows),
    }
    record["signature"] = key.sign(signed_bytes(record))
    return record


def write_checkpoint(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` to the checkpoint file and force it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with path.open("a", encoding="utf-8") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        out.write(line)
        out.flush()
        os.fsync(out.fileno())
        fcntl.flock(out, fcntl.LOCK_UN)


class Witness:
    """The 16-digit hash prefixes the checkpoints recorded, looked up by seq."""

    def __init__(self, checkpoints: list[dict[str, Any]]) -> None:
        self._firsts = [int(record.get("first", 1)) for record in checkpoints]
        self._texts = [str(record.get("hashes", "")) for record in checkpoints]

    def get(self, seq: int) -> str | None:
        """The recorded prefix of entry ``seq``, or None when none covers it."""
        index = bisect.bisect_right(self._firsts, seq) - 1
        if index < 0:
            return None
        offset = (seq - self._firsts[index]) * SHORT
        text = self._texts[index]
        return text[offset : offset + SHORT] if offset + SHORT <= len(text) else None
