"""A small client of the simulators' JSON admin API, for the demo and tests."""

from __future__ import annotations

from typing import Any

import requests


class SimAdmin:
    """Talks to one simulator's ``/admin/`` routes."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.session.request(
            method,
            f"{self.base_url}/admin/{path.lstrip('/')}",
            json=body,
            params=params or None,
            timeout=self.timeout,
        )
        data = response.json()
        if response.status_code >= 400:
            raise RuntimeError(f"admin {method} {path}: {data.get('error', data)}")
        return data

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, **params)

    def post(self, path: str, body: Any = None) -> Any:
        return self._call("POST", path, body if body is not None else {})

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def state(self) -> dict[str, Any]:
        return dict(self.get("state"))

    def requests(self, operation: str | None = None) -> list[dict[str, Any]]:
        params = {"operation": operation} if operation else {}
        return list(self.get("requests", **params)["requests"])
