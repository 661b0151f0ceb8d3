"""One OpenAPI 3.1 document for the whole API: the gateway's own operations plus each
service's, fetched through the same transport as user requests and cached briefly."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import orjson

from gateway.keys import Signer
from gateway.proxy.routes import SERVICES
from gateway.proxy.transport import Upstreams

CACHE_SECONDS = 30.0


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if not renames:
        return node
    raw = orjson.dumps(node).decode()
    for old, new in renames.items():
        raw = raw.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    return orjson.loads(raw)


def merge(own: dict[str, Any], services: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    doc = copy.deepcopy(own)
    paths: dict[str, Any] = doc.setdefault("paths", {})
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    tags = {t["name"]: t for t in doc.get("tags", [])}
    unavailable = []
    for name, spec in services.items():
        if spec is None:
            unavailable.append(name)
            continue
        theirs = spec.get("components", {}).get("schemas", {})
        renames = {
            key: f"{name.capitalize()}{key}"
            for key, value in theirs.items()
            if key in schemas and schemas[key] != value
        }
        spec = _rename_refs(spec, renames)
        for key, value in spec.get("components", {}).get("schemas", {}).items():
            schemas[renames.get(key, key)] = value
        for path, item in spec.get("paths", {}).items():
            for operation in item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    operation.setdefault("security", [{"OAuth2Password": []}])
            paths[path] = item
        for op in (o for item in spec.get("paths", {}).values() for o in item.values()):
            for tag in op.get("tags", []) if isinstance(op, dict) else []:
                tags.setdefault(tag, {"name": tag, "description": f"served by {name}"})
    doc["tags"] = list(tags.values())
    doc.setdefault("components", {})["securitySchemes"] = {
        "OAuth2Password": {
            "type": "oauth2",
            "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
        }
    }
    if unavailable:
        doc["x-unavailable-services"] = unavailable
    return doc


class MergedOpenAPI:
    def __init__(self, upstreams: Upstreams, signer: Signer) -> None:
        self.upstreams = upstreams
        self.signer = signer
        self._cached: tuple[float, dict[str, Any]] | None = None

    async def _fetch(self, service: str) -> dict[str, Any] | None:
        token = self.signer.sign(
            {
                "sub": "gateway",
                "name": "gateway",
                "roles": ["system"],
                "groups": [],
                "rid": "openapi-merge",
            },
            audience=service,
            ttl=30,
        )
        try:
            upstream, resp = await self.upstreams.request(
                service, "GET", "/openapi.json", b"", [("authorization", f"Bearer {token}")], None
            )
        except Exception:  # a service that is down is listed as unavailable, not fatal
            return None
        try:
            if upstream.status != 200 or upstream.body is None:
                return None
            spec: dict[str, Any] = orjson.loads(upstream.body)
            return spec
        finally:
            resp.release()

    async def document(self, own: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < CACHE_SECONDS:
            return self._cached[1]
        specs = await asyncio.gather(*(self._fetch(s) for s in SERVICES))
        doc = merge(own, dict(zip(SERVICES, specs, strict=True)))
        if "x-unavailable-services" not in doc:
            self._cached = (now, doc)
        return doc
