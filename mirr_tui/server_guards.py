"""ASGI guards in front of OpenEnv's app: what a hostile or careless client must not be able to do.

- `FrameGuard` (/ws): a frame OpenEnv's handler would die on gets an error frame and the session lives on;
  a session that sends nothing for `idle_timeout` seconds is told why and closed, so idle clients cannot
  hold every slot until a restart.
- `OriginGuard` (every route): a request a browser sends from another site (any `Origin` that is not this
  server's own and not allowed with `--allow-origin`) is refused before it reaches a route, so a web page
  cannot open sessions or play moves. Clients that are not browsers send no Origin and pass.

Sessions created over HTTP MCP (`openenv/session/create`, no connection held) are bounded by the same
idle timeout through OpenEnv's own reaper (`ConcurrencyConfig.session_timeout`, see `make_server_app`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

DEFAULT_IDLE_TIMEOUT = 300.0  # seconds a session may stay silent; 0 or None: never closed for idling
IDLE_CLOSE_CODE = 1001  # "going away"
POLICY_CLOSE_CODE = 1008  # "policy violation": a foreign Origin on the handshake


def _frame_problem(text: str) -> str | None:
    """Why a WebSocket text frame cannot reach OpenEnv's handler (which ends the session on these), or None."""
    try:
        message = json.loads(text)
    except RecursionError:
        return "Invalid JSON: nested too deeply"
    except ValueError as exc:  # JSONDecodeError, and ints past Python's digit limit
        return f"Invalid JSON: {str(exc)[:200]}"
    if not isinstance(message, dict):
        return f"a message is a JSON object with a type, got {type(message).__name__}"
    kind = message.get("type", "")
    if not isinstance(kind, str):
        return "a message's type is a string"
    data = message.get("data", {})
    if kind in ("reset", "step", "mcp") and not isinstance(data, dict):
        return f"a {kind} message's data is an object"
    return None  # a bad seed or episode id is MirrEnvironment.reset's ValueError: an EXECUTION_ERROR frame


def _error_frame(message: str, code: str) -> dict[str, Any]:
    return {"type": "websocket.send", "text": json.dumps({"type": "error", "data": {"message": message, "code": code}})}


class FrameGuard:
    """ASGI middleware in front of /ws: a frame OpenEnv's handler would die on (not an object, not JSON, too
    deep, an int past Python's digit limit) gets an error frame and the session carries on; a session silent
    for `idle_timeout` seconds gets an error frame saying so, is closed (code 1001) and its slot freed."""

    def __init__(self, app: Any, idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT) -> None:
        self.app = app
        self.idle_timeout = idle_timeout or None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket" or scope.get("path") != "/ws":
            await self.app(scope, receive, send)
            return
        accepted = False

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal accepted
            accepted = accepted or message["type"] == "websocket.accept"
            await send(message)

        async def guarded_receive() -> dict[str, Any]:
            while True:
                if accepted and self.idle_timeout is not None:
                    try:
                        message = await asyncio.wait_for(receive(), self.idle_timeout)
                    except TimeoutError:
                        shown = f"{self.idle_timeout:g}"
                        await send(_error_frame(f"no message for {shown} s: the session is closed", "IDLE_TIMEOUT"))
                        await send({"type": "websocket.close", "code": IDLE_CLOSE_CODE, "reason": "idle timeout"})
                        return {"type": "websocket.disconnect", "code": IDLE_CLOSE_CODE}
                else:
                    message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                text = message.get("text")
                if text is None:  # a binary frame: left to OpenEnv, which ends the session (the load bench checks it)
                    return message
                problem = _frame_problem(text)
                if problem is None:
                    return {"type": "websocket.receive", "text": text}
                code = "INVALID_JSON" if problem.startswith("Invalid JSON") else "VALIDATION_ERROR"
                await send(_error_frame(problem, code))

        await self.app(scope, guarded_receive, tracked_send)


class OriginGuard:
    """ASGI middleware: refuse a request whose `Origin` is neither this server's own nor allowed.

    `allowed` holds origins such as `https://example.org`; `*` allows any. Same-origin means the Origin's
    host and port are the request's `Host` header (so a proxy or a Space that keeps Host works unchanged).
    """

    def __init__(self, app: Any, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = {origin.rstrip("/").lower() for origin in allowed}

    def permits(self, origin: str | None, host: str | None) -> bool:
        if origin is None or "*" in self.allowed:
            return True
        origin = origin.rstrip("/").lower()
        if origin in self.allowed:
            return True
        _, sep, authority = origin.partition("://")
        return bool(sep) and host is not None and authority == host.lower()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}
        origin = headers.get("origin")
        if self.permits(origin, headers.get("host")):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # closing before accept: the handshake is answered 403
            await send({"type": "websocket.close", "code": POLICY_CLOSE_CODE, "reason": "foreign origin"})
            return
        body = json.dumps(
            {"detail": f"requests from {origin} are refused: start the server with --allow-origin {origin} to allow"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
