"""``govbridge run``: the bridge as a service, driven by signals.

SIGTERM and SIGINT stop it within ``service.grace_seconds``; SIGHUP re-reads
the configuration file and the mappings and applies them when they pass the
checks.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import structlog

from bridge.config import ENV_VAR, load_config
from bridge.errors import ConfigError
from bridge.logs import configure

log = structlog.get_logger()


def run_daemon(config_path: str | Path | None) -> int:
    """Check the configuration, start the bridge, run until told to stop."""
    from bridge.engine.bridge import Bridge
    from bridge.service.checks import problems_of
    from bridge.service.cpu import pin
    from bridge.service.memory import cap_malloc_arenas

    cap_malloc_arenas()

    config_path = config_path or os.environ.get(ENV_VAR)
    config = load_config(config_path)
    configure(config.log_file, config.service.log_level.upper())
    problems = problems_of(config)
    if problems:
        raise ConfigError("; ".join(problems), system="config")
    pin(config.service.cpu)
    stop = threading.Event()
    reload = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    Bridge(config, config_path=config_path).run(stop, reload)
    return 0
