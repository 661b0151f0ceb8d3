"""The results page (成果展示) in headless Chromium, driven over the DevTools protocol: served by
the gateway with no build step and nothing from another origin, it asks to log in, keeps the
token in the tab, and draws the dashboard of a known history (dashboard_history): the figures
are on the page, drawn in a font that has Chinese glyphs (not as empty boxes), and a
screenshot, saved under the test's tmp dir, shows them (not a blank page). The higher-level
office sees the same figures; a group member is told they may not.

Needs Chromium and a Chinese font (Debian: apt-get install chromium fonts-noto-cjk; `make test`
installs them): skipped, saying so, without them; failed instead where CI is set or
REQUIRE_SYSTEM_TOOLS=1, so that CI cannot pass without having looked."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import struct
import subprocess
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import httpx
import pytest

from gateway.identity.enums import Role
from ops.pg import free_port
from ops.stack import Database
from tests.e2e.conftest import System, eventually
from tests.e2e.dashboard_history import History, build, user

pytestmark = pytest.mark.e2e

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
INSTALL = "apt-get install chromium fonts-noto-cjk, or `make test` on Debian"
SUMMARY = (
    "移交问题线索2件，立案1件，给予党政纪处分2人；反馈整改事项3个，提出意见建议2条，建立健全制度1项"
)


def missing(what: str) -> NoReturn:
    """Skips the test, or fails it where the system tools must be there (CI)."""
    required = os.environ.get("CI", "").lower() not in ("", "0", "false") or (
        os.environ.get("REQUIRE_SYSTEM_TOOLS") == "1"
    )
    message = f"{what}: not installed ({INSTALL})"
    if required:
        pytest.fail(message + "; required here (CI or REQUIRE_SYSTEM_TOOLS=1)")
    pytest.skip(message)


def chinese_fonts() -> set[str]:
    """The families of the installed fonts that have Chinese glyphs (fontconfig)."""
    if shutil.which("fc-list") is None:
        return set()
    listed = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True
    ).stdout
    return {name.strip() for line in listed.splitlines() for name in line.split(",")} - {""}


def pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows (RGB or RGBA bytes) of an 8-bit, non-interlaced PNG: enough of
    the format to look at what Chromium drew."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, data, header = 8, b"", b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            data += body
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) in ((8, 2, 0), (8, 6, 0)), header
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(data), width * bpp
    rows: list[bytes] = []
    prior = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up, corner = prior[x], prior[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + near) & 0xFF
        rows.append(bytes(line))
        prior = line
    return width, height, rows


@pytest.fixture(scope="module")
def history(system: System, database: Database) -> History:
    with httpx.Client(base_url=system.gateway, headers=system.auth, timeout=60) as office:
        return build(office, database)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[str]:
    """A headless Chromium with its DevTools endpoint: the websocket URL of its page."""
    if CHROMIUM is None:
        missing("Chromium")
    if not chinese_fonts():
        missing("A font with Chinese glyphs")
    port = free_port()
    proc = subprocess.Popen(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--no-first-run", "--disable-extensions",
            f"--remote-debugging-port={port}", f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1400,1800", "about:blank",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip

    def page() -> str:
        try:
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
        except httpx.HTTPError as exc:
            raise AssertionError("DevTools not up yet") from exc
        pages = [t for t in targets if t.get("type") == "page"]
        assert pages, "no page yet"
        return str(pages[0]["webSocketDebuggerUrl"])

    try:
        yield eventually(page, timeout=30, every=0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Page:
    """Just enough of the DevTools protocol: commands, and the page's errors as they come."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.ids = itertools.count(1)
        self.errors: list[str] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        await self.ws.send_json({"id": n, "method": method, "params": params})
        while True:
            msg = json.loads((await self.ws.receive(timeout=30)).data)
            if msg.get("method") == "Runtime.exceptionThrown":
                self.errors.append(json.dumps(msg["params"]["exceptionDetails"])[:500])
            elif (
                msg.get("method") == "Log.entryAdded" and msg["params"]["entry"]["level"] == "error"
            ):
                entry = msg["params"]["entry"]
                self.errors.append(f"{entry['text']} {entry.get('url', '')}")
            if msg.get("id") == n:
                assert "error" not in msg, msg
                result: dict[str, Any] = msg["result"]
                return result

    async def eval(self, expression: str) -> Any:
        found = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in found, found
        return found["result"].get("value")

    async def until(self, expression: str) -> None:
        """Waits (30 s at most) until the expression is true in the page."""
        deadline = time.monotonic() + 30
        while not await self.eval(expression):
            assert time.monotonic() < deadline, f"never true: {expression}"
            await asyncio.sleep(0.1)


FIGURES = """JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-figure]')]
  .map(e => [e.dataset.figure, e.textContent.trim()])))"""


async def open_results(ws_url: str, url: str, username: str, password: str) -> Page:
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(ws_url, max_msg_size=0)
    page = Page(session, ws)
    for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
        await page.call(domain)
    await page.call(
        "Emulation.setDeviceMetricsOverride",
        width=1400, height=1800, deviceScaleFactor=1, mobile=False,
    )  # fmt: skip
    await page.call("Page.navigate", url=url)
    await page.until(
        "document.readyState === 'complete' && !document.getElementById('login').hidden"
    )
    await page.eval(
        f"document.getElementById('username').value = {json.dumps(username)};"
        f"document.getElementById('password').value = {json.dumps(password)};"
        "document.getElementById('login-form').requestSubmit(); true"
    )
    return page


async def close(page: Page) -> None:
    await page.ws.close()
    await page.session.close()


def test_the_results_page_shows_the_figures(
    system: System, database: Database, history: History, browser: str, tmp_path: Path
) -> None:
    name, password = user(database, Role.office)
    url = f"{system.gateway}/results?term_id={history.term_id}"

    async def run() -> tuple[dict[str, str], dict[str, Any], tuple[bytes, bytes]]:
        page = await open_results(browser, url, name, password)
        try:
            await page.until("document.body.dataset.loaded === 'true'")
            figures = json.loads(await page.eval(FIGURES))
            seen = await page.eval(
                """JSON.stringify({
                  scope: document.getElementById('scope').value,
                  overdue: [...document.querySelectorAll('#overdue tbody tr')].map(
                    r => [r.dataset.overdue, ...[...r.cells].map(c => c.textContent)]),
                  rounds: [...document.querySelectorAll('#rounds tbody tr')].map(
                    r => [...r.cells].map(c => c.textContent)),
                  bars: document.querySelectorAll('#content svg rect').length,
                  token: sessionStorage.getItem('inspection.results.token') !== null,
                  local: localStorage.length,
                })"""
            )
            # the fonts Chromium drew the Chinese text with (the title, the summary, a header)
            await page.call("DOM.enable")
            await page.call("CSS.enable")
            root = (await page.call("DOM.getDocument"))["root"]["nodeId"]
            fonts = {}
            for selector in ("h1", "#summary", "#rounds th"):
                node = await page.call("DOM.querySelector", nodeId=root, selector=selector)
                used = await page.call("CSS.getPlatformFontsForNode", nodeId=node["nodeId"])
                fonts[selector] = used["fonts"]
            shot = await page.call(
                "Page.captureScreenshot", format="png", captureBeyondViewport=True
            )
            # the same page at a quarter of its size, for its pixels to be looked at quickly
            size = (await page.call("Page.getLayoutMetrics"))["cssContentSize"]
            small = await page.call(
                "Page.captureScreenshot", format="png", captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                      "scale": 0.25},
            )  # fmt: skip
            assert not page.errors, page.errors  # no script error, no blocked resource
            shots = (base64.b64decode(shot["data"]), base64.b64decode(small["data"]))
            return figures, {**json.loads(seen), "fonts": fonts}, shots
        finally:
            await close(page)

    figures, seen, (png, small) = asyncio.run(run())
    screenshot = tmp_path / "results.png"
    screenshot.write_bytes(png)
    assert png.startswith(b"\x89PNG")
    # not blank: besides the background, text, cards and charts in many colours
    width, height, rows = pixels(small)
    assert width >= 300, width
    assert height >= 400, height
    step = len(rows[0]) // width
    colours = Counter(row[x : x + 3] for row in rows for x in range(0, len(row), step))
    background = colours.most_common(1)[0][1]
    drawn = 1 - background / (width * height)
    assert drawn > 0.05, (screenshot, drawn)
    assert len(colours) > 200, (screenshot, len(colours))
    # the Chinese text was drawn with a font that has its glyphs, not as empty boxes
    chinese = chinese_fonts()
    for selector, used in seen["fonts"].items():
        assert any(f["familyName"] in chinese and f["glyphCount"] > 0 for f in used), (
            selector,
            used,
            sorted(chinese),
        )

    assert figures["summary"] == SUMMARY
    assert figures["consistent"] == "✓ 对账一致"
    assert {k: figures[k] for k in (
        "rounds.total", "groups.total", "targets.inspected", "findings.confirmed",
        "leads.handed_over", "leads.cases_filed", "persons.sanctioned", "money_recovered",
        "rectification.fed_back", "suggestions.total", "rules",
    )} == {
        "rounds.total": "2", "groups.total": "3", "targets.inspected": "3",
        "findings.confirmed": "4", "leads.handed_over": "2", "leads.cases_filed": "1",
        "persons.sanctioned": "2", "money_recovered": "32,000.00",
        "rectification.fed_back": "3", "suggestions.total": "2", "rules": "1",
    }  # fmt: skip
    # coverage, the leads funnel, rectification progress
    assert [figures[f"coverage.{k}"] for k in ("inspected", "planned", "remaining")] == [
        "2",
        "1",
        "1",
    ]
    assert [figures[f"funnel.{k}"] for k in (
        "findings_confirmed", "handed_over", "received", "handled", "cases_filed", "concluded"
    )] == ["4", "2", "2", "2", "1", "1"]  # fmt: skip
    assert [figures[f"rectification.{k}"] for k in ("done", "due", "overdue")] == ["1", "1", "1"]
    # the overdue item, and the rounds
    assert seen["overdue"] == [
        [history.items["overdue"], "项目验收整改", "官塘驿镇党委", str(history.overdue_deadline),
         "10", "整改中"]
    ]  # fmt: skip
    assert [r[0] for r in seen["rounds"]] == ["第1轮 扶贫领域专项巡察", "第2轮 常规巡察"]
    assert seen["scope"] == f"term:{history.term_id}"
    assert seen["bars"] > 10
    assert seen["token"] is True
    assert seen["local"] == 0  # the token is kept in the tab only


def test_the_page_is_self_contained(system: System) -> None:
    page = httpx.get(f"{system.gateway}/results")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "http" not in page.text.replace(system.gateway, "")  # no CDN, no other origin
    script = httpx.get(f"{system.gateway}/results/results.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "http://" not in script.text.replace("http://www.w3.org/2000/svg", "")
    assert httpx.get(f"{system.gateway}/results/other.js").status_code == 404


def test_the_superior_sees_it_and_a_group_member_is_told_no(
    system: System, database: Database, history: History, browser: str
) -> None:
    superior, password = user(database, Role.superior)
    member, member_password = user(database, Role.group_member)
    url = f"{system.gateway}/results?round_id={history.round1}"

    async def run() -> tuple[str, str]:
        page = await open_results(browser, url, superior, password)
        try:
            await page.until("document.body.dataset.loaded === 'true'")
            summary = await page.eval("document.getElementById('summary').textContent")
            await page.eval("document.getElementById('logout').click(); true")
            await page.until("!document.getElementById('login').hidden")
            await page.eval(
                f"document.getElementById('username').value = {json.dumps(member)};"
                f"document.getElementById('password').value = {json.dumps(member_password)};"
                "document.getElementById('login-form').requestSubmit(); true"
            )
            await page.until(
                "!document.getElementById('status').hidden && "
                "document.getElementById('status-text').textContent.includes('仅')"
            )
            return summary, await page.eval("document.getElementById('status-text').textContent")
        finally:
            await close(page)

    summary, refusal = asyncio.run(run())
    assert summary == SUMMARY
    assert "仅巡察办和上级巡察办可查看统计数据" in refusal
