"""Everything one bridge process works with, built once from the configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.clock import Clock, SystemClock
from bridge.config import BureauConfig, Config, OaConfig
from bridge.errors import ConfigError
from bridge.store import Store, open_store


@dataclass
class Bureau:
    """One bureau the bridge serves: its mapping, its OA and its poll names.

    The primary bureau (``[bridge] bureau``) keeps the source and lease names a
    single-bureau bridge always used ("center", "poll:center", ...); a further
    bureau's names carry its own name ("center:lyj", "poll:center:lyj").
    """

    name: str
    mapping: Any  # bridge.mapping.BureauMapping
    oa: Any  # bridge.adapters.oa.OaAdapter, or None for a center-only bureau
    department_code: str
    portal: bool
    primary: bool

    def source(self, system: str) -> str:
        """The watermark, seen-record and dead-letter name of a source."""
        return system if self.primary else f"{system}:{self.name}"


@dataclass
class Runtime:
    """Configuration, store, mapping, validator and one adapter per counterpart."""

    config: Config
    store: Store
    mapping: Any  # bridge.mapping.BureauMapping
    interchange: Any  # bridge.interchange.Interchange
    center: Any  # bridge.adapters.center.CenterAdapter
    oa: Any  # bridge.adapters.oa.OaAdapter
    portal: Any  # bridge.adapters.portal.PortalAdapter
    clock: Clock
    #: every bureau served, the primary first, by name
    bureaus: dict[str, Bureau] = field(default_factory=dict)

    def bureau(self, name: str | None) -> Bureau:
        """The bureau ``name`` (a case's), the primary one for None."""
        if not self.bureaus:
            self.bureaus = {self.config.bureau: self._primary()}
        if name is None:
            return next(iter(self.bureaus.values()))
        found = self.bureaus.get(name)
        if found is None:
            raise ConfigError(
                f"bureau {name} is not configured", system="bridge", field="bureaus"
            )
        return found

    def _primary(self) -> Bureau:
        return Bureau(
            name=self.config.bureau,
            mapping=self.mapping,
            oa=self.oa,
            department_code=self.config.center.department_code,
            portal=True,
            primary=True,
        )

    def refresh_primary(self) -> None:
        """Point the primary bureau at ``mapping`` and ``oa`` again (a reload)."""
        primary = self.bureau(None)
        primary.mapping = self.mapping
        primary.oa = self.oa


def build_runtime(config: Config, clock: Clock | None = None) -> Runtime:
    """Open the store, load the mappings and schemas, connect the adapters."""
    from bridge.adapters.center import CenterAdapter
    from bridge.adapters.portal import PortalAdapter
    from bridge.interchange import Interchange
    from bridge.mapping import load_bureau

    center = config.center
    portal = config.portal
    rt = Runtime(
        config=config,
        store=open_store(config.store, audit=config.audit),
        mapping=load_bureau(config.bureau, config.mappings_dir, config.schemas_dir),
        interchange=Interchange(config.schemas_dir),
        center=CenterAdapter(
            center.url,
            center.key,
            center.secret,
            department_code=center.department_code,
            region_code=center.region_code,
            timeout=center.timeout,
            deadline=center.deadline,
            quirks=center.quirks,
            pool_size=pool_size(config),
        ),
        oa=oa_adapter(config.oa, pool_size(config)),
        portal=PortalAdapter(
            portal.url,
            portal.username,
            portal.password,
            timeout=portal.timeout,
            deadline=portal.deadline,
            quirks=portal.quirks,
            pool_size=pool_size(config),
        ),
        clock=clock or SystemClock(),
    )
    rt.bureaus = {config.bureau: rt._primary(), **further_bureaus(config)}
    return rt


def further_bureaus(config: Config) -> dict[str, Bureau]:
    """The ``[bureaus.NAME]`` bureaus, each with its mapping and its own OA."""
    from bridge.mapping import load_bureau

    built = {}
    for name, settings in config.bureaus.items():
        mapping = load_bureau(name, config.mappings_dir, config.schemas_dir)
        check_bureau(name, mapping.systems, settings)
        built[name] = Bureau(
            name=name,
            mapping=mapping,
            oa=(
                oa_adapter(settings.oa, pool_size(config))
                if settings.oa is not None
                else None
            ),
            department_code=settings.department_code,
            portal=settings.portal,
            primary=False,
        )
    return built


def check_bureau(name: str, systems: dict[str, Any], settings: BureauConfig) -> None:
    """Refuse a bureau whose configuration and mapping folder disagree."""
    where = f"bureaus.{name}"
    if not settings.department_code:
        raise ConfigError(f"{where}.department_code: missing", field="department_code")
    if (settings.oa is not None) != ("oa" in systems):
        has = "an" if settings.oa is not None else "no"
        raise ConfigError(
            f"{where}: {has} [{where}.oa] table, but its mapping folder "
            f"{'lacks' if settings.oa is not None else 'has'} oa.yaml",
            field="oa",
        )
    if settings.portal and "portal" not in systems:
        raise ConfigError(
            f"{where}.portal: true, but its mapping folder has no portal.yaml",
            field="portal",
        )


def pool_size(config: Config) -> int:
    """HTTP connections kept per counterpart: every delivery worker may be in
    a call at once, and the polls and the sweep beside them."""
    from bridge.adapters.transport import POOL_SIZE

    return max(POOL_SIZE, config.delivery.workers + 4)


def oa_adapter(settings: OaConfig, connections: int | None = None) -> Any:
    """An OA adapter for one OA's settings (its state codes, when given)."""
    from bridge.adapters.oa import OaAdapter
    from bridge.adapters.transport import POOL_SIZE

    codes = {int(code): meaning for meaning, code in settings.state_codes.items()}
    return OaAdapter(
        settings.url,
        settings.username,
        settings.password,
        sender_login=settings.sender_login,
        state_codes=codes or None,
        timeout=settings.timeout,
        deadline=settings.deadline,
        quirks=settings.quirks,
        pool_size=connections or POOL_SIZE,
    )
