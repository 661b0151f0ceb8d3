"""The offline queue: up to 500 findings, each with its own key, a result per item."""

from __future__ import annotations

import uuid

from tests.findings.conftest import World


async def test_one_bad_item_spoils_nothing_and_a_retry_replays(world: World) -> None:
    member = world.as_(world.member_a)
    keys = [f"m-{uuid.uuid4()}" for _ in range(4)]
    items = [
        {**world.finding(title="一"), "idempotency_key": keys[0]},
        {
            **world.finding(persons=[{"name": "张某", "id_number": "110105194912310021"}]),
            "idempotency_key": keys[1],
        },
        {**world.finding(category_id=str(uuid.uuid4())), "idempotency_key": keys[2]},
        {**world.finding(title="四", persons=[{"name": "李某"}]), "idempotency_key": keys[3]},
        {**world.finding(title="一"), "idempotency_key": keys[0]},  # repeated in the same batch
        world.finding(title="无键"),
    ]
    resp = await world.http.post("/api/v1/findings/batch", json={"items": items}, headers=member)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["created"], body["replayed"], body["rejected"]) == (2, 1, 3)
    results = body["results"]
    assert [r["outcome"] for r in results] == [
        "created",
        "rejected",
        "rejected",
        "created",
        "replayed",
        "rejected",
    ]
    assert results[1]["errors"][0]["field"] == "persons.0.id_number"
    assert results[2]["errors"][0]["field"] == "category_id"
    assert results[5]["errors"][0]["field"] == "idempotency_key"
    assert results[4]["finding"]["id"] == results[0]["finding"]["id"]
    assert results[3]["finding"]["persons"][0]["name"] == "李某"

    retry = await world.http.post("/api/v1/findings/batch", json={"items": items}, headers=member)
    again = retry.json()
    assert (again["created"], again["replayed"], again["rejected"]) == (0, 3, 3)
    assert again["results"][0]["finding"]["id"] == results[0]["finding"]["id"]
    assert again["results"][3]["finding"]["id"] == results[3]["finding"]["id"]
    listed = await world.http.get("/api/v1/findings", params={"limit": 200}, headers=member)
    mine = [f for f in listed.json()["items"] if f["title"] in ("一", "四")]
    assert len(mine) == 2

    # the same key with another finding is refused for that item; keys are per user
    reused = {**world.finding(title="别的"), "idempotency_key": keys[0]}
    refused = (
        await world.http.post("/api/v1/findings/batch", json={"items": [reused]}, headers=member)
    ).json()
    assert refused["results"][0]["errors"][0]["code"] == "idempotency_key_reused"
    leader = (
        await world.http.post(
            "/api/v1/findings/batch", json={"items": [reused]}, headers=world.as_(world.leader_a)
        )
    ).json()
    assert leader["results"][0]["outcome"] == "created"


async def test_five_hundred_items_in_set_based_statements(world: World) -> None:
    member = world.as_(world.member_a)
    items = [
        {
            **world.finding(title=f"批量{n}", persons=[{"name": f"人{n}"}]),
            "idempotency_key": f"b-{uuid.uuid4()}",
        }
        for n in range(500)
    ]
    world.rounds.calls.clear()
    resp = await world.http.post("/api/v1/findings/batch", json={"items": items}, headers=member)
    assert resp.status_code == 200, resp.text
    assert resp.json()["created"] == 500
    # one call per distinct reference, not per item
    assert len([c for c in world.rounds.calls if c != "/api/v1/auth/token"]) <= 4
    too_many = await world.http.post(
        "/api/v1/findings/batch", json={"items": [*items, items[0]]}, headers=member
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "items"


async def test_a_snapshot_too_long_for_its_column_spoils_only_its_item(world: World) -> None:
    """What rounds answers is not checked by its schema here: a target name over 200 characters
    is cut to fit (it is a display copy); a category code over 20 cannot be cut without
    changing what it identifies (recurrences match on it), so that item is rejected."""
    member = world.as_(world.member_a)
    long_name = "很长的村名" * 50  # 250 characters
    village = world.rounds.target(long_name, world.township)
    asg_long = world.rounds.assign(world.round_id, world.group_a, village)
    long_code, long_name_cat = str(uuid.uuid4()), str(uuid.uuid4())
    world.rounds.categories[world.round_id] += [
        {"id": long_code, "code": "9" * 30, "name": "类别"},
        {"id": long_name_cat, "code": "3.9", "name": "类" * 300},
    ]
    items = [
        {**world.finding(title="好"), "idempotency_key": f"s-{uuid.uuid4()}"},
        {**world.finding(assignment_id=asg_long), "idempotency_key": f"s-{uuid.uuid4()}"},
        {**world.finding(category_id=long_code), "idempotency_key": f"s-{uuid.uuid4()}"},
        {**world.finding(category_id=long_name_cat), "idempotency_key": f"s-{uuid.uuid4()}"},
    ]
    resp = await world.http.post("/api/v1/findings/batch", json={"items": items}, headers=member)
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["outcome"] for r in results] == ["created", "created", "rejected", "created"]
    assert results[1]["finding"]["target_name"] == long_name[:200]
    assert results[3]["finding"]["category_name"] == "类" * 200
    assert results[2]["status"] == 422
    assert results[2]["errors"][0]["field"] == "category_id"
    # the single-finding endpoint behaves the same
    one = await world.http.post(
        "/api/v1/findings", json=world.finding(assignment_id=asg_long), headers=member
    )
    assert one.status_code == 201, one.text
    assert one.json()["target_name"] == long_name[:200]
    bad = await world.http.post(
        "/api/v1/findings", json=world.finding(category_id=long_code), headers=member
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "category_id"
