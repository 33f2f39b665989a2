"""Tests of the interchange schemas v1 and their validator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from bridge.errors import ValidationError
from bridge.interchange import NS, Interchange, get, qname, set_case_number
from bridge.paths import schemas_dir

EXAMPLES = schemas_dir() / "examples" / "valid"
XSD_DIR = schemas_dir() / "interchange" / "1"
XS = "{http://www.w3.org/2001/XMLSchema}"

JAVA_CSHARP_RESERVED = frozenset(
    [
        "abstract",
        "assert",
        "boolean",
        "break",
        "byte",
        "case",
        "catch",
        "char",
        "class",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extends",
        "final",
        "finally",
        "float",
        "for",
        "goto",
        "if",
        "implements",
        "import",
        "instanceof",
        "int",
        "interface",
        "long",
        "native",
        "new",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "short",
        "static",
        "strictfp",
        "super",
        "switch",
        "synchronized",
        "this",
        "throw",
        "throws",
        "transient",
        "try",
        "void",
        "volatile",
        "while",
        "true",
        "false",
        "null",
        "var",
        "record",
        "yield",
        "sealed",
        "permits",
        "as",
        "base",
        "bool",
        "checked",
        "decimal",
        "delegate",
        "event",
        "explicit",
        "extern",
        "fixed",
        "foreach",
        "implicit",
        "in",
        "internal",
        "is",
        "lock",
        "namespace",
        "object",
        "operator",
        "out",
        "override",
        "params",
        "readonly",
        "ref",
        "sbyte",
        "sizeof",
        "stackalloc",
        "string",
        "struct",
        "typeof",
        "uint",
        "ulong",
        "unchecked",
        "unsafe",
        "ushort",
        "using",
        "virtual",
    ]
)


@pytest.fixture(scope="module")
def interchange() -> Interchange:
    return Interchange()


def _example(kind: str) -> etree._Element:
    return etree.parse(str(EXAMPLES / f"{kind}.xml")).getroot()


@pytest.mark.parametrize("kind", ["case", "stepEvent", "result"])
def test_examples_are_valid(interchange: Interchange, kind: str) -> None:
    """Each example in schemas/examples/valid validates and is recognised by kind."""
    element = _example(kind)

    interchange.validate(element, system="test", record="example")

    assert interchange.kind_of(element) == kind


def test_zoneless_time_names_field_and_record(interchange: Interchange) -> None:
    """A time without a zone offset is refused with its XPath, system and record."""
    case = _example("case")
    case.find(qname("submitTime")).text = "2024-03-04T16:20:11"

    with pytest.raises(ValidationError) as caught:
        interchange.validate(case, system="portal", record="WS1")

    error = caught.value
    assert (error.system, error.record, error.field) == (
        "portal",
        "WS1",
        "/case/submitTime",
    )
    assert "2024-03-04T16:20:11" in error.message


def test_missing_element_says_what_was_expected(interchange: Interchange) -> None:
    """A case without its applicant is refused naming the node found instead."""
    case = _example("case")
    case.remove(case.find(qname("applicant")))

    with pytest.raises(ValidationError) as caught:
        interchange.validate(case, system="center", record="0999")

    assert caught.value.field == "/case/submitTime"
    assert "applicant" in caught.value.message


def test_bad_code_in_repeated_element_has_position(interchange: Interchange) -> None:
    """A bad digest in the second material is located with its position."""
    case = _example("case")
    materials = case.findall(f"{qname('materials')}/{qname('material')}")
    materials[1].find(qname("sha256")).text = "not-hex"

    with pytest.raises(ValidationError) as caught:
        interchange.validate(case, system="portal", record="WS1")

    assert caught.value.field == "/case/materials/material[2]/sha256"


def test_personal_value_is_not_echoed(interchange: Interchange) -> None:
    """An invalid ID number is reported without showing the number itself."""
    case = _example("case")
    case.find(f"{qname('applicant')}/{qname('idNumber')}").text = "3709 9919 8506"

    with pytest.raises(ValidationError) as caught:
        interchange.validate(case, system="center", record="0999")

    assert caught.value.field == "/case/applicant/idNumber"
    assert "3709" not in str(caught.value)
    assert "personal value of 14 characters" in caught.value.message


def test_foreign_root_is_refused(interchange: Interchange) -> None:
    """A document outside the interchange namespace is not a known kind."""
    with pytest.raises(ValidationError) as caught:
        interchange.validate(etree.Element("case"), system="oa", record="1")

    assert caught.value.field == "/"
    assert caught.value.system == "oa"


def test_set_case_number_inserts_first_and_stays_valid(
    interchange: Interchange,
) -> None:
    """set_case_number puts caseNumber at its schema position, then replaces it."""
    case = etree.parse(str(EXAMPLES / "case.xml")).getroot()
    case.remove(case.find(qname("caseNumber")))

    set_case_number(case, "0999240000200")
    interchange.validate(case, system="test", record="x")
    set_case_number(case, "0999240000201")

    assert case[0].tag == qname("caseNumber")
    assert get(case, "caseNumber") == "0999240000201"
    assert len(case.findall(qname("caseNumber"))) == 1


def test_get_reads_nested_paths_and_absent_ones() -> None:
    """get reads a nested path in the implied namespace and gives "" when absent."""
    case = _example("case")

    assert get(case, "matter/code") == "370999001"
    assert get(case, "applicant/name") == "示例置业有限公司"
    assert get(case, "promise/nothing") == ""


def test_settle_restores_schema_order(interchange: Interchange) -> None:
    """settle reorders children that were built out of sequence."""
    case = _example("case")
    case.append(case.find(qname("channel")))
    applicant = case.find(qname("applicant"))
    applicant.insert(0, applicant.find(qname("mobile")))

    interchange.settle(case, system="test", record="x")

    interchange.validate(case, system="test", record="x")
    assert etree.QName(case[2]).localname == "channel"


def test_settle_orders_what_the_schema_refuses_and_leaves_the_rest(
    interchange: Interchange,
) -> None:
    """settle validates a document; one out of order is put in order first, one
    in order is left as written, and one invalid in any order is refused."""
    ordered = _example("case")
    written = etree.tostring(ordered)
    interchange.settle(ordered, system="test", record="x")
    assert etree.tostring(ordered) == written

    shuffled = _example("case")
    shuffled.append(shuffled.find(qname("channel")))
    applicant = shuffled.find(qname("applicant"))
    applicant.insert(0, applicant.find(qname("mobile")))
    interchange.settle(shuffled, system="test", record="x")
    assert etree.tostring(shuffled) == written

    broken = _example("case")
    channel = broken.find(qname("channel"))
    channel.text = "by-pigeon"
    broken.append(channel)
    with pytest.raises(ValidationError) as caught:
        interchange.settle(broken, system="center", record="r-1")
    assert caught.value.system == "center"
    assert caught.value.record == "r-1"
    assert caught.value.field == "/case/channel"


def _names(path: Path) -> list[str]:
    tree = etree.parse(str(path))
    return [
        node.get("name")
        for node in tree.iter(f"{XS}element", f"{XS}complexType", f"{XS}simpleType")
        if node.get("name")
    ]


@pytest.mark.parametrize("name", ["common", "case", "stepEvent", "result"])
def test_schema_names_avoid_reserved_words(name: str) -> None:
    """No element or type name is a Java or C# keyword, except the fixed root case."""
    names = _names(XSD_DIR / f"{name}.xsd")

    clashes = {n for n in names if n in JAVA_CSHARP_RESERVED} - {"case"}

    assert names
    assert clashes == set()
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", n) for n in names)


@pytest.mark.parametrize("name", ["common", "case", "stepEvent", "result"])
def test_schema_conventions(name: str) -> None:
    """Patterns use [0-9] not \\d, times are zoned, every declaration has zh and en."""
    tree = etree.parse(str(XSD_DIR / f"{name}.xsd"))

    patterns = [p.get("value") for p in tree.iter(f"{XS}pattern")]
    plain_times = [
        e.get("name")
        for e in tree.iter(f"{XS}element")
        if e.get("type") == "xs:dateTime"
    ]
    undocumented = [
        node.get("name")
        for node in tree.iter(f"{XS}element", f"{XS}simpleType", f"{XS}complexType")
        if node.get("name")
        and {
            d.get("{http://www.w3.org/XML/1998/namespace}lang")
            for d in node.iterfind(f"{XS}annotation/{XS}documentation")
        }
        != {"zh", "en"}
    ]

    assert not [p for p in patterns if "\\d" in p]
    assert plain_times == []
    assert undocumented == []
    assert tree.getroot().get("targetNamespace") == NS


def test_code_tables_annotate_every_value() -> None:
    """Every enumeration value of a code table carries a Chinese and English gloss."""
    tree = etree.parse(str(XSD_DIR / "common.xsd"))

    values = list(tree.iter(f"{XS}enumeration"))
    glossed = [
        v for v in values if len(v.findall(f"{XS}annotation/{XS}documentation")) == 2
    ]

    assert len(values) > 20
    assert glossed == values


def test_a_limit_longer_than_ten_years_is_refused_without_counting_it(
    interchange: Interchange,
) -> None:
    """A promised limit past the due-date rule's reach is a problem at the
    limit, named at once, instead of a walk through the calendar to year 9999
    (which took minutes and ended in an OverflowError)."""
    case = _example("case")
    case.find(f"{qname('promise')}/{qname('limit')}").text = "13800000000"

    with pytest.raises(ValidationError) as caught:
        interchange.validate(case, system="center", record="r-9")

    assert caught.value.field == "/case/promise/limit"
    assert caught.value.record == "r-9"
    assert "longer than the due-date rule counts (3650)" in str(caught.value)

    case.find(f"{qname('promise')}/{qname('limit')}").text = "3650"
    with pytest.raises(ValidationError) as counted:
        interchange.validate(case, system="center", record="r-9")
    assert counted.value.field == "/case/promise/dueDate"  # counted, then compared


def test_attachment_content_beyond_ascii_is_not_valid_base64(
    interchange: Interchange,
) -> None:
    """Full-width characters in an inline attachment's content are refused
    as a problem at the content, not as a bare ValueError from the decoder."""
    attachment = _example("attachment")
    attachment.find(qname("content")).text = "Ｚ２９２"

    with pytest.raises(ValidationError) as caught:
        interchange.validate(attachment, system="portal", record="a-1")

    assert caught.value.field == "/attachment/content"
    assert "not valid base64" in str(caught.value)
