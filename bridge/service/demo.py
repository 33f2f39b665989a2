"""``govbridge demo``: the whole main job on the embedded default, in a minute.

Starts the three simulators and the forestry bureau's own OA on free loopback
ports, runs one bridge for both bureaus against them on a fresh SQLite file,
files online and window cases (the forestry ones at the window) through the
simulators' admin API, lets the OAs finish them and prints what each system
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

#: the OA form column holding the decision, per bureau (hbj, then lyj)
RESULT_COLUMNS = ("审批结果", "办理结果")

#: the forestry bureau: its department at the center, its OA's flow states
FORESTRY = "lyj"
FORESTRY_DEPARTMENT = "11370999MB0000254T"
FORESTRY_STATES = {"draft": 10, "sent": 11, "partly_done": 12, "revoked": 13,
                   "stepped_back": 14, "taken_back": 15, "terminated": 19,
                   "finished": 20}


@dataclass
class DemoCase:
    """One case the demo filed, by the key its source gave it."""

    channel: str  # "online" or "window"
    key: str  # the portal's filing number or the center's case number
    bureau: str = "hbj"  # forestry cases: "lyj" (no portal)


def demo_config(state_dir: Path, sims: SimulatorSet) -> dict[str, Any]:
    """The configuration the demo runs the bridge with (also written to disk);
    with the forestry OA running, the forestry bureau is served too."""
    urls = sims.urls()
    settings = {
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
    if FORESTRY in sims.bureau_oas:
        settings["bureaus"] = {FORESTRY: forestry_settings(urls[f"oa-{FORESTRY}"])}
    return settings


def forestry_settings(oa_url: str) -> dict[str, Any]:
    """The ``[bureaus.lyj]`` table: its department and its own OA."""
    return {
        "department_code": FORESTRY_DEPARTMENT,
        "portal": False,
        "oa": {"url": oa_url, "username": "service-admin", "password": "123456",
               "state_codes": dict(FORESTRY_STATES)},
    }


def write_toml(data: dict[str, Any], path: Path) -> None:
    """Write nested dicts of scalars as TOML tables (``[bureaus.lyj.oa]``)."""
    lines: list[str] = []
    for section, values in data.items():
        _write_table(lines, section, values)
    path.write_text("\n".join(lines), encoding="utf-8")


def _write_table(lines: list[str], name: str, values: dict[str, Any]) -> None:
    scalars = {
        key: value for key, value in values.items() if not isinstance(value, dict)
    }
    if scalars or len(scalars) == len(values):
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}"
                  for key, value in scalars.items()]
        lines.append("")
    for key, value in values.items():
        if isinstance(value, dict):
            _write_table(lines, f"{name}.{key}", value)


def file_cases(
    sims: SimulatorSet, online: int, window: int, forestry: int = 0
) -> list[DemoCase]:
    """File the demo's cases through the simulators' admin API (``forestry``
    window cases in the forestry bureau's department)."""
    portal, center = SimAdmin(sims.portal.url), SimAdmin(sims.center.url)
    filed = []
    for index in range(max(online, window, forestry)):
        if index < online:
            filed.append(DemoCase("online", portal.post("filings")["filingNo"]))
        if index < window:
            filed.append(DemoCase("window", center.post("cases")["SBLSH_SHORT"]))
        if index < forestry:
            number = center.post("cases", {"department": FORESTRY_DEPARTMENT})
            filed.append(DemoCase("window", number["SBLSH_SHORT"], FORESTRY))
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
        self.flows: dict[Any, list[dict[str, Any]]] = {}
        for oa in (sims.oa, *sims.bureau_oas.values()):
            for flow in SimAdmin(oa.url).state()["flows"]:
                self.flows.setdefault(flow.get("case_key"), []).append(flow)
        portal = SimAdmin(sims.portal.url).state()
        self.publications = {pub["caseNo"]: pub for pub in portal["publications"]}

    def number(self, case: DemoCase) -> str | None:
        if case.channel == "window":
            return case.key
        return self.number_by_filing.get(case.key)

    def finished(self, case: DemoCase) -> bool:
        """Completed at the center, and published at the portal when the
        case's bureau is on the portal (the forestry bureau is not)."""
        number = self.number(case)
        published = case.bureau == FORESTRY or number in self.publications
        return number is not None and published and bool(
            (self.center_by_number.get(number) or {}).get("completion")
        )


def _form_value(flow: dict[str, Any], columns: tuple[str, ...]) -> str:
    form = flow.get("form")
    if isinstance(form, dict):
        master = form.get("master", form)
        for column in columns:
            if isinstance(master, dict) and master.get(column):
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
            decision = _form_value(flows[0], RESULT_COLUMNS)
            shown = decision or f"state {flows[0]['state']}"
            oa_state = f"{len(flows)} flow, {shown}"
        publication = snap.publications.get(number)
        portal_state = (
            f"公示 {publication.get('resultText', '')}" if publication
            else "no portal" if case.bureau == FORESTRY else "-"
        )
        label = case.key if case.channel == "online" else ""
        label = FORESTRY if case.bureau == FORESTRY else label
        row = [f"{case.channel} {label}",
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
    forestry: int = 2,
) -> int:
    """Run the demo; 0 when every case reached its result in all three systems
    (forestry cases: at the center and the forestry OA)."""
    state_dir = state_root.resolve() / datetime.now().strftime("demo-%Y%m%d-%H%M%S")
    state_dir.mkdir(parents=True, exist_ok=False)
    sims = start_all(state_dir / "sim", bureau_oas=(FORESTRY,) if forestry else ())
    try:
        for oa in (sims.oa, *sims.bureau_oas.values()):
            SimAdmin(oa.url).post(
                "pace", {"step_seconds": step_seconds, "refuse_rate": 0.25, "seed": 11}
            )
        settings = demo_config(state_dir, sims)
        write_toml(settings, state_dir / "govbridge.toml")
        config: Config = config_from_dict(settings, base=state_dir)
        configure(config.log_file)
        print("simulators: " + "  ".join(f"{name} {url}"
                                         for name, url in sims.urls().items()),
              flush=True)

        bridge = Bridge(config)
        stop = threading.Event()
        runner = threading.Thread(target=bridge.run, args=(stop,), name="bridge")
        runner.start()
        cases = file_cases(sims, online, window, forestry)
        print(f"filed {online} online filings at the portal, {window} window "
              f"cases and {forestry} forestry (lyj) window cases at the center; "
              f"waiting for the OAs to decide them ...", flush=True)

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
              f"at the portal (forestry: no portal) in "
              f"{time.monotonic() - started:.1f} s")
        print(f"bridge database:  {state_dir / 'govbridge.sqlite'}")
        print(f"bridge log:       {config.log_file}")
        print(f"configuration:    {state_dir / 'govbridge.toml'}")
        print(f"simulator state:  {state_dir / 'sim'}  "
              f"(govbridge sim all --state {state_dir / 'sim'})")
        return 0 if done == len(cases) else 1
    finally:
        sims.stop()
