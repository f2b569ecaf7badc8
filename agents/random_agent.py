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
        # Seeded per episode so evaluation runs are reproducible from the env seed.
        base = self.seed if self.seed is not None else 0
        self._rng = np.random.default_rng([base, observation.seed])

    def act(self, observation: Observation) -> Action:
        services = list(observation.services)
        # Valid moves only: a second diagnosis would be invalid, so it is not on the menu.
        kinds = ACTION_TYPES if observation.diagnosis is None else tuple(k for k in ACTION_TYPES if k != "diagnose")
        kind = kinds[int(self._rng.integers(len(kinds)))]
        if kind == "wait":
            return Action("wait")
        service = services[int(self._rng.integers(len(services)))]
        if kind == "diagnose":
            return Action("diagnose", service, FAULT_MODES[int(self._rng.integers(len(FAULT_MODES)))])
        return Action(kind, service)  # type: ignore[arg-type]

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "seed": self.seed}
