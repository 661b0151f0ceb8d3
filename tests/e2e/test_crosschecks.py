"""The seed's kind of result, through the gateway and the real processes: a subsidised-loan
recipient file and a staff roster with planted matches; the run finds exactly the planted
people; confirming them files findings (source 大数据比对) with the rows as evidence."""

from __future__ import annotations

import csv
import io
import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.findings.idnumber import check_character
from tests.e2e.conftest import System, place_a_finding

pytestmark = pytest.mark.e2e
PLANTED = 18  # the seed: 18 people suspected of loan fraud
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文斌辉鹏飞云峰"


def _id(n: int) -> str:
    born = f"{1960 + n % 40}{1 + n // 40 % 12:02d}{1 + n // 480 % 28:02d}"
    first = f"421281{born}{n % 1000:03d}"
    return first + check_character(first)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)


def _csv(header: list[str], rows: list[list[Any]], encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode(encoding)


def _wait(gw: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while job["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        resp = gw.get(f"/api/v1/crosschecks/jobs/{job['id']}")
        assert resp.status_code == 200, resp.text
        job = resp.json()
    return job


def _confirm(gw: httpx.Client, hit_id: str, assignment_id: str, category_id: str) -> dict[str, Any]:
    """As a client does: a POST that timed out (the first call of findings to rounds waits for
    its service token) is sent again with the same Idempotency-Key, and gets the one answer."""
    key = {"Idempotency-Key": f"confirm-{hit_id}"}
    body = {"assignment_id": assignment_id, "category_id": category_id}
    for _ in range(20):
        resp = gw.post(f"/api/v1/crosschecks/hits/{hit_id}/confirm", json=body, headers=key)
        running = resp.status_code == 409 and resp.json()["type"].endswith("request-in-progress")
        if resp.status_code != 504 and not running:
            break
        time.sleep(0.5)
    assert resp.status_code == 200, resp.text
    finding: dict[str, Any] = resp.json()
    return finding


def test_planted_loan_frauds_are_found_and_become_findings(system: System) -> None:
    rng = random.Random(2018)
    ids = [_id(n) for n in range(15_000)]
    assert len(set(ids)) == len(ids)
    # 14,000 loans: a file (1.5 MB) over the gateway's 1 MiB JSON limit, under its upload one
    loan_people, staff_only = ids[:14_000], ids[14_000:]
    planted = set(rng.sample(loan_people, PLANTED))
    loans = [
        [n + 1, _name(rng), pid, f"{rng.choice([50000, 100000, 150000])}.00",
         f"2018年{1 + n % 12}月{1 + n % 28}日", f"6228480{n:08d}", "创业担保贷款"]
        for n, pid in enumerate(loan_people)
    ]  # fmt: skip
    roster = [[_name(rng), pid, "赤壁市某局"] for pid in [*sorted(planted), *staff_only]]
    rng.shuffle(roster)
    with httpx.Client(base_url=system.gateway, headers=system.auth, timeout=60) as gw:
        placed = place_a_finding(gw, "赤壁市人力资源和社会保障局")
        versions = []
        loan_header = [
            "序号",
            "借款人姓名",
            "身份证号码",
            "贷款金额",
            "放款日期",
            "银行账号",
            "贷款类别",
        ]
        roster_header = ["姓名", "公民身份号码", "工作单位"]
        for name, kind, header, rows, encoding in (
            ("人社局创业担保贷款2018", "loan_recipients", loan_header, loans, "gbk"),
            ("财政供养人员名册", "staff_roster", roster_header, roster, "utf-8-sig"),
        ):
            resp = gw.post(
                "/api/v1/datasets",
                params={"dataset": name, "kind": kind, "round_id": placed.round_id},
                files={"file": (f"{name}.csv", _csv(header, rows, encoding), "text/csv")},
            )
            assert resp.status_code == 202, resp.text
            assert resp.headers["location"] == f"/api/v1/crosschecks/jobs/{resp.json()['id']}"
            job = _wait(gw, resp.json())
            assert job["state"] == "done", job
            assert job["result"]["rows"] == len(rows)
            assert job["result"]["rejected_rows"] == 0
            versions.append(job["result"]["dataset_version_id"])

        resp = gw.post("/api/v1/crosschecks/runs", json={
            "round_id": placed.round_id, "title": "贷款人与财政供养人员比对",
            "dataset_version_ids": versions, "rules": [{"code": "recipient_in_roster"}],
        })  # fmt: skip
        assert resp.status_code == 202, resp.text
        run = resp.json()
        job = _wait(gw, run["job"])
        assert job["state"] == "done", job
        assert job["result"]["hits"] == PLANTED, job
        hits = gw.get(f"/api/v1/crosschecks/runs/{run['id']}/hits", params={"limit": 100}).json()
        found = {r["id_number"] for h in hits["items"] for r in h["rows"] if r["role"] == "roster"}
        assert found == planted

        finding_ids = [
            _confirm(gw, hit["id"], placed.assignment_id, placed.category_id)["id"]
            for hit in hits["items"]
        ]
        findings = gw.get(
            "/api/v1/findings", params={"round_id": placed.round_id, "limit": 100}
        ).json()["items"]
        mine = [f for f in findings if f["id"] in finding_ids]
        assert len(mine) == PLANTED
        assert {f["source"] for f in mine} == {"data_check"}
        assert {p["id_number"] for f in mine for p in f["persons"]} == planted
        evidence = gw.get(f"/api/v1/findings/{finding_ids[0]}/evidence").json()
        assert len(evidence) == 1
        assert evidence[0]["filename"].endswith(".xlsx")
        after = gw.get(f"/api/v1/crosschecks/runs/{run['id']}/hits", params={"status": "open"})
        assert after.json()["items"] == []


def test_the_cli_imports_and_runs_with_a_progress_bar(system: System, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ops.__main__ import cli

    with httpx.Client(base_url=system.gateway, headers=system.auth, timeout=60) as gw:
        placed = place_a_finding(gw, "赤壁市民政局")
    ids = [_id(7000 + n) for n in range(3)]
    pay = tmp_path / "高龄津贴.csv"
    pay.write_bytes(_csv(["姓名", "身份证号", "金额", "发放日期", "项目"],
                         [["甲", ids[0], "200", "2018-06-01", "高龄津贴"],
                          ["乙", ids[1], "200", "2018-06-01", "高龄津贴"]], "gbk"))  # fmt: skip
    deaths = tmp_path / "死亡名单.csv"
    deaths.write_bytes(
        _csv(["姓名", "身份证号", "死亡日期"], [["甲", ids[0], "2018年3月1日"]], "gbk")
    )
    runner = CliRunner()
    common = ["--gateway", system.gateway, "--token", system.token, "--round", placed.round_id]
    versions = []
    for path, kind in ((pay, "subsidy_recipients"), (deaths, "deaths")):
        out = runner.invoke(cli, ["import-dataset", str(path), "--kind", kind, *common])
        assert out.exit_code == 0, out.output
        assert "imported" in out.output
        versions.append(out.output.split("(")[-1].split(")")[0])
    args = ["run-crosscheck", *common, "--rule", "paid_after_death"]
    for v in versions:
        args += ["--dataset", v]
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert "1 hits" in out.output
    assert ids[0] in out.output
    bad = tmp_path / "坏文件.csv"
    bad.write_bytes(
        _csv(
            ["姓名", "身份证号", "死亡日期"],
            [["乙", ids[1][:17] + ("0" if ids[1][17] != "0" else "1"), "2018-01-01"]],
            "utf-8",
        )
    )
    out = runner.invoke(cli, ["import-dataset", str(bad), "--kind", "deaths", *common])
    assert out.exit_code == 1
    assert "GB 11643" in out.output
