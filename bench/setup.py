"""The bridge configuration the benchmark runs with, written as TOML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.cpus import CLIENT_CPU
from bridge.service.demo import write_toml

#: every setting the benchmark changes from the example configuration
SETTINGS: dict[str, dict[str, Any]] = {
    "poll": {
        "interval_seconds": 1.0,
        "sweep_interval_seconds": 1.0,
        "page_size": 100,
        "sweep_batch": 1000,
        "sweep_list_size": 100,
        "overlap_seconds": 600,
    },
    "delivery": {
        "interval_seconds": 0.2,
        "workers": 32,
        "backoff_base_seconds": 0.2,
        "backoff_max_seconds": 2,
    },
    # the bridge on the processor of the side under test (bench/cpus.py)
    **({"service": {"cpu": CLIENT_CPU}} if CLIENT_CPU is not None else {}),
}


#: shorter intervals for the capture, whose requests do not depend on them
CAPTURE_SETTINGS: dict[str, dict[str, Any]] = {
    "poll": {
        **SETTINGS["poll"],
        "interval_seconds": 0.3,
        "sweep_interval_seconds": 0.3,
        # one exportFlow per flow: the floor replays one flow read per case
        "sweep_list_size": 1,
    },
    "delivery": {**SETTINGS["delivery"], "interval_seconds": 0.1},
}


def bridge_config(
    root: Path, urls: dict[str, str], overrides: dict[str, dict[str, Any]] | None = None
) -> Path:
    """Write the configuration of one bridge run under ``root``; its path."""
    root.mkdir(parents=True, exist_ok=True)
    settings: dict[str, dict[str, Any]] = {
        "bridge": {
            "bureau": "hbj",
            "store": f"sqlite:///{root / 'govbridge.sqlite'}",
            "log_file": str(root / "govbridge.log"),
        },
        "center": {"url": urls["center"], "key": "bridge", "secret": "bridge-secret"},
        "oa": {"url": urls["oa"], "username": "service-admin", "password": "123456"},
        "portal": {
            "url": urls["portal"],
            "username": "bridge",
            "password": "bridge-secret",
        },
        **{name: dict(values) for name, values in (overrides or SETTINGS).items()},
    }
    path = root / "govbridge.toml"
    write_toml(settings, path)
    return path
