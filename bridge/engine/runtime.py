"""Everything one bridge process works with, built once from the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.clock import Clock, SystemClock
from bridge.config import Config
from bridge.store import Store, open_store


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


def build_runtime(config: Config, clock: Clock | None = None) -> Runtime:
    """Open the store, load the mappings and schemas, connect the adapters."""
    from bridge.adapters.center import CenterAdapter
    from bridge.adapters.oa import OaAdapter
    from bridge.adapters.portal import PortalAdapter
    from bridge.interchange import Interchange
    from bridge.mapping import load_bureau

    center = config.center
    oa = config.oa
    portal = config.portal
    return Runtime(
        config=config,
        store=open_store(config.store, audit=config.audit),
        mapping=load_bureau(config.bureau, config.mappings_dir),
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
        ),
        oa=OaAdapter(
            oa.url,
            oa.username,
            oa.password,
            sender_login=oa.sender_login,
            timeout=oa.timeout,
            deadline=oa.deadline,
            quirks=oa.quirks,
        ),
        portal=PortalAdapter(
            portal.url,
            portal.username,
            portal.password,
            timeout=portal.timeout,
            deadline=portal.deadline,
            quirks=portal.quirks,
        ),
        clock=clock or SystemClock(),
    )
