"""MIRR as a Gymnasium environment: `gymnasium.make("mirr_tui:MIRR-v0")` (the module prefix imports `mirr_tui`,
which registers the id), or `import mirr_tui.gym_env; gymnasium.make("MIRR-v0")`.
`gymnasium.make_vec("mirr_tui:MIRR-v0", num_envs=N)` runs N incidents in one batched env (core/batch.py).

Observation (a Dict, all from what a player sees, never the hidden truth), `observation="dict"` (default):
  metrics   Box (services x 5): latency_ms, error_rate, cpu, memory, rps, in the config's service order
            (latency clipped at 60 s and rps at 10x the busiest baseline; the core clips the rest)
  status    MultiDiscrete (services): 0 ok, 1 degraded, 2 down (health checks, which can lie)
  logs      Text: the lines `check_logs` returned this step ("" on other steps)
  logs_from Discrete (services + 1): which service the logs came from (services = none)
  stale     MultiBinary (services): the metrics scrape failed, the panel shows its last values
  breakers  MultiBinary (services): services behind circuit breakers the player opened
  diagnosed Discrete 2: whether this page's diagnosis has been committed
  can_diagnose Discrete 2: diagnose is legal now (before the first fix of this page)
  page      Discrete 3: 1, or 2 once a second fault has paged the player (0 is never used)
  remaining Discrete (max_steps + 1): steps left in the budget
`observation="numeric"`: Box and Discrete spaces only (for stable-baselines3 and other array learners):
  metrics, stale, breakers, logs_from, diagnosed, can_diagnose, page, remaining as above, and
  status    Box (services) int: 0 ok, 1 degraded, 2 down
  log_counts Box (templates) int: the lines `check_logs` returned this step, counted per template of the fixed
            vocabulary `mirr_tui.core.logs.LOG_TEMPLATES` (all zero on other steps)
  log_blame Box (services) int: how many of those lines blame each service as the callee they wait on
`action_masks()` (MaskablePPO's convention) marks the moves legal now: diagnose only while it can be committed.
Action: Discrete, one index per well-formed move of every core action type, circuit_break included
(`env.unwrapped.actions[i]` is the core Action; `env.unwrapped.action_index(action)` goes back).
Reward is the core's per-step reward: rows that judge hidden truth are paid on the last step.
The info dict carries what the player sees and nothing that rebuilds the incident: no seed, no
episode id (the core's id is random anyway).
`terminated` when the incident is recovered or the system collapsed; `truncated` when the step budget
runs out (a timeout). Needs the `gym` extra (`pip install -e ".[gym]"`).
"""

from __future__ import annotations

import string
from typing import Any, ClassVar

import numpy as np

try:
    import gymnasium
    from gymnasium import spaces
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise ModuleNotFoundError(
        f"the Gymnasium adapter needs the `gym` extra ({exc.name} is missing): pip install -e '.[gym]'"
    ) from exc

from .core import METRICS, Action, EnvConfig, IncidentEnv, Observation, load_config
from .core.actions import all_actions
from .core.logs import BLAME_TEMPLATES, LOG_TEMPLATES
from .core.types import STATUSES
from .gym_registration import ENV_ID, register

LOG_CHARS = 4096  # check_logs returns 5-8 lines; longer text is cut (never happens with the shipped logs)
LOG_CHARSET = frozenset(string.printable)
# Upper bounds per metric. The core clips rates and percentages; latency and rps have no hard cap
# there, so the adapter clips them at a level no incident reaches (60 s; 10x the busiest baseline).
LATENCY_CAP_MS = 60_000.0
RPS_CAP_FACTOR = 10.0
TERMINAL_OUTCOMES = ("recovered", "collapsed")
OBSERVATIONS = ("dict", "numeric")


def metric_caps(config: EnvConfig) -> np.ndarray:
    """The metrics Box's upper bounds (services x metrics), float32."""
    rps_cap = RPS_CAP_FACTOR * max(spec.baseline.rps for spec in config.services)
    caps = {"latency_ms": LATENCY_CAP_MS, "error_rate": 1.0, "cpu": 100.0, "memory": 100.0, "rps": rps_cap}
    return np.array([[caps[m] for m in METRICS] for _ in config.services], dtype=np.float32)


def numeric_space(config: EnvConfig) -> spaces.Dict:
    """The numeric observation space (Box and Discrete only), shared by MirrGymEnv and the batched vector env."""
    n = len(config.services)
    max_steps = config.rules.max_steps
    # A read returns at most log_lines[1] drawn lines plus the fixed ones (signature, decoy, blocked, breakers).
    max_lines = config.rules.log_lines[1] + len(LOG_TEMPLATES) + n
    return spaces.Dict(
        {
            "metrics": spaces.Box(low=0.0, high=metric_caps(config), dtype=np.float32),
            "status": spaces.Box(low=0, high=len(STATUSES) - 1, shape=(n,), dtype=np.int64),
            "stale": spaces.Box(low=0, high=1, shape=(n,), dtype=np.int8),
            "breakers": spaces.Box(low=0, high=1, shape=(n,), dtype=np.int8),
            "log_counts": spaces.Box(low=0, high=max_lines, shape=(len(LOG_TEMPLATES),), dtype=np.int64),
            "log_blame": spaces.Box(low=0, high=max_lines, shape=(n,), dtype=np.int64),
            "logs_from": spaces.Discrete(n + 1),
            "diagnosed": spaces.Discrete(2),
            "can_diagnose": spaces.Discrete(2),
            "page": spaces.Discrete(3),
            "remaining": spaces.Discrete(max_steps + 1),
        }
    )


def diagnose_moves(actions: tuple[Action, ...]) -> np.ndarray:
    """A boolean mask over the action space: which indices are diagnose moves."""
    return np.array([move.type == "diagnose" for move in actions], dtype=bool)


class MirrGymEnv(gymnasium.Env):
    """The core `IncidentEnv` behind Gymnasium's reset / step / render."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 2}

    def __init__(
        self,
        render_mode: str | None = None,
        config: EnvConfig | str | None = None,
        difficulty: str | None = None,
        scenario: str | None = None,
        observation: str = "dict",
    ) -> None:
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {', '.join(OBSERVATIONS)}, got {observation!r}")
        self.observation_kind = observation
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.core = IncidentEnv(config if isinstance(config, EnvConfig) else load_config(config), difficulty)
        self.scenario = scenario
        if scenario:
            self.core.config.scenario(scenario)  # fail now, not at the first reset
        names = self.core.names
        self.services = names
        self.actions = all_actions(names)
        self._action_index = {move: i for i, move in enumerate(self.actions)}
        max_steps = self.core.config.rules.max_steps
        high = metric_caps(self.core.config)
        self._metric_high = high
        self._diagnose = diagnose_moves(self.actions)
        if observation == "numeric":
            self.observation_space = numeric_space(self.core.config)
        else:
            self.observation_space = spaces.Dict(
                {
                    "metrics": spaces.Box(low=0.0, high=high, dtype=np.float32),
                    "status": spaces.MultiDiscrete([len(STATUSES)] * len(names)),
                    "logs": spaces.Text(max_length=LOG_CHARS, min_length=0, charset="".join(sorted(LOG_CHARSET))),
                    "logs_from": spaces.Discrete(len(names) + 1),
                    "stale": spaces.MultiBinary(len(names)),
                    "breakers": spaces.MultiBinary(len(names)),
                    "diagnosed": spaces.Discrete(2),
                    "can_diagnose": spaces.Discrete(2),
                    "page": spaces.Discrete(3),
                    "remaining": spaces.Discrete(max_steps + 1),
                }
            )
        self.action_space = spaces.Discrete(len(self.actions))
        self._last: Observation | None = None

    # ------------------------------------------------------------------ gymnasium interface
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict]:
        """Start an incident. Without a seed the incident seed comes from `np_random` (itself seeded once)."""
        super().reset(seed=seed)
        incident_seed = int(self.np_random.integers(2**31 - 1)) if seed is None else int(seed)
        options = dict(options or {})
        if self.scenario and "scenario" not in options:
            options["scenario"] = self.scenario
        self._last = self.core.reset(seed=incident_seed, options=options or None)
        return self._encode(self._last), self._info(self._last)

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict]:
        if self._last is None:
            raise RuntimeError("call reset() before step()")
        index = int(action)
        if not 0 <= index < len(self.actions):
            raise ValueError(f"action {action!r} is outside the action space Discrete({len(self.actions)})")
        obs = self.core.step(self.actions[index])
        self._last = obs
        terminated = obs.done and obs.outcome in TERMINAL_OUTCOMES
        truncated = obs.done and obs.outcome == "timed_out"
        return self._encode(obs), float(obs.reward), terminated, truncated, self._info(obs)

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self._last is None:
            return "MIRR: call reset() to page the on-call engineer\n"
        return self.core.render() + "\n"

    def action_masks(self) -> np.ndarray:
        """Which moves are legal now (MaskablePPO's `action_masks()`): every move but diagnose once this page's
        diagnosis window has closed (a committed diagnosis or a fix). Before reset: every move."""
        if self._last is None:
            return np.ones(len(self.actions), dtype=bool)
        return ~self._diagnose | bool(self._last.can_diagnose)

    # ------------------------------------------------------------------ helpers
    def action_index(self, action: Action | str | dict[str, Any]) -> int:
        """The Discrete index of a move given as an Action, its text (`logs payment`) or its dict."""
        from .core import coerce_action

        move = coerce_action(action)
        if move not in self._action_index:
            raise ValueError(f"{move.to_text()!r} is not a move in this environment")
        return self._action_index[move]

    def _encode(self, obs: Observation) -> dict[str, Any]:
        if self.observation_kind == "numeric":
            return self._encode_numeric(obs)
        metrics = np.array(
            [[getattr(obs.services[name], m) for m in METRICS] for name in self.services], dtype=np.float32
        )
        np.clip(metrics, 0.0, self._metric_high, out=metrics)
        status = np.array([STATUSES.index(obs.services[name].status) for name in self.services], dtype=np.int64)
        logs = "" if obs.logs is None else "\n".join(f"{line.level} {line.text}" for line in obs.logs)
        logs = "".join(ch if ch in LOG_CHARSET else "?" for ch in logs)[:LOG_CHARS]
        logs_from = self.services.index(obs.logs_service) if obs.logs_service in self.services else len(self.services)
        stale = np.array([obs.services[name].stale for name in self.services], dtype=np.int8)
        breakers = np.array([name in obs.breakers for name in self.services], dtype=np.int8)
        return {
            "metrics": metrics,
            "status": status,
            "logs": logs,
            "logs_from": logs_from,
            "stale": stale,
            "breakers": breakers,
            "diagnosed": int(obs.diagnosis is not None),
            "can_diagnose": int(obs.can_diagnose),
            "page": min(max(int(obs.page), 0), 2),
            "remaining": max(0, obs.remaining),
        }

    def _encode_numeric(self, obs: Observation) -> dict[str, Any]:
        services = [obs.services[name] for name in self.services]
        metrics = np.array([[getattr(view, m) for m in METRICS] for view in services], dtype=np.float32)
        np.clip(metrics, 0.0, self._metric_high, out=metrics)
        counts = np.zeros(len(LOG_TEMPLATES), dtype=np.int64)
        blame = np.zeros(len(self.services), dtype=np.int64)
        read = self.core.last_log_read if obs.logs is not None else None
        if read is not None:
            templates, callee = read
            np.add.at(counts, list(templates), 1)
            if callee >= 0:
                blame[callee] = sum(1 for t in templates if t in BLAME_TEMPLATES)
        logs_from = self.services.index(obs.logs_service) if obs.logs_service in self.services else len(self.services)
        return {
            "metrics": metrics,
            "status": np.array([STATUSES.index(view.status) for view in services], dtype=np.int64),
            "stale": np.array([view.stale for view in services], dtype=np.int8),
            "breakers": np.array([name in obs.breakers for name in self.services], dtype=np.int8),
            "log_counts": counts,
            "log_blame": blame,
            "logs_from": logs_from,
            "diagnosed": int(obs.diagnosis is not None),
            "can_diagnose": int(obs.can_diagnose),
            "page": min(max(int(obs.page), 0), 2),
            "remaining": max(0, obs.remaining),
        }

    @staticmethod
    def _info(obs: Observation) -> dict[str, Any]:
        # Only what the player sees (no hidden truth): the outcome, the score and the referee's message.
        # No seed and no episode id: either would let a caller rebuild the incident it is meant to solve.
        rewards: dict[str, float] = {}
        for event in obs.rewards:  # rows paid at the end may repeat (two wrong fixes): summed per row
            rewards[event.row] = rewards.get(event.row, 0.0) + event.value
        return {
            "step": obs.step,
            "score": obs.score,
            "outcome": obs.outcome,
            "valid": obs.valid,
            "error": obs.error,
            "message": obs.message,
            "rewards": rewards,
            "alerts": list(obs.alerts),
            "page": obs.page,
            "can_diagnose": obs.can_diagnose,
            "impact": dict(obs.impact),
        }


register()

__all__ = ["ENV_ID", "OBSERVATIONS", "MirrGymEnv", "all_actions", "metric_caps", "numeric_space", "register"]
