"""Structured logging: key/value events, personal values masked on the way out."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import structlog

#: Resident ID numbers (18 chars), unified social credit codes and mobiles.
_PERSONAL = re.compile(
    r"(?<![0-9A-Z])(?:[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx]"
    r"|[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}"
    r"|1[3-9][0-9]{9})(?![0-9A-Z])"
)
#: six digits in a row: every personal value above holds them
_DIGIT_RUN = re.compile(r"[0-9]{6}")
#: the shortest personal value above (a mobile)
_SHORTEST = 11
_PERSONAL_KEYS = {"id_number", "idNumber", "mobile", "phone", "certNo"}
#: keys whose values are never written, whatever they hold
_SECRET_KEYS = {"password", "secret"}


def mask_text(value: str) -> str:
    """Replace ID numbers and mobiles inside ``value`` by masked forms."""
    if len(value) < _SHORTEST or not _DIGIT_RUN.search(value):
        return value
    return _PERSONAL.sub(lambda m: m.group(0)[:3] + "*" * (len(m.group(0)) - 5)
                         + m.group(0)[-2:], value)


def _mask_processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    # values are replaced, never added or removed: the dict can be walked as is
    for key, value in event.items():
        if key in _SECRET_KEYS and value:
            event[key] = "***"
        elif key in _PERSONAL_KEYS and value:
            text = str(value)
            event[key] = text[:3] + "*" * max(len(text) - 5, 0) + text[-2:]
        elif isinstance(value, str):
            event[key] = mask_text(value)
    return event


class _HandlerSink:
    """structlog's output: rendered lines written to the stdlib handler's
    stream under the handler's lock, so the bridge's events skip the stdlib
    record machinery yet share the file, in order, with other libraries'."""

    def __init__(self, handler: logging.StreamHandler[Any]) -> None:
        self._handler = handler

    def msg(self, line: str) -> None:
        handler = self._handler
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.flush()
        finally:
            handler.release()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def configure(log_file: Path | None = None, level: str = "INFO") -> None:
    """Set up structlog: console on a terminal, JSON lines otherwise and in files.

    The bridge's own events are rendered by structlog and written straight to
    the handler; records of other libraries (the scheduler, the database) go
    through stdlib logging to the same handler, renderer and masking, so a log
    file holds nothing but JSON lines.
    """
    on_terminal = log_file is None and sys.stderr.isatty()
    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if on_terminal
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.format_exc_info,
        _mask_processor,
        # after the masking, which has nothing to find in the level and time
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler: logging.StreamHandler[Any] = logging.StreamHandler(sys.stderr)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    renderer],
        foreign_pre_chain=shared,
    ))
    logging.basicConfig(handlers=[handler], level=level, force=True)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sink = _HandlerSink(handler)
    structlog.configure(
        processors=[*shared, renderer],
        logger_factory=lambda *_args: sink,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(level)
        ),
        cache_logger_on_first_use=False,
    )
