"""Never reads a log: diagnoses the deepest sick service, with the mode its metrics suggest, then fixes it.

Under rules v1 this ten-line player tied the oracle; under v2 it measures how much the metrics alone give
away (pass-through errors, decoys, masked fingerprints and silent roots are there so that it is not much).
"""

from __future__ import annotations

from mirr_tui.core import Action, EnvConfig, Observation, ServiceView, load_config

from .base import BaseAgent


def metric_mode(view: ServiceView) -> str:
    """The fault mode a service's metrics look like."""
    if view.status == "down" or view.error_rate > 0.9:
        return "crashed"
    if view.memory > 80:
        return "memory_leak"
    if view.cpu > 85:
        return "overloaded"
    return "bad_deploy"


def sick(view: ServiceView) -> bool:
    return view.status != "ok" or view.error_rate > 0.05 or view.cpu > 85 or view.memory > 80 or view.stale


class MetricsOnlyAgent(BaseAgent):
    name = "metrics"

    def __init__(self, config: EnvConfig | None = None) -> None:
        super().__init__()
        self.config = config or load_config()
        depth: dict[str, int] = {}
        calls = {s.name: s.calls for s in self.config.services}

        def down(name: str) -> int:
            if name not in depth:
                depth[name] = 1 + max((down(c) for c in calls[name]), default=-1)
            return depth[name]

        self.height = {name: down(name) for name in calls}  # 0 = calls nobody (the bottom of the stack)

    def reset(self, observation: Observation) -> None:
        super().reset(observation)
        self.target: tuple[str, str] | None = None
        self.page = observation.page
        self.fixed_at: int | None = None

    def act(self, obs: Observation) -> Action:
        if obs.page != self.page:
            self.reset(obs)
        if self.target is None:
            ill = [v for v in obs.services.values() if sick(v)]
            if not ill:
                self.last_reasoning = "nothing looks sick yet; waiting"
                return Action("wait")
            root = min(ill, key=lambda v: (self.height[v.name], -v.error_rate))
            self.target = (root.name, metric_mode(root))
        service, mode = self.target
        if obs.can_diagnose and obs.diagnosis is None:
            self.last_reasoning = f"{service} is the deepest sick service and looks {mode}"
            return Action("diagnose", service, mode)
        if self.fixed_at is None:
            self.fixed_at = obs.step + 1
            fix = self.config.fault_modes[mode].fix
            return Action(fix, service)  # type: ignore[arg-type]
        relapse = self.config.rules.relapse_after
        if mode in ("memory_leak", "crashed") and obs.step == self.fixed_at + relapse:
            return Action("restart", service)  # a leak looks crashed once OOM-killed: cover the relapse
        return Action("wait")
