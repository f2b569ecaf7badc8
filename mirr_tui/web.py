"""`mirr web`: the Textual app in a browser through textual-serve (the `web` extra).

textual-serve starts one process per browser tab (the command below, under Textual's web driver) and streams
its screen over a WebSocket. Each tab plays in its own replay folder, `<replays>/tab-<pid>`, so a Space or a
laptop can host several players without their replays mixing. `max_sessions` caps the tabs running at once;
one more gets HTTP 503 instead of a process.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

try:
    from aiohttp import web
    from textual_serve.server import Server
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise ModuleNotFoundError(
        f"`mirr web` needs the web extra ({exc.name} is missing): pip install -e '.[web]'"
    ) from exc


def tab_command(replays: Path, screen: str = "play") -> str:
    """The shell command one tab runs: `mirr play` in a folder of its own (`$$` is that tab's shell pid)."""
    folder = shlex.quote(str(replays.resolve())) + "/tab-$$"
    return f"{shlex.quote(sys.executable)} -m mirr_tui {screen} --replays {folder}"


class MirrWebServer(Server):
    """textual-serve's server with a cap on live tabs."""

    def __init__(self, command: str, max_sessions: int, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self.max_sessions = max_sessions
        self.live = 0

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if self.live >= self.max_sessions:
            raise web.HTTPServiceUnavailable(text=f"MIRR is full: {self.max_sessions} sessions are playing")
        self.live += 1
        try:
            return await super().handle_websocket(request)
        finally:
            self.live -= 1


def make_server(
    replays: Path, host: str = "127.0.0.1", port: int = 8080, public_url: str | None = None, max_sessions: int = 8
) -> MirrWebServer:
    return MirrWebServer(
        tab_command(replays),
        max_sessions,
        host=host,
        port=port,
        title="MIRR: incident response",
        public_url=public_url,
    )
