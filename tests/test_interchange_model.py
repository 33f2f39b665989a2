"""The content model read from the interchange XSDs with lxml alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from bridge.errors import ConfigError
from bridge.interchange._model import ContentModel, content_model
from bridge.mapping._schema import Slot, document_slots, documents
from bridge.paths import schemas_dir

VERSION = schemas_dir() / "interchange" / "1"


def _xmlschema_slots(name: str) -> dict[str, Slot]:
    """What xmlschema, a full XSD processor, says about each path of ``name``."""
    source = next(
        path
        for path in sorted(VERSION.glob("*.xsd"))
        if f'<xs:element name="{name}"' in path.read_text(encoding="utf-8")
    )
    schema = xmlschema.XMLSchema(str(source), validation="skip")
    found: dict[str, Slot] = {}

    def walk(declaration: Any, prefix: str) -> None:
        content = getattr(declaration.type, "content", None)
        if content is None or not hasattr(content, "iter_elements"):
            return
        for child in content.iter_elements():
            path = prefix + child.local_name
            simple = bool(child.type.is_simple())
            primitive = child.type.primitive_type if simple else None
            found[path] = Slot(
                path=path,
                required=child.min_occurs >= 1,
                repeated=child.max_occurs is None or child.max_occurs > 1,
                simple=simple,
                kind=primitive.local_name if primitive is not None else "",
                codes=tuple(getattr(child.type, "enumeration", None) or ()),
            )
            if not simple:
                walk(child, path + "/")

    walk(schema.elements[name], "")
    return found


@pytest.mark.parametrize("name", documents())
def test_every_path_reads_as_xmlschema_reads_it(name: str) -> None:
    """For every document of version 1, each element path's required,
    repeated, simple, primitive type and code list agree with xmlschema's."""
    expected = _xmlschema_slots(name)

    found = document_slots(name)

    assert list(found) == list(expected)
    assert found == expected


def test_the_model_knows_code_lists_and_types_of_the_case() -> None:
    """A few paths of the case, spelled out: the channel's code list, a
    repeated material, an optional case number and a dated field."""
    slots = document_slots("case")

    assert slots["channel"].codes and "online" in slots["channel"].codes
    assert slots["caseNumber"].required is False
    assert slots["materials/material"].repeated is True
    assert slots["submitTime"].kind == "dateTime"
    assert slots["applicant"].simple is False


def _schema(
    folder: Path,
    body: str,
    name: str = "thing.xsd",
    attributes: str = 'targetNamespace="urn:t" elementFormDefault="qualified"',
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(
        '<?xml version="1.0"?>\n'
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:t="urn:t" {attributes}>\n'
        f"{body}\n</xs:schema>\n",
        encoding="utf-8",
    )
    return folder


@pytest.mark.parametrize(
    ("body", "construct"),
    [
        (
            (
                '<xs:element name="thing"><xs:complexType><xs:sequence>'
                '<xs:element name="a" type="xs:string"/></xs:sequence>\n'
                '<xs:attribute name="b" type="xs:string"/></xs:complexType>'
                "</xs:element>"
            ),
            "<xs:attribute>",
        ),
        (
            (
                '<xs:element name="thing"><xs:complexType><xs:sequence>\n'
                '<xs:choice minOccurs="0"><xs:element name="a" type="xs:string"/>'
                '<xs:element name="b" type="xs:string"/></xs:choice>'
                "</xs:sequence></xs:complexType></xs:element>"
            ),
            "<xs:choice> with minOccurs or maxOccurs",
        ),
    ],
    ids=["attribute", "optional-choice"],
)
def test_a_construct_outside_the_part_read_is_refused_with_file_and_line(
    tmp_path: Path, body: str, construct: str
) -> None:
    """What the reader does not know (an attribute, a group that is optional
    or repeats) is not read as if it were absent or plain: the model refuses
    it, naming the file, the line and the construct."""
    model = ContentModel(_schema(tmp_path / "refused", body))

    with pytest.raises(ConfigError) as caught:
        model.children(model.element("thing"))

    assert "thing.xsd:4" in str(caught.value)
    assert construct in str(caught.value)


@pytest.mark.parametrize(
    ("body", "construct"),
    [
        (
            (
                '<xs:element name="head" type="xs:string"/>\n'
                '<xs:element name="thing" substitutionGroup="t:head" type="xs:string"/>'
            ),
            "<xs:element> with substitutionGroup",
        ),
        (
            (
                '<xs:simpleType name="code"><xs:restriction base="xs:token">\n'
                '<xs:enumeration value=" A  B "/></xs:restriction></xs:simpleType>'
                '<xs:element name="thing" type="t:code"/>'
            ),
            "<xs:enumeration> with the value ' A  B '",
        ),
        (
            (
                '<xs:simpleType name="level"><xs:restriction base="xs:decimal">\n'
                '<xs:enumeration value="+2"/></xs:restriction></xs:simpleType>'
                '<xs:element name="thing" type="t:level"/>'
            ),
            "<xs:restriction> listing values of xs:decimal",
        ),
    ],
    ids=["substitution-group", "untrimmed-code", "numeric-code"],
)
def test_a_declaration_read_otherwise_by_xsd_is_refused(
    tmp_path: Path, body: str, construct: str
) -> None:
    """A declaration whose meaning depends on rules the reader does not apply
    (substitution, whitespace and value comparison of codes) is refused when
    it is read."""
    model = ContentModel(_schema(tmp_path / "refused", body))

    with pytest.raises(ConfigError) as caught:
        model.element("thing")

    assert "thing.xsd:" in str(caught.value)
    assert construct in str(caught.value)


def test_a_folder_is_one_qualified_schema_with_each_name_defined_once(
    tmp_path: Path,
) -> None:
    """Every XSD file of a version folder is read as one schema: unqualified
    local elements, a second target namespace and a name defined in two files
    are refused at once, naming the file."""
    element = '<xs:element name="thing" type="xs:string"/>'
    unqualified = _schema(
        tmp_path / "unqualified", element, attributes='targetNamespace="urn:t"'
    )
    two_namespaces = _schema(tmp_path / "two", element)
    _schema(
        two_namespaces,
        '<xs:element name="other" type="xs:string"/>',
        name="zz.xsd",
        attributes='targetNamespace="urn:z" elementFormDefault="qualified"',
    )
    twice = _schema(tmp_path / "twice", element)
    _schema(twice, element, name="zz.xsd")

    messages = []
    for folder in (unqualified, two_namespaces, twice):
        with pytest.raises(ConfigError) as caught:
            ContentModel(folder)
        messages.append(str(caught.value))

    assert (
        'thing.xsd:2: <xs:schema> without elementFormDefault="qualified"'
        in messages[0]
    )
    assert "zz.xsd:2: <xs:schema> with a second targetNamespace 'urn:z'" in messages[1]
    assert "zz.xsd:3: 'thing' is defined twice (first in thing.xsd:3)" in messages[2]


def test_inline_types_written_on_one_line_stay_apart(tmp_path: Path) -> None:
    """Two inline types of elements with the same name, on the same line of a
    minified schema, keep their own children."""
    item = (
        '<xs:element name="item"><xs:complexType><xs:sequence>'
        '<xs:element name="{leaf}" type="xs:string"/>'
        "</xs:sequence></xs:complexType></xs:element>"
    )
    holder = (
        '<xs:element name="{name}"><xs:complexType><xs:sequence>{item}'
        "</xs:sequence></xs:complexType></xs:element>"
    )
    body = (
        '<xs:element name="thing"><xs:complexType><xs:sequence>'
        + holder.format(name="p", item=item.format(leaf="x"))
        + holder.format(name="q", item=item.format(leaf="y"))
        + "</xs:sequence></xs:complexType></xs:element>"
    )
    model = ContentModel(_schema(tmp_path / "minified", body))

    p, q = model.children(model.element("thing"))
    leaves = [
        [leaf.name for leaf in model.children(model.children(holder)[0])]
        for holder in (p, q)
    ]

    assert leaves == [["x"], ["y"]]


def test_anonymous_and_derived_types_are_followed(tmp_path: Path) -> None:
    """An inline complex type, an element reference and a simple type that
    restricts another named one keep their codes, primitive and occurrence."""
    folder = _schema(
        tmp_path / "nested",
        '<xs:simpleType name="colour"><xs:restriction base="xs:token">'
        '<xs:enumeration value="red"/><xs:enumeration value="blue"/>'
        "</xs:restriction></xs:simpleType>\n"
        '<xs:simpleType name="paint"><xs:restriction base="t:colour">'
        '<xs:pattern value="[a-z]+"/></xs:restriction></xs:simpleType>\n'
        '<xs:element name="count" type="xs:positiveInteger"/>\n'
        '<xs:element name="thing"><xs:complexType><xs:sequence>'
        '<xs:element name="paint" type="t:paint" maxOccurs="3"/>'
        '<xs:element ref="t:count" minOccurs="0"/>'
        "</xs:sequence></xs:complexType></xs:element>",
    )
    model = ContentModel(folder)

    paint, count = model.children(model.element("thing"))

    assert (paint.name, paint.kind, paint.codes) == ("paint", "string", ("red", "blue"))
    assert (paint.required, paint.repeated) == (True, True)
    assert (count.tag, count.kind, count.required) == ("{urn:t}count", "decimal", False)


def test_xmlschema_is_loaded_only_when_a_document_fails() -> None:
    """A bridge that loads its mappings and validates good documents never
    imports xmlschema; the first invalid document brings it in to name the bad
    node."""
    script = """
import sys
from lxml import etree
import bridge.cli, bridge.engine.runtime, bridge.service.daemon
from bridge.interchange import Interchange, qname
from bridge.errors import ValidationError
from bridge.mapping import load_bureau
from bridge.paths import schemas_dir
load_bureau("hbj")
interchange = Interchange()
case = etree.parse(str(schemas_dir() / "examples" / "valid" / "case.xml")).getroot()
interchange.settle(case, system="t", record="r")
print("loaded:", "xmlschema" in sys.modules)
case.find(qname("channel")).text = "by-pigeon"
try:
    interchange.validate(case, system="t", record="r")
except ValidationError as exc:
    print("loaded:", "xmlschema" in sys.modules, exc.field)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    lines = [line for line in result.stdout.splitlines() if line.startswith("loaded:")]
    assert lines == ["loaded: False", "loaded: True /case/channel"]


def test_one_folder_is_read_once_however_its_path_is_written(
    tmp_path: Path,
) -> None:
    """The validator and the mapping check name the schema folder each in
    their own way (relative, through ``..``, through a link); they share one
    model of it, not one each."""
    link = tmp_path / "schemas"
    link.symlink_to(schemas_dir())
    roundabout = VERSION / ".." / "1"

    model = content_model(VERSION)

    assert content_model(str(VERSION)) is model
    assert content_model(roundabout) is model
    assert content_model(link / "interchange" / "1") is model
