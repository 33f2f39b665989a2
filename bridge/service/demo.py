"""``govbridge demo``: the whole main job on the embedded default, in a minute.

Starts the three simulators on free loopback ports, runs one bridge against
them on a fresh SQLite file, files online and window cases through the
simulators' admin API, lets the OA finish them and prints what each system
holds for each case.
"""

from __future__ import annotations

import json
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bridge.config import Config, config_from_dict
from bridge.engine.bridge import Bridge
from bridge.logs import configure
from bridge.sim.admin import SimAdmin
from bridge.sim.runner import SimulatorSet, start_all

RESULT_COLUMN = "审批结果"


@dataclass
class DemoCase:
    """One case the demo filed, by the key its source gave it."""

    channel: str  # "online" or "window"
    key: str  # the portal's filing number or the center's case number


def demo_config(state_dir: Path, sims: SimulatorSet) -> dict[str, Any]:
    """The configuration the demo runs the bridge with (also written to disk)."""
    urls = sims.urls()
    return {
        "bridge": {
            "bureau": "hbj",
            "store": f"sqlite:///{state_dir / 'govbridge.sqlite'}",
            "log_file": str(state_dir / "logs" / "govbridge.log"),
        },
        "center": {"url": urls["center"], "key": "bridge", "secret": "bridge-secret"},
        "oa": {"url": urls["oa"], "username": "service-admin", "password": "123456"},
        "portal": {"url": urls["portal"], "username": "bridge",
                   "password": "bridge-secret"},
        "poll": {"interval_seconds": 0.5, "sweep_interval_seconds": 0.5,
                 "overlap_seconds": 600},
        "delivery": {"interval_seconds": 0.2, "workers": 4,
                     "backoff_base_seconds": 0.2, "backoff_max_seconds": 2},
    }


def write_toml(data: dict[str, Any], path: Path) -> None:
    """Write a two-level dict of scalars as TOML."""
    lines = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}"
                  for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def file_cases(sims: SimulatorSet, online: int, window: int) -> list[DemoCase]:
    """File the demo's cases through the simulators' admin API."""
    portal, center = SimAdmin(sims.portal.url), SimAdmin(sims.center.url)
    filed = []
    for index in range(max(online, window)):
        if index < online:
            filed.append(DemoCase("online", portal.post("filings")["filingNo"]))
        if index < window:
            filed.append(DemoCase("window", center.post("cases")["SBLSH_SHORT"]))
    return filed


class Snapshot:
    """What the three simulators hold, read once through their admin API."""

    def __init__(self, sims: SimulatorSet) -> None:
        center = SimAdmin(sims.center.url).state()
        self.center_by_number = {case["SBLSH_SHORT"]: case for case in center["cases"]}
        self.number_by_filing = {
            case["WSSBLSH"]: case["SBLSH_SHORT"]
            for case in center["cases"] if case.get("WSSBLSH")
        }
        self.flows = {}
        for flow in SimAdmin(sims.oa.url).state()["flows"]:
            self.flows.setdefault(flow.get("case_key"), []).append(flow)
        portal = SimAdmin(sims.portal.url).state()
        self.publications = {pub["caseNo"]: pub for pub in portal["publications"]}

    def number(self, case: DemoCase) -> str | None:
        if case.channel == "window":
            return case.key
        return self.number_by_filing.get(case.key)

    def finished(self, case: DemoCase) -> bool:
        number = self.number(case)
        return number is not None and number in self.publications and bool(
            (self.center_by_number.get(number) or {}).get("completion")
        )


def _form_value(flow: dict[str, Any], column: str) -> str:
    form = flow.get("form")
    if isinstance(form, dict):
        master = form.get("master", form)
        if isinstance(master, dict) and column in master:
            return str(master[column])
    return ""


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(text: str, width: int) -> str:
    text = text if _width(text) <= width else text[: max(width // 2 - 1, 1)] + "…"
    return text + " " * max(width - _width(text), 0)


def render_table(cases: list[DemoCase], snap: Snapshot) -> str:
    """One line per case: what the center, the OA and the portal hold."""
    columns = [("channel", 24), ("case number", 15), ("applicant", 24),
               ("matter", 11), ("center", 22), ("OA flow", 18), ("portal", 14)]
    lines = ["  ".join(_cell(name, width) for name, width in columns)]
    for case in cases:
        number = snap.number(case) or "-"
        held = snap.center_by_number.get(number, {})
        application = held.get("application", {})
        completion = held.get("completion") or {}
        steps = len(held.get("steps", []))
        center_state = (
            f"办结 {completion.get('BJJGMS', '')}".strip() if completion
            else f"受理 +{steps} steps" if held.get("acceptance") else "not accepted"
        )
        flows = snap.flows.get(number, [])
        oa_state = "no flow"
        if flows:
            decision = _form_value(flows[0], RESULT_COLUMN)
            oa_state = f"{len(flows)} flow, {decision or 'state ' + str(flows[0]['state'])}"
        publication = snap.publications.get(number)
        portal_state = (
            f"公示 {publication.get('resultText', '')}" if publication else "-"
        )
        row = [f"{case.channel} {case.key if case.channel == 'online' else ''}",
               number, application.get("SQRMC", "-"), application.get("SXBM", "-"),
               center_state, oa_state, portal_state]
        lines.append("  ".join(_cell(value, width)
                               for value, (_, width) in zip(row, columns, strict=True)))
    return "\n".join(lines)


def run_demo(
    state_root: Path,
    online: int = 4,
    window: int = 4,
    timeout: float = 50.0,
    step_seconds: float = 0.3,
) -> int:
    """Run the demo; 0 when every case reached its result in all three systems."""
    state_dir = state_root.resolve() / datetime.now().strftime("demo-%Y%m%d-%H%M%S")
    state_dir.mkdir(parents=True, exist_ok=False)
    sims = start_all(state_dir / "sim")
    try:
        SimAdmin(sims.oa.url).post(
            "pace", {"step_seconds": step_seconds, "refuse_rate": 0.25, "seed": 11}
        )
        settings = demo_config(state_dir, sims)
        write_toml(settings, state_dir / "govbridge.toml")
        config: Config = config_from_dict(settings, base=state_dir)
        configure(config.log_file)
        print(f"simulators: center {sims.center.url}  oa {sims.oa.url}  "
              f"portal {sims.portal.url}", flush=True)

        bridge = Bridge(config)
        stop = threading.Event()
        runner = threading.Thread(target=bridge.run, args=(stop,), name="bridge")
        runner.start()
        cases = file_cases(sims, online, window)
        print(f"filed {online} online filings at the portal and {window} window "
              f"cases at the center; waiting for the OA to decide them ...",
              flush=True)

        started = time.monotonic()
        snap = Snapshot(sims)
        while not all(snap.finished(case) for case in cases):
            if time.monotonic() - started > timeout:
                break
            time.sleep(0.5)
            snap = Snapshot(sims)
        stop.set()
        runner.join()

        snap = Snapshot(sims)
        done = sum(snap.finished(case) for case in cases)
        print()
        print(render_table(cases, snap))
        print()
        print(f"{done} of {len(cases)} cases completed at the center and published "
              f"at the portal in {time.monotonic() - started:.1f} s")
        print(f"bridge database:  {state_dir / 'govbridge.sqlite'}")
        print(f"bridge log:       {config.log_file}")
        print(f"configuration:    {state_dir / 'govbridge.toml'}")
        print(f"simulator state:  {state_dir / 'sim'}  "
              f"(govbridge sim all --state {state_dir / 'sim'})")
        return 0 if done == len(cases) else 1
    finally:
        sims.stop()
