"""Tests of the mapping-file loader, the converters and the hbj mappings."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from lxml import etree

from bridge.errors import ConfigError, MappingError, ValidationError
from bridge.interchange import get
from bridge.mapping import BureauMapping, load_bureau, mask, run_samples
from bridge.mapping.converters import (
    CodeTable,
    from_zoned,
    halfwidth,
    join,
    split,
    to_zoned,
)
from bridge.paths import mappings_dir

HBJ = mappings_dir() / "hbj"
SAMPLES = HBJ / "samples"
SAMPLE_NAMES = sorted(path.parent.name for path in SAMPLES.glob("*/sample.yaml"))


@pytest.fixture(scope="module")
def hbj() -> BureauMapping:
    return load_bureau("hbj")


def _sample_input(name: str) -> etree._Element:
    return etree.parse(str(SAMPLES / name / "input.xml")).getroot()


def _copy_bureau(tmp_path: Path) -> Path:
    target = tmp_path / "hbj"
    shutil.copytree(HBJ, target, ignore=shutil.ignore_patterns("samples"))
    return target


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [number for number, line in enumerate(lines, 1) if text in line][-1]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_golden_sample(hbj: BureauMapping, name: str) -> None:
    """Each hand-written hbj sample maps to exactly its expected output."""
    results = {result.name: result for result in run_samples(hbj, SAMPLES)}

    result = results[name]

    assert result.ok, result.problem


def test_there_is_a_sample_for_every_kind(hbj: BureauMapping) -> None:
    """Every inbound and outbound kind of every hbj file has at least one sample."""
    kinds = {
        (system, direction, kind)
        for system, mapping in hbj.systems.items()
        for direction, specs in (
            ("inbound", mapping.inbound),
            ("outbound", mapping.outbound),
        )
        for kind in specs
    }
    sampled = set()
    for name in SAMPLE_NAMES:
        meta = yaml.safe_load(
            (SAMPLES / name / "sample.yaml").read_text(encoding="utf-8")
        )
        sampled.add((meta["system"], meta["direction"], meta["kind"]))

    assert kinds - sampled == set()
    assert len(kinds) == 15


def test_withdrawn_filing_yields_a_withdrawal(hbj: BureauMapping) -> None:
    """A withdrawn portal filing (status 9) maps to a withdrawal, not a case."""
    produced = hbj.inbound("portal", "filing", _sample_input("portal-filing-withdrawn"))

    assert produced.get("case", []) == []
    assert len(produced["withdrawal"]) == 1
    assert get(produced["withdrawal"][0], "filingId") == "WS20240305000131"
    assert get(produced["withdrawal"][0], "requestedBy") == "applicant"


def test_online_case_has_no_number_until_registered(hbj: BureauMapping) -> None:
    """An online filing becomes a case with a filing id and no case number."""
    produced = hbj.inbound("portal", "filing", _sample_input("portal-filing-online"))

    case = produced["case"][0]
    assert get(case, "caseNumber") == ""
    assert get(case, "filingId") == "WS20240305000123"
    assert get(case, "channel") == "online"


def test_invalid_record_raises_validation_error(hbj: BureauMapping) -> None:
    """A value the schema refuses is a ValidationError with system, record, field."""
    record = _sample_input("center-window-case")
    record.find("XZQHDM").text = "3709"

    with pytest.raises(ValidationError) as caught:
        hbj.inbound("center", "windowCase", record)

    error = caught.value
    assert (error.system, error.record, error.field) == (
        "center",
        "0999240000123",
        "/case/region",
    )


def test_missing_required_value_names_native_field_and_line(hbj: BureauMapping) -> None:
    """A missing required native value is a MappingError naming file:line."""
    record = _sample_input("center-window-case")
    record.remove(record.find("SXBM"))
    line = _line_of(HBJ / "center.yaml", "matter/code: {from: SXBM")

    with pytest.raises(MappingError) as caught:
        hbj.inbound("center", "windowCase", record)

    error = caught.value
    assert (error.system, error.record, error.field) == (
        "center",
        "0999240000123",
        "SXBM",
    )
    assert f"center.yaml:{line}" in error.message


def test_unknown_code_is_a_mapping_error(hbj: BureauMapping) -> None:
    """A code missing from its table is refused naming the table and the code."""
    record = _sample_input("center-window-case")
    record.find("SQRLX").text = "8"

    with pytest.raises(MappingError) as caught:
        hbj.inbound("center", "windowCase", record)

    assert caught.value.field == "SQRLX"
    assert "code '8' is not in table 'applicantKind'" in caught.value.message


def test_bad_time_is_a_mapping_error_with_formats(hbj: BureauMapping) -> None:
    """A native time in no listed format is refused naming the accepted formats."""
    record = _sample_input("center-window-case")
    record.find("SBSJ").text = "04/03/2024 09:10"

    with pytest.raises(MappingError) as caught:
        hbj.inbound("center", "windowCase", record)

    assert caught.value.field == "SBSJ"
    assert "yyyy-MM-dd HH:mm:ss" in caught.value.message


def test_outbound_missing_value_names_interchange_field(hbj: BureauMapping) -> None:
    """An outbound message missing a required interchange value names that path."""
    case = etree.parse(str(SAMPLES / "center-acceptance" / "case.xml")).getroot()
    acceptance = case.find("{urn:govbridge:interchange:1}acceptance")
    case.remove(acceptance)

    with pytest.raises(MappingError) as caught:
        hbj.outbound("center", "acceptance", {"case": case})

    assert caught.value.field == "case/acceptance/time"
    assert caught.value.record == "0999240000124"


def test_unknown_system_or_kind_is_a_mapping_error(hbj: BureauMapping) -> None:
    """Asking for a system or kind the bureau does not map is a MappingError."""
    with pytest.raises(MappingError):
        hbj.inbound("forestry", "flow", etree.Element("x"))
    with pytest.raises(MappingError):
        hbj.outbound("oa", "suspension", {})


def test_personal_fields_are_classified(hbj: BureauMapping) -> None:
    """The center file classifies the applicant's ID number and mobile as personal."""
    personal = hbj.personal_fields("center")

    assert personal["SQRZJHM"] == "id_number"
    assert personal["LXRSJ"] == "mobile"
    assert personal["applicant/name"] == "name"


@pytest.mark.parametrize(
    ("edit", "needle", "message"),
    [
        (
            ("matter/name: {from: SXMC", "matter/nmae: {frm: SXMC"),
            "matter/nmae",
            "unknown key 'frm'",
        ),
        (
            ("code: applicantKind, required", "code: nosuchTable, required"),
            "nosuchTable",
            "unknown code table",
        ),
        (
            (
                'date: ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.S"]\n',
                'date: ["dd.MM.yyyy"]\n',
            ),
            "dd.MM.yyyy",
            "unknown date format",
        ),
        (
            ("  acceptanceStatus:", "  applicantKind:"),
            "  applicantKind:",
            "appears twice",
        ),
        (
            ("personal: id_number", "personal: passport"),
            "personal: passport",
            "personal must be",
        ),
    ],
)
def test_broken_mapping_file_reports_file_and_line(
    tmp_path: Path, edit: tuple[str, str], needle: str, message: str
) -> None:
    """Each kind of mistake in a mapping file is a ConfigError naming file:line."""
    folder = _copy_bureau(tmp_path)
    path = folder / "center.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(*edit, 1), encoding="utf-8"
    )
    line = _line_of(path, needle.splitlines()[0])

    with pytest.raises(ConfigError) as caught:
        load_bureau("hbj", tmp_path)

    assert f"center.yaml:{line}:" in caught.value.message
    assert message in caught.value.message


def test_yaml_syntax_error_reports_line(tmp_path: Path) -> None:
    """A file that is not YAML at all is a ConfigError with the line of the problem."""
    folder = _copy_bureau(tmp_path)
    (folder / "oa.yaml").write_text(
        "system: oa\nbureau: hbj\ncodes: [unclosed\n", encoding="utf-8"
    )

    with pytest.raises(ConfigError) as caught:
        load_bureau("hbj", tmp_path)

    assert "oa.yaml:4" in caught.value.message


def test_missing_bureau_folder_is_a_config_error(tmp_path: Path) -> None:
    """A bureau without mapping files cannot be loaded."""
    with pytest.raises(ConfigError) as caught:
        load_bureau("lyj", tmp_path)

    assert "no mapping files" in caught.value.message


def test_codes_stay_text() -> None:
    """Codes with leading zeros survive loading: '01' is not the number 1."""
    table = load_bureau("hbj").systems["portal"].codes["certKind"]

    assert table.to_interchange("01") == "creditCode"
    assert table.to_native("creditCode") == "01"


def test_to_zoned_tries_listed_formats_in_order() -> None:
    """Local times in listed formats become xs:dateTime with the +08:00 offset."""
    formats = ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.S", "yyyy年MM月dd日"]

    assert (
        to_zoned("2024-03-04 09:25:31.0", formats, "Asia/Shanghai")
        == "2024-03-04T09:25:31+08:00"
    )
    assert (
        to_zoned("2004年10月18日", formats, "Asia/Shanghai")
        == "2004-10-18T00:00:00+08:00"
    )
    with pytest.raises(ValueError):
        to_zoned("2024/03/04 09:25:31", formats, "Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "zoned"),
    [
        ("2024-03-04 09:25:31", "2024-03-04T09:25:31+08:00"),
        ("2024-3-4 9:25:31", "2024-03-04T09:25:31+08:00"),  # one-digit forms
        ("2024-02-30 09:25:31", None),  # no such day
        ("2024-03-04 24:00:00", None),
        ("２０２４-03-04 09:25:31", "2024-03-04T09:25:31+08:00"),  # full-width
        (" 2024-03-04 09:25:31", None),
    ],
)
def test_plain_times_read_as_strptime_reads_them(text: str, zoned: str | None) -> None:
    """The common format's shortcut accepts and refuses what strptime does."""
    formats = ["yyyy-MM-dd HH:mm:ss"]
    try:
        expected: str | None = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=ZoneInfo("Asia/Shanghai")
        ).isoformat(timespec="seconds")
    except ValueError:
        expected = None

    if zoned is None:
        with pytest.raises(ValueError):
            to_zoned(text, formats, "Asia/Shanghai")
    else:
        assert to_zoned(text, formats, "Asia/Shanghai") == zoned
    assert expected == zoned


def test_from_zoned_converts_other_offsets_to_local_time() -> None:
    """A UTC instant is written as Shanghai local time; a zone-less one is refused."""
    assert (
        from_zoned("2024-03-04T17:30:00Z", "yyyy-MM-dd HH:mm:ss", "Asia/Shanghai")
        == "2024-03-05 01:30:00"
    )
    assert (
        from_zoned("2024-03-05T01:30:00+08:00", "yyyyMMdd", "Asia/Shanghai")
        == "20240305"
    )
    with pytest.raises(ValueError):
        from_zoned("2024-03-05T01:30:00", "yyyy-MM-dd HH:mm:ss", "Asia/Shanghai")


def test_halfwidth_split_join() -> None:
    """Full-width forms and ideographic spaces become ASCII; split and join work."""
    assert halfwidth("３７０９９９\u3000Ａ１") == "370999 A1"
    assert split("申请书;监测报告; ;", ";") == ["申请书", "监测报告"]
    assert join(["申请书", "", "监测报告"], ";", trailing=True) == "申请书;监测报告;"
    assert join([], ";", trailing=True) == ""


def test_code_table_both_ways() -> None:
    """Going back the first native code wins unless overridden; otherwise fills gaps."""
    table = CodeTable(
        "t", {"0": "window", "01": "window", "1": "online"}, {"online": "9"}
    )
    lenient = CodeTable("r", {"申请人撤回": "withdrawn"}, otherwise="")

    assert table.to_native("window") == "0"
    assert table.to_native("online") == "9"
    assert table.to_interchange("01") == "window"
    assert lenient.to_native("approved") == ""
    with pytest.raises(KeyError):
        table.to_interchange("7")


@pytest.mark.parametrize(
    ("value", "kind", "masked"),
    [
        ("370999198506120044", "id_number", "3709**********0044"),
        ("13800000000", "mobile", "138****0000"),
        ("周测试", "name", "周**"),
        ("王", "name", "*"),
        ("", "mobile", ""),
        ("secret", "other", "******"),
    ],
)
def test_mask(value: str, kind: str, masked: str) -> None:
    """mask hides the identifying middle of personal values, keeping their length."""
    assert mask(value, kind) == masked


def test_paths_written_through_the_same_parents_build_the_tree_searches_build() -> None:
    """Writes that remember the elements they resolved (one fill) give the tree
    that writes searching every step give: a column per predicate, repeated
    values as new last elements, a later single write on the first of them."""
    from bridge.mapping._engine import _write, _Written

    writes: list[tuple[str, list[str]]] = [
        ("@version", ["2.0"]),
        ("summary/@name", ["formmain"]),
        ("values/column[@name='甲']/value", ["1"]),
        ("values/column[@name='乙']/value", ["2"]),
        ("values/column[@name='甲']/note", ["first"]),
        ("rows/row/name", ["a", "b", "c"]),
        ("rows/row/name", ["again"]),
        ("rows/row/size", ["9"]),
        ("values/column[@name='丙'][@kind='x']/value", ["3"]),
    ]
    first = list(writes)

    def build(remember: bool) -> bytes:
        root = etree.Element("formExport")
        made = _Written(root) if remember else None
        for path, values in writes:
            _write(root, path, values, interchange=False, made=made)
        return etree.tostring(root, encoding="utf-8")

    assert build(remember=True) == build(remember=False)
    for changed in (
        [("a[@k='1']/v", ["x"]), ("a[@k='1']/@k", ["2"]), ("a[@k='1']/w", ["y"])],
        [
            ("a/v", ["x"]),
            ("a[@k='2']/w", ["y"]),
            ("a/@k", ["2"]),
            ("a[@k='2']/z", ["z"]),
        ],
        # a fill on an empty element searches nothing until a write leaves
        # elements that no plain path records
        [("name", ["a", "b"]), ("name", ["again"]), ("size", ["1"])],
        [("a[@k='1']/v", ["x"]), ("a/w", ["y"]), ("a", ["t"])],
        [("a[@k='1']", ["x"]), ("a", ["y"])],
        [("a/v", ["x"]), ("a/@k", ["2"]), ("a", ["t"]), ("a/w", ["y"])],
        [("a/b", ["1"]), ("a", ["t"]), ("a/c", ["2"]), ("d", ["3"])],
        [("a/b", ["1", "2"]), ("a/b", ["3"]), ("a/c/d", ["4"])],
    ):
        writes[:] = changed  # an attribute written changes what a predicate finds
        assert build(remember=True) == build(remember=False)
    writes[:] = first
    assert build(remember=True).decode() == (
        '<formExport version="2.0"><summary name="formmain"/><values>'
        '<column name="甲"><value>1</value><note>first</note></column>'
        '<column name="乙"><value>2</value></column>'
        '<column name="丙" kind="x"><value>3</value></column></values>'
        "<rows><row><name>again</name><name>b</name><name>c</name>"
        "<size>9</size></row></rows></formExport>"
    )


def test_reads_of_a_record_give_what_element_path_finds() -> None:
    """The reads one record shares (its form's columns grouped by name) give
    what ElementPath finds for the same path: every match in document order,
    none for an absent name, attributes and repeated leaves included, from
    the root and from an item below it."""
    from bridge.mapping._engine import _native_reader, _RecordReads

    record = etree.fromstring(
        "<formExport><values>"
        '<column name="甲"><value>1</value></column>'
        '<column name="乙" kind="k"><value>2</value><value>3</value></column>'
        "<column><value>no name</value></column>"
        '<column name="甲"><value>4</value></column>'
        '</values><rows><row id="r1"><cell name="甲">5</cell></row></rows>'
        "</formExport>"
    )
    item = record.find("rows/row")
    assert item is not None
    read_root = _native_reader(record, _RecordReads(record))
    read_item = _native_reader(item, _RecordReads(record))

    def expected(base: etree._Element, path: str) -> list[str]:
        elements_path, _, attribute = path.lstrip("/").partition("/@")
        found = base.findall(elements_path)
        if attribute:
            return [element.get(attribute, "") for element in found]
        return [element.text or "" for element in found]

    for path in (
        "values/column[@name='甲']/value",
        "/values/column[@name='乙']/value",
        "values/column[@name='乙']/@kind",
        "values/column[@name='丙']/value",
        "values/column[@kind='k']",
        "values/column/value",
        'values/column[@name="甲"]/value',
    ):
        assert read_root(path) == expected(record, path), path
        assert read_root(path) == expected(record, path), path  # read again, kept
    assert read_root("values/column[@name='甲']/value") == ["1", "4"]
    assert read_item("cell[@name='甲']") == ["5"] == expected(item, "cell[@name='甲']")
    assert read_item("/values/column[@name='乙']/value") == ["2", "3"]
