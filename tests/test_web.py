"""`mirr web` in a real browser: headless Chromium (Debian's `chromium`; .ci/run installs it) loads the page,
textual-serve starts a session, keys pressed in the page move the game. Chromium is driven over the DevTools
protocol with aiohttp (which comes with textual-serve), so no browser driver package is needed.

xterm.js draws on a canvas, which a test cannot read; the page is loaded with canvas contexts unavailable, so
xterm falls back to its DOM renderer and the screen's text is in `.xterm-rows`."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("textual_serve", reason="needs the web extra: pip install -e '.[web]'")
import aiohttp

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install -y chromium; .ci/run does)"
)
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = os.environ.get("MIRR_WEB_SCREENSHOT")  # bench: MIRR_WEB_SCREENSHOT=docs/web.png pytest tests/test_web.py


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Page:
    """One Chromium tab over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.next_id = ws, 0

    async def call(self, method: str, **params):
        self.next_id += 1
        ident = self.next_id
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json()
            if message.get("id") == ident:
                assert "error" not in message, message
                return message["result"]

    async def screen(self) -> str:
        result = await self.call(
            "Runtime.evaluate",
            expression="(document.querySelector('.xterm-rows') || {innerText: ''}).innerText",
            returnByValue=True,
        )
        return result["result"].get("value") or ""

    async def wait_for(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = await self.screen()
            if re.search(pattern, text):
                return text
            await asyncio.sleep(0.25)
        raise AssertionError(f"{pattern!r} never appeared; the screen showed:\n{text}")

    async def press(self, key: str) -> None:
        await self.call("Runtime.evaluate", expression="document.querySelector('.xterm-helper-textarea').focus()")
        await self.call("Input.dispatchKeyEvent", type="keyDown", key=key, text=key)
        await self.call("Input.dispatchKeyEvent", type="keyUp", key=key)


async def _open_tab(session: aiohttp.ClientSession, devtools: str, url: str) -> Page:
    target = await (await session.put(f"{devtools}/json/new?about:blank")).json()
    ws = await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
    page = Page(ws)
    await page.call("Page.enable")
    await page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        source="HTMLCanvasElement.prototype.getContext = function () { return null; };",
    )
    await page.call("Page.navigate", url=url)
    return page


@pytest.fixture
def web_server(tmp_path):
    port = _free_port()
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    cmd = [sys.executable, "-m", "mirr_tui", "web", "--port", str(port), "--max-sessions", "2"]
    server = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", tmp_path / "data" / "mirr" / "replays" / "web"
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture
def chromium(tmp_path):
    browser = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1280,720",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    devtools = None
    deadline = time.monotonic() + 60
    while devtools is None and time.monotonic() < deadline:
        line = browser.stderr.readline()
        found = re.search(r"DevTools listening on ws://([^/]+)/", line)
        if found:
            devtools = f"http://{found.group(1)}"
        elif not line and browser.poll() is not None:
            break
    assert devtools, "Chromium did not start its DevTools endpoint"
    yield devtools
    browser.terminate()
    browser.wait(timeout=20)


def test_a_browser_plays_mirr_through_mirr_web(web_server, chromium, tmp_path):
    url, replays = web_server

    async def play() -> None:
        async with aiohttp.ClientSession() as session:
            page = await _open_tab(session, chromium, url + "/")
            first = await page.wait_for(r"step 0/30")
            assert "MIRR play" in first and "payment" in first and "logs read: none yet" in first
            await page.press("4")  # select payment
            await page.press("l")  # read its logs
            after = await page.wait_for(r"step 1/30")
            assert "logs (l) · marks (m)" in after and "payment" in after, after  # the notebook's first line
            assert re.search(r"payment[^\n]*(INFO|WARN|ERROR)", after), after  # its log lines are on the board
            shot = await page.call("Page.captureScreenshot", format="png")
            (tmp_path / "web.png").write_bytes(base64.b64decode(shot["data"]))
            if SCREENSHOT:
                Path(SCREENSHOT).write_bytes(base64.b64decode(shot["data"]))

            second = await _open_tab(session, chromium, url + "/")  # a second tab: its own process and folder
            await second.wait_for(r"step 0/30")
            folders = sorted(p.name for p in replays.glob("tab-*"))
            assert len(folders) == 2, folders
            assert all(any((replays / f).glob("curated-*.json")) for f in folders)
            with pytest.raises(aiohttp.WSServerHandshakeError) as full:  # --max-sessions 2: a third is refused
                await session.ws_connect(url.replace("http", "ws") + "/ws")
            assert full.value.status == 503
            await page.ws.close()
            await second.ws.close()

    asyncio.run(asyncio.wait_for(play(), timeout=240))
    assert (tmp_path / "web.png").stat().st_size > 10_000
