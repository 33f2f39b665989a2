"""Invented, reproducible seed data for the simulators: matters, people, companies.

Every name and number here is made up. Resident ID numbers (GB 11643) and
unified social credit codes (GB 32100, with a GB 11714 organisation code
inside) carry correct check characters so that validators downstream accept
them; the region prefix 370999 keeps them clearly outside any real county.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime, timedelta
from typing import Any

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_MAP = "10X98765432"

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

REGION = "370999"
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"
REFERENCE_TIME = datetime(2024, 3, 4, 9, 0, 0)


def id_check_char(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) of a resident ID."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("a resident ID body is 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS))
    return ID_CHECK_MAP[total % 11]


def org_check_char(first8: str) -> str:
    """The GB 11714 check character of an organisation code body."""
    if len(first8) != 8 or not first8.isalnum():
        raise ValueError("an organisation code body is 8 digits or letters")
    total = sum(_org_value(char) * w for char, w in zip(first8.upper(), ORG_WEIGHTS))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character of a unified social credit code."""
    body = first17.upper()
    if len(body) != 17 or any(char not in CREDIT_ALPHABET for char in body):
        raise ValueError("a credit code body is 17 characters of the GB 32100 set")
    total = sum(
        CREDIT_ALPHABET.index(char) * weight
        for char, weight in zip(body, CREDIT_WEIGHTS)
    )
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def _org_value(char: str) -> int:
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10


def _credit_code(kind: str, org_body: str) -> str:
    org_code = org_body + org_check_char(org_body)
    first17 = kind + REGION + org_code
    return first17 + credit_code_check_char(first17)


MATTERS: list[dict[str, Any]] = [
    {
        "code": "370999001",
        "name": '房地产(住宅)建设项目竣工环境保护"三同时"验收审批',
        "promised_days": 15,
        "statutory_days": 30,
        "unit": "working",
        "template": "HBJ_SX01",
        "materials": ["竣工环境保护验收申请报告", "竣工环境保护验收监测报告"],
    },
    {
        "code": "370999002",
        "name": '社会服务业建设项目竣工环境保护"三同时"验收审批',
        "promised_days": 15,
        "statutory_days": 30,
        "unit": "working",
        "template": "HBJ_SX02",
        "materials": ["竣工环境保护验收申请报告", "竣工环境保护验收调查表"],
    },
    {
        "code": "370999003",
        "name": "建设项目环境影响报告表审批",
        "promised_days": 15,
        "statutory_days": 30,
        "unit": "working",
        "template": "HBJ_SX03",
        "materials": ["环境影响报告表", "项目立项批准文件"],
    },
    {
        "code": "370999004",
        "name": "建设项目环境影响报告书审批",
        "promised_days": 30,
        "statutory_days": 60,
        "unit": "working",
        "template": "HBJ_SX04",
        "materials": ["环境影响报告书", "技术评估意见", "公众参与说明"],
    },
    {
        "code": "370999005",
        "name": "排放污染物许可证核发",
        "promised_days": 10,
        "statutory_days": 20,
        "unit": "working",
        "template": "HBJ_SX05",
        "materials": ["排污许可申请表", "污染物排放监测报告"],
    },
    {
        "code": "370999006",
        "name": "拆除或者闲置环境污染防治设施审批",
        "promised_days": 10,
        "statutory_days": 20,
        "unit": "working",
        "template": "HBJ_SX06",
        "materials": ["拆除或闲置防治设施申请书", "替代防治措施说明"],
    },
]

#: the forestry bureau's matters (lyj), filed at the window with its department
FORESTRY_MATTERS: list[dict[str, Any]] = [
    {
        "code": "370999101",
        "name": "林木采伐许可证核发",
        "promised_days": 10,
        "statutory_days": 20,
        "unit": "working",
        "template": "LYJ_SX01",
        "materials": ["林木采伐申请书", "林权证明", "伐区调查设计"],
    },
    {
        "code": "370999102",
        "name": "建设项目使用林地审核",
        "promised_days": 15,
        "statutory_days": 20,
        "unit": "working",
        "template": "LYJ_SX02",
        "materials": ["使用林地申请表", "使用林地可行性报告"],
    },
    {
        "code": "370999103",
        "name": "林草种子生产经营许可证核发",
        "promised_days": 12,
        "statutory_days": 20,
        "unit": "working",
        "template": "LYJ_SX03",
        "materials": ["种子生产经营许可申请表", "检验仪器设备清单"],
    },
]

MATTERS_BY_CODE: dict[str, dict[str, Any]] = {
    m["code"]: m for m in [*MATTERS, *FORESTRY_MATTERS]
}

BUREAU: dict[str, str] = {
    "name": "市生态环境局",
    "short": "hbj",
    "credit_code": _credit_code("11", "MB000017"),
    "region": REGION + "000000",
    "department": "行政审批科",
}

#: the forestry bureau (lyj), a department of its own at the center
FORESTRY: dict[str, str] = {
    "name": "市林业局",
    "short": "lyj",
    "credit_code": "11370999MB0000254T",
    "region": REGION + "000000",
}

_SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
_GIVEN = "文明华建国志强秀英丽娟海涛晓东春梅立新永红玉兰俊杰雅琴德胜书婷浩然思远"
_ORG_WORDS = ("澄川", "翠岭", "鹤汀", "岚溪", "松禾", "泓景", "栖霞湾", "云麓", "溪桥")
_ORG_TRADES = (
    "置业有限公司",
    "房地产开发有限公司",
    "养老服务有限公司",
    "酒店管理有限公司",
    "化工有限公司",
    "物业服务有限公司",
)
_ESTATES = ("翠湖花园", "锦澜苑", "松风里", "栖云府", "溪畔雅居", "鹤鸣小区")
_SERVICES = ("颐养中心", "社区服务中心", "康养院", "连锁酒店", "综合商业体")
_PLANTS = ("涂装车间", "污水处理站", "锅炉房", "电镀生产线", "仓储物流园")
_PHASES = ("一期", "二期", "三期")
_REVIEWERS = ("王初审", "李初审", "陈初审")
_MOBILE_PREFIXES = ("13", "14", "15", "16", "17", "18", "19")


class Seed:
    """A reproducible source of invented applicants, projects, cases and filings."""

    def __init__(self, seed: int = 7) -> None:
        self.random = random.Random(seed)

    # -- people and organisations ------------------------------------------------

    def name(self) -> str:
        """An invented two- or three-character Chinese personal name."""
        length = self.random.randint(1, 2)
        given = "".join(self.random.choice(_GIVEN) for _ in range(length))
        return self.random.choice(_SURNAMES) + given

    def mobile(self) -> str:
        """An invented mainland mobile number, 1[3-9] followed by nine digits."""
        tail = "".join(self.random.choice("0123456789") for _ in range(9))
        return self.random.choice(_MOBILE_PREFIXES) + tail

    def person(self) -> dict[str, str]:
        """An invented resident with a valid 18-character ID number."""
        birthday = date(1955, 1, 1) + timedelta(days=self.random.randint(0, 16800))
        order = self.random.randint(1, 999)
        first17 = f"{REGION}{birthday:%Y%m%d}{order:03d}"
        return {
            "name": self.name(),
            "id_number": first17 + id_check_char(first17),
            "mobile": self.mobile(),
            "sex": "男" if order % 2 else "女",
            "birthday": birthday.isoformat(),
        }

    def credit_code(self, kind: str = "91") -> str:
        """An invented unified social credit code under region 370999."""
        body = "".join(self.random.choice("0123456789") for _ in range(8))
        return _credit_code(kind, body)

    def organisation(self) -> dict[str, str]:
        """An invented enterprise with a valid credit code and a contact."""
        first, second = self.random.sample(_ORG_WORDS, 2)
        name = first + second + self.random.choice(_ORG_TRADES)
        return {
            "name": name,
            "credit_code": self.credit_code(),
            "contact": self.name(),
            "mobile": self.mobile(),
        }

    # -- projects, cases and filings ---------------------------------------------

    def project_name(self, matter_code: str) -> str:
        """An invented project name that suits the matter."""
        phase = self.random.choice(_PHASES)
        if matter_code == "370999001":
            return f"{self.random.choice(_ESTATES)}{phase}住宅项目"
        if matter_code == "370999002":
            place = self.random.choice(_ORG_WORDS)
            return f"{place}{self.random.choice(_SERVICES)}建设项目"
        name = f"{self.random.choice(_ORG_WORDS)}{self.random.choice(_PLANTS)}"
        if matter_code in ("370999003", "370999004"):
            return f"{name}建设项目"
        return name

    def matter(self) -> dict[str, Any]:
        """One of the bureau's six matters, chosen at random."""
        return self.random.choice(MATTERS)

    def moment(self, now: datetime | None = None, hours_back: int = 48) -> str:
        """A local time text up to ``hours_back`` hours before ``now``."""
        base = now or REFERENCE_TIME
        back = timedelta(seconds=self.random.randint(60, hours_back * 3600))
        return (base.replace(tzinfo=None, microsecond=0) - back).strftime(LOCAL_FORMAT)

    def applicant(self) -> dict[str, str]:
        """An applicant, person or organisation, in neutral keys."""
        if self.random.random() < 0.3:
            person = self.person()
            return {
                "kind": "person",
                "name": person["name"],
                "cert_no": person["id_number"],
                "contact": person["name"],
                "mobile": person["mobile"],
            }
        org = self.organisation()
        return {
            "kind": "organisation",
            "name": org["name"],
            "cert_no": org["credit_code"],
            "contact": org["contact"],
            "mobile": org["mobile"],
        }

    def window_case(
        self, now: datetime | None = None, forestry: bool = False
    ) -> dict[str, str]:
        """A window case application, keyed by SPSHENQIN tag names (with
        ``forestry``, of one of the forestry bureau's matters)."""
        matter = self.random.choice(FORESTRY_MATTERS) if forestry else self.matter()
        applicant = self.applicant()
        person = applicant["kind"] == "person"
        return {
            "SXBM": matter["code"],
            "SXMC": matter["name"],
            "SBXMMC": self.project_name(matter["code"]),
            "SQRLX": "1" if person else "2",
            "SQRMC": applicant["name"],
            "SQRZJLX": "10" if person else "1",
            "SQRZJHM": applicant["cert_no"],
            "LXRXM": applicant["contact"],
            "LXRZJLX": "10",
            "LXRSJ": applicant["mobile"],
            "SBCLQD": "".join(f"{name};" for name in matter["materials"]),
            "TJFS": "0",
            "SBSJ": self.moment(now, hours_back=4),
            "XZQHDM": BUREAU["region"],
        }

    def filing(self, now: datetime | None = None) -> dict[str, Any]:
        """An online filing's content, keyed by the portal's element names.

        The portal assigns ``filingNo``, ``status`` and ``changeTime`` itself;
        attachments carry names only, their bytes come from :meth:`blob`.
        """
        matter = self.matter()
        applicant = self.applicant()
        person = applicant["kind"] == "person"
        submitted = self.moment(now, hours_back=24)
        return {
            "itemCode": matter["code"],
            "itemName": matter["name"],
            "projectName": self.project_name(matter["code"]),
            "applicantKind": "1" if person else "2",
            "applicantName": applicant["name"],
            "certKind": "11" if person else "01",
            "certNo": applicant["cert_no"],
            "contactName": applicant["contact"],
            "contactMobile": applicant["mobile"],
            "submitTime": submitted,
            "reviewer": self.random.choice(_REVIEWERS),
            "reviewOpinion": "材料齐全，初审通过",
            "regionCode": REGION,
            "attachments": [
                {
                    "materialName": material,
                    "fileName": f"{material}.pdf",
                    "mediaType": "application/pdf",
                }
                for material in matter["materials"]
            ],
        }

    def blob(self, title: str, size: int | None = None) -> bytes:
        """PDF-looking bytes of ``size`` (random 2-24 KiB), deterministic per seed."""
        length = size if size is not None else self.random.randint(2048, 24576)
        head = f"%PDF-1.4\n% govbridge sample: {title}\n".encode()
        chunk = hashlib.sha256(f"{title}:{self.random.random()}".encode()).digest()
        body = (chunk * (length // len(chunk) + 1))[: max(0, length - len(head) - 6)]
        return (head + body + b"\n%%EOF")[:length]
