"""Helpers for end-to-end tests: a private simulator set, a bridge subprocess,
and counts taken from the simulators' request logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.service.demo import (
    FORESTRY,
    DemoCase,
    Snapshot,
    demo_config,
    file_cases,
    write_toml,
)
from bridge.sim.admin import SimAdmin
from bridge.sim.runner import SimulatorSet, start_all

#: the portal's result code for an approval (mappings/hbj/portal.yaml)
PORTAL_APPROVED = "1"

#: per bureau, the OA form's applicant and decision columns (its profile)
FORM_COLUMNS = {
    "hbj": ("申请单位或个人", "审批结果"),
    FORESTRY: ("申请人名称", "办理结果"),
}


@dataclass
class Flow:
    """A simulator set, a bridge configuration for it and the cases filed."""

    sims: SimulatorSet
    root: Path
    config_path: Path
    cases: list[DemoCase] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        root: Path,
        step_seconds: float = 0.2,
        overrides: dict[str, dict[str, Any]] | None = None,
        store: str | None = None,
        forestry: bool = False,
    ) -> Flow:
        """Private simulators and a bridge configuration; ``overrides`` are
        merged into the configuration's sections; ``store`` replaces the SQLite
        file by a database URL (several processes can share one PostgreSQL);
        ``forestry`` runs the forestry OA too and serves that bureau."""
        sims = start_all(root / "sim", bureau_oas=(FORESTRY,) if forestry else ())
        for oa in (sims.oa, *sims.bureau_oas.values()):
            SimAdmin(oa.url).post(
                "pace", {"step_seconds": step_seconds, "refuse_rate": 0.25, "seed": 5}
            )
        settings = demo_config(root, sims)
        settings["bridge"]["log_file"] = str(root / "logs" / "bridge.log")
        for section, values in (overrides or {}).items():
            settings.setdefault(section, {}).update(values)
        if store is not None:
            settings["bridge"]["store"] = store
        config_path = root / "govbridge.toml"
        write_toml(settings, config_path)
        return cls(sims=sims, root=root, config_path=config_path)

    def file(self, online: int, window: int, forestry: int = 0) -> list[DemoCase]:
        filed = file_cases(self.sims, online, window, forestry)
        self.cases += filed
        return filed

    def spawn(self, crash_at: str | None = None) -> subprocess.Popen[bytes]:
        """Start ``govbridge run`` as a subprocess, with crash points armed."""
        env = dict(os.environ)
        env.pop("GOVBRIDGE_CRASH_AT", None)
        if crash_at:
            env["GOVBRIDGE_CRASH_AT"] = crash_at
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "run", "--config",
             str(self.config_path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "bridge-stderr.log", "ab"),  # noqa: SIM115
        )
        return self.process

    def launch(self, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start one more ``govbridge run`` on the same configuration, with extra
        environment; ``close`` stops it."""
        process = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "run", "--config",
             str(self.config_path)],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "bridge-stderr.log", "ab"),  # noqa: SIM115
        )
        self.others.append(process)
        return process

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def snapshot(self) -> Snapshot:
        return Snapshot(self.sims)

    def wait_finished(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snap = self.snapshot()
            if all(snap.finished(case) for case in self.cases):
                return True
            if self.process is not None and self.process.poll() is not None:
                return False
            # reading a large state is work for the simulators: look less often
            time.sleep(max(0.5, len(self.cases) / 500))
        return False

    def close(self) -> None:
        self.stop()
        for process in self.others:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.sims.stop()


def write_counts(
    sims: SimulatorSet, outcomes: tuple[str, ...] = ("done", "already", "launched")
) -> dict[str, Counter[str]]:
    """Per write operation, how many requests each key received whose outcome
    starts with one of ``outcomes``: by default those that took effect or were
    absorbed as repeats (refused requests are not counted)."""
    counts: dict[str, Counter[str]] = {}
    named = [("center", sims.center), ("oa", sims.oa), ("portal", sims.portal)]
    named += [(sim.name, sim) for sim in sims.bureau_oas.values()]
    for name, sim in named:
        for request in SimAdmin(sim.url).requests():
            outcome = str(request["outcome"])
            if not outcome.startswith(outcomes):
                continue
            operation = f"{name}.{request['operation']}"
            key = request["key"] or ""
            if request["operation"] == "receiveCourseInfo":
                key = f"{key}#{_step_serial(request['body'])}"
            if request["operation"] == "postProgress":
                key = f"{key}#{_progress_seq(request['body'])}"
            counts.setdefault(operation, Counter())[key] += 1
    return counts


def _step_serial(body: str) -> str:
    start = body.find("<SPHJXH>")
    return body[start + 8 : body.find("</SPHJXH>")] if start >= 0 else "?"


def _progress_seq(body: str | None) -> str:
    return str(json.loads(body or "{}").get("seq", "?"))


def duplicates(counts: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    """Every (operation, key) that took effect more than once."""
    return {
        operation: {key: n for key, n in counter.items() if n > 1}
        for operation, counter in counts.items()
        if any(n > 1 for n in counter.values())
    }


def agreement_problems(snap: Snapshot, cases: list[DemoCase]) -> list[str]:
    """Cases whose number, applicant or result differ between the three systems
    (a forestry case: between the center and the forestry OA)."""
    problems = []
    for case in cases:
        number = snap.number(case)
        if number is None:
            problems.append(f"{case.key}: no case number at the center")
            continue
        held: dict[str, Any] = snap.center_by_number[number]
        flows = snap.flows.get(number, [])
        publication = snap.publications.get(number, {})
        applicant = held["application"].get("SQRMC")
        if len(flows) != 1:
            problems.append(f"{number}: {len(flows)} flows at the OA")
            continue
        form = flows[0]["form"].get("master", flows[0]["form"])
        applicant_column, result_column = FORM_COLUMNS[case.bureau]
        if form.get(applicant_column) != applicant:
            problems.append(f"{number}: applicant differs between center and OA")
        completion = held.get("completion") or {}
        approved = form.get(result_column) == "准予许可"
        if (completion.get("BJJGDM") == "6") != approved:
            problems.append(f"{number}: center result differs from the OA's")
        if case.bureau == FORESTRY:
            continue
        if publication.get("applicantName") != applicant:
            problems.append(f"{number}: applicant differs between center and portal")
        published_approval = publication.get("resultCode") == PORTAL_APPROVED
        if published_approval != approved:
            problems.append(f"{number}: portal result differs from the center's")
    return problems
