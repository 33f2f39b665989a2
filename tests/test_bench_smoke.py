"""A tiny run of the benchmark: it completes and writes every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_benchmark_writes_positive_figures(tmp_path: Path) -> None:
    """`python -m bench --smoke` writes a page and figures that are all above zero."""
    page, figures_file = tmp_path / "BENCHMARKS.md", tmp_path / "figures.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--out",
            str(page),
            "--json",
            str(figures_file),
            "--work",
            str(tmp_path),
        ],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]

    figures = json.loads(figures_file.read_text(encoding="utf-8"))
    for phase in ("throughput", "delay"):
        run = figures[phase]["runs"][0]
        assert run["floor_rate"] > 0 and run["bridge_rate"] > 0, run
        assert run["ratio"] > 0 and run["peak_rss_mb"] > 0, run
    reference = figures["throughput"]["runs"][0]
    assert reference["reference_rate"] > 0 and reference["reference_ratio"] > 0
    for name in ("bridge_cpu_ms", "sims_cpu_ms", "floor_sims_cpu_ms",
                 "floor_client_cpu_ms"):
        assert reference[name] > 0, (name, reference)
    assert reference["cpu_ratio"] == reference["bridge_cpu_ms"] / reference[
        "sims_cpu_ms"
    ]
    assert "reference_rate" not in figures["delay"]["runs"][0]
    assert figures["memory"]["runs"][0]["peak_rss_mb"] > 0
    for kind in ("paged", "sweep"):
        latency = figures["latency"][kind]
        assert latency["count"] > 0 and latency["p99"] >= latency["p50"] > 0, latency
    assert figures["per_case"]["online"]["registerOnlineCase"] == 1

    text = page.read_text(encoding="utf-8")
    for heading in (
        "## Targets",
        "## The floor",
        "## CPU per case, no delay",
        "## Memory while catching up",
        "## Latency from a change to its arrival",
    ):
        assert heading in text
    assert text.count("| met |") + text.count("| **not met** |") == 6
    assert "| floor over requests | ratio to it |" in text
    assert "The smoke plan's backlogs (10 cases for throughput) are too short" in text
