"""The center simulator, driven over HTTP through its SOAP side and admin API only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

from bridge.sim.center import (
    CENTER_NS,
    ENDPOINT,
    WSDL_FILE,
    CenterSimulator,
    normalise_time,
    parse_time,
)

PROLOG = '<?xml version="1.0" encoding="utf-8"?>'
MATTER = "370999001"


class Center:
    """A zeep client on the simulator plus the admin API, for the tests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = zeep.Client(f"{url}{ENDPOINT}?wsdl")
        self.token = self.new_token()

    def new_token(self) -> str:
        answer = etree.fromstring(
            self.client.service.getXmlToken("bridge", "bridge-secret").encode()
        )
        return str(answer.findtext("TOKEN"))

    def call(self, operation: str, xml: str, token: str | None = None) -> Any:
        raw = getattr(self.client.service, operation)(token or self.token, xml)
        assert raw.startswith(PROLOG)
        return etree.fromstring(raw[len(PROLOG) :].encode("utf-8"))

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.url}/admin{path}"
        answer = requests.request(method, url, timeout=5, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def case(self, number: str) -> dict[str, Any]:
        cases = self.admin("GET", "/state")["cases"]
        return next(case for case in cases if case["SBLSH_SHORT"] == number)

    def requests(self, operation: str) -> list[dict[str, Any]]:
        return self.admin("GET", f"/requests?operation={operation}")["requests"]


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CenterSimulator]:
    """A center simulator of this module's own, so config changes stay here."""
    path: Path = tmp_path_factory.mktemp("center") / "c.sqlite"
    sim = CenterSimulator(path).start()
    yield sim
    sim.stop()


@pytest.fixture
def center(simulator: CenterSimulator) -> Center:
    """An empty register and a client holding a fresh token."""
    requests.post(f"{simulator.url}/admin/reset", timeout=5).raise_for_status()
    return Center(simulator.url)


def doc(number: str, body: str = "", sxbm: str = MATTER) -> str:
    return (
        f"{PROLOG}<APPROVEDATAINFO><SBLSH_SHORT>{number}</SBLSH_SHORT>"
        f"<SXBM>{sxbm}</SXBM>{body}</APPROVEDATAINFO>"
    )


def registration(filing: str) -> str:
    return (
        f"{PROLOG}<APPROVEDATAINFO><WSSBLSH>{filing}</WSSBLSH><SPSHENQIN>"
        f"<SXBM>{MATTER}</SXBM><SBXMMC>翠湖花园二期住宅项目</SBXMMC><SQRLX>2</SQRLX>"
        "<SQRMC>示例置业有限公司</SQRMC><SQRZJLX>1</SQRZJLX>"
        "<SQRZJHM>91370999MA3C0000X0</SQRZJHM><LXRXM>周测试</LXRXM>"
        "<LXRSJ>13800000000</LXRSJ><SBSJ>2024/3/4 16:20:11.0</SBSJ>"
        "<WSSBQD>0</WSSBQD><BZ>null</BZ></SPSHENQIN>"
        "<SPQIYE><ORGNAME>示例置业有限公司</ORGNAME></SPQIYE></APPROVEDATAINFO>"
    )


SHOULI = (
    "<SHOULI><YWSLSJ>2024-03-05 10:02:11</YWSLSJ><YWSLRMC>吴示范</YWSLRMC>"
    "<YWSLRBM>U0007</YWSLRBM><YWSLZT>1</YWSLZT><YWSLYJ>予以受理</YWSLYJ>"
    "<YWSLBMMC>市生态环境局</YWSLBMMC><YWSLBMBM>11370999MB00001747</YWSLBMBM></SHOULI>"
)


def step(serial: str, code: str = "act2") -> str:
    return (
        f"<GDBSSPCL><SPHJXH>{serial}</SPHJXH><SPHJDM>{code}</SPHJDM>"
        "<SPHJMC>审核</SPHJMC><SPRXM>赵一鸣</SPRXM><SPRZWDM/><SPRZWMC>无</SPRZWMC>"
        "<SPYJ>同意</SPYJ><SPSJ>2024年3月6日 15:40:00</SPSJ><SPHJZTDM>2</SPHJZTDM>"
        "</GDBSSPCL>"
    )


SUSPEND_START = (
    "<SUSPENDTYPE>0</SUSPENDTYPE><SPTEBIESHENQING><XH>1</XH><TBCXZL>B</TBCXZL>"
    "<TBCXZLMC>现场核查</TBCXZLMC><TBCXKSRQ>20240307090000</TBCXKSRQ>"
    "<SQNR>暂停计时</SQNR><TBCXSX>5</TBCXSX><TBCXSXDW>G</TBCXSXDW></SPTEBIESHENQING>"
)
SUSPEND_END = (
    "<SUSPENDTYPE>1</SUSPENDTYPE><SPTEBIEJIEGUO><XH>1</XH><TBCXJG>核查通过</TBCXJG>"
    "<TBCXJSRQ>2024-03-11 16:00:00</TBCXJSRQ></SPTEBIEJIEGUO>"
)
FINISH = (
    "<SPBANJIE><BJBMMC>市生态环境局</BJBMMC><SPRXM>赵一鸣</SPRXM><BJJGDM>6</BJJGDM>"
    "<BJJGMS>准予许可</BJJGMS><ZFHTHYY/><ZJBH>SL-2024-0001</ZJBH>"
    "<BJSJ>2024-03-12 11:20:00</BJSJ></SPBANJIE>"
)


def register(center: Center, filing: str) -> str:
    answer = center.call("registerOnlineCase", registration(filing))
    return str(answer.findtext("DATA/SBLSH_SHORT"))


def test_wsdl_loads_in_zeep_with_every_operation() -> None:
    """The bundled WSDL loads in zeep and binds the eight operations."""
    client = zeep.Client(str(WSDL_FILE))

    binding = client.wsdl.bindings[f"{{{CENTER_NS}}}ApproveServiceSoapBinding"]

    assert sorted(binding._operations) == [
        "getApplyInfo", "getSuspendInfo", "getXmlToken", "queryWindowCases",
        "receiveBusinessAccept", "receiveBusinessFinish", "receiveCourseInfo",
        "registerOnlineCase",
    ]  # fmt: skip


def test_served_wsdl_points_at_the_simulator(center: Center) -> None:
    """?wsdl rewrites soap:address to the simulator's own URL."""
    text = requests.get(f"{center.url}{ENDPOINT}?wsdl", timeout=5).text

    assert f'location="{center.url}{ENDPOINT}"' in text


def test_token_is_32_hex_in_data_and_token(center: Center) -> None:
    """getXmlToken answers the same 32-hex token in DATA and TOKEN."""
    raw = center.client.service.getXmlToken("bridge", "bridge-secret")
    answer = etree.fromstring(raw[len(PROLOG) :].encode())

    assert answer.findtext("STATUS") == "200"
    assert len(answer.findtext("TOKEN")) == 32
    assert answer.findtext("DATA") == answer.findtext("TOKEN")


def test_bad_credentials_get_no_token(center: Center) -> None:
    """Wrong key or secret answers STATUS 300 and no TOKEN."""
    raw = center.client.service.getXmlToken("bridge", "wrong")
    answer = etree.fromstring(raw[len(PROLOG) :].encode())

    assert answer.findtext("STATUS") == "300"
    assert answer.find("TOKEN") is None


def test_bad_token_is_refused_and_logged(center: Center) -> None:
    """A token the center never issued answers STATUS 300 接口令牌不存在."""
    answer = center.call("registerOnlineCase", registration("WS-BAD"), token="0" * 32)

    assert answer.findtext("STATUS") == "300"
    assert answer.findtext("DESC") == "接口令牌不存在"
    assert center.requests("registerOnlineCase")[0]["outcome"] == "error:接口令牌不存在"
    assert center.admin("GET", "/state")["cases"] == []


def test_token_expires_after_its_ttl(center: Center) -> None:
    """A token stops working once the clock passes token_ttl_seconds."""
    center.admin("POST", "/config", json={"token_ttl_seconds": 60})
    token = center.new_token()
    center.admin("POST", "/clock", json={"advance_seconds": 61})

    answer = center.call("registerOnlineCase", registration("WS-TTL"), token=token)

    center.admin("POST", "/clock", json={"offset_seconds": 0})
    assert answer.findtext("DESC") == "接口令牌不存在"


def test_every_operation_over_soap(center: Center) -> None:
    """Register, accept, step, suspend, resume and finish leave their marks."""
    number = register(center, "WS-ALL")
    results = [
        center.call("receiveBusinessAccept", doc(number, SHOULI)),
        center.call("receiveCourseInfo", doc(number, step("1", "act1"))),
        center.call("receiveCourseInfo", doc(number, step("2"))),
        center.call("getSuspendInfo", doc(number, SUSPEND_START)),
        center.call("getSuspendInfo", doc(number, SUSPEND_END)),
        center.call("receiveBusinessFinish", doc(number, FINISH)),
    ]

    state = center.case(number)
    assert [r.findtext("STATUS") for r in results] == ["200"] * 6
    assert {r.findtext("DESC") for r in results} == {"请求成功"}
    assert state["WSSBLSH"] == "WS-ALL" and state["TJFS"] == "1"
    assert state["application"]["SBSJ"] == "2024-03-04 16:20:11"
    assert state["application"]["BZ"] == ""
    assert state["acceptance"]["SLZTDM"] == "1"
    assert state["acceptance"]["SLSJ"] == "2024-03-05 10:02:11"
    assert [s["SPHJXH"] for s in state["steps"]] == ["1", "2"]
    assert state["steps"][1]["SPSJ"] == "2024-03-06 15:40:00"
    assert state["steps"][1]["SPRZWMC"] == ""
    assert state["suspensions"][0]["start"]["TBCXKSRQ"] == "2024-03-07 09:00:00"
    assert state["suspensions"][0]["end"]["TBCXJG"] == "核查通过"
    assert state["completion"]["BJJGDM"] == "6"
    logged = {
        operation: [
            r["outcome"] for r in center.requests(operation) if r["key"] == number
        ]
        for operation in (
            "receiveBusinessAccept",
            "receiveCourseInfo",
            "getSuspendInfo",
            "receiveBusinessFinish",
        )
    }
    assert logged == {
        "receiveBusinessAccept": ["done"],
        "receiveCourseInfo": ["done", "done"],
        "getSuspendInfo": ["done", "done"],
        "receiveBusinessFinish": ["done"],
    }


def test_write_operations_are_logged_with_body(center: Center) -> None:
    """Each write lands in the request log with key, outcome, status and body."""
    number = register(center, "WS-LOG")
    center.call("receiveBusinessAccept", doc(number, SHOULI))
    center.call("receiveBusinessAccept", doc(number, SHOULI))
    center.call("receiveCourseInfo", doc(number, step("1")))

    accepts = center.requests("receiveBusinessAccept")
    steps = center.requests("receiveCourseInfo")
    assert center.requests("registerOnlineCase")[0]["key"] == "WS-LOG"
    assert [(r["key"], r["outcome"], r["status"]) for r in accepts] == [
        (number, "done", "200"),
        (number, "already", "200"),
    ]
    assert "<YWSLRMC>吴示范</YWSLRMC>" in accepts[0]["body"]
    assert steps[0]["outcome"] == "done"


def test_case_number_is_thirteen_digits(center: Center) -> None:
    """The center numbers cases 0999 + yy + a 7-digit serial."""
    first = register(center, "WS-N1")
    second = register(center, "WS-N2")

    assert len(first) == 13 and first.startswith("0999") and first.isdigit()
    assert int(second) == int(first) + 1


def test_registering_twice_returns_one_number(center: Center) -> None:
    """A repeated registration answers the same number, already done, both logged."""
    first = center.call("registerOnlineCase", registration("WS-TWICE"))
    second = center.call("registerOnlineCase", registration("WS-TWICE"))

    number = first.findtext("DATA/SBLSH_SHORT")
    assert number is not None and len(number) == 13 and number.isdigit()
    assert second.findtext("DATA/SBLSH_SHORT") == number
    assert second.findtext("DESC").startswith("当前业务已")
    assert second.findtext("STATUS") == "200"
    assert len(center.admin("GET", "/state")["cases"]) == 1
    assert [r["outcome"] for r in center.requests("registerOnlineCase")] == [
        "done",
        "already",
    ]


def test_already_done_status_is_configurable(center: Center) -> None:
    """With already_done_status 300 a repeat answers STATUS 300, DESC 当前业务已…."""
    center.admin("POST", "/config", json={"already_done_status": 300})
    number = register(center, "WS-300")
    again = center.call("registerOnlineCase", registration("WS-300"))

    assert again.findtext("STATUS") == "300"
    assert again.findtext("DESC") == "当前业务已登记"
    assert again.findtext("DATA/SBLSH_SHORT") == number


def test_step_before_acceptance_is_refused(center: Center) -> None:
    """A step on a case not yet accepted answers STATUS 300."""
    number = register(center, "WS-EARLY")

    answer = center.call("receiveCourseInfo", doc(number, step("1")))

    assert answer.findtext("STATUS") == "300"
    assert "未受理" in answer.findtext("DESC")
    assert center.case(number)["steps"] == []


def test_suspension_end_without_start_is_refused(center: Center) -> None:
    """A suspension end with no open start of that XH answers the known DESC."""
    number = register(center, "WS-SUSP")
    center.call("receiveBusinessAccept", doc(number, SHOULI))

    answer = center.call("getSuspendInfo", doc(number, SUSPEND_END))

    assert answer.findtext("STATUS") == "300"
    assert answer.findtext("DESC") == "该业务未处于特别程序申请状态"


def test_nothing_is_taken_after_completion(center: Center) -> None:
    """After completion a new step or suspension is refused; a replay is not."""
    number = register(center, "WS-DONE")
    center.call("receiveBusinessAccept", doc(number, SHOULI))
    center.call("receiveCourseInfo", doc(number, step("1")))
    center.call("receiveBusinessFinish", doc(number, FINISH))

    new_step = center.call("receiveCourseInfo", doc(number, step("2")))
    suspension = center.call("getSuspendInfo", doc(number, SUSPEND_START))
    replay = center.call("receiveCourseInfo", doc(number, step("1")))
    finish_again = center.call("receiveBusinessFinish", doc(number, FINISH))

    assert new_step.findtext("STATUS") == "300"
    assert not new_step.findtext("DESC").startswith("当前业务已")
    assert suspension.findtext("STATUS") == "300"
    assert replay.findtext("DESC").startswith("当前业务已")
    assert finish_again.findtext("DESC") == "当前业务已办结"
    assert len(center.case(number)["steps"]) == 1


def test_repeated_step_serial_is_already_done(center: Center) -> None:
    """A step repeats by SPHJXH; the same step code under a new serial is new."""
    number = register(center, "WS-STEP")
    center.call("receiveBusinessAccept", doc(number, SHOULI))

    first = center.call("receiveCourseInfo", doc(number, step("3", "act2")))
    repeat = center.call("receiveCourseInfo", doc(number, step("3", "act2")))
    recurring = center.call("receiveCourseInfo", doc(number, step("4", "act2")))

    assert first.findtext("DESC") == "请求成功"
    assert repeat.findtext("DESC") == "当前业务已接收该审批环节"
    assert recurring.findtext("DESC") == "请求成功"
    assert [s["SPHJXH"] for s in center.case(number)["steps"]] == ["3", "4"]


def test_unknown_case_and_matter_mismatch(center: Center) -> None:
    """An unknown number answers 获取办件信息失败; a wrong SXBM the mismatch text."""
    number = register(center, "WS-MIS")

    unknown = center.call("receiveBusinessAccept", doc("0999249999999", SHOULI))
    mismatch = center.call("receiveBusinessAccept", doc(number, SHOULI, "370999005"))

    assert unknown.findtext("DESC") == "获取办件信息失败"
    assert mismatch.findtext("DESC").startswith("该事项编码与根据申报流水号")
    assert center.case(number)["acceptance"] is None


def test_get_apply_info_reads_back_everything(center: Center) -> None:
    """getApplyInfo by WSSBLSH returns application, acceptance, steps, suspensions."""
    number = register(center, "WS-READ")
    center.call("receiveBusinessAccept", doc(number, SHOULI))
    center.call("receiveCourseInfo", doc(number, step("1")))
    center.call("getSuspendInfo", doc(number, SUSPEND_START))
    by_filing = "<APPROVEDATAINFO><WSSBLSH>WS-READ</WSSBLSH></APPROVEDATAINFO>"

    data = center.call("getApplyInfo", by_filing).find("DATA")

    assert data.findtext("SPSHENQIN/SBLSH_SHORT") == number
    assert data.findtext("SPSHENQIN/SQRMC") == "示例置业有限公司"
    assert data.findtext("SPQIYE/ORGNAME") == "示例置业有限公司"
    assert data.findtext("SPSHOULI/BLRXM") == "吴示范"
    assert data.findtext("GDBSSPCL/SPHJXH") == "1"
    assert data.findtext("SPTEBIESHENQING/XH") == "1"
    assert data.find("SPTEBIEJIEGUO") is None
    assert data.find("SPBANJIE") is None


def test_get_apply_info_unknown_case(center: Center) -> None:
    """getApplyInfo of a number the center never gave answers 获取办件信息失败."""
    answer = center.call("getApplyInfo", doc("0999240000000"))

    assert answer.findtext("STATUS") == "300"
    assert answer.findtext("DESC") == "获取办件信息失败"


def test_gxsj_changes_on_every_write(center: Center) -> None:
    """Each write moves the case's GXSJ to the center's clock."""
    number = register(center, "WS-GXSJ")
    before = center.case(number)["GXSJ"]
    center.admin("POST", "/clock", json={"advance_seconds": 120})

    center.call("receiveBusinessAccept", doc(number, SHOULI))

    after = center.case(number)["GXSJ"]
    center.admin("POST", "/clock", json={"offset_seconds": 0})
    assert after > before


def test_window_case_from_admin_is_listed_flat(center: Center) -> None:
    """An admin window case is listed with the flat RECORD fields, TJFS 0."""
    filed = center.admin("POST", "/cases", json={"SXBM": MATTER, "SQRMC": "周测试"})
    number = filed["SBLSH_SHORT"]
    online = register(center, "WS-LIST")
    query = "<APPROVEDATAINFO><KSSJ>2000-01-01 00:00:00</KSSJ></APPROVEDATAINFO>"

    data = center.call("queryWindowCases", query).find("DATA")

    records = {r.findtext("SBLSH_SHORT"): r for r in data.iter("RECORD")}
    window = records[number]
    assert set(records) == {number, online}
    assert window.findtext("TJFS") == "0" and window.findtext("WSSBLSH") == ""
    assert window.findtext("SQRMC") == "周测试"
    assert window.findtext("SLZTDM") == "1"
    assert window.findtext("PROMISE_DAYS") == "15"
    assert window.findtext("BJJGDM") == ""
    assert records[online].findtext("TJFS") == "1"
    assert records[online].findtext("SLZTDM") == ""
    assert data.findtext("HASMORE") == "0"


def test_paging_across_equal_gxsj_returns_each_once(center: Center) -> None:
    """Records sharing one GXSJ across a page boundary each come exactly once."""
    filed = {center.admin("POST", "/cases", json={})["SBLSH_SHORT"] for _ in range(7)}
    center.admin("POST", "/clock", json={"advance_seconds": 30})
    filed.add(center.admin("POST", "/cases", json={})["SBLSH_SHORT"])
    center.admin("POST", "/clock", json={"offset_seconds": 0})

    seen: list[str] = []
    pages = 0
    after = ""
    while True:
        query = (
            "<APPROVEDATAINFO><SLBMZZJGDM>11370999MB00001747</SLBMZZJGDM>"
            f"<KSSJ>2000-01-01</KSSJ><PAGESIZE>3</PAGESIZE>{after}</APPROVEDATAINFO>"
        )
        data = center.call("queryWindowCases", query).find("DATA")
        records = list(data.iter("RECORD"))
        seen += [r.findtext("SBLSH_SHORT") for r in records]
        pages += 1
        if data.findtext("HASMORE") == "0":
            break
        last = records[-1]
        after = (
            f"<AFTER_GXSJ>{last.findtext('GXSJ')}</AFTER_GXSJ>"
            f"<AFTER_SBLSH>{last.findtext('SBLSH_SHORT')}</AFTER_SBLSH>"
        )

    assert sorted(seen) == sorted(filed)
    assert len(seen) == 8
    assert pages == 3


def test_query_since_skips_older_changes(center: Center) -> None:
    """KSSJ leaves out cases whose GXSJ is older."""
    old = center.admin("POST", "/cases", json={})["SBLSH_SHORT"]
    center.admin("POST", "/clock", json={"advance_seconds": 3600})
    new = center.admin("POST", "/cases", json={})["SBLSH_SHORT"]
    since = center.case(new)["GXSJ"]
    center.admin("POST", "/clock", json={"offset_seconds": 0})
    query = f"<APPROVEDATAINFO><KSSJ>{since}</KSSJ></APPROVEDATAINFO>"

    data = center.call("queryWindowCases", query).find("DATA")

    assert [r.findtext("SBLSH_SHORT") for r in data.iter("RECORD")] == [new]
    assert old != new


def test_admin_delete_removes_a_case(center: Center) -> None:
    """DELETE /admin/cases/{n} removes the case from state and from getApplyInfo."""
    number = center.admin("POST", "/cases", json={})["SBLSH_SHORT"]

    center.admin("DELETE", f"/cases/{number}")

    assert center.admin("GET", "/state")["cases"] == []
    answer = center.call("getApplyInfo", doc(number, sxbm=""))
    assert answer.findtext("DESC") == "获取办件信息失败"


def test_refused_acceptance_blocks_steps(center: Center) -> None:
    """YWSLZT 0 records SLZTDM 4 (不予受理) and steps stay refused."""
    number = register(center, "WS-REFUSE")
    refusal = SHOULI.replace("<YWSLZT>1</YWSLZT>", "<YWSLZT>０</YWSLZT>")

    center.call("receiveBusinessAccept", doc(number, refusal))
    answer = center.call("receiveCourseInfo", doc(number, step("1")))

    assert center.case(number)["acceptance"]["SLZTDM"] == "4"
    assert answer.findtext("STATUS") == "300"


def test_entity_declarations_are_refused(center: Center) -> None:
    """An xmlStr declaring entities is a STATUS 300 answer, not a crash."""
    evil = '<!DOCTYPE x [<!ENTITY a "b">]><APPROVEDATAINFO>&a;</APPROVEDATAINFO>'

    answer = center.call("getApplyInfo", evil)

    assert answer.findtext("STATUS") == "300"
    assert answer.findtext("DESC").startswith("xmlStr格式不正确")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-04 09:10:00", "2024-03-04 09:10:00"),
        ("2024-03-04 09:10:00.0", "2024-03-04 09:10:00"),
        ("2024/3/4 9:10", "2024-03-04 09:10:00"),
        ("2004年10月18日", "2004-10-18 00:00:00"),
        ("20240304091000", "2024-03-04 09:10:00"),
        ("２０２４-03-04T09:10:00", "2024-03-04 09:10:00"),
        ("Mon Mar 04 09:10:00 CST 2024", "2024-03-04 09:10:00"),
    ],
)
def test_lenient_dates_are_normalised(raw: str, expected: str) -> None:
    """Dates in the forms senders use come out as yyyy-MM-dd HH:mm:ss."""
    assert normalise_time(raw) == expected


def test_empty_markers_are_no_date() -> None:
    """null, 无 and blanks parse as no date at all."""
    assert [parse_time(raw) for raw in ("null", "无", " ", None)] == [None] * 4
