"""The SSRF guard of webhook URLs (gateway/hub/urls.py), and the registration that applies it
when the gateway does not allow private addresses (production's setting)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.hub.urls import UnsafeURL, check_url
from gateway.keys import Signer, load_or_create
from gateway.settings import GatewaySettings
from ops.stack import Database
from tests.lifespan import lifespan

REFUSED = [
    "http://127.0.0.1/hook",
    "http://127.8.9.10:8080/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://172.31.255.254/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (AWS and others)
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud's metadata (shared 100.64/10)
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[2002:7f00:1::]/hook",  # 6to4 wrapping 127.0.0.1
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://224.0.0.1/hook",
    "http://localhost:8000/hook",  # a name resolving to loopback
    "http://2130706433/hook",  # 127.0.0.1 as one number: resolved, then refused
]


@pytest.mark.parametrize("url", REFUSED)
async def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURL):
        await check_url(url, allow_private=False)


@pytest.mark.parametrize("url", REFUSED)
async def test_the_operator_may_allow_them(url: str) -> None:
    await check_url(url, allow_private=True)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://user:pw@93.184.216.34/hook", "credentials"),
        ("https://token@93.184.216.34/hook", "credentials"),
        ("ftp://93.184.216.34/hook", "http(s)"),
        ("file:///etc/passwd", "http(s)"),
        ("gopher://93.184.216.34:70/_x", "http(s)"),
        ("93.184.216.34/hook", "http(s)"),
        ("https:///hook", "http(s)"),
        ("http://93.184.216.34:99999/hook", "not a valid URL"),
        ("http://[::1/hook", "not a valid URL"),
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_malformed_urls_are_refused_even_when_private_ones_are_allowed(
    url: str, why: str, allow_private: bool
) -> None:
    with pytest.raises(UnsafeURL, match=why.replace("(", r"\(").replace(")", r"\)")):
        await check_url(url, allow_private=allow_private)


async def test_a_public_ip_literal_passes_without_asking_dns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("DNS asked for an IP literal")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_dns)
    await check_url("https://93.184.216.34/hook", allow_private=False)
    await check_url("http://[2606:2800:220:1:248:1893:25c8:1946]:8443/x", allow_private=False)


def _resolving_to(*addresses: str) -> Any:
    async def fake(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    return fake


async def test_a_name_is_refused_if_any_of_its_addresses_is_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", _resolving_to("93.184.216.34"))
    await check_url("https://hooks.example.com/in", allow_private=False)
    monkeypatch.setattr(loop, "getaddrinfo", _resolving_to("93.184.216.34", "10.0.0.7"))
    with pytest.raises(UnsafeURL, match=r"10\.0\.0\.7"):
        await check_url("https://hooks.example.com/in", allow_private=False)
    monkeypatch.setattr(loop, "getaddrinfo", _resolving_to("fe80::1%eth0"))
    with pytest.raises(UnsafeURL):
        await check_url("https://hooks.example.com/in", allow_private=False)


async def test_a_name_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def nxdomain(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", nxdomain)
    with pytest.raises(UnsafeURL, match="does not resolve"):
        await check_url("https://nowhere.example/in", allow_private=False)


# ---- registration through the gateway app, in-process, private addresses not allowed ----


@pytest.fixture
async def gateway(
    database: Database, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Signer]]:
    key_file = tmp_path / "gateway-signing.pem"
    signer = Signer(load_or_create(key_file, create=True), [], issuer="inspection-gateway")
    settings = GatewaySettings(
        database_url=database.urls["gateway"],
        signing_key_file=key_file,
        hub_dispatch=False,
        webhooks_allow_private=False,
    )
    app = create_app(settings)
    async with (
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client, signer


def _auth(signer: Signer, role: str) -> dict[str, str]:
    claims = {"sub": str(uuid.uuid4()), "name": f"{role}-tester", "roles": [role]}
    return {"Authorization": f"Bearer {signer.sign(claims, audience='gateway', ttl=300)}"}


async def test_registration_refuses_private_urls_and_takes_public_ones(
    gateway: tuple[httpx.AsyncClient, Signer],
) -> None:
    client, signer = gateway
    office = _auth(signer, "office")
    name = f"platform-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "event_types": ["target.renamed"]}
    hub = "/api/v1/hub/subscriptions"

    for url in ("http://127.0.0.1:9000/in", "http://localhost/in", "http://169.254.169.254/"):
        refused = await client.post(hub, json={**body, "url": url}, headers=office)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["url"]
        assert refused.json()["type"] == "/problems/subscription-invalid"
    # only operators register
    public = {**body, "url": "https://93.184.216.34/in"}
    member = await client.post(hub, json=public, headers=_auth(signer, "group_member"))
    assert member.status_code == 403

    made = await client.post(hub, json=public, headers=office)
    assert made.status_code == 201, made.text
    sub = made.json()
    try:
        assert sub["secret"].startswith("whsec_")
        assert made.headers["location"] == f"{hub}/{sub['id']}"
        # moving it to a private address is refused the same way
        moved = await client.patch(
            f"{hub}/{sub['id']}", json={"url": "http://10.0.0.5/in"}, headers=office
        )
        assert moved.status_code == 422, moved.text
        assert [e["field"] for e in moved.json()["errors"]] == ["url"]
        read = await client.get(f"{hub}/{sub['id']}", headers=office)
        assert read.json()["url"] == "https://93.184.216.34/in"
        assert "secret" not in read.json()
    finally:
        gone = await client.delete(f"{hub}/{sub['id']}", headers=office)
        assert gone.status_code == 204, gone.text
