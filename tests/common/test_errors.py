"""The problem+json envelope and its documentation."""

from __future__ import annotations

from services.common.errors import Conflict, NotFound, field_errors, problem_responses
from services.rounds.registry.errors import TargetInUse, TargetNotFound


def test_problems_sharing_a_status_are_all_documented() -> None:
    responses = problem_responses(TargetNotFound, TargetInUse, Conflict)
    assert set(responses) == {404, 409}
    assert "/problems/target-in-use" in responses[409]["description"]
    assert "/problems/conflict" in responses[409]["description"]
    assert "巡察对象不存在" in responses[404]["description"]


def test_field_errors_name_fields_as_a_client_would() -> None:
    raw = [
        {"loc": ("body", "finding_ids", 0), "msg": "bad uuid", "type": "uuid_parsing"},
        {"loc": ("query", "limit"), "msg": "too big", "type": "less_than_equal"},
        {"loc": ("body", 17), "msg": "JSON decode error", "type": "json_invalid"},
    ]
    assert [e["field"] for e in field_errors(raw)] == ["finding_ids.0", "query.limit", "body"]
    assert NotFound.code() == "not-found"


def test_if_match_rules() -> None:
    import pytest

    from services.common.concurrency import check_if_match, etag
    from services.common.errors import PreconditionFailed, PreconditionRequired

    check_if_match(etag(3), 3)
    check_if_match("*", 3)
    check_if_match(f'W/{etag(3)}, "v9"', 3)
    check_if_match(None, 3)
    with pytest.raises(PreconditionFailed):
        check_if_match(etag(2), 3)
    with pytest.raises(PreconditionRequired):
        check_if_match(None, 3, required=True)


def test_schema_state_during_a_rolling_update() -> None:
    from services.common.migrations import schema_state

    known = {"0001", "0002", "0003"}
    assert schema_state({"0003"}, {"0003"}, known) == "head"
    assert schema_state({"0004"}, {"0003"}, known) == "ahead"  # the next release migrated
    assert schema_state({"0002"}, {"0003"}, known) == "behind"
    assert schema_state(set(), {"0003"}, known) == "behind"
