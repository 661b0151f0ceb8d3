"""The merged OpenAPI document."""

from __future__ import annotations

from gateway.openapi import merge


def test_a_service_that_is_down_is_named_and_the_rest_is_merged() -> None:
    own = {"openapi": "3.1.0", "paths": {"/api/v1/auth/token": {}}, "components": {"schemas": {}}}
    rounds = {
        "paths": {"/api/v1/targets": {"get": {"responses": {}, "tags": ["targets"]}}},
        "components": {"schemas": {"Page": {"title": "rounds page"}}},
    }
    referrals = {
        "paths": {"/api/v1/leads": {"get": {"responses": {}, "tags": ["leads"]}}},
        "components": {"schemas": {"Page": {"title": "referrals page"}}},
    }
    doc = merge(own, {"rounds": rounds, "findings": None, "referrals": referrals})
    assert doc["x-unavailable-services"] == ["findings"]
    assert set(doc["paths"]) == {"/api/v1/auth/token", "/api/v1/targets", "/api/v1/leads"}
    # two services' schemas of the same name but different content are both kept
    assert doc["components"]["schemas"]["Page"] == {"title": "rounds page"}
    assert doc["components"]["schemas"]["ReferralsPage"] == {"title": "referrals page"}
    assert doc["paths"]["/api/v1/leads"]["get"]["security"] == [{"OAuth2Password": []}]
