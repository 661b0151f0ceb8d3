"""The export package writer and the registers' rows, without the system: what the receiving
office may see, CSV that no spreadsheet runs as a formula, JSON that parses, a ZIP whose manifest
matches, and the routes the gateway keeps for itself."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl

from gateway.dashboard.package import PackageWriter
from gateway.dashboard.registers import REGISTERS, Context, item_row, lead_row, of_rounds
from gateway.proxy.routes import service_for

LEADS = REGISTERS[1]
LABELS = {
    "PartySanction": {"probation": "留党察看", "warning": "警告"},
    "GovernmentSanction": {"dismissal_from_post": "撤职", "demerit": "记过", "warning": "警告"},
    "LeadStatus": {"concluded": "已办结"},
    "LeadRecipient": {"discipline_commission": "纪委监委"},
}


def lead(**over: Any) -> dict[str, Any]:
    subject = {
        "party_sanction": None, "government_sanction": None, "organisational_handling": None,
        "judicial_transfer": False, "not_substantiated": False,
    }  # fmt: skip
    return {
        "id": "l1", "round_id": "r1", "title": "关于陈某某的问题线索", "summary": "陈某某……",
        "findings": [{"title": "虚报冒领"}], "recipient": "discipline_commission",
        "status": "concluded", "subject_count": 3, "money_recovered": "100.00",
        "created_at": "2026-11-26T01:02:03+00:00",
        "subjects": [
            {**subject, "name": "陈某某", "position": "村支书", "party_sanction": "probation",
             "government_sanction": "dismissal_from_post"},
            {**subject, "name": "周某某", "position": "", "government_sanction": "demerit"},
            {**subject, "name": "吴某某", "position": "会计", "judicial_transfer": True},
        ],
        **over,
    }  # fmt: skip


def test_the_office_sees_names_the_superior_counts_outcomes() -> None:
    office = Context(recipient="office", referrals_labels=LABELS)
    row = lead_row(lead(), office)
    assert row is not None
    assert (
        row["subjects"]
        == "陈某某（村支书）：留党察看、撤职；周某某：记过；吴某某（会计）：移送司法机关"
    )
    assert row["title"] == "关于陈某某的问题线索"
    superior = Context(recipient="superior", referrals_labels=LABELS)
    row = lead_row(lead(), superior)
    assert row is not None
    assert row["outcomes"] == "党纪处分：留党察看1人；政务处分：撤职1人、记过1人；移送司法机关1人"
    assert "陈某某" not in str(row)
    assert [c.title for c in LEADS.columns(superior)].count("线索标题") == 0
    assert lead_row(lead(status="approved"), office) is None  # not handed over yet


def test_a_record_of_several_rounds_belongs_to_each_and_names_them() -> None:
    ctx = Context(recipient="office", rounds={"r1": "第1轮 常规巡察", "r2": "第2轮 专项巡察"})
    findings = [
        {"title": "甲", "round_id": "r1"}, {"title": "乙", "round_id": "r2"},
        {"title": "丙", "round_id": "r1"},
    ]  # fmt: skip
    item = {
        "id": "i1", "round_id": None, "title": "整改", "duties": "限期整改", "findings": findings,
        "owner_type": "responsible_unit", "owner_name": "某镇", "deadline": "2026-12-31",
        "status": "open", "created_at": "2026-11-26T01:02:03+00:00",
    }  # fmt: skip
    assert of_rounds(item, {"r2"})
    assert of_rounds(item, {"r1", "r3"})
    assert not of_rounds(item, {"r3"})
    assert not of_rounds({**item, "round_id": "r1"}, {"r1"})  # its own round lists it already
    row = item_row(item, ctx)
    assert row is not None
    assert row["round"] == "（多个轮次）第1轮 常规巡察、第2轮 专项巡察"
    # the package of round 2 only: round 1 is not in it
    row = item_row(item, Context(recipient="office", rounds={"r2": "第2轮 专项巡察"}))
    assert row is not None
    assert row["round"] == "（多个轮次）第2轮 专项巡察、其他轮次"


def test_csv_json_and_xlsx_of_a_register_and_the_manifest(tmp_path: Path) -> None:
    ctx = Context(recipient="office", referrals_labels=LABELS)
    package = PackageWriter(tmp_path / "pkg")
    writer = package.register(LEADS, LEADS.columns(ctx))
    tricky = lead(id="l2", title='=HYPERLINK("http://x")', money_recovered="1234567.80")
    writer.write([r for r in (lead_row(lead(), ctx), lead_row(tricky, ctx)) if r is not None])
    zipped, files = package.finish({"title": "测试"})
    assert not (tmp_path / "pkg").exists()  # only the ZIP is kept
    zf = zipfile.ZipFile(zipped)
    manifest = json.loads(zf.read("manifest.json"))
    for entry in manifest["files"]:
        assert hashlib.sha256(zf.read(entry["path"])).hexdigest() == entry["sha256"]
    assert {f.path: f.rows for f in files} == {
        "registers.xlsx": 2, "leads.csv": 2, "leads.json": 2
    }  # fmt: skip
    data = zf.read("leads.csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    title = rows[0].index("线索标题")
    assert rows[2][title] == '\'=HYPERLINK("http://x")'  # shown as text, never run
    assert rows[2][rows[0].index("追回资金（元）")] == "1234567.80"
    doc = json.loads(zf.read("leads.json"))
    assert doc["rows"][1]["title"] == '=HYPERLINK("http://x")'
    assert doc["rows"][1]["money_recovered"] == "1234567.80"
    sheet = openpyxl.load_workbook(io.BytesIO(zf.read("registers.xlsx")))["问题线索台账"]
    cell = sheet.cell(row=3, column=[c.value for c in sheet[1]].index("线索标题") + 1)
    assert cell.value == '=HYPERLINK("http://x")'
    assert cell.data_type == "s"  # a string, not a formula


def test_the_gateway_answers_dashboard_and_exports_itself() -> None:
    for path in ("/api/v1/dashboard", "/api/v1/dashboard/table", "/api/v1/exports", "/results"):
        assert service_for(path) is None
