"""Reads the hidden state and plays perfectly: the upper bound of the score."""

from __future__ import annotations

from typing import Any

from mirr_tui.core import Action, IncidentEnv, Observation

from .base import BaseAgent


class OracleAgent(BaseAgent):
    name = "oracle"
    needs_env = True

    def __init__(self, env: IncidentEnv | None = None) -> None:
        super().__init__()
        self.env = env

    def attach(self, env: Any) -> None:
        self.env = env

    def act(self, observation: Observation) -> Action:
        if self.env is None:
            raise RuntimeError("the oracle needs the environment: agents.create('oracle', env=env)")
        truth = self.env.state
        root, mode = truth.root_service, truth.fault_mode
        if observation.can_diagnose:
            self.last_reasoning = f"the truth says {root}/{mode}"
            return Action("diagnose", root, mode)
        if truth.fault_phase == "active":
            fix = self.env.config.fault_modes[mode].fix
            self.last_reasoning = f"{root} still has its {mode}: {fix}"
            return Action(fix, root)  # type: ignore[arg-type]
        self.last_reasoning = (
            "fault handled; waiting out the confirm window"
            if truth.fault_phase == "fixed"
            else "waiting for the leak to relapse"
        )
        return Action("wait")
