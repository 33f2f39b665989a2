"""The one TOML configuration: loading, defaults and checks that name the key."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.paths import mappings_dir, schemas_dir

ENV_VAR = "GOVBRIDGE_CONFIG"


@dataclass
class CenterConfig:
    url: str = "http://127.0.0.1:8101"
    key: str = "bridge"
    secret: str = ""
    department_code: str = ""
    region_code: str = ""
    timeout: float = 10.0
    deadline: float = 30.0
    #: the counterpart's quirk profile (bridge/adapters/quirks.py)
    quirks: dict[str, Any] = field(default_factory=dict)


@dataclass
class OaConfig:
    url: str = "http://127.0.0.1:8102"
    username: str = "service-admin"
    password: str = ""
    sender_login: str = "service-admin"
    timeout: float = 10.0
    deadline: float = 30.0
    #: the counterpart's quirk profile (bridge/adapters/quirks.py)
    quirks: dict[str, Any] = field(default_factory=dict)
    #: getFlowState codes by meaning ("finished" = 20, ...); empty: the defaults
    state_codes: dict[str, int] = field(default_factory=dict)


@dataclass
class BureauConfig:
    """A further bureau the same bridge serves (``[bureaus.NAME]``): its window
    cases at the shared center, its own OA (none: center-only) and the portal."""

    #: its department at the center (SLBMZZJGDM of its window cases)
    department_code: str = ""
    #: its own OA (``[bureaus.NAME.oa]``); None for a center-only bureau
    oa: OaConfig | None = None
    #: True: its cases' progress and results are posted at the portal
    portal: bool = False


@dataclass
class PortalConfig:
    url: str = "http://127.0.0.1:8103"
    username: str = "bridge"
    password: str = ""
    timeout: float = 10.0
    deadline: float = 30.0
    #: the counterpart's quirk profile (bridge/adapters/quirks.py)
    quirks: dict[str, Any] = field(default_factory=dict)


@dataclass
class PollConfig:
    interval_seconds: float = 10.0
    page_size: int = 100
    overlap_seconds: float = 600.0
    sweep_interval_seconds: float = 10.0
    sweep_batch: int = 50
    #: open flows read per OA call (exportFlowList); 1 reads each with exportFlow
    sweep_list_size: int = 50
    clock_skew_seconds: float = 300.0
    #: how often a paged source is read again over the overlap window
    overlap_every_seconds: float = 60.0
    #: how long after the watermark reached a second the records of that
    #: second are still read again (one may change within it); after that a
    #: poll goes on after the watermark's record key
    same_second_seconds: float = 2.0
    #: a poll reads no further page while this many first writes of new cases
    #: (registration, acceptance, launch) wait for their first attempt (the
    #: next poll goes on); 0 reads every page at once
    max_waiting_writes: int = 1000
    #: where a source with no watermark yet is first read from, in the source's
    #: local time (``yyyy-MM-dd HH:mm:ss``); empty reads its whole history
    start_from: str = ""


@dataclass
class DeliveryConfig:
    interval_seconds: float = 1.0
    workers: int = 4
    max_attempts: int = 10
    max_age_seconds: float = 86400.0
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    #: how long a step waits for its predecessor before it is sent anyway
    order_wait_seconds: float = 300.0


@dataclass
class AuditConfig:
    """The audit log's keys, checkpoints and algorithms (bridge/audit/)."""

    folder: Path = Path("var/audit")
    private_key: Path | None = None
    public_key: Path | None = None
    checkpoint_file: Path | None = None
    checkpoint_every: int = 1000
    checkpoint_seconds: float = 300.0
    hash: str = "sha256"
    signature: str = "ed25519"
    payload_retention_days: int = 365
    secret: str = ""


@dataclass
class ServiceConfig:
    """The daemon: health endpoint, shutdown grace, leases between instances."""

    health_host: str = "127.0.0.1"
    health_port: int = 9464
    grace_seconds: float = 20.0
    lease_seconds: float = 30.0
    stale_after_seconds: float = 300.0
    log_level: str = "INFO"
    instance: str = ""
    daily_at: str = "02:30"
    #: where ``govbridge run`` keeps its threads: "auto", "none" or a
    #: processor number (bridge/service/cpu.py)
    cpu: str | int = "auto"


@dataclass
class Config:
    """Everything the bridge needs to run, with defaults for the embedded setup."""

    bureau: str = "hbj"
    zone: str = "Asia/Shanghai"
    store: str = "sqlite:///var/govbridge.sqlite"
    schemas_dir: Path = field(default_factory=schemas_dir)
    mappings_dir: Path = field(default_factory=mappings_dir)
    log_file: Path | None = None
    center: CenterConfig = field(default_factory=CenterConfig)
    oa: OaConfig = field(default_factory=OaConfig)
    portal: PortalConfig = field(default_factory=PortalConfig)
    poll: PollConfig = field(default_factory=PollConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    #: further bureaus beside ``bureau``, by mapping folder name
    bureaus: dict[str, BureauConfig] = field(default_factory=dict)


_SECTIONS: dict[str, type] = {
    "center": CenterConfig,
    "oa": OaConfig,
    "portal": PortalConfig,
    "poll": PollConfig,
    "delivery": DeliveryConfig,
    "audit": AuditConfig,
    "service": ServiceConfig,
}
_SECRETS = {"secret", "password"}


def _build(kind: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(kind)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key.endswith("_env") and key[:-4] in _SECRETS:
            secret = os.environ.get(str(value))
            if secret is None:
                raise ConfigError(
                    f"{where}.{key}: environment variable {value} is not set"
                )
            values[key[:-4]] = secret
            continue
        if key.endswith("_file") and key[:-5] in _SECRETS:
            values[key[:-5]] = _secret_file(str(value), f"{where}.{key}")
            continue
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown setting")
        values[key] = value
    try:
        return kind(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _bureaus(data: Any, primary: Any) -> dict[str, BureauConfig]:
    """The ``[bureaus.NAME]`` tables, each with its optional ``oa`` sub-table."""
    if not isinstance(data, dict):
        raise ConfigError("bureaus: must be a table of bureaus")
    built = {}
    for name, table in data.items():
        where = f"bureaus.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table")
        if name == (primary or Config.bureau):
            raise ConfigError(f"{where}: is the primary bureau ([bridge] bureau)")
        values = dict(table)
        if "oa" in values:
            values["oa"] = _build(OaConfig, values["oa"], f"{where}.oa")
        built[name] = _build(BureauConfig, values, where)
    return built


def _secret_file(name: str, where: str) -> str:
    """A secret kept in a file of its own (one line; the newline is dropped)."""
    try:
        return Path(name).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {name} ({exc.strerror})") from exc


def config_from_dict(data: dict[str, Any], base: Path | None = None) -> Config:
    """Build a Config from parsed TOML; relative paths are taken from ``base``."""
    data = dict(data)
    sections = {
        name: _build(kind, data.pop(name, {}), name)
        for name, kind in _SECTIONS.items()
    }
    bridge = data.pop("bridge", {})
    sections["bureaus"] = _bureaus(data.pop("bureaus", {}), bridge.get("bureau"))
    for leftover in data:
        raise ConfigError(f"{leftover}: unknown section")
    config = _build(Config, {**bridge, **sections}, "bridge")
    root = base or Path.cwd()
    for name in ("schemas_dir", "mappings_dir", "log_file"):
        value = getattr(config, name)
        if value is not None and not isinstance(value, Path):
            path = Path(value)
            setattr(config, name, path if path.is_absolute() else root / path)
    _audit_paths(config.audit, root)
    config.store = _store_url(config.store, root)
    return config


def _store_url(url: str, root: Path) -> str:
    """A SQLite URL with a relative file is taken from ``root``, like other paths."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return url
    path = Path(url[len(prefix):])
    return url if path.is_absolute() else prefix + str(root / path)


def _audit_paths(audit: AuditConfig, root: Path) -> None:
    for name in ("folder", "private_key", "public_key", "checkpoint_file"):
        value = getattr(audit, name)
        if value is not None:
            path = Path(value)
            setattr(audit, name, path if path.is_absolute() else root / path)


def load_config(path: str | Path | None = None) -> Config:
    """Load the configuration file named, or $GOVBRIDGE_CONFIG, or the defaults."""
    chosen = path or os.environ.get(ENV_VAR)
    if not chosen:
        return Config()
    file = Path(chosen)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file {file} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
    return config_from_dict(data, base=file.parent)
