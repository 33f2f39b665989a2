"""Leases with expiry and fencing tokens, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bridge.store import Store, open_store
from bridge.store.leases import FencedError, Leases
from bridge.store.schema import leases, watermarks


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'leases.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    opened = open_store(url)
    yield opened
    opened.dispose()


def _mark(store: Store, source: str) -> None:
    with store.begin() as conn:
        store.set_watermark(conn, source, "2026-01-01 00:00:00", "k")


def _marks(store: Store) -> set[str]:
    with store.begin() as conn:
        return {row.source for row in conn.execute(select(watermarks.c.source))}


def test_second_holder_waits_until_expiry_then_token_rises(store: Store) -> None:
    """While a lease is live another holder is refused; after expiry it takes
    the lease with the next token."""
    first = Leases(store, "a", seconds=0.6)
    second = Leases(store, "b", seconds=0.6)

    assert first.acquire("poll:portal") == 1
    assert second.acquire("poll:portal") is None
    assert first.acquire("poll:portal") == 1
    time.sleep(0.8)
    assert second.acquire("poll:portal") == 2
    assert first.acquire("poll:portal") is None


def test_paused_holder_cannot_commit_after_losing_its_lease(store: Store) -> None:
    """A write under a lost lease is rolled back; the new holder's write commits."""
    first = Leases(store, "a", seconds=0.5)
    second = Leases(store, "b", seconds=5)
    token = first.acquire("poll:center")
    assert token == 1
    time.sleep(0.7)
    assert second.acquire("poll:center") == 2

    with pytest.raises(FencedError), first.fenced("poll:center", token):
        _mark(store, "stale-writer")
    with second.fenced("poll:center", 2):
        _mark(store, "new-writer")

    assert _marks(store) == {"new-writer"}


def test_fenced_write_renews_a_live_lease(store: Store) -> None:
    """Each fenced commit pushes the expiry forward, so a long job keeps its lease."""
    holder = Leases(store, "a", seconds=0.8)
    other = Leases(store, "b", seconds=0.8)
    token = holder.acquire("sweep:oa")
    assert token == 1

    for step in range(4):
        time.sleep(0.4)
        with holder.fenced("sweep:oa", token):
            _mark(store, f"page-{step}")

    assert other.acquire("sweep:oa") is None
    assert len(_marks(store)) == 4


def test_restart_under_the_same_name_takes_the_lease_at_once(store: Store) -> None:
    """A new process with the holder's name gets a new token without waiting,
    and the old token no longer commits."""
    before = Leases(store, "host:single", seconds=30)
    old = before.acquire("poll:portal")
    after = Leases(store, "host:single", seconds=30)

    assert after.acquire("poll:portal") == (old or 0) + 1
    with pytest.raises(FencedError), before.fenced("poll:portal", old or 0):
        _mark(store, "old-life")
    assert _marks(store) == set()


def test_release_lets_another_holder_in_without_waiting(store: Store) -> None:
    """Released leases are free at once for the next holder."""
    first = Leases(store, "a", seconds=30)
    second = Leases(store, "b", seconds=30)
    first.acquire("poll:portal")
    first.acquire("poll:center")

    first.release_all()

    assert second.acquire("poll:portal") == 2
    assert second.acquire("poll:center") == 2
    assert first.held == {}


def test_concurrent_acquirers_get_one_winner(store: Store) -> None:
    """Eight threads racing for an expired lease: exactly one wins it."""
    with store.begin() as conn:
        conn.execute(insert(leases).values(
            name="poll:portal", holder="gone", token=7,
            expires_at=datetime(2000, 1, 1, tzinfo=UTC),
            acquired_at=datetime(2000, 1, 1, tzinfo=UTC),
        ))
    results: list[int | None] = []
    gate = threading.Barrier(8)

    def race(name: str) -> None:
        gate.wait()
        results.append(Leases(store, name, seconds=30).acquire("poll:portal"))

    threads = [threading.Thread(target=race, args=(f"h{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results, key=lambda r: r or 0) == [None] * 7 + [8]
