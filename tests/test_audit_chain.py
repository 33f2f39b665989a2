"""Tamper evidence: `govbridge audit verify` against a real SQLite store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from bridge.audit.chain import entry_hash
from bridge.audit.crypto import PrivateKey, PublicKey
from bridge.cli import main
from bridge.config import load_config
from bridge.errors import ConfigError
from bridge.store import Store, open_store
from bridge.store.schema import audit_head, audit_log


def make_config(root: Path, **audit: Any) -> Path:
    """A configuration file with a SQLite store, a log file (so the commands do
    not log into pytest's captured streams) and an audit folder in ``root``."""
    settings = {"checkpoint_every": 1000, "checkpoint_seconds": 3600.0, **audit}
    lines = [
        "[bridge]",
        f'store = "sqlite:///{root}/bridge.sqlite"',
        f'log_file = "{root}/logs/bridge.log"',
        "",
        "[audit]",
        f'folder = "{root}/audit"',
    ]
    for key, value in settings.items():
        lines.append(
            f"{key} = {value!r}" if not isinstance(value, str) else f'{key} = "{value}"'
        )
    root.mkdir(parents=True, exist_ok=True)
    path = root / "govbridge.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def open_configured(config_path: Path) -> Store:
    config = load_config(config_path)
    return open_store(config.store, audit=config.audit)


def fill(store: Store, count: int, start: int = 1) -> None:
    """Append ``count`` entries, one transaction each, as the engine does."""
    for number in range(start, start + count):
        with store.begin() as conn:
            store.audit(
                conn,
                system="oa",
                operation="launch",
                outcome="delivered",
                case_number=f"HB2026{number:05d}",
                record_key=f"F{number}",
                detail=f"flow {number}",
                payload_digest=f"{number:064x}",
            )


def verify(config_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", "--config", str(config_path)])
    return code, capsys.readouterr().out


@pytest.fixture
def chained(tmp_path: Path) -> tuple[Path, Store]:
    """Ten entries, a signed checkpoint over them, then two newer entries."""
    config_path = make_config(tmp_path)
    store = open_configured(config_path)
    fill(store, 10)
    store.trail.checkpoint(store.engine)
    fill(store, 2, start=11)
    return config_path, store


def execute(store: Store, sql: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_whole_chain_verifies_and_counts_newer_entries(
    chained: tuple[Path, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    """An untouched log verifies with exit 0 and reports 2 entries past the
    checkpoint."""
    config_path, _store = chained

    code, out = verify(config_path, capsys)

    assert code == 0
    assert "entries=12" in out
    assert "checkpointed=10" in out
    assert "newer_than_checkpoint=2" in out


def test_one_changed_byte_is_named(
    chained: tuple[Path, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    """Changing one character of entry 7's detail fails verify at entry 7."""
    config_path, store = chained
    execute(store, "UPDATE audit_log SET detail = 'flow 8' WHERE seq = 7")

    code, out = verify(config_path, capsys)

    assert code == 1
    assert "at entry 7" in out
    assert "altered" in out


def test_deleted_entry_is_named(
    chained: tuple[Path, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleting entry 4 fails verify naming entry 4 as the one expected."""
    config_path, store = chained
    execute(store, "DELETE FROM audit_log WHERE seq = 4")

    code, out = verify(config_path, capsys)

    assert code == 1
    assert "at entry 4" in out
    assert "found entry 5" in out


def test_swapped_entries_are_named(
    chained: tuple[Path, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    """Swapping the rows of entries 5 and 6 (all their columns) fails at entry 5."""
    config_path, store = chained
    columns = [c.name for c in audit_log.columns if c.name != "id"]
    with store.engine.begin() as conn:
        rows = {
            r.seq: r._mapping
            for r in conn.execute(select(audit_log).where(audit_log.c.seq.in_([5, 6])))
        }
        ids = {seq: rows[seq]["id"] for seq in rows}
        conn.execute(update(audit_log).where(audit_log.c.id == ids[5]).values(seq=-1))
        for here, there in ((6, 5), (5, 6)):
            values = {c: rows[there][c] for c in columns}
            conn.execute(
                update(audit_log).where(audit_log.c.id == ids[here]).values(**values)
            )

    code, out = verify(config_path, capsys)

    assert code == 1
    assert "at entry 5" in out
    assert "found entry 6" in out


def test_rewrite_with_recomputed_hashes_is_named(
    chained: tuple[Path, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    """Rewriting entry 3 and rehashing every later entry (no private key) fails at 3."""
    config_path, store = chained
    with store.engine.begin() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(audit_log).order_by(audit_log.c.seq)
            ).mappings()
        ]
        rows[2]["outcome"] = "failed"
        prev = "0" * 64
        for row in rows:
            row["entry_hash"] = entry_hash(prev, row)
            prev = row["entry_hash"]
            conn.execute(
                update(audit_log)
                .where(audit_log.c.id == row["id"])
                .values(outcome=row["outcome"], entry_hash=prev)
            )
        conn.execute(update(audit_head).values(head_hash=prev))

    code, out = verify(config_path, capsys)

    assert code == 1
    assert "at entry 3" in out
    assert "signed checkpoint" in out


def test_cut_entries_covered_by_a_checkpoint_are_named(
    chained: tuple[Path, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    """Cutting entries 8 to 12 after a checkpoint over 10 fails, naming entry 8."""
    config_path, store = chained
    execute(store, "DELETE FROM audit_log WHERE seq >= 8")
    execute(
        store,
        "UPDATE audit_head SET seq = 7, head_hash = "
        "(SELECT entry_hash FROM audit_log WHERE seq = 7)",
    )

    code, out = verify(config_path, capsys)

    assert code == 1
    assert "at entry 8" in out
    assert "entries 8 to 10" in out


def test_forged_checkpoint_fails(
    chained: tuple[Path, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint line edited without the private key fails verify."""
    config_path, store = chained
    path = store.trail.checkpoint_file
    path.write_text(path.read_text().replace('"count": 10', '"count": 9'))

    code, out = verify(config_path, capsys)

    assert code == 1
    assert "checkpoint 1" in out
    assert "bad signature" in out


def test_shutdown_writes_a_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Disposing the store (the bridge's shutdown) checkpoints the newest head."""
    config_path = make_config(tmp_path, checkpoint_every=4)
    store = open_configured(config_path)
    fill(store, 6)

    store.dispose()

    code, out = verify(config_path, capsys)
    assert code == 0
    assert "checkpoints=2" in out
    assert "checkpointed=6" in out


def test_sm3_and_sm2_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With SM3 and SM2 configured, entries and checkpoints record them and verify."""
    config_path = make_config(tmp_path, hash="sm3", signature="sm2")
    store = open_configured(config_path)
    fill(store, 3)
    record = store.trail.checkpoint(store.engine)

    code, _out = verify(config_path, capsys)
    with store.engine.connect() as conn:
        algs = set(conn.execute(select(audit_log.c.hash_alg)).scalars())
    execute(store, "UPDATE audit_log SET record_key = 'F9' WHERE seq = 2")
    bad, bad_out = verify(config_path, capsys)

    assert record is not None and record["signature_alg"] == "sm2"
    assert algs == {"sm3"}
    assert code == 0
    assert bad == 1 and "at entry 2" in bad_out


def test_zoned_entry_time_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry given a +08:00 time is chained in UTC and verifies after
    reading back."""
    config_path = make_config(tmp_path)
    store = open_configured(config_path)
    moment = datetime(2026, 9, 24, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    with store.begin() as conn:
        store.trail.append(
            conn,
            {
                "at": moment,
                "system": "center",
                "operation": "finish",
                "outcome": "delivered",
            },
            None,
        )

    code, out = verify(config_path, capsys)

    assert code == 0
    assert "entries=1 " in out


def test_unknown_algorithm_is_a_config_error(tmp_path: Path) -> None:
    """An [audit] hash the bridge does not know stops the store from opening."""
    config_path = make_config(tmp_path, hash="md5")

    with pytest.raises(ConfigError, match="audit.hash"):
        open_configured(config_path)


#: an SM2 key pair whose public point's x starts with 0x04, like one key in 256
SM2_PRIVATE = "7748b5ea2939436635296516cab7efab498474a889cd98f4a6d8bf3fd7bc2e69"
SM2_PUBLIC = (
    "04dc54b73afe4c802e1ceabf016a9fad95cf6ff2ea4700abbb966289fec98890"
    "a13310e3a6a6e1fbfff1ad9f6675d5beabf4f6e48907f5748d3464877b818b37"
)


def test_an_sm2_key_starting_with_04_signs_and_verifies() -> None:
    """A public key whose hex starts with "04" is not taken for a marked point
    (gmssl would strip its leading 0s and 4s): its signatures verify, and a
    changed message does not."""
    key = PrivateKey("sm2", SM2_PRIVATE, PublicKey("sm2", SM2_PUBLIC))
    signature = key.sign(b"checkpoint 1")
    assert key.public.verify(b"checkpoint 1", signature)
    assert not key.public.verify(b"checkpoint 2", signature)
