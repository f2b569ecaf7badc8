"""Metrics only: restart whatever looks worst. The "crashed = restart" mental model."""

from __future__ import annotations

from mirr_tui.core import Action, Observation, ServiceView

from .base import BaseAgent


def badness(view: ServiceView) -> float:
    """How bad a service looks from its metrics and health check (0 = fine)."""
    status = {"ok": 0.0, "degraded": 0.4, "down": 1.0}.get(view.status, 0.0)
    return view.error_rate + status + min(view.latency_ms, 5000.0) / 5000.0


class NaiveAgent(BaseAgent):
    name = "naive"

    def act(self, observation: Observation) -> Action:
        worst = max(observation.services.values(), key=badness)
        if worst.error_rate < 0.05 and worst.status == "ok":
            self.last_reasoning = "everything looks fine; waiting"
            return Action("wait")
        self.last_reasoning = f"{worst.name} looks worst (errors {worst.error_rate:.0%}, {worst.status}); restarting it"
        return Action("restart", worst.name)
