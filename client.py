"""OpenEnv's conventional client module (`<name>Env`, `<name>Action`, `<name>Observation`), re-exported
from mirr_tui: `MirrEnv` is `mirr_tui.client.MirrClient`, the models are the server's generated ones."""

from mirr_tui.client import MirrClient as MirrEnv
from mirr_tui.core import load_config
from mirr_tui.server import build_models

_MODELS = build_models(load_config())
MirrAction = _MODELS.action
MirrObservation = _MODELS.observation

__all__ = ["MirrAction", "MirrEnv", "MirrObservation"]
