"""The route table: which service owns `/api/v1/<resource>`. Each issue that adds a resource
adds its line here; anything not listed is answered by the gateway itself (or 404)."""

from __future__ import annotations

import re

PREFIX = "/api/v1/"

ROUTES: dict[str, str] = {
    "terms": "rounds",
    "rounds": "rounds",
    "checklists": "rounds",
    "people": "rounds",
    "groups": "rounds",
    "assignments": "rounds",
    "coverage": "rounds",
    "targets": "rounds",
    "findings": "findings",
    "evidence": "findings",
    "responsibility-links": "findings",
    "portraits": "findings",
    "datasets": "findings",
    "crosschecks": "findings",
    "leads": "referrals",
    "rectifications": "referrals",
    "suggestions": "referrals",
    "rules": "referrals",
    "notices": "referrals",
}

SERVICES: tuple[str, ...] = ("rounds", "findings", "referrals")


def service_for(path: str) -> str | None:
    """`/api/v1/targets/123` -> "rounds"; None when the gateway does not route the path."""
    if not path.startswith(PREFIX):
        return None
    resource = path[len(PREFIX) :].split("/", 1)[0]
    return ROUTES.get(resource)


# Paths whose POST carries a file (multipart, streamed through to the service, which applies
# its own, exact limit): these get the gateway's upload limit instead of its JSON body limit.
UPLOADS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^/api/v1/findings/[^/]+/evidence/?$"),
    re.compile(r"^/api/v1/datasets/?$"),
)


def is_upload(method: str, path: str) -> bool:
    """Whether the request is a file upload (the larger body limit applies)."""
    return method == "POST" and any(p.match(path) for p in UPLOADS)
