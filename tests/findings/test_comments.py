"""Comments on findings (评论): who reads them (who sees the finding), who writes them (the
group, the office, experts consulted on it), If-Match on changes, idempotent posting, pages and
delta sync, and what deleting a draft finding does to them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from ops.stack import Database
from tests.findings.conftest import World


def comments_url(finding: dict[str, Any]) -> str:
    return f"/api/v1/findings/{finding['id']}/comments"


async def comment(
    world: World, finding: dict[str, Any], headers: dict[str, str], body: str = "资金去向需核实。"
) -> dict[str, Any]:
    resp = await world.http.post(comments_url(finding), json={"body": body}, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def consulted_expert(world: World, finding: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A new expert of the round, consulted on the finding: their id and request headers."""
    expert = world.rounds.expert(world.round_id)
    added = await world.http.post(
        f"/api/v1/findings/{finding['id']}/consultations",
        json={"expert_id": expert},
        headers=world.as_(world.leader_a),
    )
    assert added.status_code == 201, added.text
    return expert, world.as_(expert, roles=["expert"])


async def test_a_member_comments_and_the_leader_reads_it(world: World) -> None:
    finding = await world.create()
    resp = await world.http.post(
        comments_url(finding),
        json={"body": "  村账未见该笔支出。\n"},
        headers=world.as_(world.member_a),
    )
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert resp.headers["Location"] == f"{comments_url(finding)}/{made['id']}"
    assert resp.headers["ETag"] == '"v1"'
    assert (made["body"], made["author"], made["author_name"]) == (
        "村账未见该笔支出。",
        world.member_a,
        "tester",
    )
    leader = world.as_(world.leader_a)
    listed = (await world.http.get(comments_url(finding), headers=leader)).json()
    assert [c["id"] for c in listed["items"]] == [made["id"]]
    one = await world.http.get(f"{comments_url(finding)}/{made['id']}", headers=leader)
    assert one.status_code == 200
    assert (one.json()["body"], one.headers["ETag"]) == ("村账未见该笔支出。", '"v1"')
    # commenting is no change to the finding: its ETag stays
    read = await world.http.get(f"/api/v1/findings/{finding['id']}", headers=leader)
    assert read.headers["ETag"] == '"v1"'


async def test_a_consulted_expert_comments_one_not_consulted_cannot_see(world: World) -> None:
    finding = await world.create()
    expert, as_expert = await consulted_expert(world, finding)
    made = await comment(world, finding, as_expert, "按《村级财务管理办法》应公示。")
    assert made["author"] == expert
    listed = (await world.http.get(comments_url(finding), headers=world.as_(world.member_a))).json()
    assert [c["body"] for c in listed["items"]] == ["按《村级财务管理办法》应公示。"]
    # an expert of the round, not consulted on this finding, does not see it at all
    other = world.as_(world.rounds.expert(world.round_id), roles=["expert"])
    assert (await world.http.get(comments_url(finding), headers=other)).status_code == 404
    posted = await world.http.post(comments_url(finding), json={"body": "意见"}, headers=other)
    assert posted.status_code == 404
    assert posted.json()["type"] == "/problems/finding-not-found"
    one = await world.http.get(f"{comments_url(finding)}/{made['id']}", headers=other)
    assert one.status_code == 404


async def test_another_group_gets_404_for_everything(world: World) -> None:
    finding = await world.create()
    made = await comment(world, finding, world.as_(world.member_a))
    url = f"{comments_url(finding)}/{made['id']}"
    b = world.as_(world.member_b)
    assert (await world.http.get(comments_url(finding), headers=b)).status_code == 404
    posted = await world.http.post(comments_url(finding), json={"body": "看看"}, headers=b)
    assert posted.status_code == 404
    assert (await world.http.get(url, headers=b)).status_code == 404
    changed = await world.http.patch(url, json={"body": "改"}, headers={**b, "If-Match": '"v1"'})
    assert changed.status_code == 404
    deleted = await world.http.delete(url, headers={**b, "If-Match": '"v1"'})
    assert deleted.status_code == 404
    listed = (await world.http.get(comments_url(finding), headers=world.office)).json()
    assert [c["body"] for c in listed["items"]] == [made["body"]]


async def test_who_sees_but_may_not_comment_gets_403(world: World) -> None:
    finding = await world.create()
    machine = world.as_("client:platform", roles=["service"])
    assert (await world.http.get(comments_url(finding), headers=machine)).status_code == 200
    resp = await world.http.post(comments_url(finding), json={"body": "意见"}, headers=machine)
    assert resp.status_code == 403
    assert resp.headers["content-type"] == "application/problem+json"
    # the policy table grants services reading, not commenting
    assert resp.json()["type"] == "/problems/forbidden-by-policy"


async def test_only_the_author_changes_and_only_author_or_office_delete(world: World) -> None:
    finding = await world.create()
    made = await comment(world, finding, world.as_(world.member_a))
    url = f"{comments_url(finding)}/{made['id']}"
    for who in (world.as_(world.leader_a), world.office):
        resp = await world.http.patch(url, json={"body": "改"}, headers={**who, "If-Match": '"v1"'})
        assert resp.status_code == 403
        assert resp.json()["type"] == "/problems/not-comment-author"
    leader = await world.http.delete(url, headers={**world.as_(world.leader_a), "If-Match": '"v1"'})
    assert leader.status_code == 403
    author = world.as_(world.member_a)
    changed = await world.http.patch(
        url, json={"body": "资金去向已核实。"}, headers={**author, "If-Match": '"v1"'}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["body"], changed.headers["ETag"]) == ("资金去向已核实。", '"v2"')
    # the office deletes another's comment
    gone = await world.http.delete(url, headers={**world.office, "If-Match": '"v2"'})
    assert gone.status_code == 204
    assert (await world.http.get(url, headers=author)).status_code == 404
    listed = (await world.http.get(comments_url(finding), headers=author)).json()
    assert listed["items"] == []
    # and an author deletes their own
    mine = await comment(world, finding, author)
    resp = await world.http.delete(
        f"{comments_url(finding)}/{mine['id']}", headers={**author, "If-Match": '"v1"'}
    )
    assert resp.status_code == 204


async def test_changes_need_if_match_and_a_stale_one_loses_nothing(world: World) -> None:
    finding = await world.create()
    author = world.as_(world.member_a)
    made = await comment(world, finding, author, "原文")
    url = f"{comments_url(finding)}/{made['id']}"
    missing = await world.http.patch(url, json={"body": "改"}, headers=author)
    assert missing.status_code == 428
    assert missing.json()["current_etag"] == '"v1"'
    assert (await world.http.delete(url, headers=author)).status_code == 428
    first = await world.http.patch(
        url, json={"body": "一改"}, headers={**author, "If-Match": '"v1"'}
    )
    assert first.status_code == 200
    stale = await world.http.patch(
        url, json={"body": "二改"}, headers={**author, "If-Match": '"v1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"v2"'
    stale_delete = await world.http.delete(url, headers={**author, "If-Match": '"v1"'})
    assert stale_delete.status_code == 412
    read = await world.http.get(url, headers=author)
    assert (read.json()["body"], read.headers["ETag"]) == ("一改", '"v2"')


async def test_bad_bodies_are_422_naming_body_and_store_nothing(world: World) -> None:
    finding = await world.create()
    author = world.as_(world.member_a)
    for payload in ({"body": "   \n\t "}, {"body": ""}, {"body": "字" * 5001}, {}, {"body": 1}):
        resp = await world.http.post(comments_url(finding), json=payload, headers=author)
        assert resp.status_code == 422, (payload, resp.text)
        assert [e["field"] for e in resp.json()["errors"]] == ["body"], resp.json()
    made = await comment(world, finding, author, "字" * 5000)
    url = f"{comments_url(finding)}/{made['id']}"
    blank = await world.http.patch(url, json={"body": " "}, headers={**author, "If-Match": '"v1"'})
    assert blank.status_code == 422
    assert [e["field"] for e in blank.json()["errors"]] == ["body"]
    listed = (await world.http.get(comments_url(finding), headers=author)).json()
    assert [c["version"] for c in listed["items"]] == [1]


async def test_a_retried_post_with_the_same_key_creates_one_comment(world: World) -> None:
    finding = await world.create()
    headers = {**world.as_(world.member_a), "Idempotency-Key": f"c-{uuid.uuid4()}"}
    first = await world.http.post(comments_url(finding), json={"body": "离线提交"}, headers=headers)
    again = await world.http.post(comments_url(finding), json={"body": "离线提交"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    listed = (await world.http.get(comments_url(finding), headers=headers)).json()
    assert [c["id"] for c in listed["items"]] == [first.json()["id"]]


async def test_comments_page_oldest_first_and_sync_changes_and_deletions(world: World) -> None:
    finding = await world.create()
    author = world.as_(world.member_a)
    made = [await comment(world, finding, author, f"第{n}条") for n in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await world.http.get(comments_url(finding), params=params, headers=author)).json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [c["id"] for c in made]
    bad = await world.http.get(comments_url(finding), params={"cursor": "x"}, headers=author)
    assert bad.status_code == 422
    # delta sync: what changed since the last comment was made, and what was deleted
    since = made[-1]["created_at"]
    changed = await world.http.patch(
        f"{comments_url(finding)}/{made[1]['id']}",
        json={"body": "第1条（更正）"},
        headers={**author, "If-Match": '"v1"'},
    )
    assert changed.status_code == 200
    deleted = await world.http.delete(
        f"{comments_url(finding)}/{made[2]['id']}", headers={**author, "If-Match": '"v1"'}
    )
    assert deleted.status_code == 204
    page = (
        await world.http.get(comments_url(finding), params={"updated_since": since}, headers=author)
    ).json()
    assert [c["id"] for c in page["items"]] == [made[1]["id"], made[4]["id"]]
    assert page["deleted"] == [made[2]["id"]]
    # a deletion on another finding is not reported here
    elsewhere = await world.create()
    other = await comment(world, elsewhere, author)
    resp = await world.http.delete(
        f"{comments_url(elsewhere)}/{other['id']}", headers={**author, "If-Match": '"v1"'}
    )
    assert resp.status_code == 204
    page = (
        await world.http.get(comments_url(finding), params={"updated_since": since}, headers=author)
    ).json()
    assert page["deleted"] == [made[2]["id"]]


async def test_a_closed_finding_still_takes_comments(world: World) -> None:
    finding = await world.create()
    url = f"/api/v1/findings/{finding['id']}/transitions"
    for to, who in (("confirmed", world.as_(world.leader_a)), ("closed", world.office)):
        moved = await world.http.post(url, json={"to": to}, headers=who)
        assert moved.status_code == 200, moved.text
    made = await comment(world, finding, world.as_(world.member_a), "建议回头看时复查。")
    assert made["finding_id"] == finding["id"]


async def test_deleting_a_draft_finding_deletes_its_comments(
    world: World, database: Database
) -> None:
    finding = await world.create()
    member = world.as_(world.member_a)
    made = await comment(world, finding, member)
    _, expert = await consulted_expert(world, finding)
    await comment(world, finding, expert)
    resp = await world.http.delete(
        f"/api/v1/findings/{finding['id']}", headers={**member, "If-Match": '"v1"'}
    )
    assert resp.status_code == 204, resp.text
    assert (await world.http.get(comments_url(finding), headers=member)).status_code == 404
    one = await world.http.get(f"{comments_url(finding)}/{made['id']}", headers=world.office)
    assert one.status_code == 404
    conn = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM findings.finding_comments WHERE finding_id = $1",
            uuid.UUID(finding["id"]),
        )
    finally:
        await conn.close()
    assert left == 0


async def test_a_comment_racing_the_deletion_of_its_finding_is_404(
    world: World, database: Database
) -> None:
    finding = await world.create()
    conn = await asyncpg.connect(database.urls["findings"].replace("+asyncpg", ""))
    try:
        deleting = conn.transaction()
        await deleting.start()
        await conn.execute("DELETE FROM findings.findings WHERE id = $1", uuid.UUID(finding["id"]))
        posting = asyncio.create_task(
            world.http.post(
                comments_url(finding),
                json={"body": "迟到的意见"},
                headers=world.as_(world.member_a),
            )
        )
        await asyncio.sleep(0.5)  # the comment now waits for the deletion
        assert not posting.done()
        await deleting.commit()
        resp = await posting
    finally:
        await conn.close()
    assert resp.status_code == 404, resp.text
    assert resp.json()["type"] == "/problems/finding-not-found"
