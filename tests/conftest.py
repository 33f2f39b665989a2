"""Shared fixtures: one simulator set per test session, on loopback ports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.sim.runner import SimulatorSet, start_all


@pytest.fixture(scope="session")
def sims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorSet]:
    """The three simulators, shared by the whole session.

    Tests that use them create their own cases with unique keys and never
    assume an empty state; a test that needs one resets it through the admin API.
    """
    state: Path = tmp_path_factory.mktemp("sim-state")
    simulators = start_all(state)
    yield simulators
    simulators.stop()


@dataclass
class DemoRun:
    """The output and state folder of one ``govbridge demo`` run."""

    returncode: int
    stdout: str
    state_dir: Path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One ``govbridge demo`` subprocess per session, shared by the tests."""
    root = tmp_path_factory.mktemp("demo")
    finished = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "demo", "--state", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    state_dirs = sorted(root.glob("demo-*"))
    return DemoRun(finished.returncode, finished.stdout, state_dirs[-1])


PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One PostgreSQL database for the session (govbridge_test_<pid>), migrated
    to the newest schema and dropped at the end.

    Without a server the tests that use it skip, except under CI, where they fail.
    """
    import os

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from bridge.store import open_store

    name = f"govbridge_test_{os.getpid()}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is needed under CI: {exc}")
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    url = f"{PG_SERVER}/{name}"
    open_store(url).dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session's PostgreSQL database with every table emptied."""
    from sqlalchemy import create_engine, text

    from bridge.store.schema import metadata

    engine = create_engine(pg_database)
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return pg_database
