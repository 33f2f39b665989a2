"""Tests of the check characters (GB 11643, GB 11714, GB 32100) and their rule."""

from __future__ import annotations

import pytest
from lxml import etree

from bridge.errors import ValidationError
from bridge.interchange import Interchange, checks, qname
from bridge.paths import schemas_dir
from bridge.sim.seed import Seed

EXAMPLE_CASE = schemas_dir() / "examples" / "valid" / "case.xml"

# The worked example printed in GB 11643.
RESIDENT_SAMPLE = "11010519491231002X"
# Worked by hand: D=13; 13*3+2*7+1*9+4*10+3*5+5*8+6*4+9*2 = 199; 11 - 199 % 11 = 10.
ORG_SAMPLE = "D2143569-X"


def test_worked_examples_pass() -> None:
    """The GB 11643 example and a hand-worked GB 11714 code are accepted."""
    assert checks.resident_id_problem(RESIDENT_SAMPLE) == ""
    assert checks.org_code_problem(ORG_SAMPLE) == ""
    assert checks.org_code_problem(ORG_SAMPLE.replace("-", "")) == ""


def test_seed_values_pass() -> None:
    """Fifty invented people and organisations of the simulators' seed all check."""
    seed = Seed(11)

    ids = [seed.person()["id_number"] for _ in range(50)]
    codes = [seed.organisation()["credit_code"] for _ in range(50)]

    assert [checks.resident_id_problem(v) for v in ids] == [""] * 50
    assert [checks.credit_code_problem(v) for v in codes] == [""] * 50


@pytest.mark.parametrize("position", range(17))
def test_any_changed_id_digit_is_caught(position: int) -> None:
    """Changing any one of the first 17 digits of an ID number breaks its check."""
    digit = str((int(RESIDENT_SAMPLE[position]) + 1) % 10)
    changed = RESIDENT_SAMPLE[:position] + digit + RESIDENT_SAMPLE[position + 1 :]

    problem = checks.resident_id_problem(changed)

    assert problem in {
        "the check character does not match (GB 11643)",
        "expected a birth date (yyyymmdd) in characters 7 to 14",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002x", "upper-case X"),
        ("１１０１０５19491231002X", "17 ASCII digits"),
        ("110105194913310021", "birth date"),
        ("1101051949123100", "17 ASCII digits"),
    ],
)
def test_malformed_id_numbers_are_named(value: str, expected: str) -> None:
    """Lower-case x, full-width digits, impossible dates and short numbers are
    refused."""
    assert expected in checks.resident_id_problem(value)


def test_credit_code_with_bad_inner_org_code() -> None:
    """A credit code whose own check matches but whose organisation code does not."""
    body = "11370999MB0000184"
    code = body + checks.credit_check_char(body)

    problem = checks.credit_code_problem(code)

    assert checks.org_check_char("MB000018") == "2"
    assert problem == (
        "the organisation code inside: the check character does not match (GB 11714)"
    )


def test_credit_code_refuses_letters_outside_its_alphabet() -> None:
    """I, O, S, V and Z are not in the GB 32100 character set."""
    assert "GB 32100 set" in checks.credit_code_problem("91370999MA3C0000OE")


def test_validator_runs_the_check_after_the_xsd() -> None:
    """A schema-valid case with a wrong ID check character is refused at its XPath."""
    case = etree.parse(str(EXAMPLE_CASE)).getroot()
    applicant = case.find(qname("applicant"))
    applicant.find(qname("type")).text = "person"
    applicant.find(qname("idType")).text = "idCard"
    applicant.find(qname("idNumber")).text = "110105194912310021"

    with pytest.raises(ValidationError) as caught:
        Interchange().validate(case, system="center", record="0999240000124")

    assert caught.value.field == "/case/applicant/idNumber"
    assert caught.value.system == "center"
    assert "GB 11643" in caught.value.message
    assert "110105" not in str(caught.value)
