"""The built wheel carries schemas, mappings and configuration: the bridge runs
from an installed package, away from the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_from_the_built_wheel(tmp_path: Path) -> None:
    """A wheel built from the project, unpacked elsewhere, runs the demo with its
    own copies of the schemas, the mappings and the configuration."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("govbridge-*.whl"))
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    work = tmp_path / "elsewhere"
    work.mkdir()

    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridge.cli",
            "demo",
            "--online",
            "1",
            "--window",
            "1",
            "--state",
            str(work / "var"),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert (site / "bridge" / "data" / "mappings" / "hbj" / "oa.yaml").is_file()
    assert (site / "bridge" / "data" / "schemas" / "interchange" / "1").is_dir()
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "4 of 4 cases completed" in demo.stdout  # with 2 forestry cases
    assert str(ROOT) not in demo.stdout
