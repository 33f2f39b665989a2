"""A recording reverse proxy on 127.0.0.1: the bytes the bridge puts on the wire."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

KEPT_HEADERS = ("content-type", "soapaction")


class RecordingProxy:
    """Forwards every request to ``target``; keeps each POST with its arrival time."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.recorded: list[tuple[float, str, dict[str, str], bytes, bytes]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> RecordingProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        session = requests.Session()
        session.trust_env = False

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _forward(self, method: str) -> None:
                arrived = time.monotonic()
                body = self._body()
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() in KEPT_HEADERS
                }
                answer = session.request(
                    method,
                    proxy.target + self.path,
                    data=body or None,
                    headers=headers,
                    timeout=60,
                )
                if method == "POST":
                    with proxy.lock:
                        proxy.recorded.append(
                            (arrived, self.path, headers, body, answer.content)
                        )
                self.send_response(answer.status_code)
                self.send_header(
                    "Content-Type", answer.headers.get("Content-Type", "text/plain")
                )
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0] or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length", "0") or 0)
                return self.rfile.read(length) if length else b""

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        return Handler
