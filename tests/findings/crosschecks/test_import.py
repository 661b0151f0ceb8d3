"""Importing datasets: encodings, delimiters, Chinese date and amount formats, check digits,
all or nothing, partial imports, the report."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from typing import Any

import asyncpg
import pytest

from ops.stack import Database
from services.common.tabular import SNIFF_BYTES
from services.findings.crosschecks import importer
from tests.findings.conftest import World
from tests.findings.crosschecks.conftest import (
    csv_bytes,
    imported,
    person_id,
    upload,
    wrong_check_digit,
)

pytestmark = pytest.mark.usefixtures("fast_jobs")
LOANS = ["序号", "姓名", "身份证号", "贷款金额", "发放日期", "银行账号", "备注"]


async def test_a_loan_file_is_loaded_normalised(world: World) -> None:
    rows = [
        [1, "張 三", person_id(1), "¥50,000.00", "2018年5月1日", "6228 4800 1234", "首贷"],
        [2, "李四", person_id(2).lower().replace("X", "x"), "30000", "2018/5/2", "", ""],
        [3, "王五", person_id(3), "12000.5元", "20180503", "6228480012340003", "续贷"],
        [4, "赵六", person_id(4), "8000", "2018.5.4", "6228480012340004", ""],
    ]
    version = await imported(
        world, csv_bytes(LOANS, rows), kind="loan_recipients", dataset="人社局创业担保贷款"
    )
    got = await world.http.get(f"/api/v1/datasets/{version}", headers=world.office)
    assert got.status_code == 200
    v = got.json()
    assert (v["dataset"], v["version"], v["row_count"], v["bad_rows"]) == (
        "人社局创业担保贷款",
        1,
        4,
        0,
    )
    assert len(v["sha256"]) == 64
    assert v["columns"]["mapping"]["id_number"] == "身份证号"
    rows_read = (
        await world.http.get(f"/api/v1/datasets/{version}/rows", headers=world.office)
    ).json()
    first = rows_read[0]
    assert first["line"] == 2
    assert first["name"] == "張 三"
    assert first["amount"] == "50000.00"
    assert first["date1"] == "2018-05-01"
    assert first["account"] == "62284800123"[:0] + "622848001234"
    assert first["extra"] == {"序号": "1", "备注": "首贷"}
    assert [r["date1"] for r in rows_read] == [
        "2018-05-01",
        "2018-05-02",
        "2018-05-03",
        "2018-05-04",
    ]
    assert rows_read[2]["amount"] == "12000.50"
    assert rows_read[1]["account"] is None


async def test_a_gbk_file_with_tabs(world: World) -> None:
    data = csv_bytes(
        ["姓名", "身份证号", "单位"], [["陈国华", person_id(7), "赤壁市财政局"]], "gbk"
    )
    data = data.replace(b",", b"\t")
    version = await imported(world, data, kind="staff_roster")
    [row] = (await world.http.get(f"/api/v1/datasets/{version}/rows", headers=world.office)).json()
    assert (row["name"], row["org"]) == ("陈国华", "赤壁市财政局")


async def test_a_bad_check_digit_on_row_90001_rejects_the_file_and_stores_nothing(
    world: World, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small blocks: the rows before the bad one are sent to PostgreSQL before it is seen
    monkeypatch.setattr(importer, "BLOCK_BYTES", 256 * 1024)
    rows = [
        [f"某{n}", person_id(n, born=f"19{50 + n // 1000 % 50}0101"), "1000", "2018-05-01"]
        for n in range(100_000)
    ]
    bad = rows[89_999]  # the header is row 1: this is row 90,001
    bad[1] = wrong_check_digit(bad[1])
    data = csv_bytes(["姓名", "身份证号", "金额", "发放日期"], rows)
    before = await _count_rows(database)
    status, job = await upload(world, data, kind="loan_recipients", dataset="九万行")
    assert status == 202
    assert job["state"] == "failed"
    error = job["error"]
    assert error["type"] == "/problems/import-rejected"
    assert error["rejected_rows"] == 1
    assert error["rows"] == 100_000
    assert [(e["row"], e["column"]) for e in error["errors"]] == [(90_001, "身份证号")]
    assert "GB 11643" in error["errors"][0]["message"]
    assert await _count_rows(database) == before
    listed = await world.http.get(
        "/api/v1/datasets", params={"dataset": "九万行"}, headers=world.office
    )
    assert listed.json()["items"] == []


async def _count_rows(database: Database) -> int:
    conn = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM findings.dataset_rows"))
    finally:
        await conn.close()


async def test_partial_keeps_the_good_rows_and_reports_every_bad_one(world: World) -> None:
    rows = [["甲", person_id(1), "100", "2018-05-01"],
            ["乙", wrong_check_digit(person_id(2)), "100", "2018-05-01"],
            ["丙", person_id(3), "12.345", "2018-05-01"],
            ["丁", person_id(4), "100", "2018-02-30"],
            ["", person_id(5), "-5", "明天"],
            ["戊", person_id(6), "1,000.50", "2018年5月"]]  # fmt: skip
    data = csv_bytes(["姓名", "身份证号", "金额", "发放日期"], rows)
    _, job = await upload(world, data, kind="loan_recipients")
    assert job["state"] == "failed"
    assert job["error"]["rejected_rows"] == 4
    _, job = await upload(world, data, kind="loan_recipients", partial="true")
    assert job["state"] == "done", job
    result = job["result"]
    assert (result["rows"], result["rejected_rows"]) == (2, 4)
    by_row = {}
    for e in result["errors"]:
        by_row.setdefault(e["row"], []).append(e["field"])
    assert by_row == {3: ["id_number"], 4: ["amount"], 5: ["date1"],
                      6: ["name", "amount", "date1"]}  # fmt: skip
    version = result["dataset_version_id"]
    kept = (await world.http.get(f"/api/v1/datasets/{version}/rows", headers=world.office)).json()
    assert [(r["line"], r["amount"], r["date1"]) for r in kept] == [
        (2, "100.00", "2018-05-01"), (7, "1000.50", "2018-05-01")]  # fmt: skip


async def test_a_nul_character_is_a_bad_row_named_not_a_failed_job(world: World) -> None:
    """PostgreSQL's text (and JSON's) cannot hold U+0000: the row is reported with its column,
    in a mapped column and in one kept in `extra`, and the good rows can still be kept. (A NUL
    in the file's first 64 KiB makes it binary, refused at upload: these come after.)"""
    good = [[f"某{n}", person_id(n), "100", "备注"] for n in range(2000)]
    rows = [*good,
            ["乙\x00", person_id(1), "100", "备注"],
            ["丙", person_id(2), "100", "备\x00注"],
            ["丁", person_id(3), "100", "好"]]  # fmt: skip
    data = csv_bytes(["姓名", "身份证号", "金额", "备注"], rows)
    assert data.index(b"\x00") > SNIFF_BYTES
    _, job = await upload(world, data, kind="loan_recipients", partial="true")
    assert job["state"] == "done", job
    result = job["result"]
    assert (result["rows"], result["rejected_rows"]) == (2001, 2)
    assert [(e["row"], e["column"]) for e in result["errors"]] == [(2002, "姓名"), (2003, "备注")]
    assert all("NUL" in e["message"] for e in result["errors"])
    version = result["dataset_version_id"]
    kept = (
        await world.http.get(
            f"/api/v1/datasets/{version}/rows", params={"after": 2000}, headers=world.office
        )
    ).json()
    assert [(r["line"], r["name"], r["extra"]) for r in kept] == [
        (2001, "某1999", {"备注": "备注"}), (2004, "丁", {"备注": "好"})]  # fmt: skip


async def test_the_report_lists_a_thousand_rows_and_counts_them_all(world: World) -> None:
    rows = [[f"某{n}", "420000000000000000", "1", "2018-01-01"] for n in range(1500)]
    _, job = await upload(world, csv_bytes(["姓名", "身份证号", "金额", "发放日期"], rows),
                               kind="loan_recipients")  # fmt: skip
    assert job["error"]["rejected_rows"] == 1500
    assert len(job["error"]["errors"]) == 1000
    assert job["error"]["errors"][-1]["row"] == 1001


async def test_a_file_without_a_required_column_is_422_at_once(world: World) -> None:
    data = csv_bytes(["姓名", "金额"], [["甲", "100"]])
    status, problem = await upload(world, data, kind="loan_recipients")
    assert status == 422
    assert problem["type"] == "/problems/columns-missing"
    assert {e["field"] for e in problem["errors"]} == {"id_number"}
    # the mapping names the columns when the headers are not the usual ones
    data = csv_bytes(["户名", "证件", "发放额"], [["甲", person_id(1), "100"]])
    mapping = '{"name": "户名", "id_number": "证件", "amount": "发放额"}'
    status, job = await upload(world, data, kind="loan_recipients", mapping=mapping)
    assert job["state"] == "done", job
    status, problem = await upload(world, data, kind="loan_recipients",
                                   mapping='{"name": "没有这列"}')  # fmt: skip
    assert status == 422


async def test_quoted_cells_and_line_breaks_inside_them(world: World) -> None:
    data = (
        "姓名,身份证号,金额,发放日期,备注\r\n"
        f'"张三",{person_id(1)},"¥1,200.00",2018-05-01,"第一行\r\n第二行"\r\n'
        f'李四,{person_id(2)},300,2018-05-02,"含""引号"",和逗号"\r\n'
        f"王五,{person_id(3)},400,2018-05-03,反斜杠\\和\t制表符\r\n"
    ).encode("utf-8-sig")
    version = await imported(world, data, kind="loan_recipients")
    rows = (await world.http.get(f"/api/v1/datasets/{version}/rows", headers=world.office)).json()
    assert [(r["line"], r["name"], r["amount"]) for r in rows] == [
        (2, "张三", "1200.00"), (3, "李四", "300.00"), (4, "王五", "400.00")]  # fmt: skip
    assert rows[0]["extra"] == {"备注": "第一行\n第二行"}  # line ends normalised
    assert rows[1]["extra"] == {"备注": '含"引号",和逗号'}
    assert rows[2]["extra"] == {"备注": "反斜杠\\和\t制表符"}


@pytest.mark.parametrize("blank_line", [False, True])
async def test_a_quote_inside_an_unquoted_cell_and_a_name_whose_key_is_longer(
    world: World, database: Database, blank_line: bool
) -> None:
    """A quote inside a cell that does not start with one is the cell's (the csv module's
    reading); it reaches the JSON of the unmapped cells escaped, on the column-by-column path
    and on the row-by-row one (a blank line sends the block there). A name whose key NFKC
    makes longer than a name may be (㍿ is 株式会社) is kept, its key cut to 100 characters."""
    data = (
        "姓名,身份证号,金额,发放日期,备注\n"
        f'张三,{person_id(1)},100,2018-05-01,a"b"c\n' + ("\n" if blank_line else "")
        + f"{'㍿' * 100},{person_id(2)},200,2018-05-02,\\\n"
    ).encode()  # fmt: skip
    version = await imported(world, data, kind="loan_recipients")
    stored = await _stored(database, version)
    assert [json.loads(r[12]) for r in stored] == [{"备注": 'a"b"c'}, {"备注": "\\"}]
    assert stored[1][2] == "㍿" * 100
    assert stored[1][3] == ("株式会社" * 25)


async def test_an_xlsx_workbook(world: World) -> None:
    import io
    from datetime import date

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "死亡日期"])
    sheet.append(["甲", person_id(1), date(2018, 3, 1)])
    sheet.append(["乙", person_id(2), "2018年4月2日"])
    out = io.BytesIO()
    book.save(out)
    version = await imported(world, out.getvalue(), kind="deaths", filename="死亡名单.xlsx")
    rows = (await world.http.get(f"/api/v1/datasets/{version}/rows", headers=world.office)).json()
    assert [(r["name"], r["date1"]) for r in rows] == [("甲", "2018-03-01"), ("乙", "2018-04-02")]


@pytest.mark.parametrize("block_bytes", [None, 64], ids=["one block", "blocks of 64 bytes"])
async def test_crlf_line_ends_and_line_breaks_inside_quoted_cells(
    world: World, monkeypatch: pytest.MonkeyPatch, block_bytes: int | None
) -> None:
    """A file saved with CRLF line ends, whose quoted cells hold CRLF and LF: each record is one
    row (numbered as a spreadsheet does), the cells' line breaks kept as LF; the same when a
    record is cut by the blocks the file is read in."""
    if block_bytes:
        monkeypatch.setattr(importer, "BLOCK_BYTES", block_bytes)
    data = (
        "姓名,身份证号,金额,发放日期,地址,备注\r\n"
        f'张三,{person_id(1)},100,2018-05-01,"赤壁市\r\n蒲圻街道",首贷\r\n'
        f'李四,{person_id(2)},200,2018-05-02,"第一行\n第二行\r\n第三行","含""引号"""\r\n'
        f"王五,{person_id(3)},300,2018-05-03,赤壁市,\r\n"
        f'"赵\r\n六",{person_id(4)},"¥1,400.00",2018年5月4日,"",续贷\r\n'
        f"孙七,{person_id(5)},500,2018/5/5,赤壁市,末行无换行"
    ).encode()
    version = await imported(world, data, kind="loan_recipients")
    rows = (await world.http.get(f"/api/v1/datasets/{version}/rows", headers=world.office)).json()
    assert [(r["line"], r["name"], r["amount"], r["date1"]) for r in rows] == [
        (2, "张三", "100.00", "2018-05-01"),
        (3, "李四", "200.00", "2018-05-02"),
        (4, "王五", "300.00", "2018-05-03"),
        (5, "赵\n六", "1400.00", "2018-05-04"),
        (6, "孙七", "500.00", "2018-05-05"),
    ]
    assert [r["extra"] for r in rows] == [
        {"地址": "赤壁市\n蒲圻街道", "备注": "首贷"},
        {"地址": "第一行\n第二行\n第三行", "备注": '含"引号"'},
        {"地址": "赤壁市", "备注": ""},
        {"地址": "", "备注": "续贷"},
        {"地址": "赤壁市", "备注": "末行无换行"},
    ]


async def test_crlf_rows_with_bad_values_are_reported_by_their_row_numbers(world: World) -> None:
    """CRLF line ends, a multi-line quoted cell, then bad rows: the report counts the
    multi-line record as one row; a carriage return alone outside quotes is a bad row, not a
    failed job."""
    data = (
        "姓名,身份证号,金额,备注\r\n"
        f'甲,{person_id(1)},100,"两\r\n行"\r\n'
        f"乙,{wrong_check_digit(person_id(2))},100,\r\n"
        f"丙,{person_id(3)},1.005,\r\n"
        f"丁,{person_id(4)},100,回车\r在中间\r\n"
        f"戊,{person_id(5)},100,\r\n"
    ).encode()
    _, job = await upload(world, data, kind="loan_recipients", partial="true")
    assert job["state"] == "done", job
    result = job["result"]
    assert (result["rows"], result["rejected_rows"]) == (2, 3)
    assert [(e["row"], e["field"]) for e in result["errors"]] == [
        (3, "id_number"), (4, "amount"), (5, "")]  # fmt: skip
    assert "回车" in result["errors"][2]["message"]
    rows = (
        await world.http.get(
            f"/api/v1/datasets/{result['dataset_version_id']}/rows", headers=world.office
        )
    ).json()
    assert [(r["line"], r["name"], r["extra"]) for r in rows] == [
        (2, "甲", {"备注": "两\n行"}), (6, "戊", {"备注": ""})]  # fmt: skip


def _mixed_rows(n: int) -> list[list[str]]:
    """Rows in every shape the import reads: ID numbers with x, spaces, full-width digits, a
    wrong check digit; amounts plain, with ¥ and thousands separators, 元, RMB, too precise,
    negative; dates in each format and some that do not exist; names simplified, traditional,
    full-width, with spaces and dots; notes with quotes, commas, control characters,
    backslashes, tabs and line breaks; blanks."""
    rng = random.Random(7)
    names = ["张三", "張三", "李 四", " 王五 ", "ＺＨＡＮＧ", "Li Si", "欧阳·娜娜", "陈国华", ""]
    amounts = [
        "12345",
        "12345.5",
        "0.05",
        "¥12,345.00",
        "12345元",
        "￥300",
        " 400 ",
        "RMB500",
        "1,000",
        "1.500",
        "00012",
        "12.",
        "-5",
        "1.234",
        "abc",
        "",
        "1234567890123",
    ]
    dates = [
        "2018-05-01",
        "2018/5/1",
        "2018年5月1日",
        "2018.5.1",
        "20180501",
        "2018-05",
        "2018年5月",
        " 2018-05-02 ",
        "2018-05-01 00:00:00",
        "2018-02-30",
        "明天",
        "",
    ]
    notes = ["", "首贷", '含"引号"', "a,b", "  空格  ", "控制\x07符", "反斜杠\\", "制表\t符",
             "两\n行", "末"]  # fmt: skip
    rows = []
    for i in range(n):
        pid = person_id(i, born=f"19{50 + i % 50}0{1 + i % 9}{10 + i % 18}")
        shape = i % 29
        if shape == 3:
            pid = pid[:17] + pid[17].lower()
        elif shape == 5:
            pid = f" {pid}"
        elif shape == 7:
            pid = wrong_check_digit(pid)
        elif shape == 9:
            pid = pid.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        elif shape == 11:
            pid = ""
        rare = i % 7 == 0  # the other rows are in the shapes most files hold
        rows.append([
            str(i), rng.choice(names) if rare else rng.choice(names[:2] + names[7:8]), pid,
            rng.choice(amounts) if rare else rng.choice(amounts[:5]),
            rng.choice(dates) if rare else rng.choice(dates[:3]),
            rng.choice(["6228480012340001", "6228 4800 1234", "ab-12-cd", "", "12"]),
            rng.choice(notes) if i % 97 == 0 else rng.choice(notes[:6]),
        ])  # fmt: skip
    return rows


@pytest.mark.parametrize(
    ("encoding", "delimiter", "line_end"),
    [("utf-8", ",", "\n"), ("gb18030", ",", "\r\n"), ("utf-8-sig", "\t", "\r\n")],
    ids=["utf-8", "gbk-crlf", "bom-tabs"],
)
async def test_the_columnar_path_stores_what_the_row_by_row_path_stores(
    world: World,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
    delimiter: str,
    line_end: str,
) -> None:
    """The same file imported with blocks read column by column where they can be (small
    blocks: some hold only rows in the usual shapes, some a quoted line break or a backslash)
    and with every row checked one by one: the same rows stored, the same rows reported."""
    monkeypatch.setattr(importer, "BLOCK_BYTES", 16 * 1024)
    header = ["序号", "姓名", "身份证号", "贷款金额", "发放日期", "银行账号", "备注"]
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=line_end).writerows(
        [header, *_mixed_rows(3000)]
    )
    data = out.getvalue().encode(encoding)
    columnar = _counting(monkeypatch)
    _, fast = await upload(world, data, kind="loan_recipients", partial="true")
    assert fast["state"] == "done", fast
    assert columnar[True] > 0  # blocks of both kinds were there
    assert columnar[False] > 0
    monkeypatch.setattr(importer.Columns, "block", lambda *_: None)
    _, slow = await upload(world, data, kind="loan_recipients", partial="true")
    assert slow["state"] == "done", slow
    fast_result, slow_result = fast["result"], slow["result"]
    assert fast_result["rows"] == slow_result["rows"] > 1000
    assert fast_result["rejected_rows"] == slow_result["rejected_rows"] > 100

    assert fast_result["errors"] == slow_result["errors"]  # the first thousand, in row order
    assert await _stored(database, fast_result["dataset_version_id"]) == await _stored(
        database, slow_result["dataset_version_id"]
    )


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[bool, int]:
    """How many blocks `Columns` took (True) and left to the row-by-row path (False)."""
    seen = {True: 0, False: 0}
    block = importer.Columns.block

    def counted(self: importer.Columns, text: bytes, first: int, rows: int) -> bytes | None:
        copied = block(self, text, first, rows)
        seen[copied is not None] += 1
        return copied

    monkeypatch.setattr(importer.Columns, "block", counted)
    return seen


async def _stored(database: Database, version_id: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(
            "SELECT line, id_number, name, name_key, related_id, org, account, amount, date1, "
            "date2, programme, relation, extra FROM findings.dataset_rows "
            "WHERE version_id = $1 ORDER BY line",
            uuid.UUID(version_id),
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()
