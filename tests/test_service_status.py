"""``govbridge status``: per route watermark, backlog, last success and dead
letters; ``--follow`` draws a progress bar until the backlog is gone."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, update

from bridge.commands.status import bar
from bridge.store import Store, open_store
from bridge.store.leases import Leases
from bridge.store.schema import cases, dead_letters, deliveries


def _fill(store: Store, open_count: int, done_count: int) -> None:
    now = datetime.now(UTC)
    with store.begin() as conn:
        case_id = conn.execute(insert(cases).values(
            bureau="hbj", channel="window", matter_code="370999001",
            case_number="0999260000001", case_xml="<case/>", state="accepted",
            flow_open=False, created_at=now, updated_at=now,
        )).inserted_primary_key[0]
        for index in range(open_count + done_count):
            conn.execute(insert(deliveries).values(
                case_id=case_id, target="oa", operation="launch",
                dedupe_key=f"k{index}", status="done" if index < done_count
                else "pending", attempts=0, next_attempt_at=now, created_at=now,
                claim_token=0,
            ))
        conn.execute(insert(dead_letters).values(
            system="portal", operation="poll", record_key="WS1",
            error_class="MappingError", reason="bad", created_at=now,
        ))
        store.set_watermark(conn, "center", "2026-12-01 09:00:00", "0999260000001")


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "govbridge.toml"
    path.write_text(f'[bridge]\nstore = "sqlite:///{tmp_path / "s.sqlite"}"\n')
    return path


def test_status_shows_each_route(tmp_path: Path) -> None:
    """The table names the watermark, the open deliveries, the last success with
    its holder and the dead letters of each route."""
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    _fill(store, open_count=3, done_count=2)
    leases = Leases(store, "host-a", seconds=30)
    leases.succeeded("poll:center", leases.acquire("poll:center") or 0)
    store.dispose()

    done = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "status", "--config",
         str(_config(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()}
    assert rows["center"][1:3] == ["2026-12-01", "09:00:00"]
    assert rows["center"][4] == "3"
    assert rows["center"][-1] == "host-a"
    assert rows["portal"][-2] == "1"
    assert rows["oa"][1:4] == ["-", "0", "never"]
    assert "deliveries: 2 done, 3 open" in done.stdout


def test_follow_draws_a_bar_until_the_backlog_is_gone(tmp_path: Path) -> None:
    """With --follow the bar climbs as deliveries finish and ends at 100%."""
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    _fill(store, open_count=4, done_count=0)

    def finish() -> None:
        for _ in range(4):
            time.sleep(0.4)
            with store.begin() as conn:
                first = conn.execute(
                    deliveries.select().where(deliveries.c.status == "pending")
                ).first()
                conn.execute(update(deliveries).where(deliveries.c.id == first.id)
                             .values(status="done"))

    worker = threading.Thread(target=finish)
    worker.start()
    done = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "status", "--follow", "--interval",
         "0.2", "--config", str(_config(tmp_path))],
        capture_output=True, text=True, timeout=60, check=False,
    )
    worker.join()
    store.dispose()

    bars = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert done.returncode == 0
    totals = {line.rsplit("/", 1)[1] for line in bars}
    finished, total = bars[-1].split()[-1].split("/")
    assert totals == {total}
    assert bars[-1] == bar(int(finished), int(total))
    assert finished == total
    assert len(set(bars)) >= 3


def test_bar_shows_share_done() -> None:
    """Half done is half filled and says 50%."""
    assert bar(5, 10, width=10) == "[#####.....]  50% 5/10"
    assert bar(0, 0, width=4) == "[####] 100% 0/0"
