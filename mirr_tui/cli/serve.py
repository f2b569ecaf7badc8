"""`mirr serve`: MIRR as an OpenEnv server."""

from __future__ import annotations

from typing import Annotated

import typer

from . import ConfigOpt, app, fail, load_env_config


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8000,
    sessions: Annotated[int, typer.Option("--sessions", help="Concurrent WebSocket sessions.", min=1)] = 64,
    config: ConfigOpt = None,
    referee: Annotated[
        bool,
        typer.Option(
            "--referee",
            help="Hand the hidden truth (root service, fault mode, true health) to every client on `state`: "
            "for `mirr eval --agent oracle --remote` and saving replays of remote runs. Off by default.",
        ),
    ] = False,
    secret_seeds: Annotated[
        bool,
        typer.Option(
            "--secret-seeds",
            help="Draw every incident from a secret seed no client can pick or guess (for benchmarks); "
            "the seed is revealed in the final observation's metadata, so each episode can be verified.",
        ),
    ] = False,
    idle_timeout: Annotated[
        float,
        typer.Option(
            "--idle-timeout",
            help="Close a session (WebSocket or HTTP MCP) that sends nothing for this many seconds; 0: never.",
            min=0,
        ),
    ] = 300.0,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin",
            help="Let browser pages from this origin (https://host[:port]) use the server; repeat for more, "
            "'*' for any. By default a page on another site is refused (it could fill every session).",
        ),
    ] = None,
) -> None:
    """Serve MIRR as an OpenEnv environment (WebSocket sessions at /ws; needs the server extra)."""
    cfg = load_env_config(config)
    try:
        import uvicorn

        from ..server import make_server_app
    except ModuleNotFoundError as exc:
        fail(f"serving needs the server extra: pip install -e '.[server]' ({exc})")
    problem = listen_problem(host, port)
    if problem:
        fail(f"cannot listen on {host}:{port}: {problem}")
    application = make_server_app(
        cfg,
        sessions=sessions,
        referee=referee,
        secret_seeds=secret_seeds,
        idle_timeout=idle_timeout,
        allow_origins=tuple(allow_origin or ()),
    )
    shown = "; referee: state reveals the hidden truth" if referee else ""
    shown += "; secret seeds" if secret_seeds else ""
    shown += f"; idle sessions closed after {idle_timeout:g} s" if idle_timeout else ""
    typer.echo(
        f"mirr: serving {cfg.id} on http://{host}:{port} (WebSocket /ws, {sessions} sessions{shown}); Ctrl-C stops"
    )
    # no per-message deflate: observations are small and compressing each one cost more CPU than the step
    uvicorn.run(
        application, host=host, port=port, log_level="warning", ws_max_size=1 << 20, ws_per_message_deflate=False
    )


def listen_problem(host: str, port: int) -> str | None:
    """Why the server could not listen there, or None. Binds like uvicorn does (SO_REUSEADDR), so sockets of a
    server that just stopped, still in TIME_WAIT, do not block a restart."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return str(exc.strerror or exc)
    return None
