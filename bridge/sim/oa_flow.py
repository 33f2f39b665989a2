"""How a sent flow moves through its four nodes, and the OA's code tables."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

#: getFlowState codes by meaning (the REST API's numbers; unverified for SOAP)
DEFAULT_STATE_CODES: dict[str, int] = {
    "draft": 1,
    "sent": 3,
    "partly_done": 4,
    "revoked": 5,
    "stepped_back": 6,
    "taken_back": 7,
    "terminated": 15,
    "finished": 0,
}

#: ServiceException / ServiceResponse numbers by the server's enum name (invented)
DEFAULT_ERROR_CODES: dict[str, int] = {
    "authorityservice": 1001,
    "flowTempleExist": 2001,
    "formImportServiceMember": 2002,
    "formImportServiceIsexit": 2003,
    "flowImportException": 2004,
    "flowValidContent": 2005,
    "flowTempleAuth": 2006,
    "formExportServiceDateInfoError": 2007,
    "documentExportFlowExist": 3001,
    "messageMemberExist": 4001,
    "parameterError": 9001,
    "exportError": -1,
}

#: the accounts of the bureau: login -> (name, post, department)
MEMBERS: dict[str, tuple[str, str, str]] = {
    "service-admin": ("接口管理员", "系统管理员", "信息中心"),
    "zhangsl": ("张受理", "科员", "行政审批科"),
    "lics": ("李初审", "科员", "环境影响评价科"),
    "wangfh": ("王复核", "科长", "环境影响评价科"),
    "zhaosp": ("赵审批", "副局长", "局领导"),
}


@dataclass(frozen=True)
class Node:
    """One workflow node: code, name, who handles it and what they write."""

    code: str
    name: str
    login: str
    opinion: str


NODES: tuple[Node, ...] = (
    Node("act1", "受理", "zhangsl", "材料齐全，予以受理"),
    Node("act2", "初审", "lics", "经审查，符合要求，同意报复核"),
    Node("act3", "复核", "wangfh", "复核无误，同意报批"),
    Node("act4", "审批", "zhaosp", "同意"),
)

MAX_STEP_BACKS = 2


@dataclass
class Pace:
    """How fast and how flows move: seconds per node and seeded outcome rates."""

    step_seconds: float = 60.0
    refuse_rate: float = 0.0
    stepback_rate: float = 0.0
    suspend_rate: float = 0.0
    seed: int = 7


def _draw(pace: Pace, flow_id: int, seq: int) -> float:
    """A reproducible number in [0, 1) for one decision of one flow."""
    return random.Random(f"{pace.seed}:{flow_id}:{seq}").random()


def advance(
    flow: dict[str, Any],
    pace: Pace,
    now: str,
    codes: dict[str, int],
    result_columns: tuple[str, str, str, str] = (
        "审批结果",
        "批准文号",
        "办结日期",
        "环审",
    ),
) -> dict[str, Any]:
    """Finish the flow's current node; return the changed flow (a new dict).

    ``result_columns``: the form's result, certificate and finish-time columns
    and the certificate number's prefix.
    """
    flow = dict(flow, record=list(flow["record"]), form=dict(flow["form"]))
    index = flow["node_index"]
    node = NODES[index]
    seq = len(flow["record"]) + 1
    draw = _draw(pace, flow["flow_id"], seq)
    last = index == len(NODES) - 1
    back = (
        0 < index
        and not last
        and flow["step_backs"] < MAX_STEP_BACKS
        and draw < pace.stepback_rate
    )

    if _suspends(flow, pace, index, seq):
        action, opinion = SUSPEND_ACTION, "需组织专家评审，暂停计时"
        next_index = index
    elif last:
        refused = draw < pace.refuse_rate
        action = "不同意" if refused else "同意"
        opinion = "不符合审批条件，不予许可" if refused else node.opinion
        _fill_result(flow, refused, now, result_columns)
        flow["state"] = codes["terminated"] if refused else codes["finished"]
        next_index = index
    elif back:
        action, opinion = "回退", "材料需补正，退回上一环节"
        flow["state"] = codes["stepped_back"]
        flow["step_backs"] += 1
        next_index = index - 1
    else:
        action, opinion = "同意", node.opinion
        flow["state"] = codes["partly_done"]
        next_index = index + 1

    flow["record"].append(_node_entry(node, seq, action, opinion, flow, now))
    flow["node_index"] = next_index
    flow["node_start"] = now
    flow["update_time"] = now
    return flow


#: the action of a node that stops the deadline clock (特别程序); the node
#: recorded next for the same step resumes it
SUSPEND_ACTION = "暂停计时"
SUSPENDING_NODE = 2


def _suspends(flow: dict[str, Any], pace: Pace, index: int, seq: int) -> bool:
    """Whether this node pauses for an expert review: once per flow, at the
    review node, with the pace's seeded suspension rate."""
    if index != SUSPENDING_NODE or pace.suspend_rate <= 0:
        return False
    if any(entry["action"] == SUSPEND_ACTION for entry in flow["record"]):
        return False
    draw = random.Random(f"{pace.seed}:{flow['flow_id']}:{seq}:suspend").random()
    return draw < pace.suspend_rate


def _node_entry(
    node: Node, seq: int, action: str, opinion: str, flow: dict[str, Any], now: str
) -> dict[str, Any]:
    name, post, department = MEMBERS[node.login]
    return {
        "seq": seq,
        "nodeCode": node.code,
        "nodeName": node.name,
        "department": department,
        "handler": name,
        "handlerLogin": node.login,
        "post": post,
        "action": action,
        "opinion": opinion,
        "startTime": flow["node_start"],
        "endTime": now,
    }


def _fill_result(
    flow: dict[str, Any], refused: bool, now: str, columns: tuple[str, str, str, str]
) -> None:
    result, certificate, finished, prefix = columns
    master = dict(flow["form"]["master"])
    master[result] = "不予许可" if refused else "准予许可"
    if not refused:
        serial = abs(flow["flow_id"]) % 1000
        master[certificate] = f"{prefix}〔{now[:4]}〕{serial:03d}号"
    master[finished] = now
    flow["form"]["master"] = master
