"""The audit trail of one process: settings, keys and when to checkpoint.

The store appends through :meth:`AuditTrail.append` inside the engine's
transactions and calls :meth:`after_commit` once a transaction has ended; a
checkpoint is taken then, every ``checkpoint_every`` entries or
``checkpoint_seconds`` seconds, and by :meth:`close` at shutdown.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine

from bridge.audit.chain import append_many
from bridge.audit.checkpoint import read_checkpoints, take_checkpoint, write_checkpoint
from bridge.audit.crypto import (
    HASHES,
    SIGNATURES,
    PrivateKey,
    generate,
    load_private,
    save_keys,
)
from bridge.config import AuditConfig
from bridge.errors import ConfigError

log = structlog.get_logger()

#: where a batching transaction keeps its entries until they are flushed
_PENDING = "govbridge_audit_pending"


class AuditTrail:
    """Appends entries and writes signed checkpoints for one store."""

    def __init__(self, config: AuditConfig | None = None) -> None:
        if config is not None:
            _check_algorithms(config)
        self.config = config
        self.hash_alg = config.hash if config else "sha256"
        self._lock = threading.Lock()
        self._since = 0
        self._last_time = time.monotonic()
        self._last_count: int | None = None
        self._key: PrivateKey | None = None
        self._secret: bytes | None = None

    @property
    def checkpoints_enabled(self) -> bool:
        return self.config is not None

    @property
    def checkpoint_file(self) -> Path:
        config = self._need_config()
        return config.checkpoint_file or config.folder / "checkpoints.jsonl"

    def append(
        self, conn: Connection, fields: Mapping[str, Any], payload: str | None
    ) -> None:
        """Append one entry inside the caller's transaction: at once, or, in a
        transaction opened with :meth:`batching`, when :meth:`flush` runs
        before its commit (the chain head is then taken once for them all)."""
        pending = conn.info.get(_PENDING)
        if pending is not None:
            pending.append((fields, payload))
            return
        self._write(conn, [(fields, payload)])

    @contextmanager
    def batching(self, conn: Connection) -> Iterator[None]:
        """Collect the entries appended on ``conn`` until :meth:`flush`."""
        conn.info[_PENDING] = []
        try:
            yield
        finally:
            conn.info.pop(_PENDING, None)

    def flush(self, conn: Connection) -> None:
        """Write the collected entries, in the order they were appended."""
        pending = conn.info.get(_PENDING)
        if pending:
            self._write(conn, pending)
            pending.clear()

    def _write(
        self, conn: Connection, entries: list[tuple[Mapping[str, Any], str | None]]
    ) -> None:
        retention = timedelta(
            days=self.config.payload_retention_days if self.config else 365
        )
        with_payload = any(payload is not None for _fields, payload in entries)
        append_many(
            conn,
            entries,
            hash_alg=self.hash_alg,
            retention=retention,
            secret=self.secret() if with_payload else b"",
        )
        with self._lock:
            self._since += len(entries)

    def after_commit(self, engine: Engine) -> None:
        """Take a checkpoint if enough entries or time have passed."""
        if not self.checkpoints_enabled or not self._due():
            return
        self.checkpoint(engine)

    def close(self, engine: Engine) -> None:
        """The shutdown checkpoint, when anything is new since the last one."""
        if self.checkpoints_enabled:
            self.checkpoint(engine)

    def checkpoint(self, engine: Engine) -> dict[str, Any] | None:
        """Sign the committed chain head and append it to the checkpoint file."""
        with self._lock:
            key = self.private_key()
            after = self._checkpointed_count()
            with engine.connect() as conn, conn.begin():
                record = take_checkpoint(conn, key, after)
            self._since = 0
            self._last_time = time.monotonic()
            if record is None:
                return None
            write_checkpoint(self.checkpoint_file, record)
            self._last_count = int(record["count"])
        log.info("audit.checkpoint", count=record["count"], head=record["head"][:16])
        return record

    def private_key(self) -> PrivateKey:
        """The signing key, made (with its public half) on first use."""
        if self._key is None:
            config = self._need_config()
            private, public = key_paths(config)
            if not private.exists():
                save_keys(generate(config.signature), private, public)
                log.info("audit.key_created", private=str(private), public=str(public))
            self._key = load_private(private)
        return self._key

    def secret(self) -> bytes:
        """The key of the personal-value hashes: configured, or kept in a file."""
        if self._secret is None:
            self._secret = self._load_secret()
        return self._secret

    def _load_secret(self) -> bytes:
        if self.config is None:
            return b""
        if self.config.secret:
            return self.config.secret.encode("utf-8")
        path = self.config.folder / "search.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32), encoding="ascii")
            path.chmod(0o600)
        return path.read_text(encoding="ascii").strip().encode("ascii")

    def _checkpointed_count(self) -> int:
        if self._last_count is None:
            found = read_checkpoints(self.checkpoint_file)
            self._last_count = int(found[-1]["count"]) if found else 0
        return self._last_count

    def _due(self) -> bool:
        config = self._need_config()
        with self._lock:
            if self._since >= config.checkpoint_every:
                return True
            waited = time.monotonic() - self._last_time
            return self._since > 0 and waited >= config.checkpoint_seconds

    def _need_config(self) -> AuditConfig:
        if self.config is None:
            raise RuntimeError("this store was opened without an [audit] section")
        return self.config


def _check_algorithms(config: AuditConfig) -> None:
    if config.hash not in HASHES:
        raise ConfigError(f"audit.hash: {config.hash!r} is not one of {HASHES}")
    if config.signature not in SIGNATURES:
        raise ConfigError(
            f"audit.signature: {config.signature!r} is not one of {SIGNATURES}"
        )


def key_paths(config: AuditConfig) -> tuple[Path, Path]:
    """Where the private and the public key live."""
    private = config.private_key or config.folder / "bridge.key"
    public = config.public_key or config.folder / "bridge.pub"
    return private, public
