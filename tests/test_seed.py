"""Seed data: check characters against independent implementations of the standards."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bridge.sim.seed import (
    BUREAU,
    MATTERS,
    Seed,
    credit_code_check_char,
    id_check_char,
)

CREDIT_SET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def gb11643_valid(number: str) -> bool:
    """Independent GB 11643 check: ISO 7064 MOD 11-2 over the 18 characters."""
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    total = sum(int(number[i]) * weights[i] for i in range(17))
    return "10X98765432"[total % 11] == number[17]


def gb11714_valid(code: str) -> bool:
    """Independent GB 11714 check of a nine-character organisation code."""
    values = [int(c, 36) for c in code[:8]]
    total = sum(v * w for v, w in zip(values, [3, 7, 9, 10, 5, 8, 4, 2]))
    remainder = 11 - total % 11
    expected = "X" if remainder == 10 else "0" if remainder == 11 else str(remainder)
    return code[8] == expected


def gb32100_valid(code: str) -> bool:
    """Independent GB 32100 check of an 18-character credit code."""
    if len(code) != 18 or any(c not in CREDIT_SET for c in code):
        return False
    weights = [pow(3, i, 31) for i in range(17)]
    total = sum(CREDIT_SET.index(code[i]) * weights[i] for i in range(17))
    return CREDIT_SET[-total % 31] == code[17]


def test_independent_weights_match_the_standards() -> None:
    """The test's own weight derivations equal the tables printed in the standards."""
    assert [pow(2, 17 - i, 11) for i in range(17)] == [
        7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
    ]
    assert [pow(3, i, 31) for i in range(17)] == [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28
    ]


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),
        ("440524188001010014", True),
        ("110105194912310021", False),
        ("440524188001010015", False),
    ],
)
def test_known_id_samples(number: str, valid: bool) -> None:
    """Known-good resident ID numbers pass and altered ones fail, in both checks."""
    assert gb11643_valid(number) is valid
    assert (id_check_char(number[:17]) == number[17]) is valid


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("91350100M000100Y43", True),
        ("91350100M000100Y44", False),
        ("91350100M000010Y43", False),
    ],
)
def test_known_credit_code_samples(code: str, valid: bool) -> None:
    """Known-good credit codes pass and altered ones fail, in both checks."""
    assert gb32100_valid(code) is valid
    assert (credit_code_check_char(code[:17]) == code[17]) is valid


def test_known_organisation_code_samples() -> None:
    """A known-good organisation code passes GB 11714 and an altered one fails."""
    assert gb11714_valid("D2143569X") is True
    assert gb11714_valid("D21435691") is False


def test_every_seed_id_number_is_valid() -> None:
    """Every resident ID the seed makes has a valid birthday and check character."""
    seed = Seed(11)

    people = [seed.person() for _ in range(400)]

    for person in people:
        number = person["id_number"]
        assert gb11643_valid(number), number
        assert number.startswith("370999")
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        assert born.isoformat() == person["birthday"]
        assert person["sex"] == ("男" if int(number[16]) % 2 else "女")
        assert re.fullmatch(r"1[3-9]\d{9}", person["mobile"])


def test_every_seed_credit_code_is_valid() -> None:
    """Every credit code the seed makes passes GB 32100 and GB 11714 inside it."""
    seed = Seed(12)

    codes = [seed.organisation()["credit_code"] for _ in range(400)]
    codes += [seed.filing()["certNo"] for _ in range(200)]
    codes += [seed.window_case()["SQRZJHM"] for _ in range(200)]

    for code in codes:
        if len(code) == 18 and code[:2] == "91":
            assert gb32100_valid(code), code
            assert gb11714_valid(code[8:17]), code
            assert code[2:8] == "370999"
        else:
            assert gb11643_valid(code), code


def test_bureau_credit_code_is_valid() -> None:
    """The bureau's credit code is a valid government-body code under 370999."""
    code = BUREAU["credit_code"]

    assert gb32100_valid(code)
    assert gb11714_valid(code[8:17])
    assert code[:8] == "11370999"
    assert BUREAU["region"] == "370999000000"


def test_matters_catalogue() -> None:
    """The six matters are numbered 370999001-006 with templates HBJ_SX01-06."""
    codes = [m["code"] for m in MATTERS]

    assert codes == [f"37099900{i}" for i in range(1, 7)]
    assert [m["template"] for m in MATTERS] == [f"HBJ_SX0{i}" for i in range(1, 7)]
    assert MATTERS[0]["name"] == '房地产(住宅)建设项目竣工环境保护"三同时"验收审批'
    assert all(m["promised_days"] < m["statutory_days"] for m in MATTERS)
    assert all(m["unit"] == "working" for m in MATTERS)


def test_seed_is_reproducible() -> None:
    """Two seeds with the same number produce the same data; another differs."""
    first, second, other = Seed(5), Seed(5), Seed(6)

    assert [first.filing() for _ in range(5)] == [second.filing() for _ in range(5)]
    assert first.window_case() == second.window_case()
    assert other.person() != Seed(5).person()


def test_window_case_keys() -> None:
    """A window case carries the SPSHENQIN tags the center needs."""
    case = Seed(3).window_case()

    for key in ("SXBM", "SXMC", "SBXMMC", "SQRLX", "SQRMC", "SQRZJLX", "SQRZJHM"):
        assert case[key]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", case["SBSJ"])
    assert case["XZQHDM"] == "370999000000"


def test_blob_has_requested_size() -> None:
    """A generated attachment looks like a PDF and has exactly the asked size."""
    blob = Seed(1).blob("监测报告", 5000)

    assert len(blob) == 5000
    assert blob.startswith(b"%PDF-1.4")
    assert blob.endswith(b"%%EOF")
