"""The portal simulator over HTTP: SOAP side through zeep, effects through admin."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
import zeep.exceptions
from zeep.wsse.username import UsernameToken

from bridge.sim.portal import ATTACHMENTS_OF_FILING, ENDPOINT, PortalSimulator

SINCE = "2000-01-01 00:00:00"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalSimulator]:
    """One portal simulator for this module, on a free loopback port."""
    folder: Path = tmp_path_factory.mktemp("portal")
    simulator = PortalSimulator(folder / "portal.sqlite")
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture(autouse=True)
def clean(sim: PortalSimulator) -> None:
    """Each test starts from an empty portal with default settings."""
    admin(sim, "POST", "/reset")
    defaults = {"password": "bridge-secret", "max_skew_seconds": None}
    admin(sim, "POST", "/config", defaults)
    admin(sim, "POST", "/clock", {"offset_seconds": 0})


def admin(sim: PortalSimulator, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(method, f"{sim.url}/admin{path}", json=body, timeout=5)
    answer.raise_for_status()
    return answer.json()


def client(
    sim: PortalSimulator, password: str | None = "bridge-secret", digest: bool = True
) -> zeep.Client:
    session = requests.Session()
    session.trust_env = False
    wsse = None
    if password is not None:
        wsse = UsernameToken("bridge", password, use_digest=digest)
    return zeep.Client(
        f"{sim.url}{ENDPOINT}?wsdl",
        transport=zeep.Transport(session=session, timeout=5),
        wsse=wsse,
    )


def progress(filing_no: str, seq: int = 1) -> dict[str, Any]:
    return {
        "filingNo": filing_no,
        "caseNo": "0999240000501",
        "seq": seq,
        "state": "2",
        "stepName": "初审",
        "handler": "赵审核",
        "opinion": "同意",
        "stepTime": "2024-03-06 10:00:00",
    }


def result(case_no: str, filing_no: str | None = None) -> dict[str, Any]:
    return {
        "caseNo": case_no,
        "filingNo": filing_no,
        "itemCode": "370999001",
        "itemName": '房地产(住宅)建设项目竣工环境保护"三同时"验收审批',
        "applicantName": "澄川翠岭置业有限公司",
        "resultCode": "1",
        "resultText": "准予许可",
        "certificateNo": "环验〔2024〕17号",
        "department": "市生态环境局",
        "finishTime": "2024-03-12 11:20:00",
    }


def test_wsdl_is_served_and_loads_in_zeep(sim: PortalSimulator) -> None:
    """The WSDL at ?wsdl loads in zeep with five operations bound to the simulator."""
    soap = client(sim)

    binding = soap.service._binding  # inspecting the loaded WSDL
    operations = set(binding._operations)

    assert operations == {
        "listFilings",
        "getAttachment",
        "postProgress",
        "publishResult",
        "getPublication",
    }
    address = soap.service._binding_options["address"]
    assert address == sim.url + ENDPOINT


def test_paging_keeps_equal_change_times_across_a_page_boundary(
    sim: PortalSimulator,
) -> None:
    """Five filings sharing one changeTime are all listed once across pages of two."""
    same = {"changeTime": "2024-03-05 09:40:00"}
    numbers = [admin(sim, "POST", "/filings", same)["filingNo"] for _ in range(5)]
    later = admin(sim, "POST", "/filings", {"changeTime": "2024-03-05 09:41:00"})
    soap = client(sim)

    seen: list[str] = []
    more_flags: list[int] = []
    after: dict[str, str] = {}
    while True:
        page = soap.service.listFilings(since=SINCE, pageSize=2, **after)
        seen += [filing.filingNo for filing in page.filing]
        more_flags.append(page.hasMore)
        if not page.hasMore:
            break
        last = page.filing[-1]
        after = {"afterChangeTime": last.changeTime, "afterFilingNo": last.filingNo}

    assert seen == sorted(numbers) + [later["filingNo"]]
    assert more_flags == [1, 1, 0]


def test_listing_shows_passed_and_withdrawn_filings_only(sim: PortalSimulator) -> None:
    """Status 1 filings stay hidden; a withdrawal relists the filing with status 9."""
    hidden = admin(sim, "POST", "/filings", {"status": "1"})
    shown = admin(sim, "POST", "/filings", {"changeTime": "2024-03-05 09:00:00"})
    soap = client(sim)

    withdrawn = admin(sim, "POST", f"/filings/{shown['filingNo']}/withdraw")
    page = soap.service.listFilings(since=SINCE, pageSize=10)

    assert [f.filingNo for f in page.filing] == [shown["filingNo"]]
    assert page.filing[0].status == "9"
    assert page.filing[0].changeTime == withdrawn["changeTime"]
    assert withdrawn["changeTime"] > "2024-03-05 09:00:00"
    state = admin(sim, "GET", "/state")
    statuses = {f["filingNo"]: f["status"] for f in state["filings"]}
    assert statuses == {hidden["filingNo"]: "1", shown["filingNo"]: "9"}


def test_since_excludes_older_filings(sim: PortalSimulator) -> None:
    """A filing changed before ``since`` is not listed."""
    admin(sim, "POST", "/filings", {"changeTime": "2024-03-01 08:00:00"})
    newer = admin(sim, "POST", "/filings", {"changeTime": "2024-03-02 08:00:00"})

    page = client(sim).service.listFilings(since="2024-03-02 00:00:00", pageSize=10)

    assert [f.filingNo for f in page.filing] == [newer["filingNo"]]


def test_get_attachment_returns_the_stored_bytes(sim: PortalSimulator) -> None:
    """getAttachment's content has the size and sha256 the listing announced."""
    content = b"%PDF-1.4 sample bytes " * 50
    filing = admin(
        sim,
        "POST",
        "/filings",
        {
            "attachments": [
                {
                    "materialName": "竣工环境保护验收监测报告",
                    "fileName": "监测报告.pdf",
                    "content_base64": base64.b64encode(content).decode(),
                },
                {"materialName": "验收申请报告", "size": 4096},
            ]
        },
    )
    soap = client(sim)

    listed = soap.service.listFilings(since=SINCE, pageSize=10).filing[0]
    described = listed.attachments.attachment
    fetched = [soap.service.getAttachment(a.attachmentId) for a in described]

    assert fetched[0].content == content
    assert fetched[0].fileName == "监测报告.pdf"
    assert described[0].sha256 == hashlib.sha256(content).hexdigest()
    assert len(fetched[1].content) == described[1].size == 4096
    assert hashlib.sha256(fetched[1].content).hexdigest() == described[1].sha256
    assert [a["attachmentId"] for a in filing["attachments"]] == [
        a.attachmentId for a in described
    ]


def test_unknown_attachment_is_a_client_fault(sim: PortalSimulator) -> None:
    """Asking for an attachment that does not exist is a Client fault."""
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client(sim).service.getAttachment("A999999")

    assert caught.value.code == "soapenv:Client.NotFound"


def test_post_progress_repeat_is_absorbed_but_logged_twice(
    sim: PortalSimulator,
) -> None:
    """A repeated postProgress answers 已存在, stores one row and logs two requests."""
    filing = admin(sim, "POST", "/filings", {})
    soap = client(sim)

    first = soap.service.postProgress(**progress(filing["filingNo"]))
    second = soap.service.postProgress(**progress(filing["filingNo"]))

    assert (first.code, first.message) == (0, "成功")
    assert (second.code, second.message) == (0, "已存在")
    state = admin(sim, "GET", "/state")
    assert [(p["filingNo"], p["seq"], p["stepName"]) for p in state["progress"]] == [
        (filing["filingNo"], "1", "初审")
    ]
    log = admin(sim, "GET", "/requests?operation=postProgress")["requests"]
    assert [(r["key"], r["outcome"]) for r in log] == [
        (filing["filingNo"], "done"),
        (filing["filingNo"], "already"),
    ]


def test_post_progress_for_unknown_filing_is_refused(sim: PortalSimulator) -> None:
    """Progress for a filing the portal does not know is answered code 1 and logged."""
    answer = client(sim).service.postProgress(**progress("WS20240101999999"))

    assert answer.code == 1
    assert "WS20240101999999" in answer.message
    log = admin(sim, "GET", "/requests")["requests"]
    assert [(r["key"], r["outcome"], r["status"]) for r in log] == [
        ("WS20240101999999", "rejected", "1")
    ]


def test_publish_window_case_and_read_it_back(sim: PortalSimulator) -> None:
    """A window case without a filing is published once; a repeat is logged twice."""
    soap = client(sim)
    case = result("0999240000777")

    first = soap.service.publishResult(**case)
    again = soap.service.publishResult(**case)
    published = soap.service.getPublication("0999240000777")

    assert (first.code, again.code, again.message) == (0, 0, "已存在")
    assert published.resultText == "准予许可"
    assert published.certificateNo == "环验〔2024〕17号"
    assert published.filingNo is None
    assert published.publishTime
    assert soap.service.getPublication("0999240000778") is None
    state = admin(sim, "GET", "/state")
    assert [p["caseNo"] for p in state["publications"]] == ["0999240000777"]
    log = admin(sim, "GET", "/requests?operation=publishResult")["requests"]
    assert [(r["key"], r["outcome"]) for r in log] == [
        ("0999240000777", "done"),
        ("0999240000777", "already"),
    ]


def test_publish_with_filing_number(sim: PortalSimulator) -> None:
    """A result naming a known filing is kept with it; an unknown filing is code 1."""
    filing = admin(sim, "POST", "/filings", {})
    soap = client(sim)

    good = soap.service.publishResult(**result("0999240000801", filing["filingNo"]))
    bad = soap.service.publishResult(**result("0999240000802", "WS20000101000000"))

    assert good.code == 0
    assert bad.code == 1
    state = admin(sim, "GET", "/state")
    assert [(p["caseNo"], p["filingNo"]) for p in state["publications"]] == [
        ("0999240000801", filing["filingNo"])
    ]


def test_missing_fields_are_code_2(sim: PortalSimulator) -> None:
    """A publishResult without its required values is answered code 2."""
    case = result("0999240000901")
    case["department"] = ""

    answer = client(sim).service.publishResult(**case)

    assert answer.code == 2
    assert "department" in answer.message


def test_missing_token_is_an_authentication_fault(sim: PortalSimulator) -> None:
    """A request without a UsernameToken is the fault Client.Authentication."""
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client(sim, password=None).service.getPublication("0999240000001")

    assert caught.value.code == "soapenv:Client.Authentication"


@pytest.mark.parametrize("digest", [True, False])
def test_wrong_password_is_refused_and_logged(
    sim: PortalSimulator, digest: bool
) -> None:
    """A wrong password (digest or text) is refused and the write is logged as such."""
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client(sim, "not-it", digest).service.publishResult(**result("0999240000002"))

    assert caught.value.code == "soapenv:Client.Authentication"
    log = admin(sim, "GET", "/requests")["requests"]
    outcomes = [(r["key"], r["outcome"]) for r in log]
    assert outcomes == [("0999240000002", "unauthenticated")]
    assert admin(sim, "GET", "/state")["publications"] == []


def test_plain_text_password_is_accepted(sim: PortalSimulator) -> None:
    """A PasswordText token with the right password is accepted."""
    answer = client(sim, digest=False).service.getPublication("0999240000003")

    assert answer is None


def test_configured_password_applies(sim: PortalSimulator) -> None:
    """After the admin sets a new password, the old one is refused."""
    admin(sim, "POST", "/config", {"password": "changed"})

    with pytest.raises(zeep.exceptions.Fault):
        client(sim).service.getPublication("0999240000004")
    assert client(sim, "changed").service.getPublication("0999240000004") is None


def test_created_timestamp_outside_the_skew_is_refused(sim: PortalSimulator) -> None:
    """With a skew limit set, a token created an hour from the portal clock fails."""
    admin(sim, "POST", "/config", {"max_skew_seconds": 300})
    admin(sim, "POST", "/clock", {"offset_seconds": 3600})

    with pytest.raises(zeep.exceptions.Fault) as caught:
        client(sim).service.getPublication("0999240000005")
    admin(sim, "POST", "/clock", {"offset_seconds": 60})

    assert "server clock" in caught.value.message
    assert client(sim).service.getPublication("0999240000005") is None


def test_reset_empties_everything(sim: PortalSimulator) -> None:
    """The admin reset empties filings, progress, publications and the log."""
    filing = admin(sim, "POST", "/filings", {})
    client(sim).service.postProgress(**progress(filing["filingNo"]))

    admin(sim, "POST", "/reset")

    state = admin(sim, "GET", "/state")
    assert state == {"filings": [], "progress": [], "publications": []}
    assert admin(sim, "GET", "/requests")["requests"] == []
    assert admin(sim, "POST", "/filings", {})["filingNo"].endswith("000001")


def test_a_listing_finds_each_filings_attachments_by_index(
    sim: PortalSimulator,
) -> None:
    """A page of filings reads each filing's attachment descriptions through an
    index, not by scanning every attachment: with a backlog of thousands, a
    scan per listed filing made one listing cost a quarter of a second."""
    plan = sim.state.query(f"EXPLAIN QUERY PLAN {ATTACHMENTS_OF_FILING}", ("WS1",))

    details = [row["detail"] for row in plan]
    assert details == [
        "SEARCH attachments USING INDEX attachments_of_filing (filing_no=?)"
    ]
