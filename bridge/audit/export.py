"""Exports for auditors: entries as CSV or JSON lines, the checkpoints, and a
signed manifest that ``govbridge audit verify --export`` checks offline."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from bridge.audit.chain import CHAINED, GENESIS, at_text
from bridge.audit.checkpoint import read_checkpoints, signed_bytes
from bridge.audit.crypto import PublicKey
from bridge.audit.verify import (
    Problem,
    VerifyReport,
    as_row,
    check_checkpoints,
    walk,
)
from bridge.errors import ConfigError
from bridge.store import Store
from bridge.store.schema import audit_head, audit_log

FIELDS = (*CHAINED, "entry_hash")
NULL = "\\N"
INTS = ("seq", "duration_ms")


def export(
    store: Store, since: datetime, until: datetime, fmt: str, out: Path
) -> dict[str, Any]:
    """Write the entries from ``since`` to ``until`` (whole seq range) to ``out``."""
    if fmt not in ("csv", "jsonl"):
        raise ConfigError(f"export format {fmt!r}: use csv or jsonl")
    out.mkdir(parents=True, exist_ok=True)
    entries = out / f"entries.{fmt}"
    with store.engine.connect() as conn, conn.begin():
        first, last = _seq_range(conn, since, until)
        prev = _hash_before(conn, first)
        rows = _rows(conn, first, last)
        count = _write(entries, fmt, rows)
        head = conn.execute(select(audit_head)).first()
    manifest = _manifest(entries, count, first, last, prev, head, since, until)
    if store.trail.checkpoints_enabled:
        _copy_checkpoints(store.trail.checkpoint_file, out)
        key = store.trail.private_key()
        manifest.update(signature_alg=key.algorithm, key_id=key.public.key_id)
        manifest["signature"] = key.sign(signed_bytes(manifest))
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return manifest


def _seq_range(conn: Connection, since: datetime, until: datetime) -> tuple[int, int]:
    window = (audit_log.c.at >= since.astimezone(UTC)) & (
        audit_log.c.at < until.astimezone(UTC)
    )
    low, high = conn.execute(
        select(func.min(audit_log.c.seq), func.max(audit_log.c.seq)).where(window)
    ).one()
    return (int(low), int(high)) if low is not None else (1, 0)


def _hash_before(conn: Connection, first: int) -> str:
    found = conn.execute(
        select(audit_log.c.entry_hash).where(audit_log.c.seq == first - 1)
    ).scalar()
    return str(found) if found else GENESIS


def _rows(conn: Connection, first: int, last: int) -> Iterator[dict[str, Any]]:
    query = (
        select(*(audit_log.c[name] for name in FIELDS))
        .where(audit_log.c.seq >= first, audit_log.c.seq <= last)
        .order_by(audit_log.c.seq)
    )
    for row in conn.execution_options(yield_per=5000).execute(query).mappings():
        entry = dict(row)
        entry["at"] = at_text(entry["at"])
        yield entry


def _write(path: Path, fmt: str, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out) if fmt == "csv" else None
        if writer:
            writer.writerow(FIELDS)
        for row in rows:
            if writer:
                writer.writerow([NULL if row[f] is None else row[f] for f in FIELDS])
            else:
                out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count


def _manifest(
    entries: Path,
    count: int,
    first: int,
    last: int,
    prev: str,
    head: Any,
    since: datetime,
    until: datetime,
) -> dict[str, Any]:
    last_hash = _last_hash(entries) if count else prev
    return {
        "file": entries.name,
        "file_sha256": hashlib.sha256(entries.read_bytes()).hexdigest(),
        "count": count,
        "first_seq": first,
        "last_seq": last,
        "prev_hash": prev,
        "last_hash": last_hash,
        "chain_head": {
            "count": head.seq if head else 0,
            "hash": head.head_hash if head else GENESIS,
        },
        "from": at_text(since),
        "to": at_text(until),
        "created_at": datetime.now(UTC).isoformat(),
    }


def _last_hash(entries: Path) -> str:
    last: dict[str, Any] = {}
    for last in read_entries(entries):
        pass
    return str(last.get("entry_hash", GENESIS))


def _copy_checkpoints(source: Path, out: Path) -> None:
    if source.exists():
        shutil.copyfile(source, out / "checkpoints.jsonl")


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of an export file, typed as the hash needs them."""
    with path.open(encoding="utf-8", newline="") as source:
        if path.suffix == ".csv":
            for raw in csv.DictReader(source):
                yield _typed({k: None if v == NULL else v for k, v in raw.items()})
        else:
            for line in source:
                if line.strip():
                    yield _typed(json.loads(line))


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    for name in INTS:
        if row.get(name) not in (None, ""):
            row[name] = int(row[name])
    return row


def verify_export(folder: Path, key: PublicKey) -> VerifyReport:
    """Check an export offline: manifest signature, checkpoints, the chain."""
    report = VerifyReport()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("key_id") != key.key_id or not key.verify(
        signed_bytes(manifest), str(manifest.get("signature", ""))
    ):
        report.problem = Problem(None, "manifest: bad signature or another key")
        return report
    checkpoints = read_checkpoints(folder / "checkpoints.jsonl")
    if checkpoints and not check_checkpoints(checkpoints, key, report):
        return report
    rows = (as_row(entry) for entry in read_entries(folder / manifest["file"]))
    walk(
        rows,
        checkpoints,
        report,
        prev=manifest["prev_hash"],
        first_seq=manifest["first_seq"],
        upto=manifest["last_seq"],
    )
    if report.ok:
        _match_manifest(report, manifest, folder)
    return report


def _match_manifest(
    report: VerifyReport, manifest: dict[str, Any], folder: Path
) -> None:
    if report.entries != manifest["count"] or report.head != manifest["last_hash"]:
        report.problem = Problem(
            report.last_seq + 1,
            f"export holds {report.entries} entries ending {report.head[:16]}, "
            f"the manifest signed {manifest['count']} ending "
            f"{manifest['last_hash'][:16]}",
        )
        return
    digest = hashlib.sha256((folder / manifest["file"]).read_bytes()).hexdigest()
    if digest != manifest["file_sha256"]:
        report.problem = Problem(
            None, f"{manifest['file']}: bytes differ from the signed digest"
        )
