"""The WSDL and XSDs compile with wsimport and xjc, and round-trip in PHP's
SoapClient."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from bridge.interchange import Interchange
from bridge.paths import schemas_dir

XSD_DIR = schemas_dir() / "interchange" / "1"
WSDL = XSD_DIR / "exchange.wsdl"
JAXB_CLASSPATH = "/usr/share/java/jaxb-api.jar:/usr/share/java/javax.activation.jar"

PHP_ROUND_TRIP = r"""<?php
// SoapClient writes the request, SoapServer (same WSDL) reads it and answers.
$wsdl = $argv[1];
$seen = [];

function submitCase($case) {
    global $seen;
    $seen = ['matter' => $case->matter->code, 'applicant' => $case->applicant->name,
             'limit' => $case->promise->limit];
    return ['messageId' => 'php-1', 'accepted' => true,
            'caseNumber' => $case->caseNumber];
}

class LoopbackClient extends SoapClient {
    public $sent = '';
    public function __doRequest($request, $location, $action, $version,
                                $oneWay = false): ?string {
        $this->sent = $request;
        $server = new SoapServer($GLOBALS['wsdl'], ['cache_wsdl' => WSDL_CACHE_NONE]);
        $server->addFunction('submitCase');
        ob_start();
        $server->handle($request);
        return ob_get_clean();
    }
}

$client = new LoopbackClient($wsdl, ['cache_wsdl' => WSDL_CACHE_NONE]);
$receipt = $client->submitCase([
    'caseNumber' => '0999240000124',
    'channel' => 'window',
    'matter' => ['code' => '370999001', 'name' => '建设项目环境影响报告表审批'],
    'applicant' => ['type' => 'person', 'name' => '周测试'],
    'submitTime' => '2024-03-04T16:20:11+08:00',
    'promise' => ['limit' => 15, 'unit' => 'workingDays'],
    'bureau' => 'hbj',
]);
echo json_encode(['sent' => $client->sent, 'seen' => $seen, 'receipt' => $receipt],
                 JSON_UNESCAPED_UNICODE), "\n";
"""


def _tool(name: str) -> str:
    """The path of ``name``; missing fails under CI and skips elsewhere."""
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing; .ci/run installs it (jaxws, jaxb, php-soap)")
    pytest.skip(f"{name} is not installed")


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_java_tools_compile_wsdl_and_xsds(tmp_path: Path) -> None:
    """wsimport compiles the WSDL and xjc plus javac the XSDs, with no bindings."""
    wsimport, xjc, javac = _tool("wsimport"), _tool("xjc"), _tool("javac")
    for folder in ("ws-classes", "ws-src", "xjc-src", "xjc-classes"):
        (tmp_path / folder).mkdir()

    ws = _start(
        [wsimport, "-d", "ws-classes", "-s", "ws-src", "-keep", str(WSDL)], tmp_path
    )
    xj = _start(
        [xjc, "-quiet", "-d", "xjc-src", str(XSD_DIR / "envelope.xsd")], tmp_path
    )
    xj_out, _ = xj.communicate(timeout=120)
    sources = sorted(str(p) for p in (tmp_path / "xjc-src").rglob("*.java"))
    jc = _start(
        [javac, "-nowarn", "-cp", JAXB_CLASSPATH, "-d", "xjc-classes", *sources],
        tmp_path,
    )
    ws_out, _ = ws.communicate(timeout=180)
    jc_out, _ = jc.communicate(timeout=120)

    ws_classes = {p.stem for p in (tmp_path / "ws-classes").rglob("*.class")}
    xjc_classes = {p.stem for p in (tmp_path / "xjc-classes").rglob("*.class")}
    assert (ws.returncode, xj.returncode, jc.returncode) == (0, 0, 0), (
        ws_out + xj_out + jc_out
    )
    assert {"ExchangePort", "ExchangeService", "CaseType", "ReceiptType"} <= ws_classes
    assert "WARNING" not in ws_out
    assert {"CaseType", "StepEventType", "SuspensionType", "AttachmentType"} <= (
        xjc_classes
    )
    assert {"ResultCode", "SuspensionKindCode", "MessageType"} <= xjc_classes


def test_php_soapclient_round_trips_a_case(tmp_path: Path) -> None:
    """PHP's SoapClient and SoapServer load the WSDL and exchange a valid case."""
    php = _tool("php")
    script = tmp_path / "round_trip.php"
    script.write_text(PHP_ROUND_TRIP, encoding="utf-8")

    finished = subprocess.run(
        [php, str(script), str(WSDL)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    answer = json.loads(finished.stdout)
    body = etree.fromstring(answer["sent"].encode("utf-8")).find(
        "{http://schemas.xmlsoap.org/soap/envelope/}Body"
    )
    Interchange().validate(body[0], system="php", record="0999240000124")
    assert answer["seen"] == {"matter": "370999001", "applicant": "周测试", "limit": 15}
    assert answer["receipt"] == {
        "messageId": "php-1",
        "accepted": True,
        "caseNumber": "0999240000124",
    }
