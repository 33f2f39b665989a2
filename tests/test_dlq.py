"""The dead-letter store from the command line: a record that fails for good
waits with its reason, and a replay after the cause is fixed delivers it once."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from bridge.paths import mappings_dir
from bridge.service.demo import DemoCase
from bridge.sim.admin import SimAdmin
from bridge.store import open_store
from bridge.store.schema import audit_log
from tests.bridgerun import Flow, write_counts

CHINESE_TIME = "2024年03月04日 09:10:00"


def govbridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def allow_chinese_dates(mapping_file: Path) -> None:
    """The fix an integrator makes: accept the portal's Chinese date form."""
    text = mapping_file.read_text(encoding="utf-8")
    old = 'date: ["yyyy-MM-dd HH:mm:ss",'
    assert old in text
    mapping_file.write_text(
        text.replace(
            old, 'date: ["yyyy年MM月dd日 HH:mm:ss", "yyyy-MM-dd HH:mm:ss",', 1
        ),
        encoding="utf-8",
    )


def test_replay_after_the_mapping_is_fixed_delivers_once(tmp_path: Path) -> None:
    """A filing with a date form the mapping does not accept is dead-lettered;
    dry-run shows it still fails; after the mapping file is fixed, `dlq replay`
    routes it and it reaches every system once; the replay is audited."""
    mappings = tmp_path / "mappings"
    shutil.copytree(mappings_dir(), mappings)
    flow = Flow.start(
        tmp_path / "run", overrides={"bridge": {"mappings_dir": str(mappings)}}
    )
    try:
        flow.file(online=1, window=0)
        bad = SimAdmin(flow.sims.portal.url).post(
            "filings", {"submitTime": CHINESE_TIME}
        )["filingNo"]
        flow.spawn()
        assert flow.wait_finished(timeout=60)
        config = str(flow.config_path)

        listed = govbridge("dlq", "list", "--config", config)
        letter_id = next(
            line.split()[0] for line in listed.stdout.splitlines() if bad in line
        )
        shown = govbridge("dlq", "show", letter_id, "--config", config)
        still = govbridge(
            "dlq",
            "replay",
            letter_id,
            "--dry-run",
            "--reason",
            "try",
            "--config",
            config,
        )
        allow_chinese_dates(mappings / "hbj" / "portal.yaml")
        dry = govbridge(
            "dlq",
            "replay",
            letter_id,
            "--dry-run",
            "--reason",
            "check",
            "--config",
            config,
        )
        done = govbridge(
            "dlq",
            "replay",
            letter_id,
            "--reason",
            "date format added",
            "--operator",
            "auditor-li",
            "--config",
            config,
        )
        flow.cases.append(DemoCase("online", bad))
        finished = flow.wait_finished(timeout=60)
        flow.stop()
        again = govbridge(
            "dlq", "replay", letter_id, "--reason", "twice", "--config", config
        )

        assert "submitTime" in shown.stdout and "portal" in shown.stdout
        assert still.returncode == 1 and "still fails" in still.stdout
        assert dry.returncode == 0 and "would be rerouted" in dry.stdout
        assert done.returncode == 0, done.stdout + done.stderr
        assert again.returncode == 1
        assert finished
        counts = write_counts(flow.sims)
        number = flow.snapshot().number(DemoCase("online", bad))
        assert counts["center.registerOnlineCase"][bad] == 1
        assert counts["oa.launchFormCollaboration"][number] == 1
        assert counts["portal.publishResult"][number] == 1
        store = open_store(f"sqlite:///{flow.root / 'govbridge.sqlite'}")
        with store.begin() as conn:
            replays = (
                conn.execute(
                    select(audit_log.c.detail).where(audit_log.c.outcome == "replayed")
                )
                .scalars()
                .all()
            )
        store.dispose()
        assert len(replays) == 1
        assert "auditor-li" in replays[0] and "date format added" in replays[0]
    finally:
        flow.close()
