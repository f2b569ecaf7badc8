"""The layout `openenv init` generates, so `openenv push` / `openenv build` accept this repository.

A thin shim: everything lives in `mirr_tui` (the client in mirr_tui/client.py, the server in
mirr_tui/server.py). This file is never part of the wheel. The names load on first use, so importing the
folder (pytest does, to collect tests/) needs neither the server extra nor a parent package.
"""

from typing import Any

__all__ = ["MirrAction", "MirrEnv", "MirrObservation"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(name)
    from . import client  # the repository imported as a package, as OpenEnv's tooling does

    return getattr(client, name)
