"""Uniformly random valid actions: the floor every other agent must beat."""

from __future__ import annotations

import numpy as np

from mirr_tui.core import ACTION_TYPES, FAULT_MODES, Action, Observation

from .base import BaseAgent


class RandomAgent(BaseAgent):
    name = "random"

    def __init__(self, seed: int | None = None) -> None:
        super().__init__()
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def reset(self, observation: Observation) -> None:
        super().reset(observation)
        # Seeded per episode from what the first observation shows (the seed itself is not in the player's
        # channel), so the same incident gets the same random play and evaluation runs are reproducible.
        base = self.seed if self.seed is not None else 0
        shown = [
            round(v * 10)
            for view in observation.services.values()
            for v in view.to_dict().values()
            if isinstance(v, float)
        ]
        self._rng = np.random.default_rng([base, *(abs(v) % 2**32 for v in shown)])

    def act(self, observation: Observation) -> Action:
        services = list(observation.services)
        # Valid moves only: a second diagnosis would be invalid, so it is not on the menu.
        kinds = ACTION_TYPES if observation.can_diagnose else tuple(k for k in ACTION_TYPES if k != "diagnose")
        kind = kinds[int(self._rng.integers(len(kinds)))]
        if kind == "wait":
            return Action("wait")
        service = services[int(self._rng.integers(len(services)))]
        if kind == "diagnose":
            return Action("diagnose", service, FAULT_MODES[int(self._rng.integers(len(FAULT_MODES)))])
        return Action(kind, service)  # type: ignore[arg-type]

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "seed": self.seed}
