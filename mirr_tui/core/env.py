"""The incident simulator: five services, one hidden fault, OpenEnv-style reset / step / state.

Hidden truth per service: `own` health (the process itself), effective health (own, minus what it
suffers from sick callees one hop per step, minus system stress once the cascade starts), memory,
replicas, version. Players see only noisy metrics, health checks that can lie, and logs on request.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .actions import Action, InvalidAction, coerce_action
from .config import FAULT_MODES, ConfigError, EnvConfig, load_config
from .observe import ACTIVE, DORMANT, FIXED, ObservationBuilder
from .types import EnvState, Observation, RewardEvent, ServiceTruth

_MAX_SEED = 2**63 - 1


class IncidentEnv(ObservationBuilder):
    """One incident at a time. `reset(seed=...)` starts it; `step(action)` plays one move."""

    def __init__(self, config: EnvConfig | str | Path | None = None, difficulty: str | None = None) -> None:
        self.config = config if isinstance(config, EnvConfig) else load_config(config)
        self.default_difficulty = self.config.difficulty(difficulty).name
        self.names: tuple[str, ...] = self.config.service_names
        self._index = {name: i for i, name in enumerate(self.names)}
        self._callees = [tuple(self._index[c] for c in spec.calls) for spec in self.config.services]
        self._deep = [spec.deep_health_check for spec in self.config.services]
        self._base = [spec.baseline for spec in self.config.services]
        limits = self.config.alerts
        self._alert_limits = (limits.error_rate, limits.latency_ms, limits.cpu, limits.memory)
        self._alert_texts = (
            f"{limits.error_rate:.0%}",
            f"{limits.latency_ms:.0f}ms",
            f"{limits.cpu:.0f}%",
            f"{limits.memory:.0f}%",
        )
        n = len(self.names)
        self._caps = np.array([np.inf, 1.0, 100.0, 100.0, np.inf] * n)
        self._scale = np.array([10.0, 10_000.0, 10.0, 10.0, 10.0] * n)
        self._started = False

    # ------------------------------------------------------------------ OpenEnv interface
    def reset(
        self, seed: int | None = None, episode_id: str | None = None, options: dict[str, Any] | None = None
    ) -> Observation:
        """Start an incident. options: service, mode, scenario, difficulty (all optional)."""
        options = dict(options or {})
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % _MAX_SEED)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        seed = int(seed)
        cfg, rules = self.config, self.config.rules
        scenario = cfg.scenario(options["scenario"]) if options.get("scenario") else None
        difficulty = cfg.difficulty(options.get("difficulty") or self.default_difficulty)
        root = options.get("service") or (scenario.service if scenario else None)
        mode = options.get("mode") or (scenario.mode if scenario else None)
        if root is not None and root not in self._index:
            raise ConfigError(f"unknown service {root!r} (known: {', '.join(self.names)})")
        if mode is not None and mode not in FAULT_MODES:
            raise ConfigError(f"unknown fault mode {mode!r} (known: {', '.join(FAULT_MODES)})")

        incident, noise, logs = (np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(3))
        drawn_root = self.names[int(incident.integers(len(self.names)))]
        drawn_mode = FAULT_MODES[int(incident.integers(len(FAULT_MODES)))]
        self.seed = seed
        self.episode_id = episode_id or str(
            uuid.UUID(int=int(incident.integers(2**62)) << 64 | seed % 2**64, version=4)
        )
        self.difficulty = difficulty
        self.scenario = scenario
        self._noise_rng, self._logs_rng = noise, logs
        self.root = self._index[root or drawn_root]
        self.mode = mode or drawn_mode
        n = len(self.names)

        self._version = [
            f"v{1 + int(incident.integers(4))}.{int(incident.integers(20))}.{int(incident.integers(1, 9))}"
            for _ in range(n)
        ]
        self._prev_version = [_previous(v) for v in self._version]
        self._replicas = [2 + int(incident.integers(3)) for _ in range(n)]
        self._memory = [b.memory / 100 for b in self._base]
        self._own = [1.0] * n
        self._eff = [1.0] * n
        self._blip = [False] * n
        self._warmup = [False] * n
        self._phase = ACTIVE
        self._oom = False
        self._relapsed = False
        self._relapse_at = -1
        self._overload_steps = 0
        self._bad_health = float(incident.uniform(*rules.bad_deploy_health))
        self._deploy_minutes = int(incident.integers(4, 40))
        if self.mode == "bad_deploy":
            self._prev_version[self.root] = self._version[self.root]
            self._version[self.root] = _next(self._version[self.root])
        if self.mode == "memory_leak":
            self._memory[self.root] = float(incident.uniform(*rules.leak_start_memory))
        if self.mode == "overloaded":
            self._own[self.root] = rules.overload_health + rules.overload_decay

        self.step_count = 0
        self._stress = 0.0
        self._score = 0.0
        self._diagnosis: dict[str, str] | None = None
        self._diagnosis_correct = False
        self._fix_paid = False
        self._fix_step: int | None = None
        self._confirm = 0
        self._collapse = 0
        self._done = False
        self._outcome: str | None = None
        self._started = True

        onset = int(incident.integers(rules.onset_steps[0], rules.onset_steps[1] + 1))
        for _ in range(onset):
            self._advance(cascade=False)
        self._last = self._observe(
            message=self._page_text(), action=None, valid=True, error=None, events=(), logs=None, logs_service=None
        )
        return self._last

    def step(self, action: Action | dict[str, Any] | str, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        """Play one move. Never raises on player input: bad input is an invalid action (-1)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self._done:
            return self._observe(
                message="the episode is over; call reset() to start a new incident",
                action=None,
                valid=False,
                error="episode is over",
                events=(),
                logs=None,
                logs_service=None,
            )
        rw = self.config.rewards
        self.step_count += 1
        events: list[RewardEvent] = []
        logs_service = None
        try:
            parsed = coerce_action(action)
            self._validate(parsed)
        except InvalidAction as exc:
            parsed, error = None, str(exc)
            events.append(RewardEvent("invalid", rw.invalid))
        else:
            error = None

        result = ""
        if parsed is not None:
            result = self._apply(parsed, events)
            if parsed.type == "check_logs":
                logs_service = parsed.service
        self._advance(cascade=True)
        self._judge(events)

        logs = None
        if logs_service is not None:
            logs = self._read_logs(self._index[logs_service])
            result = f"read {len(logs)} log lines from {logs_service}"
        elif parsed is not None and parsed.type in ("restart", "rollback", "scale_up"):
            status = self._true_metrics(self._index[parsed.service])[0]  # type: ignore[index]
            result = f"{result}: health check {status}"
        reward = sum((e.value for e in events), 0.0)
        self._score += reward
        action_record = parsed.to_dict() if parsed is not None else {"raw": _raw_text(action)}
        message = result if error is None else f"invalid action: {error}"
        if self._outcome is not None:
            message = f"{message} · {self._outcome_text()}" if message else self._outcome_text()
        obs = self._observe(
            message=message,
            action=action_record,
            valid=error is None,
            error=error,
            events=tuple(events),
            logs=logs,
            logs_service=logs_service,
            reward=reward,
        )
        for i in range(len(self._blip)):
            self._blip[i] = self._warmup[i] = False
        self._last = obs
        return obs

    @property
    def state(self) -> EnvState:
        """The full truth, including the hidden fault (never shown to players)."""
        if not self._started:
            raise RuntimeError("call reset() before reading state")
        services = {
            name: ServiceTruth(
                name=name,
                health=self._eff[i],
                own_health=self._own[i],
                memory=self._memory[i],
                replicas=self._replicas[i],
                version=self._version[i],
                faulty=i == self.root and self._phase != FIXED,
            )
            for i, name in enumerate(self.names)
        }
        return EnvState(
            episode_id=self.episode_id,
            step_count=self.step_count,
            seed=self.seed,
            difficulty=self.difficulty.name,
            scenario=self.scenario.name if self.scenario else None,
            root_service=self.names[self.root],
            fault_mode=self.mode,
            fault_phase=self._phase,
            stress=self._stress,
            services=services,
            score=self._score,
            diagnosis=self._diagnosis,
            diagnosis_correct=self._diagnosis_correct,
            fix_step=self._fix_step,
            confirm_streak=self._confirm,
            collapse_streak=self._collapse,
            done=self._done,
            outcome=self._outcome,
        )

    @property
    def observation(self) -> Observation:
        """The last observation returned by reset or step."""
        if not self._started:
            raise RuntimeError("call reset() first")
        return self._last

    def render(self) -> str:
        """The last observation as compact text (for LLM prompts and logs)."""
        from .render import render_observation

        return render_observation(self.observation, self.config.rules.max_steps)

    def close(self) -> None:
        """Nothing to release; present for OpenEnv/Gymnasium symmetry."""

    # ------------------------------------------------------------------ rules
    def _validate(self, action: Action) -> None:
        if action.type == "wait":
            return
        if action.service not in self._index:
            raise InvalidAction(f"unknown service {action.service!r}: use one of {', '.join(self.names)}")
        if action.type == "diagnose" and self._diagnosis is not None:
            d = self._diagnosis
            raise InvalidAction(
                f"already diagnosed {d['service']}/{d['mode']}: a diagnosis is committed once per episode"
            )

    def _apply(self, action: Action, events: list[RewardEvent]) -> str:
        rw, rules = self.config.rewards, self.config.rules
        kind = action.type
        if kind == "wait":
            return "waited one step"
        if kind == "check_logs":
            return ""
        i = self._index[action.service]  # type: ignore[index]
        name = self.names[i]
        if kind == "diagnose":
            self._diagnosis = {"service": name, "mode": action.mode}  # type: ignore[dict-item]
            self._diagnosis_correct = i == self.root and action.mode == self.mode
            events.append(
                RewardEvent("correct_diagnosis", rw.correct_diagnosis)
                if self._diagnosis_correct
                else RewardEvent("wrong_diagnosis", rw.wrong_diagnosis)
            )
            return f"diagnosis committed: {name} / {action.mode}"

        right_fix = self.config.fault_modes[self.mode].fix
        on_root = i == self.root and self._phase != FIXED
        if on_root and kind == right_fix:
            if self.mode == "memory_leak" and self._phase == DORMANT:
                self._restart_leak(i)  # a restart before the relapse only resets the clock
            elif self.mode == "memory_leak" and not self._relapsed:
                self._restart_leak(i)
            else:
                self._phase = FIXED
                self._own[i] = max(self._own[i], 1.0 - rules.recovery_rate)
                self._oom = False
                self._memory[i] = self._base[i].memory / 100
                if kind == "rollback":
                    self._version[i], self._prev_version[i] = self._prev_version[i], _previous(self._prev_version[i])
                if kind == "scale_up":
                    self._replicas[i] += 2
            if not self._fix_paid:
                self._fix_paid = True
                self._fix_step = self.step_count
                events.append(
                    RewardEvent("correct_fix", rw.correct_fix)
                    if self._diagnosis_correct
                    else RewardEvent("lucky_fix", rw.lucky_fix)
                )
            return _fix_text(kind, name, self._replicas[i], self._version[i])

        repeat_of_fix = i == self.root and kind == right_fix  # the fault is gone; paid once already
        if not repeat_of_fix:
            events.append(RewardEvent("wrong_fix", rw.wrong_fix))
        if on_root:
            if kind == "restart" and self.mode == "bad_deploy":
                self._bad_health = max(0.05, self._bad_health - rules.bad_restart_penalty)
            if kind == "scale_up":
                self._replicas[i] += 1
            if kind == "rollback":
                self._version[i], self._prev_version[i] = self._prev_version[i], self._version[i]
            return _fix_text(kind, name, self._replicas[i], self._version[i])
        if kind == "scale_up":
            self._replicas[i] += 1
            self._warmup[i] = True
        else:
            if kind == "rollback":
                self._version[i], self._prev_version[i] = self._prev_version[i], self._version[i]
            self._blip[i] = True
        return _fix_text(kind, name, self._replicas[i], self._version[i])

    def _restart_leak(self, i: int) -> None:
        self._phase = DORMANT
        self._relapse_at = self.step_count + self.config.rules.relapse_after
        self._memory[i] = self._base[i].memory / 100
        self._own[i] = 1.0
        self._oom = False

    def _advance(self, cascade: bool) -> None:
        """Move the hidden world one step: the fault, the cascade, then propagation (one hop)."""
        rules = self.config.rules
        r = self.root
        own = self._own
        if self._phase == DORMANT and self.step_count >= self._relapse_at:
            self._phase = ACTIVE
            self._relapsed = True
        for i in range(len(own)):
            if i != r or self._phase == FIXED:
                own[i] = min(1.0, own[i] + rules.recovery_rate)
        if self._phase == ACTIVE:
            mode = self.mode
            if mode == "crashed":
                own[r] = 0.0
            elif mode == "memory_leak":
                self._memory[r] = min(1.0, self._memory[r] + rules.leak_rate)
                if self._memory[r] >= 1.0:
                    self._oom = True
                own[r] = 0.0 if self._oom else _leak_health(self._memory[r])
            elif mode == "overloaded":
                self._overload_steps += 1
                own[r] = max(0.05, own[r] - rules.overload_decay)
            else:
                own[r] = self._bad_health
        elif self._phase == DORMANT:
            own[r] = 1.0
        for i in range(len(own)):
            if self._blip[i]:
                own[i] = min(own[i], rules.restart_blip)
            elif self._warmup[i]:
                own[i] = min(own[i], rules.scale_blip)

        if cascade and self._phase == ACTIVE and self.step_count >= rules.cascade_start:
            self._stress = min(1.0, self._stress + self.difficulty.cascade_rate)
        elif self._phase == FIXED:
            self._stress = max(0.0, self._stress - rules.recovery_rate)
        keep = 1.0 - self._stress
        prev = self._eff
        spread = rules.propagation
        eff = []
        for i, callees in enumerate(self._callees):
            worst = 0.0
            for c in callees:
                sick = 1.0 - prev[c]
                if sick > worst:
                    worst = sick
            eff.append(own[i] * (1.0 - spread * worst) * keep)
        self._eff = eff

    def _judge(self, events: list[RewardEvent]) -> None:
        rules, rw = self.config.rules, self.config.rewards
        eff = self._eff
        if sum(eff) / len(eff) < rules.collapse_health:
            self._collapse += 1
        else:
            self._collapse = 0
        if self._phase == FIXED and min(eff) >= rules.healthy_health:
            self._confirm += 1
        else:
            self._confirm = 0
        if self._confirm >= rules.confirm_steps:
            self._finish("recovered")
            if self._diagnosis_correct:
                events.append(RewardEvent("recovery_diagnosed", rw.recovery_diagnosed))
            else:
                events.append(RewardEvent("recovery_undiagnosed", rw.recovery_undiagnosed))
            unused = rules.max_steps - self.step_count
            if unused > 0:
                events.append(RewardEvent("efficiency", rw.efficiency_per_step * unused))
        elif self._collapse >= rules.collapse_steps:
            self._finish("collapsed")
            events.append(RewardEvent("collapse", rw.collapse))
        elif self.step_count >= rules.max_steps:
            self._finish("timed_out")
            events.append(RewardEvent("timeout", rw.timeout))

    def _finish(self, outcome: str) -> None:
        self._done = True
        self._outcome = outcome


def _leak_health(memory: float) -> float:
    if memory <= 0.75:
        return 1.0
    return max(0.2, 1.0 - (memory - 0.75) * 3.2)


def _fix_text(kind: str, name: str, replicas: int, version: str) -> str:
    if kind == "restart":
        return f"restarted {name}"
    if kind == "rollback":
        return f"rolled back {name} to {version}"
    return f"scaled up {name} to {replicas} replicas"


def _previous(version: str) -> str:
    major, minor, patch = version.lstrip("v").split(".")
    if int(patch) > 0:
        return f"v{major}.{minor}.{int(patch) - 1}"
    return f"v{major}.{max(0, int(minor) - 1)}.9"


def _next(version: str) -> str:
    major, minor, patch = version.lstrip("v").split(".")
    return f"v{major}.{minor}.{int(patch) + 1}"


def _raw_text(value: Any) -> str:
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:  # a hostile __repr__ must not crash the referee
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."
