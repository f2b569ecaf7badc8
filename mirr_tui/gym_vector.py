"""`gymnasium.make_vec("mirr_tui:MIRR-v0", num_envs=N)`: N incidents in one `BatchIncidentEnv` (core/batch.py).

The observation is the numeric one (`observation="numeric"` of MirrGymEnv, batched); the action space is the
same Discrete moves per env. Each step is exactly what a `SyncVectorEnv` of N `MirrGymEnv(observation="numeric")`
returns (tests/test_gym_vector.py compares them), next-step auto-reset included: `reset(seed=s)` starts env i
on incident seed s + i and seeds its generator of later incident seeds the way `MirrGymEnv.reset` does.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from .core import EnvConfig, load_config
from .core.batch import BatchIncidentEnv, BatchStep
from .gym_env import TERMINAL_OUTCOMES, diagnose_moves, metric_caps, numeric_space

_SEED_RANGE = 2**31 - 1  # MirrGymEnv.reset draws later incident seeds in [0, 2**31 - 1)


class MirrVectorEnv(gymnasium.vector.VectorEnv):
    """N MIRR incidents stepped together, numeric observations, Gymnasium's vector API."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int,
        observation: str = "numeric",
        config: EnvConfig | str | None = None,
        difficulty: str | None = None,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        if observation != "numeric":
            raise ValueError("the batched env has the numeric observation only (observation='numeric')")
        if render_mode is not None:
            raise ValueError("the batched env does not render; use MirrGymEnv(render_mode='ansi')")
        if max_episode_steps is not None:
            raise ValueError("the step budget is the config's rules.max_steps")
        cfg = config if isinstance(config, EnvConfig) else load_config(config)
        self.batch = BatchIncidentEnv(num_envs, difficulty=difficulty, config=cfg)
        self.num_envs = self.batch.n
        self.actions = self.batch.actions
        self.single_observation_space = numeric_space(cfg)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = spaces.Discrete(len(self.actions))
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._high = metric_caps(cfg)
        self._diagnose = diagnose_moves(self.actions)
        self._max_steps = cfg.rules.max_steps
        self._generators: list[np.random.Generator] = []
        self._out: BatchStep | None = None
        self.batch.seed_source = self._next_seeds

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if options:
            raise ValueError("the batched env plays random incidents: no reset options")
        if seed is None or isinstance(seed, int | np.integer):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset needs {self.num_envs} seeds, got {len(seeds)}")
        self._generators = [seeding.np_random(s)[0] for s in seeds]
        incident = [
            int(g.integers(_SEED_RANGE)) if s is None else int(s) for g, s in zip(self._generators, seeds, strict=True)
        ]
        self._out = self.batch.reset(incident)
        return self._encode(self._out), {}

    def step(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._out is None:
            raise RuntimeError("call reset() before step()")
        out = self.batch.step(np.asarray(actions, dtype=np.int64))
        self._out = out
        outcome = out.outcome
        terminal = np.isin(outcome, [self.batch.outcomes.index(o) for o in TERMINAL_OUTCOMES])
        terminated = out.done & terminal
        truncated = out.done & (outcome == self.batch.outcomes.index("timed_out"))
        return self._encode(out), out.rewards.copy(), terminated, truncated, {}

    def action_masks(self) -> np.ndarray:
        """(num_envs, actions): the moves legal now (MirrGymEnv.action_masks per env)."""
        if self._out is None:
            return np.ones((self.num_envs, len(self.actions)), dtype=bool)
        return ~self._diagnose[None, :] | self._out.can_diagnose[:, None]

    def _next_seeds(self, rows: np.ndarray) -> np.ndarray:
        return np.array([int(self._generators[r].integers(_SEED_RANGE)) for r in rows.tolist()], dtype=np.int64)

    def _encode(self, out: BatchStep) -> dict[str, np.ndarray]:
        metrics = out.metrics.astype(np.float32)
        np.clip(metrics, 0.0, self._high, out=metrics)
        counts, blame = self.batch.log_counts()
        n_services = len(self.batch.names)
        return {
            "metrics": metrics,
            "status": out.statuses.astype(np.int64),
            "stale": out.stale.astype(np.int8),
            "breakers": out.breakers.astype(np.int8),
            "log_counts": counts,
            "log_blame": blame,
            "logs_from": np.where(out.logs_from >= 0, out.logs_from, n_services).astype(np.int64),
            "diagnosed": out.diagnosed.astype(np.int64),
            "can_diagnose": out.can_diagnose.astype(np.int64),
            "page": np.clip(out.page, 0, 2).astype(np.int64),
            "remaining": np.maximum(0, self._max_steps - out.step).astype(np.int64),
        }
