"""OpenEnv's conventional `server.app:app`, a shim over `mirr_tui.server` (no second implementation).

uvicorn server.app:app --host 0.0.0.0 --port 8000     # what OpenEnv's tooling runs
python -m server.app [--host H] [--port P]            # the same as `mirr serve --host 0.0.0.0`
"""

from __future__ import annotations

import sys

from mirr_tui.server import make_server_app

app = make_server_app()


def main(argv: list[str] | None = None) -> None:
    """`mirr serve`, listening on every interface on port 8000 unless told otherwise (a container's view)."""
    from mirr_tui.cli import main as mirr

    args = list(sys.argv[1:] if argv is None else argv)
    if "--host" not in args:
        args = ["--host", "0.0.0.0", *args]
    mirr(["serve", *args])


if __name__ == "__main__":
    main()
