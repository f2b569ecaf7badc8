"""MIRR: an incident-response game and agent playground for the terminal."""

from __future__ import annotations

import sys

__version__ = "0.1.0"


class _RegisterAfterGymnasium:
    """A one-shot import hook: when Gymnasium is imported after mirr_tui, MIRR-v0 is registered as it loads,
    so `gymnasium.make("mirr_tui:MIRR-v0")` works whatever was imported first. Costs nothing otherwise."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        if fullname != "gymnasium":
            return None
        import importlib.util

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        load = loader.exec_module

        def exec_module(module: object) -> None:
            load(module)
            from .gym_registration import register

            register()

        loader.exec_module = exec_module  # this spec's own loader instance
        return spec


if "gymnasium" in sys.modules:
    from .gym_registration import register as _register

    _register()
elif not any(isinstance(f, _RegisterAfterGymnasium) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterGymnasium())


def _find_checkout_agents() -> None:
    """The agents live in the checkout's top-level agents/ folder (the layout the design asks for); a wheel
    installs them as mirr_tui/agents, so the import name `agents` stays free for whoever owns it (the
    openai-agents package does). In a checkout (an editable install, the tests), mirr_tui.agents is found
    in that folder."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    if not (here / "agents").is_dir() and (here.parent / "agents" / "__init__.py").is_file():
        __path__.append(str(here.parent))


_find_checkout_agents()
