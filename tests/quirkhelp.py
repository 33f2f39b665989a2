"""Helpers for the quirk tests: private simulators and one-shot HTTP servers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from bridge.sim.base import Simulator


def admin(sim: Simulator, method: str, path: str, body: Any = None) -> Any:
    """Call a simulator's admin API and return the JSON answer."""
    answer = requests.request(method, f"{sim.url}/admin{path}", json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def fault(sim: Simulator, kind: str, operation: str = "*", **extra: Any) -> None:
    """Switch on one fault rule of ``kind`` for ``operation``."""
    rule = {"kind": kind, "operation": operation, **extra}
    admin(sim, "POST", "/faults", {"rules": [rule]})


@dataclass
class Canned:
    """What a purpose-built server answers, and the paths it was asked for."""

    status: int = 200
    content_type: str = "text/xml; charset=UTF-8"
    body: bytes = b""
    paths: list[str] = field(default_factory=list)


@contextmanager
def canned_server(
    canned: Canned, answer: Callable[[str], Canned | None] | None = None
) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that gives every request the canned answer."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            self.rfile.read(length)
            canned.paths.append(self.path)
            chosen = (answer(self.path) if answer else None) or canned
            self.send_response(chosen.status)
            self.send_header("Content-Type", chosen.content_type)
            self.send_header("Content-Length", str(len(chosen.body)))
            self.end_headers()
            self.wfile.write(chosen.body)

        do_POST = _answer
        do_GET = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def editing_proxy(target: str, edit: Callable[[bytes], bytes]) -> Iterator[str]:
    """A server on 127.0.0.1 that forwards POSTs to ``target`` and edits answers."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            headers = {
                key: value
                for key, value in self.headers.items()
                if key.lower() in ("content-type", "soapaction")
            }
            answer = requests.post(
                target + self.path,
                data=self.rfile.read(length),
                headers=headers,
                timeout=10,
            )
            body = edit(answer.content)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers["Content-Type"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
