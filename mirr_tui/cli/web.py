"""`mirr web`: the game in a browser (textual-serve, the `web` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from . import ReplayDirOpt, app, check_writable, default_replay_dir, fail
from .serve import listen_problem


@app.command()
def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8080,
    public_url: Annotated[
        str | None,
        typer.Option("--public-url", help="The URL browsers reach this server at (behind a proxy, on a Space)."),
    ] = None,
    max_sessions: Annotated[int, typer.Option("--max-sessions", help="Browser tabs playing at once.", min=1)] = 8,
    replays: ReplayDirOpt = None,
) -> None:
    """Serve the game to browsers: one process per tab, each with its own replay folder (needs the web extra)."""
    try:
        from ..web import make_server
    except ModuleNotFoundError as exc:
        fail(str(exc))
    base = (replays if replays is not None else default_replay_dir()) / "web"
    check_writable(base)
    problem = listen_problem(host, port)
    if problem:
        fail(f"cannot listen on {host}:{port}: {problem}")
    server = make_server(base, host=host, port=port, public_url=public_url, max_sessions=max_sessions)
    typer.echo(f"mirr: serving the game on {server.public_url} ({max_sessions} tabs at most, replays in {base}/tab-*)")
    server.serve()
