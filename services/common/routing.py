"""Method routing that answers as HTTP says, read off the app's own OpenAPI paths: a path that
exists but not for this method is a 405 whose `Allow` names every method of that path, and a
literal segment (`/findings/batch`) never falls through to a sibling's `{finding_id}` (where it
would be a malformed id, a 422) for the methods it does not have."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import MethodNotAllowed, problem_response

METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"})
_PARAM = re.compile(r"\{[^/{}]+\}")


@dataclass(frozen=True)
class PathTemplate:
    template: str
    regex: re.Pattern[str]
    params: int
    methods: frozenset[str]


@lru_cache(maxsize=16)
def _templates(app: FastAPI) -> list[PathTemplate]:
    out = []
    for template, item in app.openapi().get("paths", {}).items():
        methods = {m.upper() for m in item if m.upper() in METHODS}
        if "GET" in methods:
            methods.add("HEAD")
        literal = [re.escape(part) for part in _PARAM.split(template)]
        regex = re.compile("[^/]+".join(literal) + "$")
        out.append(PathTemplate(template, regex, len(_PARAM.findall(template)), frozenset(methods)))
    return out


def _allowed(templates: list[PathTemplate], path: str) -> list[str]:
    matching = [t for t in templates if t.regex.match(path)]
    if not matching:
        return []
    fewest = min(t.params for t in matching)
    return sorted({m for t in matching if t.params == fewest for m in t.methods})


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every documented method of the most specific path (fewest parameters) matching `path`;
    empty when no documented path matches (or `app` has no OpenAPI)."""
    if not isinstance(app, FastAPI):
        return []
    return _allowed(_templates(app), path)


class LiteralPathsFirst:
    """ASGI middleware: a request for a literal path that a parameterised path also matches,
    with a method only the parameterised one has, is refused with 405 before routing."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        # built with the middleware stack, at startup (the lifespan is the first call), so that
        # no request waits for the OpenAPI document to be generated
        self.app = app
        templates = _templates(api)
        self.shadowed = {
            t.template: frozenset(_allowed(templates, t.template))
            for t in templates
            if t.params == 0 and any(o.params and o.regex.match(t.template) for o in templates)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            allowed = self.shadowed.get(scope["path"])
            if allowed is not None and scope["method"] not in allowed:
                headers = dict(scope["headers"])
                response = problem_response(
                    MethodNotAllowed(),
                    accept_language=(headers.get(b"accept-language") or b"").decode("latin-1"),
                    instance=scope["path"],
                    headers={"Allow": ", ".join(sorted(allowed))},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
