"""``govbridge config check``: unknown keys and missing secrets are named and
exit 1; a good file passes without printing its secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GOOD = """\
[bridge]
bureau = "hbj"
store = "sqlite:///var/govbridge.sqlite"

[center]
url = "http://127.0.0.1:8101"
secret_env = "I9_CENTER_SECRET"

[oa]
url = "http://127.0.0.1:8102"
password_file = "{oa_file}"

[portal]
url = "http://127.0.0.1:8103"
password = "inline-portal-secret"

[service]
health_port = 9464
lease_seconds = 30
"""


def _check(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", "config", "check", str(path)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment holding the center secret; the OA password in a file."""
    import os

    (tmp_path / "oa.secret").write_text("oa-file-secret\n")
    return {**os.environ, "I9_CENTER_SECRET": "center-env-secret"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "govbridge.toml"
    path.write_text(text.format(oa_file=tmp_path / "oa.secret"))
    return path


def test_good_configuration_passes_and_prints_no_secret(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A valid file exits 0, and none of its three secrets appears in the output."""
    done = _check(_write(tmp_path, GOOD), env)

    assert done.returncode == 0, done.stderr
    assert "configuration is valid" in done.stdout
    for secret in ("center-env-secret", "oa-file-secret", "inline-portal-secret"):
        assert secret not in done.stdout + done.stderr


def test_unknown_key_is_named(tmp_path: Path, env: dict[str, str]) -> None:
    """A misspelt setting exits 1 naming section and key."""
    text = GOOD.replace("lease_seconds = 30", "lease_secnds = 30")

    done = _check(_write(tmp_path, text), env)

    assert done.returncode == 1
    assert "service.lease_secnds: unknown setting" in done.stderr


def test_missing_secret_is_named(tmp_path: Path, env: dict[str, str]) -> None:
    """A secret whose variable is unset, and a counterpart with no secret at all,
    both exit 1 naming the key."""
    env.pop("I9_CENTER_SECRET")
    text = GOOD.replace('password = "inline-portal-secret"\n', "")

    done = _check(_write(tmp_path, text), env)

    assert done.returncode == 1
    assert ("center.secret_env: environment variable I9_CENTER_SECRET is not set"
            in done.stderr)
    assert "portal.password: missing" in done.stderr


def test_bad_values_are_named(tmp_path: Path, env: dict[str, str]) -> None:
    """A health endpoint off loopback and a lease shorter than the delivery cycle
    are refused by key."""
    text = GOOD.replace("health_port = 9464",
                        'health_port = 9464\nhealth_host = "0.0.0.0"')
    text = text.replace("lease_seconds = 30", "lease_seconds = 0.5")

    done = _check(_write(tmp_path, text), env)

    assert done.returncode == 1
    assert "service.health_host: 0.0.0.0 is not loopback" in done.stderr
    assert "service.lease_seconds: shorter than two delivery intervals" in done.stderr


def test_example_configuration_documents_the_service_section() -> None:
    """Every [service] setting appears, with a comment, in the example file."""
    from dataclasses import fields

    from bridge.config import ServiceConfig

    example = Path(__file__).parents[1] / "config" / "govbridge.example.toml"
    text = example.read_text()
    section = text[text.index("[service]"):].split("\n[")[0]
    lines = {line.lstrip("# ").split("=")[0].strip(): line
             for line in section.splitlines() if "=" in line}

    for setting in fields(ServiceConfig):
        assert setting.name in lines, setting.name
        assert "#" in lines[setting.name].lstrip("# "), setting.name
