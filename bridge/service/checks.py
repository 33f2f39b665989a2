"""Checks of a configuration file that name the key and say what is wrong."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from bridge.config import (
    _SECRETS,
    _SECTIONS,
    BureauConfig,
    Config,
    OaConfig,
    config_from_dict,
)
from bridge.errors import BridgeError
from bridge.service.cpu import setting_problem

#: the secrets each counterpart needs to log in
REQUIRED_SECRETS = {"center": "secret", "oa": "password", "portal": "password"}


def check_file(path: Path) -> list[str]:
    """Every problem found in a configuration file; empty when it is good."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [f"{path}: file not found"]
    except tomllib.TOMLDecodeError as exc:
        return [f"{path}: not TOML ({exc})"]
    problems = _key_problems(data) + _secret_problems(data) + _bureau_problems(data)
    if problems:
        return problems
    try:
        config = config_from_dict(data, base=path.parent)
    except BridgeError as exc:
        return [str(exc)]
    return problems_of(config) + _mapping_problems(config)


def _key_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    known = {f.name for f in fields(Config)} - set(_SECTIONS)
    for section, values in data.items():
        if section == "bureaus":
            continue
        if section not in _SECTIONS and section != "bridge":
            problems.append(f"{section}: unknown section")
            continue
        if not isinstance(values, dict):
            problems.append(f"{section}: must be a table")
            continue
        kind = _SECTIONS.get(section)
        names = {f.name for f in fields(kind)} if kind else known
        for key in values:
            if _is_secret_source(key) or key in names:
                continue
            problems.append(f"{section}.{key}: unknown setting")
    return problems


def _is_secret_source(key: str) -> bool:
    base, _, source = key.rpartition("_")
    return source in ("env", "file") and base in _SECRETS


def _bureau_problems(data: dict[str, Any]) -> list[str]:
    """Unknown keys and missing secrets of each ``[bureaus.NAME]`` table."""
    bureaus = data.get("bureaus", {})
    if not isinstance(bureaus, dict):
        return ["bureaus: must be a table of bureaus"]
    problems = []
    for name, table in bureaus.items():
        if not isinstance(table, dict):
            problems.append(f"bureaus.{name}: must be a table")
            continue
        where = f"bureaus.{name}"
        problems += _unknown_keys(where, table, BureauConfig)
        oa = table.get("oa")
        if isinstance(oa, dict):
            problems += _unknown_keys(f"{where}.oa", oa, OaConfig)
            problems += _secret_problems({f"{where}.oa": oa}, required=False)
            if not any(oa.get(key) for key in ("password", "password_env",
                                               "password_file")):
                problems.append(f"{where}.oa.password: missing (set password_env, "
                                "password_file or password)")
    return problems


def _unknown_keys(where: str, values: dict[str, Any], kind: type) -> list[str]:
    names = {f.name for f in fields(kind)}
    return [f"{where}.{key}: unknown setting" for key in values
            if not (_is_secret_source(key) or key in names)]


def _secret_problems(data: dict[str, Any], required: bool = True) -> list[str]:
    problems = []
    for section, values in data.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if not _is_secret_source(key):
                continue
            if key.endswith("_env") and not os.environ.get(str(value)):
                problems.append(
                    f"{section}.{key}: environment variable {value} is not set"
                )
            if key.endswith("_file") and not Path(str(value)).is_file():
                problems.append(f"{section}.{key}: file {value} does not exist")
    for section, name in REQUIRED_SECRETS.items() if required else ():
        values = data.get(section, {})
        if isinstance(values, dict) and not any(
            values.get(key) for key in (name, f"{name}_env", f"{name}_file")
        ):
            problems.append(
                f"{section}.{name}: missing (set {name}_env, {name}_file or {name})"
            )
    return problems


def problems_of(config: Config) -> list[str]:
    """Checks across settings: values in range, a loopback health endpoint."""
    service, poll = config.service, config.poll
    problems = []
    if not _is_loopback(service.health_host):
        problems.append(f"service.health_host: {service.health_host} is not loopback")
    if not 0 <= service.health_port <= 65535:
        problems.append(f"service.health_port: {service.health_port} is not a port")
    if service.grace_seconds <= RELEASE_MARGIN:
        problems.append(f"service.grace_seconds: must exceed {RELEASE_MARGIN}")
    shortest = min(poll.interval_seconds, poll.sweep_interval_seconds)
    if service.lease_seconds <= 0:
        problems.append("service.lease_seconds: must be positive")
    elif service.lease_seconds < 2 * config.delivery.interval_seconds:
        problems.append("service.lease_seconds: shorter than two delivery intervals")
    if service.stale_after_seconds <= shortest:
        problems.append("service.stale_after_seconds: not above the poll interval")
    if service.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"service.log_level: {service.log_level} is not a level")
    if not config.store:
        problems.append("bridge.store: empty")
    if not _is_clock_time(service.daily_at):
        problems.append(f"service.daily_at: {service.daily_at} is not HH:MM")
    cpu_problem = setting_problem(service.cpu)
    if cpu_problem:
        problems.append(cpu_problem)
    return problems


#: the grace period must leave this much for releasing leases (engine/bridge.py)
RELEASE_MARGIN = 1.0


def _is_clock_time(text: str) -> bool:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        return False
    return int(hours) < 24 and int(minutes) < 60


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _mapping_problems(config: Config) -> list[str]:
    from bridge.engine.runtime import check_bureau
    from bridge.mapping import load_bureau

    problems = []
    for name in (config.bureau, *config.bureaus):
        try:
            mapping = load_bureau(name, config.mappings_dir, config.schemas_dir)
            if name in config.bureaus:
                check_bureau(name, mapping.systems, config.bureaus[name])
        except BridgeError as exc:
            problems.append(f"mappings ({name}): {exc}")
    return problems
