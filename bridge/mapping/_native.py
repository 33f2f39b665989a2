"""The native forms a bureau folder keeps under ``native/``, for the offline check.

``native/<system>.<kind>.xml`` is a hand-written record of an inbound kind,
``native/<system>.<root>.xml`` a message with that root element (for the
center, the document carried as a string in the call's ``xml`` argument).
``native/<system>.templates/<code>.xml`` is an OA template's form as
getTemplateDefinition returns it; it stands for every ``formExport`` element,
and for an outbound ``formExport`` root.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from bridge.errors import ConfigError

FORM_ROOT = "formExport"
_PARSER = etree.XMLParser(
    remove_blank_text=True,
    remove_comments=True,
    resolve_entities=False,
    no_network=True,
)


@dataclass
class NativeForm:
    """One native document to check paths against, and the file it came from."""

    label: str
    root: etree._Element
    file: Path


def forms_for(folder: Path, system: str, name: str) -> list[NativeForm]:
    """The native forms for kind or root ``name`` of ``system`` (empty: none kept)."""
    native = folder / "native"
    templates = _templates(native / f"{system}.templates")
    if name == FORM_ROOT and templates:
        return templates

    sample = native / f"{system}.{name}.xml"
    if not sample.exists():
        return []
    root = _parse(sample)
    if root.find(f".//{FORM_ROOT}") is None or not templates:
        return [NativeForm(sample.name, root, sample)]
    return [_with_form(root, sample, template) for template in templates]


def leaves(root: etree._Element) -> list[etree._Element]:
    """The data-carrying elements of a native form (definitions left out)."""
    found = []
    for element in root.iter():
        if not isinstance(element.tag, str) or len(element):
            continue
        if any(parent.tag == "definitions" for parent in element.iterancestors()):
            continue
        found.append(element)
    return found


def describe(root: etree._Element, element: etree._Element) -> str:
    """A short path of ``element``, naming form columns by their display name."""
    steps = []
    for node in [*reversed(list(element.iterancestors())), element][1:]:
        name = node.get("name")
        steps.append(f"{node.tag}[@name='{name}']" if name else str(node.tag))
    return "/".join(steps) or str(root.tag)


def _templates(folder: Path) -> list[NativeForm]:
    if not folder.is_dir():
        return []
    return [
        NativeForm(f"template {path.stem}", skeleton(_parse(path)), path)
        for path in sorted(folder.glob("*.xml"))
    ]


def skeleton(definition: etree._Element) -> etree._Element:
    """A form with one value per defined column and one sub-table row.

    getTemplateDefinition answers a blank FormExport: its ``definitions`` list
    the columns; the skeleton has every column a mapping could name.
    """
    if definition.tag != FORM_ROOT:
        raise ConfigError(f"{definition.base}: a template form must be a formExport")
    form = copy.deepcopy(definition)
    _fill_values(form, form)
    for sub_form in form.iterfind("subForms/subForm"):
        _fill_values(sub_form, _one_row(sub_form))
    return form


def _fill_values(owner: etree._Element, target: etree._Element) -> None:
    values = owner.find("values")
    if values is None:
        values = etree.SubElement(owner, "values")
    parent = values if target is owner else target
    present = {column.get("name") for column in parent.findall("column")}
    for column in owner.iterfind("definitions/column"):
        name = column.get("name", "")
        if name and name not in present:
            cell = etree.SubElement(parent, "column", name=name)
            etree.SubElement(cell, "value")


def _one_row(sub_form: etree._Element) -> etree._Element:
    values = sub_form.find("values")
    if values is None:
        values = etree.SubElement(sub_form, "values")
    row = values.find("row")
    return row if row is not None else etree.SubElement(values, "row")


def _with_form(root: etree._Element, sample: Path, template: NativeForm) -> NativeForm:
    combined = copy.deepcopy(root)
    for placeholder in combined.iter(FORM_ROOT):
        placeholder.getparent().replace(placeholder, copy.deepcopy(template.root))
    return NativeForm(f"{sample.name} with {template.label}", combined, sample)


def _parse(path: Path) -> etree._Element:
    try:
        return etree.parse(str(path), _PARSER).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise ConfigError(f"{path}:1: cannot read native form: {exc}") from exc
