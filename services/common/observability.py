"""What operators see: one JSON log line per event with the request id (and trace id) on every
line, Prometheus metrics at /metrics, and W3C trace context carried from the gateway into the
services. Spans are exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and silently
dropped when it is not."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.requestid import current_request_id

REQUESTS = Counter(
    "http_requests_total",
    "Requests answered, by route and status",
    ["app", "method", "route", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from request to the end of the response, by route",
    ["app", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_configured: set[str] = set()


# ---- logs -----------------------------------------------------------------------------------


def _add_context(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    rid = current_request_id()
    if rid:
        event.setdefault("request_id", rid)
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event.setdefault("trace_id", format(span.trace_id, "032x"))
    return event


class CurrentStdout(logging.StreamHandler):
    """Writes each record to `sys.stdout` as it is when the record is emitted, not as it was
    when logging was configured: a test runner or a CLI runner that swaps stdout for a while
    and closes its own would leave a handler bound to a closed stream ("I/O operation on
    closed file", printed into whatever output came next)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(app_name: str) -> None:
    """JSON lines on stdout for this process, uvicorn's own loggers included."""
    level = os.environ.get("LOG_LEVEL", "INFO").upper()

    def add_app(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("app", app_name)
        return event

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_app,
        _add_context,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    handler = CurrentStdout()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # our middleware writes the one access line per request (with route and request id)
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False


# ---- traces ---------------------------------------------------------------------------------


def configure_tracing(app_name: str) -> None:
    """One tracer provider per process. Spans always exist (so trace ids reach the logs and
    the next service); they leave the process only when an OTLP endpoint is configured."""
    if app_name in _configured:
        return
    _configured.add(app_name)
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": app_name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def inject_trace(headers: dict[str, str]) -> dict[str, str]:
    """Adds `traceparent` (and `tracestate`) of the current span to outgoing headers."""
    inject(headers)
    return headers


def with_current_trace(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """ASGI headers with the caller's trace context replaced by the current span's, so that a
    request forwarded as it is continues this process's trace."""
    carrier: dict[str, str] = {}
    inject(carrier)
    if not carrier:
        return raw
    kept = [(k, v) for k, v in raw if k not in (b"traceparent", b"tracestate")]
    return kept + [(k.encode(), v.encode("latin-1")) for k, v in carrier.items()]


class _Headers(Mapping[str, str]):
    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._d = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}

    def __getitem__(self, key: str) -> str:
        return self._d[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


# ---- metrics --------------------------------------------------------------------------------


class PoolCollector(Collector):
    """Database connections in use and idle, read from each app's engine at scrape time."""

    apps: ClassVar[dict[str, Any]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        in_use = GaugeMetricFamily(
            "db_pool_connections_in_use", "Checked-out connections", labels=["app"]
        )
        idle = GaugeMetricFamily(
            "db_pool_connections_idle", "Idle pooled connections", labels=["app"]
        )
        for name, app in self.apps.items():
            db = getattr(app.state, "db", None)
            if db is not None:
                in_use.add_metric([name], float(db.engine.pool.checkedout()))
                idle.add_metric([name], float(db.engine.pool.checkedin()))
        yield in_use
        yield idle


REGISTRY.register(PoolCollector())


def register_pool_metrics(app_name: str, app: Any) -> None:
    PoolCollector.apps[app_name] = app


def metrics_body() -> bytes:
    return bytes(generate_latest(REGISTRY))


# ---- the middleware -------------------------------------------------------------------------


class ObservabilityMiddleware:
    """Outermost layer of every app: serves /metrics, times and counts each request by its
    route template, continues the caller's trace (traceparent) in a server span, and writes
    one access log line."""

    def __init__(self, app: ASGIApp, app_name: str) -> None:
        self.app = app
        self.app_name = app_name
        self.tracer = trace.get_tracer(f"inspection.{app_name}")
        self.log = structlog.get_logger("access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/metrics":
            body = metrics_body()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", CONTENT_TYPE_LATEST.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        method = scope["method"]
        started = time.perf_counter()
        status = 500
        parent = extract(_Headers(scope["headers"]))
        token = otel_context.attach(parent)
        span = self.tracer.start_span(f"{method} {path}", kind=SpanKind.SERVER)
        span_token = otel_context.attach(trace.set_span_in_context(span))

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = (
                getattr(scope.get("route"), "path", None)
                or scope.get("proxy_route")
                or (path if path in OPEN_PATHS else "unmatched")
            )
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
            if path not in OPEN_PATHS:
                REQUESTS.labels(self.app_name, method, route, str(status)).inc()
                LATENCY.labels(self.app_name, method, route).observe(elapsed)
                self.log.info(
                    "request",
                    method=method,
                    path=path,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    # set by the request-id layer inside; its context var is reset by now
                    request_id=scope.get("state", {}).get("request_id"),
                )
            otel_context.detach(span_token)
            otel_context.detach(token)
