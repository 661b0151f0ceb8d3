"""Export packages through the gateway, against a known history (dashboard_history): a job
with progress, then a ZIP whose manifest's hashes and row counts match its files; XLSX with
Chinese headers, typed cells, widths and a frozen header row; CSV in UTF-8 with BOM; JSON; lead
subjects named for the office and left out for the higher-level office; leads and items made
from findings of two rounds in the package of each round, and once in the term's; both formats
opened by
LibreOffice (headless, to PDF) with the Chinese headers intact and drawn in a Chinese font; the
operator CLI.

LibreOffice, pdftotext/pdffonts (poppler-utils) and a Chinese font come from the system (Debian:
apt-get install libreoffice-calc-nogui poppler-utils fonts-noto-cjk; `make test` installs them):
without them that test is skipped, saying so, or fails where CI is set or
REQUIRE_SYSTEM_TOOLS=1, so that CI cannot pass without having looked."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import httpx
import openpyxl
import pytest

from gateway.identity.enums import Role
from ops.stack import Database
from tests.e2e.conftest import System, eventually
from tests.e2e.dashboard_history import History, build, login, ok, post, sql, user

pytestmark = pytest.mark.e2e

SHEETS = ["问题台账", "问题线索台账", "整改事项台账", "意见建议台账", "建立健全制度台账"]
FINDING_HEADERS = [
    "序号", "问题编号", "巡察轮次", "巡察组", "巡察对象", "问题类别", "问题标题", "问题事实",
    "涉及金额（元）", "问题来源", "严重程度", "发现日期", "状态", "屡查屡犯", "涉及人员（人）",
    "登记时间", "更新时间",
]  # fmt: skip
NAMES = ("陈某某", "周某某", "吴某某")


@pytest.fixture(scope="module")
def office(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.gateway, headers=system.auth, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def history(office: httpx.Client, database: Database) -> History:
    return build(office, database)


def finished(client: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    def done() -> dict[str, Any]:
        got: dict[str, Any] = ok(client.get(f"/api/v1/exports/{job['id']}"), 200)
        assert got["status"] in ("done", "failed"), got
        return got

    return eventually(done, timeout=90, every=0.3)


def export(client: httpx.Client, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    started = client.post("/api/v1/exports", json=body)
    job = ok(started, 202)
    assert started.headers["location"] == f"/api/v1/exports/{job['id']}"
    assert job["status"] in ("queued", "running", "done")
    job = finished(client, job)
    assert job["status"] == "done", job["error"]
    resp = client.get(job["download"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/zip"
    assert "filename*=utf-8''" in resp.headers["content-disposition"]
    # fetched: the package need not stay on the gateway's disk
    assert client.delete(f"/api/v1/exports/{job['id']}").status_code == 204
    return job, resp.content


@pytest.fixture(scope="module")
def office_package(office: httpx.Client, history: History) -> tuple[dict[str, Any], bytes]:
    return export(office, {"term_id": history.term_id})


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV without a UTF-8 BOM"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_manifest_matches_every_file(
    office_package: tuple[dict[str, Any], bytes], history: History
) -> None:
    job, data = office_package
    assert hashlib.sha256(data).hexdigest() == job["package_sha256"]
    assert len(data) == job["package_bytes"]
    # 4 confirmed findings (the draft is not a record), 2 leads handed over (not the draft),
    # 3 items, 2 suggestions, 1 rule
    assert job["progress"] == {
        "current": None, "rows_written": 12, "rows_expected": 12, "percent": 100.0
    }  # fmt: skip
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = set(zf.namelist())
    registers = ("findings", "leads", "rectifications", "suggestions", "rules")
    assert names == {
        "manifest.json", "registers.xlsx", "statistics.json", "statistics.xlsx",
        *(f"{r}.{ext}" for r in registers for ext in ("csv", "json")),
    }  # fmt: skip
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["recipient"] == "office"
    assert manifest["scope"]["term_id"] == history.term_id
    assert manifest["scope"]["round_ids"] == [history.round1, history.round2]
    assert manifest["summary"].startswith("移交问题线索2件，立案1件，给予党政纪处分2人")
    files = {f["path"]: f for f in manifest["files"]}
    assert set(files) == names - {"manifest.json"}
    assert [f["path"] for f in job["files"]] == [f["path"] for f in manifest["files"]]
    for name, entry in files.items():
        content = zf.read(name)
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], name
        assert len(content) == entry["bytes"], name
    expected = {"findings": 4, "leads": 2, "rectifications": 3, "suggestions": 2, "rules": 1}
    for register, n in expected.items():
        assert files[f"{register}.csv"]["rows"] == n
        assert len(csv_rows(zf.read(f"{register}.csv"))) == n + 1  # the header
        assert files[f"{register}.json"]["rows"] == n
        assert len(json.loads(zf.read(f"{register}.json"))["rows"]) == n
    assert files["registers.xlsx"]["rows"] == 12
    assert [(s["name"], s["rows"]) for s in manifest["sheets"]] == list(
        zip(SHEETS, expected.values(), strict=True)
    )
    stats = json.loads(zf.read("statistics.json"))
    assert stats["table"]["rows"][7] == {
        "序号": "8",
        "指标": "移交问题线索",
        "数值": 2,
        "单位": "件",
    }


def test_xlsx_sheets_have_chinese_headers_types_widths_and_a_frozen_row(
    office_package: tuple[dict[str, Any], bytes], history: History
) -> None:
    zf = zipfile.ZipFile(io.BytesIO(office_package[1]))
    book = openpyxl.load_workbook(io.BytesIO(zf.read("registers.xlsx")))
    assert book.sheetnames == SHEETS
    findings = book["问题台账"]
    assert [c.value for c in findings[1]] == FINDING_HEADERS
    assert findings.freeze_panes == "A2"
    assert findings.column_dimensions["H"].width > 50  # 问题事实
    rows = {r[6]: r for r in findings.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"村干部虚报冒领扶贫资金", "低保评定优亲厚友", "村务公开流于形式",
                         "扶贫项目验收走过场"}  # fmt: skip
    fraud = rows["村干部虚报冒领扶贫资金"]
    assert fraud[1] == history.findings["村干部虚报冒领扶贫资金"]
    assert fraud[2] == "第1轮 扶贫领域专项巡察"
    assert (fraud[3], fraud[4]) == ("第一巡察组", "石头口村")
    assert fraud[8] == 32000.0
    assert rows["扶贫项目验收走过场"][8] == 1500.5
    assert (fraud[9], fraud[10], fraud[12]) == ("受理信访", "严重", "已移交")
    assert fraud[11] == datetime.combine(history.today, datetime.min.time())
    assert isinstance(fraud[15], datetime)
    cells = {c.column_letter: c for c in findings[2]}
    assert cells["I"].number_format == "#,##0.00"
    assert cells["L"].number_format == "yyyy-mm-dd"
    assert cells["P"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert cells["I"].data_type == "n"
    assert cells["L"].is_date

    leads = book["问题线索台账"]
    headers = [c.value for c in leads[1]]
    assert "线索标题" in headers
    assert "被反映人及处理结果" in headers
    by_title = {
        r[headers.index("线索标题")]: r for r in leads.iter_rows(min_row=2, values_only=True)
    }
    case = by_title["村支书虚报冒领扶贫资金问题线索"]
    assert case[headers.index("被反映人及处理结果")] == (
        "陈某某（村党支部书记）：留党察看、撤职；周某某（村会计）：记过"
    )
    assert case[headers.index("追回资金（元）")] == 32000.0
    assert case[headers.index("移交对象")] == "纪委监委"
    assert case[headers.index("处置方式")] == "初步核实"
    assert case[headers.index("状态")] == "已办结"
    assert "尚未审批的线索" not in by_title  # not handed over

    items = book["整改事项台账"]
    heads = [c.value for c in items[1]]
    overdue = {r[heads.index("整改事项")]: r for r in items.iter_rows(min_row=2, values_only=True)}
    assert overdue["项目验收整改"][heads.index("逾期未销号")] == "是"
    assert overdue["项目验收整改"][heads.index("整改期限")].date() == history.overdue_deadline
    assert overdue["村务公开整改"][heads.index("状态")] == "已销号"
    assert book["建立健全制度台账"]["E2"].value == "村级财务管理办法"


def test_csv_and_json_of_a_register(office_package: tuple[dict[str, Any], bytes]) -> None:
    zf = zipfile.ZipFile(io.BytesIO(office_package[1]))
    rows = csv_rows(zf.read("findings.csv"))
    assert rows[0] == FINDING_HEADERS
    fraud = next(r for r in rows if r[6] == "村干部虚报冒领扶贫资金")
    assert (fraud[8], fraud[12]) == ("32000.00", "已移交")
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4"]
    assert date.fromisoformat(fraud[11])
    assert datetime.strptime(fraud[15], "%Y-%m-%d %H:%M:%S")
    doc = json.loads(zf.read("findings.json"))
    assert doc["title"] == "问题台账"
    assert [c["title"] for c in doc["columns"]] == FINDING_HEADERS
    money = {r["title"]: r["money_involved"] for r in doc["rows"]}
    assert money["扶贫项目验收走过场"] == "1500.50"  # money is a decimal string in JSON


def test_the_superior_gets_no_names(
    system: System, database: Database, history: History, office: httpx.Client
) -> None:
    superior = httpx.Client(
        base_url=system.gateway, headers=login(system, database, Role.superior), timeout=60
    )
    refused = superior.post(
        "/api/v1/exports", json={"round_id": history.round1, "recipient": "office"}
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/recipient-not-allowed"
    bad = superior.post(
        "/api/v1/exports", json={"round_id": history.round1, "term_id": history.term_id}
    )
    assert bad.status_code == 422
    job, data = export(superior, {"round_id": history.round1})
    assert job["recipient"] == "superior"
    # someone else's job is not there for you (nor, once fetched and deleted, for its owner)
    assert office.get(f"/api/v1/exports/{job['id']}").status_code == 404
    zf = zipfile.ZipFile(io.BytesIO(data))
    everything = b"".join(zf.read(n) for n in zf.namelist()).decode("utf-8", "replace")
    for name in NAMES:
        assert name not in everything
    assert "村支书虚报冒领扶贫资金问题线索" not in everything  # lead titles are left out
    leads = csv_rows(zf.read("leads.csv"))
    assert "线索标题" not in leads[0]
    assert "被反映人及处理结果" not in leads[0]
    outcomes = {
        r[leads[0].index("移交对象")]: r[leads[0].index("处理结果（不含姓名）")] for r in leads[1:]
    }
    assert outcomes == {
        "纪委监委": "党纪处分：留党察看1人；政务处分：撤职1人、记过1人",
        "组织部": "尚无处理结果",
    }
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["recipient"] == "superior"
    assert "不含" in manifest["redaction"]
    assert office.get(f"/api/v1/exports/{job['id']}/download").status_code == 404


def test_a_failed_reconciliation_fails_the_export(
    office: httpx.Client, history: History, database: Database
) -> None:
    wu = uuid.UUID(history.subjects["吴某某"])
    statement = "UPDATE referrals.lead_subjects SET party_sanction = $1 WHERE id = $2"
    asyncio.run(sql(database, "referrals", statement, "warning", wu))
    try:
        job = finished(
            office, ok(office.post("/api/v1/exports", json={"term_id": history.term_id}), 202)
        )
    finally:
        asyncio.run(sql(database, "referrals", statement, None, wu))
    assert job["status"] == "failed"
    assert "sanctions_only_after_case" in job["error"]
    assert job["download"] is None
    refused = office.get(f"/api/v1/exports/{job['id']}/download")
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/export-not-ready"
    assert office.delete(f"/api/v1/exports/{job['id']}").status_code == 204
    assert office.get(f"/api/v1/exports/{job['id']}").status_code == 404


def test_leads_and_items_of_several_rounds_are_in_each_rounds_package(
    office: httpx.Client,
) -> None:
    """A lead or item made from findings of two rounds has no round of its own (null): the
    statistics count it in both rounds, so the package of each round has it, naming the
    rounds, and the package of the term has it once."""
    tag = uuid.uuid4().hex[:6]
    city = f"跨轮次市{tag}"
    today = datetime.now().date()

    def target(name: str, kind: str, parent: str | None = None) -> str:
        body = {"name": name, "kind": kind, "jurisdiction": city, "parent_id": parent}
        return str(post(office, "/api/v1/targets", body)["id"])

    town = target("车埠镇党委", "township_committee")
    villages = [target(f"{name}村", "village", town) for name in ("双泉", "柳山")]
    term = post(
        office, "/api/v1/terms",
        {"name": f"跨轮次测试届{tag}", "starts_on": "2016-10-01", "ends_on": "2021-09-30",
         "coverage_kinds": ["village"], "jurisdiction": city},
    )  # fmt: skip
    rounds, findings = [], []
    for n, village in enumerate(villages, start=1):
        rnd = str(
            post(
                office, "/api/v1/rounds",
                {"term_id": term["id"], "number": n, "name": f"常规巡察{n}", "kind": "regular"},
            )["id"]
        )  # fmt: skip
        group = post(
            office, "/api/v1/groups",
            {"round_id": rnd, "kind": "municipal", "name": f"第{n}巡察组",
             "owning_organisation": "中共跨轮次市委"},
        )["id"]  # fmt: skip
        assignment = post(
            office, "/api/v1/assignments",
            {"round_id": rnd, "group_id": group, "target_id": village, "mode": "pinpoint"},
        )["id"]  # fmt: skip
        for to in ("mobilisation", "stationing"):
            post(office, f"/api/v1/rounds/{rnd}/transitions", {"to": to})
        cats = ok(office.get(f"/api/v1/rounds/{rnd}/categories"), 200)
        cats = cats["items"] if isinstance(cats, dict) else cats
        finding = post(
            office, "/api/v1/findings",
            {"assignment_id": assignment, "category_id": cats[0]["id"],
             "title": f"第{n}轮发现的问题", "facts": "经查属实。", "money_involved": "100.00",
             "source": "letters", "severity": "minor", "discovered_on": today.isoformat()},
        )["id"]  # fmt: skip
        post(office, f"/api/v1/findings/{finding}/transitions", {"to": "confirmed"}, 200)
        rounds.append(rnd)
        findings.append(str(finding))

    def lead(title: str, finding_ids: list[str], n: int) -> None:
        made = post(
            office, "/api/v1/leads",
            {"title": title, "summary": f"{title}。", "finding_ids": finding_ids,
             "recipient": "discipline_commission",
             "subjects": [{"name": "冯某某", "position": "村会计", "rank": "none",
                           "party_member": False}]},
        )  # fmt: skip
        path = f"/api/v1/leads/{made['id']}/transitions"
        post(office, path, {"to": "approved"})
        post(office, path, {"to": "transferred", "transfer_letter_no": f"跨移〔{tag}〕{n}号"})

    def item(title: str, finding_ids: list[str]) -> None:
        post(
            office, "/api/v1/rectifications",
            {"title": title, "duties": "限期整改。", "finding_ids": finding_ids,
             "owner_type": "responsible_unit", "owner_name": "车埠镇党委",
             "deadline": (today + timedelta(days=30)).isoformat()},
        )  # fmt: skip

    lead("第一轮自己的线索", findings[:1], 1)
    lead("两轮共同的线索", findings, 2)
    item("两轮共同的整改事项", findings)
    item("第二轮自己的整改事项", findings[1:])

    def registers(body: dict[str, Any]) -> dict[str, dict[str, str]]:
        """Title → round column of the leads and items of a package, checking its progress."""
        job, data = export(office, body)
        assert job["progress"]["rows_written"] == job["progress"]["rows_expected"]
        zf = zipfile.ZipFile(io.BytesIO(data))
        out = {}
        for register, title in (("leads", "线索标题"), ("rectifications", "整改事项")):
            rows = csv_rows(zf.read(f"{register}.csv"))
            head = rows[0]
            out[register] = {r[head.index(title)]: r[head.index("巡察轮次")] for r in rows[1:]}
            assert len(out[register]) == len(rows) - 1  # each once
        return out

    both = "（多个轮次）第1轮 常规巡察1、第2轮 常规巡察2"
    assert registers({"round_id": rounds[0]}) == {
        "leads": {"第一轮自己的线索": "第1轮 常规巡察1",
                  "两轮共同的线索": "（多个轮次）第1轮 常规巡察1、其他轮次"},
        "rectifications": {"两轮共同的整改事项": "（多个轮次）第1轮 常规巡察1、其他轮次"},
    }  # fmt: skip
    assert registers({"round_id": rounds[1]}) == {
        "leads": {"两轮共同的线索": "（多个轮次）第2轮 常规巡察2、其他轮次"},
        "rectifications": {"两轮共同的整改事项": "（多个轮次）第2轮 常规巡察2、其他轮次",
                           "第二轮自己的整改事项": "第2轮 常规巡察2"},
    }  # fmt: skip
    assert registers({"term_id": term["id"]}) == {
        "leads": {"第一轮自己的线索": "第1轮 常规巡察1", "两轮共同的线索": both},
        "rectifications": {"两轮共同的整改事项": both, "第二轮自己的整改事项": "第2轮 常规巡察2"},
    }  # fmt: skip


def missing(what: str) -> NoReturn:
    """Skips the test, or fails it where the system tools must be there (CI)."""
    required = os.environ.get("CI", "").lower() not in ("", "0", "false") or (
        os.environ.get("REQUIRE_SYSTEM_TOOLS") == "1"
    )
    message = (
        f"{what}: not installed (apt-get install libreoffice-calc-nogui poppler-utils "
        "fonts-noto-cjk, or `make test` on Debian)"
    )
    if required:
        pytest.fail(message + "; required here (CI or REQUIRE_SYSTEM_TOOLS=1)")
    pytest.skip(message)


def chinese_fonts() -> set[str]:
    """The PostScript names of the installed fonts that have Chinese glyphs (fontconfig)."""
    if shutil.which("fc-list") is None:
        return set()
    listed = subprocess.run(
        ["fc-list", ":lang=zh", "postscriptname"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split("=", 1)[1].strip() for line in listed.splitlines() if "=" in line}


def pdf_fonts(pdf: Path) -> list[str]:
    """The fonts a PDF embeds, without their subset tag (`BAAAAA+NotoSansCJKjp-Regular`)."""
    listed = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    return [line.split()[0].split("+", 1)[-1] for line in listed if line.strip()]


def test_libreoffice_opens_the_xlsx_and_the_csv_with_chinese_headers(
    office_package: tuple[dict[str, Any], bytes], tmp_path: Path
) -> None:
    tools = ("soffice", "pdftotext", "pdffonts")
    absent = [tool for tool in tools if shutil.which(tool) is None]
    if absent:
        missing(", ".join(absent))
    chinese = chinese_fonts()
    if not chinese:
        missing("A font with Chinese glyphs")
    zf = zipfile.ZipFile(io.BytesIO(office_package[1]))
    for name in ("registers.xlsx", "findings.csv", "statistics.xlsx"):
        (tmp_path / name).write_bytes(zf.read(name))
    profile = tmp_path / "lo-profile"
    for name in ("registers.xlsx", "findings.csv", "statistics.xlsx"):
        # CSV: comma-separated, quoted with ", UTF-8 (76), as the import dialog is set for it;
        # headless LibreOffice does not look at the BOM (Excel does: that is what it is for)
        infilter = ["--infilter=CSV:44,34,76,1"] if name.endswith(".csv") else []
        subprocess.run(
            [
                "soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                *infilter, "--convert-to", "pdf", "--outdir", str(tmp_path), str(tmp_path / name),
            ],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        pdf = tmp_path / (Path(name).stem + ".pdf")
        assert pdf.exists(), name
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
        ).stdout
        flat = "".join(text.split())
        # the text is in the PDF even when drawn as empty boxes: the glyphs must come from a
        # font that has them (a name may carry a suffix: NotoSansCJKjp-Regular-VKana)
        embedded = pdf_fonts(pdf)
        assert any(f.startswith(tuple(chinese)) for f in embedded), (name, embedded)
        if name == "statistics.xlsx":
            assert "巡察工作情况统计表" in flat
            assert "移交问题线索" in flat
            continue
        for header in ("问题编号", "巡察轮次", "问题标题", "涉及金额（元）", "发现日期"):
            assert header in flat, f"{header} lost in {name}"
        assert "村干部虚报冒领扶贫资金" in flat
        # the XLSX cell keeps its number format; LibreOffice reads the CSV's text as a number
        money = "32,000.00" if name.endswith(".xlsx") else "32000"
        assert money in flat, f"{money} not in {name}: {flat[:3000]}"


def test_the_operator_cli_exports_with_a_progress_bar(
    system: System, database: Database, history: History, tmp_path: Path
) -> None:
    name, password = user(database, Role.office)
    env = {**os.environ, "INSPECTION_PASSWORD": password, "PYTHONPATH": str(Path.cwd())}
    done = subprocess.run(
        [
            sys.executable, "-m", "ops", "export-package", "--round-id", history.round1,
            "--gateway", system.gateway, "--username", name, "--out", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checked against its manifest" in done.stdout
    [saved] = tmp_path.glob("export-*.zip")
    with zipfile.ZipFile(saved) as zf:
        assert "registers.xlsx" in zf.namelist()
    wrong = subprocess.run(
        [sys.executable, "-m", "ops", "export-package", "--gateway", system.gateway],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert wrong.returncode != 0
