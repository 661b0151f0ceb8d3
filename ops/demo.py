"""Demo data: a city that looks like the seed's Chibi after two rounds, loaded through the
gateway's public API as the development administrator (so every rule applies to it too).

A term, two rounds (a regular one in rectification, the poverty-alleviation special round
in stationing), "3+10" groups with deputies seconded from the discipline commission, the
target registry (departments, ten townships and their villages, a farm, a unit of another
county), "3+23" assignments, joint and cross assignments, findings with persons involved and
responsibility links, leads through to sanctions, rectification items, and the suggestions
(意见建议) and rules established (建立健全制度) of both rounds: the first round's departments,
in rectification, have adopted most suggestions and issued rules; the special round's are
tied to its findings. Loading twice adds nothing: the term's name is the marker.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

CITY = "赤壁市"
TERM = "中共赤壁市第八届委员会"
DEPARTMENTS = ["扶贫办", "发改局", "民政局", "人社局", "住建局", "财政局", "农业农村局", "教育局"]
TOWNSHIPS = [
    "赤马港",
    "蒲圻",
    "陆水湖",
    "中伙铺",
    "官塘驿",
    "新店",
    "赵李桥",
    "茶庵岭",
    "车埠",
    "赤壁镇",
]
VILLAGE_NAMES = [
    "石头口",
    "杨家湾",
    "新桥",
    "沧湖",
    "泉口",
    "南门",
    "畈上",
    "双泉",
    "羊楼洞",
    "柳山",
]
MARKER = "demo"
# What the first round (departments 4 to 6, in rectification) suggested to each department,
# how far it was adopted, and the rules the department then issued (title, document number,
# the suggestion it answers).
FIRST_ROUND_RESULTS = {
    "人社局": (
        [
            ("规范就业补助资金发放流程，实行申领、审核、发放三分离。", "adopted"),
            ("落实谈心谈话制度，加强窗口单位干部作风建设。", "partially_adopted"),
        ],
        [("赤壁市就业补助资金管理办法", "赤人社发〔2018〕15号", 0)],
    ),
    "住建局": (
        [
            ("建立农村危房改造对象动态管理台账，严格入户核查。", "adopted"),
            ("规范工程建设项目招标投标，杜绝化整为零规避招标。", "adopted"),
        ],
        [
            ("赤壁市农村危房改造实施细则", "赤建发〔2018〕22号", 0),
            ("赤壁市工程建设项目招标投标管理规定", "赤建发〔2018〕23号", 1),
        ],
    ),
    "财政局": (
        [
            ("健全财政专项资金监管机制，开展资金使用绩效评价。", "adopted"),
            ("严格执行公务接待和公务用车管理规定，定期公开“三公”经费。", "pending"),
        ],
        [("赤壁市财政专项资金监督管理暂行办法", "赤财发〔2018〕31号", 0)],
    ),
}
# The special round's suggestion on each kind of finding (by the finding's title).
SECOND_ROUND_SUGGESTIONS = {
    "产业扶贫资金拨付滞后": "建立产业扶贫资金拨付台账，按月通报拨付进度，对滞后项目约谈责任人。",
    "村干部优亲厚友评定贫困户": "对建档立卡贫困户全面复核，村干部亲属享受扶贫政策的一律公示备案。",
    "小额扶贫贴息贷款审核不严": "会同承贷银行逐户核查贴息贷款，严格借款人资格审查和贷后管理。",
    "技能培训补贴虚报冒领": "建立培训补贴发放信息比对机制，与社保、扶贫数据定期交叉核验。",
    "村级“三资”管理混乱": "推行村账乡代管，村集体收支一律纳入“三资”管理平台并按季公开。",
    "驻村工作队履职不到位": "严格驻村工作队考勤管理，对长期不在岗的队员召回调整。",
}


class DemoError(RuntimeError):
    pass


def resident_id(rng: random.Random) -> str:
    """A valid 18-character resident ID (GB 11643, ISO 7064 MOD 11-2 check digit)."""
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 35))
    body = f"421281{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


class Loader:
    def __init__(self, gateway: str, username: str, password: str) -> None:
        self.http = httpx.Client(base_url=gateway, timeout=60)
        token = self.http.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        if token.status_code != 200:
            raise DemoError(f"cannot log in as {username}: {token.text}")
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        self.rng = random.Random(2018)  # noqa: S311 - demo data, reproducible on purpose
        self.today = datetime.now(ZoneInfo("Asia/Shanghai")).date()

    def call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, path, **kw)
        if resp.status_code >= 300:
            raise DemoError(f"{method} {path}: {resp.status_code} {resp.text[:500]}")
        return resp.json() if resp.content else None

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.call("POST", path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})

    def already_loaded(self) -> bool:
        terms = self.call("GET", "/api/v1/terms", params={"jurisdiction": CITY, "limit": 200})
        return any(t["name"] == TERM for t in terms["items"])

    def load(self) -> dict[str, int]:
        if self.already_loaded():
            return {}
        targets = self.registry()
        term = self.post(
            "/api/v1/terms",
            {
                "name": TERM,
                "starts_on": "2016-10-01",
                "ends_on": "2021-09-30",
                "coverage_kinds": ["department_party_group", "township_committee", "village"],
                "jurisdiction": CITY,
            },
        )
        first = self.round(term["id"], 1, "2018年第一轮 常规巡察", "regular", "rectification")
        second = self.round(term["id"], 2, "2018年第二轮 扶贫领域专项巡察", "special", "stationing")
        groups = self.groups(second["id"])
        first_groups = self.groups(first["id"], sub_groups=False)
        self.assign(
            first["id"], first_groups["municipal"][0], targets["departments"][3:6], "linked"
        )
        self.assign(
            second["id"],
            groups["municipal"][0],
            targets["departments"][:3] + targets["villages"][:23],
            "backtrace",
        )
        self.assign(second["id"], groups["municipal"][1], targets["townships"][:4], "pinpoint")
        self.assign(second["id"], groups["joint"], [targets["farm"]], "joint")
        self.assign(second["id"], groups["municipal"][2], [targets["elsewhere"]], "cross")
        findings = self.findings(second["id"], targets)
        leads = self.leads(findings)
        items = self.rectifications(findings)
        suggestions, rules = self.results(first["id"], second["id"], targets, findings)
        return {
            "targets": len(targets["all"]),
            "findings": len(findings),
            "leads": leads,
            "rectifications": items,
            "suggestions": suggestions,
            "rules": rules,
        }

    def registry(self) -> dict[str, Any]:
        lines = ["名称,类别,辖区,上级单位,风险等级"]
        lines += [f"{d}党组,部门党组（党委）,{CITY},,中" for d in DEPARTMENTS]
        lines += [f"{t}党委,乡镇党委,{CITY},,中" for t in TOWNSHIPS]
        villages = []
        for i, town in enumerate(TOWNSHIPS):
            for j in range(4):
                name = f"{town}{VILLAGE_NAMES[(i + j) % len(VILLAGE_NAMES)]}村"
                villages.append(name)
                lines.append(f"{name},村,{CITY},{town}党委,{'高' if j == 0 else '中'}")
        lines += [f"黄盖湖农场,农场,{CITY},,中", "通城县住建局党组,部门党组（党委）,通城县,,中"]
        report = self.call(
            "POST",
            "/api/v1/targets/import",
            files={"file": ("赤壁市巡察对象.csv", "\n".join(lines).encode("gb18030"))},
        )
        ids = report["ids"]
        n_dep, n_town = len(DEPARTMENTS), len(TOWNSHIPS)
        return {
            "all": ids,
            "departments": ids[:n_dep],
            "townships": ids[n_dep : n_dep + n_town],
            "villages": ids[n_dep + n_town : n_dep + n_town + len(villages)],
            "farm": ids[-2],
            "elsewhere": ids[-1],
        }

    def round(self, term_id: str, number: int, name: str, kind: str, state: str) -> Any:
        rnd = self.post(
            "/api/v1/rounds",
            {
                "term_id": term_id,
                "number": number,
                "name": name,
                "kind": kind,
                "theme": "脱贫攻坚" if kind == "special" else "",
            },
        )
        self.post(
            f"/api/v1/rounds/{rnd['id']}/work-plans",
            {"body": f"{name}工作方案：明确巡察重点、方法步骤和纪律要求。"},
        )
        order = ["mobilisation", "stationing", "report", "feedback", "rectification"]
        for step in order[: order.index(state) + 1]:
            self.post(f"/api/v1/rounds/{rnd['id']}/transitions", {"to": step})
        return rnd

    def person(self, name: str, unit: str, speciality: str | None = None) -> str:
        body: dict[str, Any] = {"name": name, "unit": unit}
        if speciality:
            body["specialities"] = [speciality]
        return str(self.post("/api/v1/people", body)["id"])

    def groups(self, round_id: str, *, sub_groups: bool = True) -> dict[str, Any]:
        municipal = []
        surnames = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗"
        for n in range(3):
            group = self.post(
                "/api/v1/groups",
                {
                    "round_id": round_id,
                    "kind": "municipal",
                    "name": f"赤壁市委第{'一二三'[n]}巡察组",
                    "owning_organisation": "中共赤壁市委",
                    "capacity": 30,
                },
            )
            municipal.append(group["id"])
            s = surnames[n * 3 : n * 3 + 3]
            self.post(
                f"/api/v1/groups/{group['id']}/members",
                {
                    "person_id": self.person(f"{s[0]}组长{round_id[:2]}", "市委巡察办"),
                    "role": "leader",
                },
            )
            self.post(
                f"/api/v1/groups/{group['id']}/members",
                {
                    "person_id": self.person(
                        f"{s[1]}副组长{round_id[:2]}", "市纪委监委", "discipline"
                    ),
                    "role": "deputy_leader",
                    "seconded_from": "赤壁市纪委监委",
                },
            )
            self.post(
                f"/api/v1/groups/{group['id']}/members",
                {
                    "person_id": self.person(f"{s[2]}组员{round_id[:2]}", "市财政局", "finance"),
                    "role": "member",
                },
            )
        out: dict[str, Any] = {"municipal": municipal}
        if sub_groups:
            for n, town in enumerate(TOWNSHIPS):
                self.post(
                    "/api/v1/groups",
                    {
                        "round_id": round_id,
                        "kind": "township_sub",
                        "name": f"{town}党委巡察小组",
                        "owning_organisation": f"{town}党委",
                        "lead_group_id": municipal[n % 3],
                    },
                )
            out["joint"] = self.post(
                "/api/v1/groups",
                {
                    "round_id": round_id,
                    "kind": "joint",
                    "name": "上下联合巡察组",
                    "owning_organisation": "中共赤壁市委",
                    "higher_level_group": "咸宁市委第二巡察组",
                },
            )["id"]
        return out

    def assign(self, round_id: str, group_id: str, target_ids: list[str], mode: str) -> None:
        self.post(
            "/api/v1/assignments/batch",
            {
                "items": [
                    {"round_id": round_id, "group_id": group_id, "target_id": t, "mode": mode}
                    for t in target_ids
                ]
            },
        )

    def findings(self, round_id: str, targets: dict[str, Any]) -> list[dict[str, Any]]:
        categories = self.call("GET", f"/api/v1/rounds/{round_id}/categories")
        cats = categories["items"] if isinstance(categories, dict) else categories
        assignments = self.call(
            "GET", "/api/v1/assignments", params={"round_id": round_id, "limit": 200}
        )["items"]
        by_target = {a["target_id"]: a for a in assignments}
        facts = [
            (
                "产业扶贫资金拨付滞后",
                "2017年产业扶贫专项资金拨付滞后8个月。",
                "documents",
                "320000.00",
            ),
            (
                "村干部优亲厚友评定贫困户",
                "将村干部亲属3户不符合条件的家庭纳入建档立卡。",
                "visit",
                "0.00",
            ),
            (
                "小额扶贫贴息贷款审核不严",
                "18人冒名申请贴息贷款，审核流于形式。",
                "data_check",
                "1800000.00",
            ),
            ("技能培训补贴虚报冒领", "17人重复领取农民工技能培训补贴。", "data_check", "51000.00"),
            ("村级“三资”管理混乱", "村集体收入坐收坐支，账目不清。", "documents", "86000.50"),
            ("驻村工作队履职不到位", "驻村工作队员长期不在岗。", "talk", "0.00"),
        ]
        out = []
        villages = [v for v in targets["villages"][:23] if v in by_target]
        for i, target in enumerate(villages[:12]):
            title, text, source, money = facts[i % len(facts)]
            finding = self.post(
                "/api/v1/findings",
                {
                    "assignment_id": by_target[target]["id"],
                    "category_id": cats[i % len(cats)]["id"],
                    "title": title,
                    "facts": text,
                    "source": source,
                    "money_involved": money,
                    "severity": ["minor", "major", "serious"][i % 3],
                    "discovered_on": str(self.today - timedelta(days=30 - i)),
                    "persons": [
                        {
                            "name": f"某{'甲乙丙丁'[i % 4]}",
                            "position": "村党支部书记",
                            "rank": "村干部",
                            "id_number": resident_id(self.rng),
                        }
                    ],
                },
            )
            if i % 3 != 2:
                self.post(f"/api/v1/findings/{finding['id']}/transitions", {"to": "confirmed"})
            township = self.call("GET", f"/api/v1/targets/{target}")["parent_id"]
            if township:
                self.post(
                    f"/api/v1/findings/{finding['id']}/responsibility-links",
                    {"body_id": township, "duty": "primary", "note": "乡镇党委主体责任落实不力"},
                )
            out.append(finding)
        return out

    def leads(self, findings: list[dict[str, Any]]) -> int:
        confirmed = [f for i, f in enumerate(findings) if i % 3 != 2][:4]
        for n, finding in enumerate(confirmed):
            lead = self.post(
                "/api/v1/leads",
                {
                    "title": f"{finding['title']}问题线索",
                    "summary": finding["facts"],
                    "finding_ids": [finding["id"]],
                    "recipient": "discipline_commission",
                    "subjects": [
                        {
                            "name": f"某{'甲乙丙丁'[n]}",
                            "position": "村党支部书记",
                            "rank": "village",
                            "party_member": True,
                        }
                    ],
                },
            )
            url = f"/api/v1/leads/{lead['id']}/transitions"
            if n == 3:
                continue  # one stays a draft for the office to approve
            self.post(url, {"to": "approved"})
            self.post(url, {"to": "transferred", "transfer_letter_no": f"赤巡移〔2018〕{n + 1}号"})
            if n == 2:
                continue
            self.post(url, {"to": "received"})
            self.post(url, {"to": "handling", "handling": "preliminary_verification"})
            self.post(url, {"to": "case_filed", "case_number": f"赤纪立〔2018〕{n + 11}号"})
            if n == 0:
                subject = self.call("GET", f"/api/v1/leads/{lead['id']}")["subjects"][0]["id"]
                self.post(
                    url,
                    {
                        "to": "concluded",
                        "money_recovered": "32000.00",
                        "outcomes": [
                            {
                                "subject_id": subject,
                                "party_sanction": "serious_warning",
                                "government_sanction": "demerit",
                            }
                        ],
                    },
                )
        return len(confirmed)

    def rectifications(self, findings: list[dict[str, Any]]) -> int:
        owners = [
            ("responsible_unit", "市扶贫办"),
            ("party_head", "中伙铺镇党委书记"),
            ("city_leader", "分管副市长"),
            ("stationed_discipline_group", "派驻第三纪检组"),
        ]
        count = 0
        confirmed = [f for i, f in enumerate(findings) if i % 3 != 2]  # drafts are not handed over
        for n, finding in enumerate(confirmed[:6]):
            kind, owner = owners[n % len(owners)]
            item = self.post(
                "/api/v1/rectifications",
                {
                    "title": f"整改：{finding['title']}",
                    "duties": "查明原因，追回资金，建立长效机制。",
                    "finding_ids": [finding["id"]],
                    "owner_type": kind,
                    "owner_name": owner,
                    "deadline": str(self.today + timedelta(days=[5, 15, 45, 90][n % 4])),
                },
            )
            count += 1
            if n % 3 == 0:
                url = f"/api/v1/rectifications/{item['id']}/transitions"
                self.post(
                    f"/api/v1/rectifications/{item['id']}/progress",
                    {"note": "已追回资金并完善制度。"},
                )
                self.post(url, {"to": "completion_requested"})
                self.post(url, {"to": "signed_off"})
        return count

    def results(
        self,
        first_id: str,
        second_id: str,
        targets: dict[str, Any],
        findings: list[dict[str, Any]],
    ) -> tuple[int, int]:
        """Suggestions (意见建议) and rules established (建立健全制度) of both rounds: how many
        of each."""
        suggestions = rules = 0
        departments = dict(zip(DEPARTMENTS, targets["departments"], strict=True))
        for n, (department, (suggested, issued)) in enumerate(FIRST_ROUND_RESULTS.items()):
            ids = []
            for content, adoption in suggested:
                ids.append(
                    self.post(
                        "/api/v1/suggestions",
                        {
                            "round_id": first_id,
                            "target_id": departments[department],
                            "addressed_to": f"市{department}党组",
                            "content": content,
                            "adoption": adoption,
                            "adoption_note": ""
                            if adoption == "pending"
                            else "已制定整改措施并报市委巡察办备案。",
                        },
                    )["id"]
                )
                suggestions += 1
            for m, (title, document_no, answers) in enumerate(issued):
                self.post(
                    "/api/v1/rules",
                    {
                        "round_id": first_id,
                        "target_id": departments[department],
                        "unit": f"市{department}",
                        "title": title,
                        "document_no": document_no,
                        "issued_on": str(self.today - timedelta(days=60 - 10 * n - m)),
                        "suggestion_ids": [ids[answers]],
                    },
                )
                rules += 1

        # the special round: one suggestion on each of its first six confirmed findings (to the
        # township of the village), two to the departments it inspected
        confirmed = [f for i, f in enumerate(findings) if i % 3 != 2]
        on_finding: dict[str, str] = {}
        for n, finding in enumerate(confirmed[:6]):
            town = next(t for t in TOWNSHIPS if finding["target_name"].startswith(t))
            on_finding[finding["id"]] = self.post(
                "/api/v1/suggestions",
                {
                    "round_id": second_id,
                    "target_id": finding["target_id"],
                    "finding_ids": [finding["id"]],
                    "addressed_to": f"{town}党委",
                    "content": SECOND_ROUND_SUGGESTIONS[finding["title"]],
                    "adoption": ["adopted", "pending", "partially_adopted"][n % 3],
                },
            )["id"]
            suggestions += 1
        general = [
            ("扶贫办", "完善扶贫项目资金绩效评价办法，将资金拨付进度纳入年度目标考核。"),
            ("民政局", "健全农村低保与建档立卡数据比对机制，实行动态管理、应保尽保。"),
        ]
        to_department = {}
        for department, content in general:
            to_department[department] = self.post(
                "/api/v1/suggestions",
                {
                    "round_id": second_id,
                    "target_id": departments[department],
                    "addressed_to": f"市{department}党组",
                    "content": content,
                },
            )["id"]
            suggestions += 1
        # rules issued on the items already signed off (the 1st and 4th confirmed findings),
        # and one on the suggestion to the civil affairs bureau
        funds, assets = confirmed[0], confirmed[3]
        assets_town = next(t for t in TOWNSHIPS if assets["target_name"].startswith(t))
        second_rules: list[tuple[str, str, str | None, list[str], list[str]]] = [
            (
                "市扶贫办",
                "赤壁市产业扶贫资金拨付管理办法",
                "赤扶贫发〔2018〕8号",
                [funds["id"]],
                [on_finding[funds["id"]], to_department["扶贫办"]],
            ),
            (
                f"{assets_town}党委",
                "村级“三资”管理办法",
                None,
                [assets["id"]],
                [on_finding[assets["id"]]],
            ),
            (
                "市民政局",
                "赤壁市农村低保对象动态管理办法",
                "赤民发〔2018〕19号",
                [],
                [to_department["民政局"]],
            ),
        ]
        for unit, title, number, finding_ids, suggestion_ids in second_rules:
            self.post(
                "/api/v1/rules",
                {
                    "round_id": second_id,
                    "unit": unit,
                    "title": title,
                    "document_no": number,
                    "issued_on": str(self.today - timedelta(days=rules)),
                    "finding_ids": finding_ids,
                    "suggestion_ids": suggestion_ids,
                },
            )
            rules += 1
        return suggestions, rules
