"""A test hook that holds the process at a named point until released.

``GOVBRIDGE_HOLD_AT`` names the point, ``GOVBRIDGE_HOLD_FILE`` a file. The
first time the point is reached with something to report, the hook writes the
process id and the report to that file and waits until a test deletes the
file (for instance after freezing the process with SIGSTOP). Unset, it costs
one environment lookup.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import structlog

POINT_VAR = "GOVBRIDGE_HOLD_AT"
FILE_VAR = "GOVBRIDGE_HOLD_FILE"

#: the longest a hook waits for its file to go, so a forgotten test cannot hang
LIMIT_SECONDS = 120.0

log = structlog.get_logger()
_done: set[str] = set()
_lock = threading.Lock()


def hold(point: str, report: Any) -> None:
    """Stop here once, if armed, until the hold file is deleted."""
    if os.environ.get(POINT_VAR) != point or not report:
        return
    with _lock:
        if point in _done:
            return
        _done.add(point)
    marker = Path(os.environ[FILE_VAR])
    marker.write_text(json.dumps({"pid": os.getpid(), "report": report}))
    log.info("hold.waiting", point=point)
    deadline = time.monotonic() + LIMIT_SECONDS
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    log.info("hold.released", point=point)
