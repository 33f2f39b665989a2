"""Verifying the chain, in the store or in an export, against signed checkpoints.

The walk recomputes every hash from the previous one, checks that ``seq``
runs on without a gap in storage order, compares each entry with the hash
prefix a signed checkpoint recorded for it, and each checkpointed head with
the recomputed one. The first failure is named; nothing after it is trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from bridge.audit.chain import CHAINED, GENESIS, hash_values
from bridge.audit.checkpoint import SHORT, Witness, check_signature
from bridge.audit.crypto import PublicKey
from bridge.store.schema import audit_log


@dataclass
class Problem:
    """The first bad entry (or checkpoint) found, and why."""

    seq: int | None
    reason: str
    row_id: int | None = None


@dataclass
class VerifyReport:
    """What a verification found."""

    entries: int = 0
    head: str = GENESIS
    last_seq: int = 0
    checkpoints: int = 0
    checkpointed: int = 0
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def newer(self) -> int:
        """Entries newer than the newest signed checkpoint."""
        return max(self.last_seq - self.checkpointed, 0)


def check_checkpoints(
    checkpoints: list[dict[str, Any]], key: PublicKey | None, report: VerifyReport
) -> bool:
    """Check every checkpoint's signature; the first bad one becomes the problem."""
    report.checkpoints = len(checkpoints)
    for index, record in enumerate(checkpoints, start=1):
        if key is None or not check_signature(record, key):
            why = "no public key given" if key is None else "bad signature"
            report.problem = Problem(
                None, f"checkpoint {index} (count {record.get('count')}): {why}"
            )
            return False
    report.checkpointed = max((int(c["count"]) for c in checkpoints), default=0)
    return True


def as_row(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """An entry mapping as the tuple :func:`walk` reads: id, CHAINED, hash."""
    values = (entry.get(name) for name in CHAINED)
    return (entry.get("id"), *values, entry["entry_hash"])


def walk(
    rows: Iterable[Sequence[Any]],
    checkpoints: list[dict[str, Any]],
    report: VerifyReport,
    *,
    prev: str = GENESIS,
    first_seq: int = 1,
    upto: int | None = None,
) -> VerifyReport:
    """Recompute the chain over ``rows`` (in storage order; tuples as
    :func:`as_row` makes them) into ``report``;
    checkpoints past ``upto`` (an export's last entry) cannot demand more."""
    witness = Witness(checkpoints)
    heads = {int(c["count"]): str(c["head"]) for c in checkpoints}
    expected = first_seq
    for row in rows:
        problem = _check_row(row, expected, prev, witness, heads)
        if problem is not None:
            report.problem = problem
            return report
        prev = str(row[-1])
        report.entries += 1
        expected += 1
    report.head, report.last_seq = prev, expected - 1
    _check_cut(report, heads, first_seq, upto)
    return report


def _check_row(
    row: Sequence[Any],
    expected: int,
    prev: str,
    witness: Witness,
    heads: dict[int, str],
) -> Problem | None:
    seq, row_id = int(row[1]), row[0]
    if seq != expected:
        return Problem(
            expected,
            f"expected entry {expected} here, found entry "
            f"{seq}: entries deleted, inserted or reordered",
            row_id,
        )
    recomputed = hash_values(prev, row[1:-1])
    if recomputed != row[-1]:
        return Problem(
            seq, f"entry {seq} was altered: its content does not match its hash", row_id
        )
    recorded = witness.get(seq)
    if recorded is not None and recorded != recomputed[:SHORT]:
        return Problem(
            seq,
            f"entry {seq} differs from the signed checkpoint (rewritten and rehashed)",
            row_id,
        )
    if seq in heads and heads[seq] != recomputed:
        return Problem(
            seq, f"chain head at entry {seq} differs from the signed checkpoint", row_id
        )
    return None


def _check_cut(
    report: VerifyReport, heads: dict[int, str], first_seq: int, upto: int | None
) -> None:
    limit = upto if upto is not None else max(heads, default=0)
    covered = max((n for n in heads if first_seq <= n <= limit), default=0)
    if covered > report.last_seq:
        missing = report.last_seq + 1
        report.problem = Problem(
            missing,
            f"entries {missing} to {covered} are "
            "covered by a signed checkpoint but missing",
        )


def verify_store(
    engine: Engine, checkpoints: list[dict[str, Any]], key: PublicKey | None
) -> VerifyReport:
    """Verify the whole chain in the store against ``checkpoints``."""
    report = VerifyReport()
    if checkpoints and not check_checkpoints(checkpoints, key, report):
        return report
    columns = [audit_log.c.id, *(audit_log.c[name] for name in CHAINED)]
    query = select(*columns, audit_log.c.entry_hash).order_by(audit_log.c.id)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=5000).execute(query)
        return walk(result, checkpoints, report)
