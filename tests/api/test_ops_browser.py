"""The ops console in a real headless Chromium (Playwright) against a real ``dispatch serve``.

Needs Playwright for Python and Debian's ``chromium`` (``.ci/run`` installs it).
Outside CI the tests skip, saying what is missing; with ``CI`` set they fail.
Select them with ``-m browser``. ``OPS_SCREENSHOT=path`` also saves the live
test's screenshot there (README's picture: ``docs/ops-console.png``).
"""

from __future__ import annotations

import base64
import math
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.api.conftest import CENTER, north, order_body

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
KEYS = "ops-k=ops,os-k=order-service,app-k=courier-app,an-k=analyst"
OPS = {"Authorization": "Bearer ops-k"}
OS = {"Authorization": "Bearer os-k"}
APP = {"Authorization": "Bearer app-k"}
LIVE_S = 2.0  # a change must show within this long
# Scripts given to the page are functions ("() => ..."): a bare expression would be
# evaluated with eval, which the console's Content-Security-Policy forbids.


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if _chromium() is None:
        return "no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)"
    return None


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module", autouse=True)
def _browser_available() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    print(f"browser tests skipped: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``dispatch serve`` on one port (memory store, ticks driven over HTTP); restartable."""

    def __init__(self, port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.env = env or {}
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader: threading.Thread | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DISPATCH_API_KEYS": KEYS,
            "DISPATCH_TICK_ENABLED": "false",
            **self.env,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "api", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.proc = proc
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        seen = b""
        while b"Application startup complete" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"serve did not start: {seen[-3000:].decode(errors='replace')}")
            if select.select([proc.stdout], [], [], left)[0]:
                chunk = os.read(proc.stdout.fileno(), 65536)
                seen += chunk
        stdout = proc.stdout
        # Drain the log so the server never blocks on a full pipe; ends at EOF.
        self.reader = threading.Thread(target=lambda: [None for _ in stdout], daemon=True)
        self.reader.start()

    def stop(self, *, crash: bool = False) -> None:
        """Stop the server: gracefully (SIGTERM), or as a crash (SIGKILL)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if crash:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            proc.kill()
            proc.wait()
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server(_free_port())
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _seed(c: httpx.Client) -> None:
    """Community c1 with courier w1 next to its centre."""
    body = {"name": "Riverside", "center": CENTER, "solver_budget_s": 0.5}
    assert c.put("/v1/communities/c1", json=body, headers=OPS).status_code == 200
    w = {"kind": "courier", "community_id": "c1"}
    assert c.put("/v1/workers/w1", json=w, headers=OPS).status_code == 200
    assert c.post("/v1/workers/w1/location", json=north(10), headers=APP).status_code == 200


def _open(browser: Any, url: str, also: str | None = None) -> tuple[Any, list[str]]:
    """A page at ``url`` and the console errors it logs; a request for another origin
    (than ``url``'s, or ``also``'s) is refused and counted as an error: the pages must
    work offline."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    origins = [x.split("/", 3)[:3] for x in (url, also or url)]

    def offline(route: Any) -> None:
        if route.request.url.split("/", 3)[:3] in origins:
            route.continue_()
        else:
            errors.append(f"request to another origin: {route.request.url}")
            route.abort()

    page.route("**/*", offline)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors


def _timed(page: Any, condition: str, arg: Any = None) -> float:
    """Seconds until ``condition`` (a JS predicate of ``arg``) holds; fails past LIVE_S."""
    start = time.monotonic()
    page.wait_for_function(condition, arg=arg, timeout=LIVE_S * 1000)
    return time.monotonic() - start


MARKER = "document.querySelector('circle.worker[data-id=\"w1\"]')"


def test_the_console_follows_a_community_live(server: Server, browser: Any, tmp_path: Path) -> None:
    """Fragment sign-in, surge cells with a legend, a marker that moves after a location
    post, a new order that appears and turns assigned after a tick, a route; no console
    errors; a screenshot."""
    with httpx.Client(base_url=server.base, timeout=30.0) as c:
        _seed(c)
        page, errors = _open(browser, f"{server.base}/ops#key=ops-k")
        page.wait_for_selector("#conn[data-state=live]", timeout=10_000)
        assert "#" not in page.url and "ops-k" not in page.url
        assert page.evaluate("() => sessionStorage.getItem('dispatch.ops.key')") == "ops-k"
        assert page.evaluate("() => localStorage.length") == 0
        page.wait_for_selector("polygon.cell", timeout=5_000)
        cells = page.locator("polygon.cell").count()
        assert cells > 200, cells
        assert page.locator("#legend .swatch").count() == 5
        assert page.locator("polygon.fence").count() == 1
        page.wait_for_selector('circle.worker[data-id="w1"][data-status="idle"]')
        before = page.evaluate(f"() => {MARKER}.getAttribute('cy')")

        assert c.post("/v1/workers/w1/location", json=north(700), headers=APP).status_code == 200
        moved_s = _timed(page, f"(before) => {MARKER}.getAttribute('cy') !== before", before)
        assert float(page.evaluate(f"() => {MARKER}.getAttribute('cy')")) < float(
            before
        )  # north: up

        r = c.post("/v1/orders", json=order_body(), headers=OS)
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        work = f"document.querySelector('rect.work[data-id=\"{oid}\"]')"
        appeared_s = _timed(page, f"() => {work}?.dataset.state === 'pending'")
        assert page.locator(f'tr[data-work="{oid}"]').count() == 1
        assert c.post("/v1/communities/c1/dispatch", headers=OPS).json()["assigned"] == 1
        assigned_s = _timed(page, f"() => {work}?.dataset.state === 'assigned'")
        page.wait_for_selector('circle.worker[data-id="w1"][data-status="busy"]')
        assert page.locator('#kpis [data-kpi="open_orders"] .value').inner_text() == "1"

        # Redrawn from outlines fetched once: every cell still has its hexagon.
        drawn = "() => [...document.querySelectorAll('polygon.cell')].map(p => p.points.length)"
        assert set(page.evaluate(drawn)) <= {6, 7} and len(page.evaluate(drawn)) == cells
        page.click('tr[data-worker="w1"]')
        page.wait_for_selector("#route-line[data-worker=w1]", timeout=2_000)
        assert page.locator("circle.route-stop").count() == 2
        shot = tmp_path / "ops-console.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        extra = os.environ.get("OPS_SCREENSHOT")
        if extra:
            shutil.copy(shot, extra)
        assert errors == [], errors
        print(
            f"shown after: location {moved_s:.2f} s, new order {appeared_s:.2f} s, "
            f"assignment {assigned_s:.2f} s"
        )


def test_the_console_reconnects_after_a_restart(server: Server, browser: Any) -> None:
    """A stopped server shows as reconnecting; once it is back the page is live again on
    its own and draws what the new server holds."""
    with httpx.Client(base_url=server.base, timeout=30.0) as c:
        _seed(c)
    page, _ = _open(browser, f"{server.base}/ops#key=ops-k&community=c1")
    page.wait_for_selector('circle.worker[data-id="w1"]', timeout=10_000)
    server.stop(crash=True)  # mid long poll: the page's request is cut
    page.wait_for_selector("#conn[data-state=reconnecting]", timeout=10_000)
    server.start()
    with httpx.Client(base_url=server.base, timeout=30.0) as c:
        _seed(c)
        body = {"kind": "courier", "community_id": "c1"}
        assert c.put("/v1/workers/w2", json=body, headers=OPS).status_code == 200
        assert c.post("/v1/workers/w2/location", json=north(50), headers=APP).status_code == 200
    page.wait_for_selector('circle.worker[data-id="w2"]', timeout=15_000)
    assert page.locator("#conn").get_attribute("data-state") == "live"
    assert page.evaluate("() => sessionStorage.getItem('dispatch.ops.key')") == "ops-k"


def test_sign_in_by_typing_a_key(server: Server, browser: Any) -> None:
    """A wrong key is refused with a message; a typed analyst key opens the console."""
    with httpx.Client(base_url=server.base, timeout=30.0) as c:
        _seed(c)
    page, _ = _open(browser, f"{server.base}/ops")
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#key", "wrong")
    page.click("#signin-form button")
    page.wait_for_function("() => document.getElementById('signin-error').textContent.length")
    assert "not accepted" in page.locator("#signin-error").inner_text()
    assert page.evaluate("() => sessionStorage.getItem('dispatch.ops.key')") is None
    page.fill("#key", "an-k")
    page.click("#signin-form button")
    page.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    page.wait_for_selector('circle.worker[data-id="w1"]')
    assert page.locator("#community").input_value() == "c1"


def test_docs_render_offline(server: Server, browser: Any) -> None:
    """Swagger UI renders this API's document with every file from the server itself."""
    page, errors = _open(browser, f"{server.base}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "Community dispatch API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() > 20
    assert errors == [], errors


class _Tiles(BaseHTTPRequestHandler):
    """A raster tile server: one small PNG for every path, each path recorded."""

    seen: ClassVar[list[str]] = []
    PNG = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
    )

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.PNG)))
        self.end_headers()
        self.wfile.write(self.PNG)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_a_configured_basemap_is_drawn_under_the_map(browser: Any) -> None:
    """With DISPATCH_OPS_TILE_URL the page draws that server's tiles (z/x/y covering the
    community) under the cells, credits the host, and loads nothing else from outside."""
    tiles = ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    thread = threading.Thread(target=tiles.serve_forever, daemon=True)
    thread.start()
    tile_base = f"http://127.0.0.1:{tiles.server_address[1]}"
    server = Server(_free_port(), {"DISPATCH_OPS_TILE_URL": tile_base + "/{z}/{x}/{y}.png"})
    try:
        server.start()
        with httpx.Client(base_url=server.base, timeout=30.0) as c:
            _seed(c)
        page, errors = _open(browser, f"{server.base}/ops#key=ops-k", also=tile_base)
        page.wait_for_selector("image.tile", state="attached", timeout=10_000)
        hrefs = page.eval_on_selector_all(
            "image.tile", "els => els.map(e => e.getAttribute('href'))"
        )
        assert 1 <= len(hrefs) <= 30, hrefs
        z, x, y = (
            int(v) for v in hrefs[0].removeprefix(tile_base + "/").removesuffix(".png").split("/")
        )
        n = 2**z
        # Web Mercator tile of the community's centre at that zoom (x, y within one of it).
        cx = int((CENTER["lng"] + 180) / 360 * n)
        lat = math.radians(CENTER["lat"])
        cy = int((1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * n)
        assert 12 <= z <= 15 and abs(x - cx) <= 2 and abs(y - cy) <= 2, (z, x, y, cx, cy)
        assert page.locator("#attribution").inner_text().endswith(tile_base.removeprefix("http://"))
        page.wait_for_function("() => document.querySelectorAll('polygon.cell').length > 200")
        assert _Tiles.seen, "the browser fetched no tile"
        assert errors == [], errors
    finally:
        server.stop()
        tiles.shutdown()
        tiles.server_close()
        thread.join(timeout=10)
