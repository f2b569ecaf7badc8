"""OpenEnv's server pieces, imported without gradio unless the web interface is on.

OpenEnv's `env_server` package imports its Gradio playground eagerly (gradio is ~140 MiB and seconds of
start-up) but tolerates its absence. So while OpenEnv loads, gradio is marked absent, then unmarked:
a plain `mirr serve` never loads it, and `create_app` still imports it when ENABLE_WEB_INTERFACE is on.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


def _web_interface_on() -> bool:
    """OpenEnv's own switch for its Gradio playground at /web (`openenv push` turns it on)."""
    return os.environ.get("ENABLE_WEB_INTERFACE", "false").strip().lower() in ("true", "1", "yes")


@contextlib.contextmanager
def _gradio_held_back() -> Iterator[None]:
    """Import OpenEnv without gradio unless the web interface is on: its package imports the Gradio
    playground eagerly (~140 MiB and seconds at start-up) and catches ModuleNotFoundError if it is absent,
    so gradio is marked absent while OpenEnv loads, then unmarked, so `create_app` can still import it."""
    if _web_interface_on() or "gradio" in sys.modules:
        yield
        return
    sys.modules["gradio"] = None  # type: ignore[assignment]  # `import gradio` now raises ModuleNotFoundError
    try:
        yield
    finally:
        if sys.modules.get("gradio", 0) is None:
            del sys.modules["gradio"]


with _gradio_held_back():
    from openenv.core.env_server.http_server import create_app
    from openenv.core.env_server.interfaces import Environment
    from openenv.core.env_server.types import Action as OpenEnvAction
    from openenv.core.env_server.types import ConcurrencyConfig, EnvironmentMetadata
    from openenv.core.env_server.types import Observation as OpenEnvObservation
    from openenv.core.env_server.types import State as OpenEnvState

__all__ = [
    "ConcurrencyConfig",
    "Environment",
    "EnvironmentMetadata",
    "OpenEnvAction",
    "OpenEnvObservation",
    "OpenEnvState",
    "create_app",
]
