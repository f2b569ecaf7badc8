"""MIRR as a TRL `environment_factory` (GRPOTrainer): every public method but `reset` is a tool.

TRL turns each tool into a JSON schema with transformers' `get_json_schema`, which needs a Google-style
docstring whose `Args:` section describes every parameter; the `Literal` hints become enums. `reward` is an
attribute (not a method, so it is not a tool) that a reward function reads:

    from trl import GRPOConfig, GRPOTrainer
    from mirr_tui.trl_env import MirrIncident

    def incident_reward(environments, **kwargs):
        return [env.reward for env in environments]

    GRPOTrainer(model, reward_funcs=incident_reward, args=GRPOConfig(...), train_dataset=...,
                environment_factory=MirrIncident)

Plays locally (a core `IncidentEnv`, no server) unless `MIRR_URL` names a `mirr serve`; trl is not a MIRR
dependency, and nothing here imports it.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from .core import Action, IncidentEnv, Observation, render_observation

# The shipped manifest's names (tests/test_trl_env.py keeps them in step with openenv.yaml).
Service = Literal["gateway", "auth", "orders", "payment", "database"]
Mode = Literal["crashed", "memory_leak", "overloaded", "bad_deploy"]


class MirrIncident:
    """One on-call incident. Each tool call spends one of the episode's 30 steps."""

    def __init__(self, url: str | None = None) -> None:
        url = url if url is not None else os.environ.get("MIRR_URL")
        if url:
            from .client import RemoteIncidentEnv

            self._env: Any = RemoteIncidentEnv(url)
        else:
            self._env = IncidentEnv()
        self._obs: Observation | None = None
        self.reward = 0.0

    def reset(self, **kwargs: Any) -> str:
        """Start a new incident (TRL passes the dataset row; `seed`, `scenario` and `difficulty` are read)."""
        options = {k: kwargs[k] for k in ("scenario", "difficulty") if kwargs.get(k)}
        self._obs = self._env.reset(seed=kwargs.get("seed"), options=options or None)
        self.reward = 0.0
        return render_observation(self._obs)

    def check_logs(self, service: Service) -> str:
        """Read a service's recent log lines (a victim names the callee it waits on, the root shows its fault).

        Args:
            service: The service whose logs to read.

        Returns:
            The board after the move, with the log lines.
        """
        return self._play(Action("check_logs", service))

    def diagnose(self, service: Service, mode: Mode) -> str:
        """Commit to a root cause and fault mode; only possible before the first fix.

        Args:
            service: The service you believe is the root cause.
            mode: The fault mode you believe it has.

        Returns:
            The board after the move.
        """
        return self._play(Action("diagnose", service, mode))

    def restart(self, service: Service) -> str:
        """Restart a service (fixes crashed and memory_leak; makes a bad deploy worse).

        Args:
            service: The service to restart.

        Returns:
            The board after the move.
        """
        return self._play(Action("restart", service))

    def rollback(self, service: Service) -> str:
        """Roll a service back to its previous build (fixes bad_deploy).

        Args:
            service: The service to roll back.

        Returns:
            The board after the move.
        """
        return self._play(Action("rollback", service))

    def scale_up(self, service: Service) -> str:
        """Add replicas to a service (fixes overloaded).

        Args:
            service: The service to scale up.

        Returns:
            The board after the move.
        """
        return self._play(Action("scale_up", service))

    def circuit_break(self, service: Service) -> str:
        """Open (or close) the breakers in front of a service: its sickness stops spreading; it fixes nothing.

        Args:
            service: The service to isolate from its callers.

        Returns:
            The board after the move.
        """
        return self._play(Action("circuit_break", service))

    def wait(self) -> str:
        """Let one step pass and watch the metrics.

        Returns:
            The board after the step.
        """
        return self._play(Action("wait"))

    def _play(self, action: Action) -> str:
        if self._obs is None:
            raise ValueError("no incident yet: reset first")
        if self._obs.done:
            raise ValueError(f"the incident is over ({self._obs.outcome}, score {self._obs.score:+.1f})")
        self._obs = self._env.step(action)
        self.reward = self._obs.score
        return render_observation(self._obs)
