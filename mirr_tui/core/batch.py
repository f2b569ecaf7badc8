"""`BatchIncidentEnv`: the rules of `IncidentEnv`, vectorised over n environments with numpy.

The same seed gives the same incident, the same noise, the same rewards and the same log lines as the
scalar env (tests/test_batch.py drives both with the same random moves and compares every field every
step). The rules are shared, not copied: the config, the incident's draw layout and ranges (env.py), the
log templates, their draws and their formatter (logs.py), the alert text (observe.py); batch_rules.py and
batch_observe.py hold the array form of the dynamics, operation for operation.

    env = BatchIncidentEnv(1024, difficulty="hard")
    out = env.reset(seeds=range(1024))
    out = env.step(actions)          # integer ids of `all_actions(env.names)` (the Gymnasium Discrete space)
    out.metrics[e, s, m]             # axes: out.AXES["metrics"] == ("env", "service", "metric")

Auto-reset follows Gymnasium's vector API (next-step mode): an env that ends at one step (`done`) returns its
final observation there; at the next `step` it starts a new incident, ignoring that step's action, and
returns the new incident's first observation (reward 0). New seeds come from `seed_source`.
Logs are drawn lazily and exactly: a `check_logs` records what the draw needs; `log_lines(e)` and
`log_counts()` draw them from the env's own log stream, in order, when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .actions import ACTION_TYPES, all_actions
from .batch_logs import BatchLogs
from .batch_observe import observe, true_metrics
from .batch_rules import (
    FAULTS,
    K_DIAGNOSE,
    K_LOGS,
    P_PENDING,
    Rows,
    Topology,
    advance,
    apply,
    judge,
    previous_version,
    start_fault,
)
from .batch_views import BatchViews
from .config import DECOY_KINDS, FAULT_MODES, METRICS, EnvConfig, load_config
from .draws import (
    decode_incident,
    decode_incidents,
    incident_bounds,
    load,
    pcg_state,
    raw_count,
    seed_words,
)
from .env import MASKED_CPU, MECHANIC_DRAWS, PASS_FACTOR, STYLE_RANGES
from .observe import alert_cuts
from .types import OUTCOMES, STATUSES

_MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class BatchStep:
    """What n envs show after a reset or a step; `AXES` names each array's axes."""

    AXES: ClassVar[dict[str, tuple[str, ...]]] = {
        "metrics": ("env", "service", "metric"),  # METRICS order, shown values (noisy, rounded)
        "statuses": ("env", "service"),  # index into types.STATUSES
        "stale": ("env", "service"),
        "breakers": ("env", "service"),
        "rewards": ("env",),
        "done": ("env",),
        "outcome": ("env",),  # index into types.OUTCOMES, -1 while open
        "step": ("env",),
        "score": ("env",),
        "valid": ("env",),
        "can_diagnose": ("env",),
        "diagnosed": ("env",),
        "page": ("env",),
        "logs_from": ("env",),  # the service whose logs were read this step, -1 none
        "reset": ("env",),  # the env started a new incident at this call
    }
    metrics: np.ndarray
    statuses: np.ndarray
    stale: np.ndarray
    breakers: np.ndarray
    rewards: np.ndarray
    done: np.ndarray
    outcome: np.ndarray
    step: np.ndarray
    score: np.ndarray
    valid: np.ndarray
    can_diagnose: np.ndarray
    diagnosed: np.ndarray
    page: np.ndarray
    logs_from: np.ndarray
    reset: np.ndarray


class BatchIncidentEnv(BatchLogs, BatchViews):
    """n random incidents (no scenarios) at one difficulty, stepped together."""

    def __init__(
        self,
        n: int,
        difficulty: str | None = None,
        config: EnvConfig | str | Path | None = None,
        seed: int | None = None,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive whole number, got {n!r}")
        self.n = int(n)
        self.config = config if isinstance(config, EnvConfig) else load_config(config)
        self.top = top = Topology(self.config, difficulty)
        self.difficulty = top.difficulty.name
        self.names = top.names
        self.statuses, self.outcomes, self.metric_names = STATUSES, OUTCOMES, METRICS
        self.actions = all_actions(self.names)
        index = {name: i for i, name in enumerate(self.names)}
        self._kind = np.array([ACTION_TYPES.index(a.type) for a in self.actions])
        self._svc = np.array([index[a.service] if a.service else -1 for a in self.actions])
        self._mode = np.array([FAULT_MODES.index(a.mode) if a.mode else -1 for a in self.actions])
        s = top.n
        self._caps = np.array([np.inf, 1.0, 100.0, 100.0, np.inf] * s)
        self._scale = np.array([10.0, 10_000.0, 10.0, 10.0, 10.0] * s)
        limits = self.config.alerts
        self._limits = (limits.error_rate, limits.latency_ms, limits.cpu, limits.memory)
        self._cuts = alert_cuts(self._limits)
        self._bounds = incident_bounds(s, len(FAULT_MODES))
        self._doubles = 22 + 7 * s
        self._raw = raw_count(self._bounds, self._doubles)
        self._bitgen = np.random.PCG64(0)
        self._gen = np.random.Generator(self._bitgen)
        width = max(len(c) for c in top.callers) or 1
        self._callers = np.array([list(c) + [-1] * (width - len(c)) for c in top.callers])
        self._n_callers = np.array([len(c) for c in top.callers])
        seeds = np.random.default_rng(seed)
        self.seed_source: Callable[[np.ndarray], np.ndarray] = lambda rows: seeds.integers(2**31 - 1, size=len(rows))
        self._st: Rows | None = None
        self._out: BatchStep | None = None

    # ------------------------------------------------------------------ reset / step
    def reset(self, seeds: Iterable[int] | None = None) -> BatchStep:
        """Start n incidents (seeds default to `seed_source`)."""
        rows = np.arange(self.n)
        chosen = self.seed_source(rows) if seeds is None else seeds
        values = [int(v) for v in chosen]
        if len(values) != self.n or any(v < 0 or v > _MAX_SEED for v in values):
            raise ValueError(f"reset needs {self.n} seeds, each in [0, 2**63 - 1]")
        self._logs: list[dict[str, Any]] = [{} for _ in range(self.n)]
        self._st, shown, status, stale = self._fresh(np.array(values, dtype=np.uint64))
        self._out = self._output(self._st, shown, status, stale, np.zeros(self.n), np.ones(self.n, dtype=bool))
        return self._out

    def step(self, actions: Any) -> BatchStep:
        """One move per env (integer action ids). Envs that ended at the last step start a new incident."""
        st = self._st
        if st is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(actions)
        if (
            a.shape != (self.n,)
            or not np.issubdtype(a.dtype, np.integer)
            or (a < 0).any()
            or (a >= len(self.actions)).any()
        ):
            raise ValueError(f"step needs {self.n} integer action ids in [0, {len(self.actions)})")
        top = self.top
        renew = st.done.copy()
        kind, svc, mode = self._kind[a], self._svc[a], self._mode[a]
        st.step = st.step + 1
        valid = ~((kind == K_DIAGNOSE) & ~st.window)
        apply(st, top, kind, svc, mode, valid)
        advance(st, top, cascade=True)
        end_value, ended = judge(st, top)
        status, truth = true_metrics(st, top)
        reading = (kind == K_LOGS) & ~renew
        if reading.any():
            self._record_reads(st, np.flatnonzero(reading), svc)
        # the step's rows in the scalar env's order: [*deferred (at the end), invalid, ending row]
        reward = np.where(ended, st.deferred_sum, 0.0)
        reward = np.where(valid, reward, reward + top.rewards.invalid)
        reward = np.where(ended, reward + end_value, reward)
        st.n_deferred = np.where(ended, 0, st.n_deferred)
        st.deferred_sum = np.where(ended, 0.0, st.deferred_sum)
        st.score = st.score + reward
        shown, status, stale = observe(st, top, status, truth, self._caps, self._scale)
        impact = self.config.impact
        entry = top.entry
        st.failed = st.failed + shown[:, entry, 4] * shown[:, entry, 1] * impact.step_seconds
        st.blip[:] = False
        st.warmup[:] = False
        out = self._output(st, shown, status, stale, reward, valid, logs_from=np.where(reading, svc, -1))
        if renew.any():
            rows = np.flatnonzero(renew)
            seeds = np.asarray(self.seed_source(rows), dtype=np.uint64)
            for e in rows.tolist():
                self._logs[e] = {}
            fresh, f_shown, f_status, f_stale = self._fresh(seeds)
            st.put(rows, fresh)
            part = self._output(fresh, f_shown, f_status, f_stale, np.zeros(len(rows)), np.ones(len(rows), dtype=bool))
            for field in fields(BatchStep):
                if field.name != "reset":
                    getattr(out, field.name)[rows] = getattr(part, field.name)
            out.reset[rows] = True
        self._out = out
        return out

    def _output(self, st: Rows, shown, status, stale, reward, valid, logs_from=None) -> BatchStep:
        rows = np.arange(len(st.k))
        return BatchStep(
            metrics=shown,
            statuses=status.astype(np.int8),
            stale=stale,
            breakers=st.breaker.copy(),
            rewards=np.asarray(reward, dtype=np.float64),
            done=st.done.copy(),
            outcome=st.outcome.astype(np.int8),
            step=st.step.copy(),
            score=st.score.copy(),
            valid=np.asarray(valid, dtype=bool),
            can_diagnose=st.window & ~st.done,
            diagnosed=st.f_diag_service[rows, st.k] >= 0,
            page=st.page.copy(),
            logs_from=np.full(len(rows), -1) if logs_from is None else logs_from,
            reset=np.zeros(len(rows), dtype=bool),
        )

    # ------------------------------------------------------------------ a new incident
    def _fresh(self, seeds: np.ndarray) -> tuple[Rows, np.ndarray, np.ndarray, np.ndarray]:
        """New incidents for these seeds, onset played: the rows, their shown metrics, statuses and staleness."""
        top, rules, diff = self.top, self.top.rules, self.top.difficulty
        m, s = len(seeds), top.n
        words = np.array([[np.broadcast_to(w, (m,)) for w in child] for child in seed_words(seeds)]).tolist()
        states = [[pcg_state([w[j] for w in words[c]]) for c in range(3)] for j in range(m)]
        raw = np.empty((m, self._raw), dtype=np.uint64)
        noise = np.empty((m, rules.max_steps + 1, 5 * s))
        low, high = 1.0 - diff.noise, 1.0 + diff.noise
        for j, (incident, noisy, _) in enumerate(states):
            load(self._bitgen, incident)
            raw[j] = self._bitgen.random_raw(self._raw)
            load(self._bitgen, noisy)
            noise[j] = self._gen.uniform(low, high, size=noise.shape[1:])
        ints, d, ok = decode_incidents(raw, self._bounds)
        for j in np.flatnonzero(~ok).tolist():  # a rejected Lemire draw: decode that stream one draw at a time
            load(self._bitgen, states[j][0])
            again = decode_incident(
                self._bitgen.random_raw(self._raw).tolist(), self._bounds, self._doubles, self._bitgen
            )
            ints[j], d[j] = again  # type: ignore[misc]

        st = Rows()
        st.seed = seeds.astype(np.int64)
        st.log_start = np.array([state[2] for state in states], dtype=object).reshape(m, 2)
        st.noise = noise
        root, mode = ints[:, 0], ints[:, 1]
        st.version = ints[:, 2 : 2 + 3 * s].reshape(m, s, 3).copy()
        st.prev = previous_version(st.version)
        st.replicas = ints[:, 2 + 3 * s : 2 + 4 * s].copy()
        st.deploy_minutes = ints[:, 2 + 4 * s].copy()
        st.memory = np.repeat(top.memory0[None], m, axis=0)
        st.own = np.ones((m, s))
        st.eff = np.ones((m, s))
        st.blip = np.zeros((m, s), dtype=bool)
        st.warmup = np.zeros((m, s), dtype=bool)
        st.breaker = np.zeros((m, s), dtype=bool)

        def draw(col: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
            return lo + (hi - lo) * col

        def pick(col: np.ndarray, count: int) -> np.ndarray:
            return np.minimum(count - 1, (col * count).astype(np.int64))

        u = d[:, :MECHANIC_DRAWS]
        q = MECHANIC_DRAWS
        bad_health = draw(d[:, q], *rules.bad_deploy_health)
        leak_start = draw(d[:, q + 1], *rules.leak_start_memory)
        masked_cpu = draw(d[:, q + 2], *MASKED_CPU)
        q += 4  # (silent_errors: drawn, shown by no metric)
        st.pass_factor = draw(d[:, q : q + s], *PASS_FACTOR)
        shield_u = d[:, q + s : q + 2 * s]
        style = d[:, q + 2 * s : q + 7 * s].reshape(m, s, 5).copy()
        for j, (lo, hi) in enumerate(STYLE_RANGES):
            style[:, :, j] = draw(style[:, :, j], lo, hi)
        st.style = style
        q += 7 * s
        decoy_pick = pick(d[:, q], s - 1)
        decoy_kind = pick(d[:, q + 1], len(DECOY_KINDS))
        st.decoy_level = d[:, q + 2].copy()
        second_pick = pick(d[:, q + 3], s - 1)
        second_mode = pick(d[:, q + 4], len(FAULT_MODES))
        lo, hi = rules.second_fault_delay
        second_delay = lo + pick(d[:, q + 5], hi - lo + 1)
        second_u = d[:, q + 6 : q + 9]
        lo, hi = rules.onset_steps
        onset = lo + pick(d[:, q + 9], hi - lo + 1)

        idx = np.arange(s)[None, :]
        n_callers = self._n_callers[root]
        chosen = self._callers[root, np.minimum((u[:, 6] * n_callers).astype(np.int64), self._callers.shape[1] - 1)]
        st.secondary = np.where((n_callers > 0) & (u[:, 3] < diff.secondary), chosen, -1)
        bystanders = (idx != root[:, None]) & (idx != st.secondary[:, None])
        decoy = _kth(bystanders, decoy_pick % bystanders.sum(axis=1))
        st.decoy = np.where(u[:, 0] < diff.decoys, decoy, -1)
        st.decoy_kind = np.where(st.decoy >= 0, decoy_kind, -1)
        st.shield = shield_u < diff.shielded
        second = u[:, 4] < diff.compound

        st.n_faults = 1 + second.astype(np.int64)
        st.f_root = np.stack([root, _kth(idx != root[:, None], second_pick % (s - 1))], axis=1)
        st.f_mode = np.stack([mode, second_mode], axis=1)
        st.f_phase = np.full((m, FAULTS), P_PENDING)
        st.f_masked = np.stack([u[:, 1] < diff.masked, np.zeros(m, dtype=bool)], axis=1)
        st.f_silent = np.stack([u[:, 2] < diff.silent, np.zeros(m, dtype=bool)], axis=1)
        (b_lo, b_hi), (m_lo, m_hi), (c_lo, c_hi) = rules.bad_deploy_health, rules.leak_start_memory, MASKED_CPU
        st.f_bad_health = np.stack([bad_health, b_lo + second_u[:, 0] * (b_hi - b_lo)], axis=1)
        st.f_leak_start = np.stack([leak_start, m_lo + second_u[:, 1] * (m_hi - m_lo)], axis=1)
        st.f_masked_cpu = np.stack([masked_cpu, c_lo + second_u[:, 2] * (c_hi - c_lo)], axis=1)
        st.f_delay = np.stack([np.zeros(m, dtype=np.int64), second_delay], axis=1)
        for name in ("f_started", "f_fixed_at", "f_overload"):
            setattr(st, name, np.zeros((m, FAULTS), dtype=np.int64))
        for name in ("f_relapse_at", "f_diag_service", "f_diag_mode", "f_diag_step", "f_fix_step"):
            setattr(st, name, np.full((m, FAULTS), -1))
        for name in ("f_oom", "f_relapsed", "f_diag_correct", "f_fix_paid"):
            setattr(st, name, np.zeros((m, FAULTS), dtype=bool))

        st.k = np.zeros(m, dtype=np.int64)
        st.step = np.zeros(m, dtype=np.int64)
        st.stress = np.zeros(m)
        st.score = np.zeros(m)
        slots = rules.max_steps + 2  # at most one row a step, plus the recovery row
        st.deferred_row = np.zeros((m, slots), dtype=np.int64)
        st.deferred_step = np.zeros((m, slots), dtype=np.int64)
        st.n_deferred = np.zeros(m, dtype=np.int64)
        st.deferred_sum = np.zeros(m)
        st.window = np.ones(m, dtype=bool)
        st.page = np.ones(m, dtype=np.int64)
        st.confirm = np.zeros(m, dtype=np.int64)
        st.collapse = np.zeros(m, dtype=np.int64)
        st.done = np.zeros(m, dtype=bool)
        st.outcome = np.full(m, -1)
        st.failed = np.zeros(m)
        st.stale_shown = np.zeros((m, s, 5))
        st.stale_has = np.zeros((m, s), dtype=bool)
        start_fault(st, top, np.ones(m, dtype=bool))
        for j in range(int(onset.max())):
            more = np.flatnonzero(onset > j)
            if len(more) == m:
                advance(st, top, cascade=False)
            else:
                part = st.take(more)
                advance(part, top, cascade=False)
                st.put(more, part)
        status, truth = true_metrics(st, top)
        shown, status, stale = observe(st, top, status, truth, self._caps, self._scale)
        return st, shown, status, stale

    @property
    def seeds(self) -> np.ndarray:
        """Each env's current incident seed."""
        return self._require_state().seed.copy()

    def _require_state(self) -> Rows:
        if self._st is None:
            raise RuntimeError("call reset() first")
        return self._st

    def _require_out(self) -> BatchStep:
        if self._out is None:
            raise RuntimeError("call reset() first")
        return self._out


def _kth(mask: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row, the column of the k-th True of `mask` (k < the row's count)."""
    position = np.cumsum(mask, axis=1) - 1
    return np.argmax(mask & (position == k[:, None]), axis=1)
