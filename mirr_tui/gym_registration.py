"""Registers MIRR-v0 with Gymnasium: a string entry point, so neither the adapter nor numpy loads until `make`.

`gymnasium.make("mirr_tui:MIRR-v0")` imports `mirr_tui`, whose import calls `register()` when Gymnasium is
loaded (or, when Gymnasium comes later, right after it loads). Needs the `gym` extra only when called.
"""

from __future__ import annotations

ENV_ID = "MIRR-v0"


def register() -> None:
    """Register MIRR-v0 (scalar and vector entry points) with Gymnasium; safe to call again."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(
            id=ENV_ID,
            entry_point="mirr_tui.gym_env:MirrGymEnv",
            vector_entry_point="mirr_tui.gym_vector:MirrVectorEnv",
        )
