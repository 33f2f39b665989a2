"""The health endpoint: /healthz (JSON) and /metrics (Prometheus text), loopback.

/healthz reports whether the database answers, each route's last successful
run (shared through the lease table, so every instance tells the same) and its
age, and how far the holiday calendar reaches; it answers 503 when the
database fails or a route is older than ``service.stale_after_seconds``.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from bridge.service import metrics
from bridge.store.schema import dead_letters, deliveries, leases

if TYPE_CHECKING:
    from bridge.engine.bridge import Bridge

log = structlog.get_logger()

ROUTES = ("poll:portal", "poll:center", "sweep:oa")


class HealthServer:
    """A small threaded HTTP server over one bridge."""

    def __init__(self, bridge: Bridge, server: ThreadingHTTPServer) -> None:
        self.bridge = bridge
        self.server = server
        self.thread = threading.Thread(
            target=server.serve_forever, name="health", daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @classmethod
    def start(cls, bridge: Bridge) -> HealthServer | None:
        """Listen on the configured loopback port; port 0 turns the endpoint off."""
        service = bridge.rt.config.service
        if service.health_port == 0:
            return None
        handler = type("Handler", (_Handler,), {"bridge": bridge})
        try:
            server = ThreadingHTTPServer((service.health_host, service.health_port),
                                         handler)
        except OSError as exc:
            log.error("health.unavailable", port=service.health_port,
                      error=exc.strerror)
            return None
        server.daemon_threads = True
        health = cls(bridge, server)
        health.thread.start()
        return health

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    bridge: Bridge

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/healthz":
            status, body = health_report(self.bridge)
            self._send(status, "application/json",
                       json.dumps(body, ensure_ascii=False).encode())
        elif path == "/metrics":
            refresh_gauges(self.bridge)
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
        else:
            self._send(404, "text/plain", b"not found\n")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        """Requests are not logged: scrapers call every few seconds."""


def health_report(bridge: Bridge) -> tuple[int, dict[str, Any]]:
    """The /healthz status code and body."""
    now = datetime.now(UTC)
    try:
        held = _lease_rows(bridge)
    except Exception as exc:  # noqa: BLE001 - any database failure is unhealthy
        return 503, {"status": "error", "database": type(exc).__name__}
    limit = bridge.rt.config.service.stale_after_seconds
    up_for = (now - bridge.started_at).total_seconds()
    routes = {name: _route(held.get(name), now, limit, up_for) for name in ROUTES}
    stale = [name for name, route in routes.items() if route["stale"]]
    body = {
        "status": "stale" if stale else "ok",
        "database": "ok",
        "holder": bridge.holder,
        "routes": routes,
        "calendar": calendar_coverage(now),
    }
    return (503 if stale else 200), body


def _lease_rows(bridge: Bridge) -> dict[str, Any]:
    with bridge.rt.store.begin() as conn:
        conn.execute(text("SELECT 1"))
        return {row.name: row for row in conn.execute(select(leases))}


def _route(row: Any, now: datetime, limit: float, up_for: float) -> dict[str, Any]:
    last = _aware(row.last_success_at) if row is not None else None
    age = (now - last).total_seconds() if last else None
    stale = age > limit if age is not None else up_for > limit
    return {
        "last_success": last.isoformat() if last else None,
        "age_seconds": round(age, 1) if age is not None else None,
        "holder": row.holder if row is not None else None,
        "stale": stale,
    }


def calendar_coverage(now: datetime) -> dict[str, Any]:
    """Which source decides working days today, and whether the days until a
    year from now are decided by an announced schedule rather than by rules."""
    from bridge.interchange.calendar import ZONE, WorkCalendar

    calendar = WorkCalendar()
    today = now.astimezone(ZONE).date()
    ahead = today + timedelta(days=365)
    exact = ("override", "file", "chinesecalendar")
    return {
        "today": calendar.source_of(today),
        "exact_today": calendar.source_of(today) in exact,
        "exact_year_ahead": calendar.source_of(ahead) in exact,
    }


def refresh_gauges(bridge: Bridge) -> None:
    """Read the dead-letter count and the lag per route from the database."""
    now = datetime.now(UTC)
    with bridge.rt.store.begin() as conn:
        waiting = conn.execute(
            select(func.count()).where(dead_letters.c.replayed_at.is_(None))
        ).scalar_one()
        oldest = conn.execute(
            select(deliveries.c.target, func.min(deliveries.c.created_at))
            .where(deliveries.c.status.in_(("pending", "inflight")))
            .group_by(deliveries.c.target)
        ).all()
        polls = conn.execute(select(leases.c.name, leases.c.last_success_at)).all()
    metrics.dead_letters.set(waiting)
    for target in ("center", "oa", "portal"):
        metrics.lag.labels(f"deliver:{target}").set(0)
    for target, created in oldest:
        metrics.lag.labels(f"deliver:{target}").set(_age(now, created))
    for name, last in polls:
        if last is not None:
            metrics.lag.labels(name).set(_age(now, last))


def _age(now: datetime, then: datetime) -> float:
    return max((now - (_aware(then) or now)).total_seconds(), 0.0)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
