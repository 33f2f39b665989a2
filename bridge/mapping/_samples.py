"""Golden samples: each mapping folder proves itself on hand-written examples.

A sample is a folder under ``mappings/<bureau>/samples/`` with a
``sample.yaml`` (system, direction, kind, and what to expect), the input
document(s) and the expected output; see mappings/README.md.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from bridge.errors import BridgeError, ConfigError
from bridge.mapping._engine import BureauMapping
from bridge.mapping._yaml import YList, YMap, load_yaml

_PARSER = etree.XMLParser(
    remove_blank_text=True,
    remove_comments=True,
    resolve_entities=False,
    no_network=True,
)


@dataclass
class SampleResult:
    """The outcome of one golden sample."""

    name: str
    ok: bool
    problem: str = ""


def run_samples(mapping: BureauMapping, samples_dir: Path) -> list[SampleResult]:
    """Run every sample folder below ``samples_dir`` through ``mapping``."""
    results = []
    for folder in sorted(p.parent for p in samples_dir.glob("*/sample.yaml")):
        try:
            problem = _run_one(mapping, folder)
        except BridgeError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        results.append(SampleResult(folder.name, not problem, problem))
    return results


def canonical(element: etree._Element) -> str:
    """``element`` as canonical XML without blank text or comments."""
    reparsed = etree.fromstring(etree.tostring(element), _PARSER)
    return str(
        etree.canonicalize(
            etree.tostring(reparsed).decode("utf-8"),
            rewrite_prefixes=True,
            strip_text=True,
        )
    )


def _run_one(mapping: BureauMapping, folder: Path) -> str:
    meta = load_yaml(folder / "sample.yaml")
    direction = str(meta.get("direction", ""))
    if direction == "inbound":
        return _inbound(mapping, folder, meta)
    if direction == "outbound":
        return _outbound(mapping, folder, meta)
    raise ConfigError(f"{meta.where}: direction must be inbound or outbound")


def _inbound(mapping: BureauMapping, folder: Path, meta: YMap) -> str:
    native = _parse(folder / "input.xml")
    produced = mapping.inbound(str(meta["system"]), str(meta["kind"]), native)
    expect = meta.get("expect", YMap())

    counts = {name: len(docs) for name, docs in produced.items() if docs}
    wanted = {str(name): int(count) for name, count in expect.items() if int(count)}
    if counts != wanted:
        return f"produced {counts}, expected {wanted}"

    for name, docs in produced.items():
        for index, document in enumerate(docs, start=1):
            expected = _parse(folder / f"{name}-{index}.xml")
            if canonical(document) != canonical(expected):
                return _differs(f"{name}-{index}.xml", expected, document)
    return ""


def _outbound(mapping: BureauMapping, folder: Path, meta: YMap) -> str:
    inputs = meta.get("inputs", YList())
    docs = {str(name): _parse(folder / f"{name}.xml") for name in inputs}
    message = mapping.outbound(str(meta["system"]), str(meta["kind"]), docs)

    expected_file = folder / "expected.xml"
    if expected_file.exists() != (message.root is not None):
        return "expected.xml and the produced root disagree on whether there is one"
    root = message.root
    if root is not None:
        expected = _parse(expected_file)
        if canonical(root) != canonical(expected):
            return _differs("expected.xml", expected, root)

    params = {str(key): str(value) for key, value in meta.get("params", YMap()).items()}
    if message.params != params:
        return f"params {message.params} differ from {params}"
    return ""


def _parse(path: Path) -> etree._Element:
    try:
        return etree.parse(str(path), _PARSER).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise ConfigError(f"{path}: cannot read sample: {exc}") from exc


def _differs(name: str, expected: etree._Element, produced: etree._Element) -> str:
    """A unified diff of the expected and the produced document, canonical form."""
    diff = difflib.unified_diff(
        _pretty(expected).splitlines(),
        _pretty(produced).splitlines(),
        fromfile=f"{name} (expected)",
        tofile=f"{name} (produced)",
        lineterm="",
    )
    return f"{name} differs:\n" + "\n".join(diff)


def _pretty(element: etree._Element) -> str:
    """``element`` one element per line, blank text and comments left out."""
    reparsed = etree.fromstring(etree.tostring(element), _PARSER)
    return str(etree.tostring(reparsed, pretty_print=True, encoding="unicode"))
