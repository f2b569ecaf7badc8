"""The incident simulator: five services, hidden faults, OpenEnv-style reset / step / state.

Hidden truth per service: `own` health (the process itself), effective health (own, minus what it
suffers from sick callees one hop per step, minus system stress once the cascade starts), memory,
replicas, version. Players see only noisy metrics, health checks that can lie, and logs on request.

Rules v2: rows that judge hidden truth are decided at their step but paid at the end; `diagnose` is
legal only before the first fix of a page; at hard a second fault may follow the first (its own page,
diagnosis and fix); `circuit_break` buys time without fixing anything.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .actions import FIX_TYPES, Action, InvalidAction, coerce_action
from .config import DECOY_KINDS, FAULT_MODES, ConfigError, EnvConfig, load_config
from .draws import decode_incident, incident_bounds, load, raw_count, stream_states
from .observe import (
    ACTIVE,
    DORMANT,
    FIXED,
    PENDING,
    Fault,
    ObservationBuilder,
    alert_cuts,
    next_version,
    previous_version,
)
from .types import EnvState, Observation, RewardEvent, ServiceTruth

_MAX_SEED = 2**63 - 1
# Ranges of the incident's uniform draws (the batched env, core/batch.py, reads the same block with these).
MASKED_CPU = (70.0, 78.0)  # under the cpu alert even with noise
SILENT_ERRORS = (0.006, 0.03)
PASS_FACTOR = (0.8, 1.2)  # pass-through factor per caller
# How each service shows sickness (latency, errors, cpu, rps responses): a, b, e, c, r of observe.py
STYLE_RANGES = ((1.0, 5.0), (4.0, 14.0), (0.6, 1.0), (-0.4, 1.2), (0.0, 0.6))
MECHANIC_DRAWS = 8  # u[0..7]: decoy, masked, silent, secondary, compound, spares (u[6] picks the secondary)


def incident_layout(n: int) -> tuple[dict[str, slice], int]:
    """Where each of a reset's uniform draws sits in its block, and the block's size, for n services
    (IncidentEnv and BatchIncidentEnv read the one block alike)."""
    sizes = (
        ("mechanics", MECHANIC_DRAWS),
        ("bad_health", 1),
        ("leak_start", 1),
        ("masked_cpu", 1),
        ("silent_errors", 1),
        ("pass", n),
        ("shield", n),
        ("style", len(STYLE_RANGES) * n),  # service by service
        ("decoy_pick", 1),
        ("decoy_kind", 1),
        ("decoy_level", 1),
        ("second_pick", 1),
        ("second_mode", 1),
        ("second_delay", 1),
        ("second_u", 3),
        ("onset", 1),
    )
    layout, at = {}, 0
    for name, size in sizes:
        layout[name] = slice(at, at + size)
        at += size
    return layout, at


class IncidentEnv(ObservationBuilder):
    """One incident at a time. `reset(seed=...)` starts it; `step(action)` plays one move."""

    def __init__(self, config: EnvConfig | str | Path | None = None, difficulty: str | None = None) -> None:
        self.config = config if isinstance(config, EnvConfig) else load_config(config)
        self.default_difficulty = self.config.difficulty(difficulty).name
        self.names: tuple[str, ...] = self.config.service_names
        self._index = {name: i for i, name in enumerate(self.names)}
        self._callees = [tuple(self._index[c] for c in spec.calls) for spec in self.config.services]
        self._callers = [tuple(j for j, cs in enumerate(self._callees) if i in cs) for i in range(len(self.names))]
        self._order = _callees_first(self._callees)
        self._entry = next(i for i, callers in enumerate(self._callers) if not callers)  # where users arrive
        self._deep = [spec.deep_health_check for spec in self.config.services]
        self._base = [spec.baseline for spec in self.config.services]
        self._base_latency = [b.latency_ms for b in self._base]
        limits = self.config.alerts
        self._alert_limits = (limits.error_rate, limits.latency_ms, limits.cpu, limits.memory)
        self._alert_cuts = alert_cuts(self._alert_limits)
        n = len(self.names)
        self._caps = np.array([np.inf, 1.0, 100.0, 100.0, np.inf] * n)
        self._scale = np.array([10.0, 10_000.0, 10.0, 10.0, 10.0] * n)
        self._bitgens = tuple(np.random.PCG64(0) for _ in range(3))  # reseeded at every reset
        self._generators = tuple(np.random.Generator(b) for b in self._bitgens)
        self._bounds = incident_bounds(n, len(FAULT_MODES))
        self._layout, self._doubles = incident_layout(n)
        self._raw_count = raw_count(self._bounds, self._doubles)
        self._noise_size = 5 * n * (self.config.rules.max_steps + 1)  # reset's observation and one per step
        self._started = False

    # ------------------------------------------------------------------ OpenEnv interface
    def reset(
        self, seed: int | None = None, episode_id: str | None = None, options: dict[str, Any] | None = None
    ) -> Observation:
        """Start an incident. options: service, mode, scenario, difficulty (all optional)."""
        options = dict(options or {})
        for key in ("service", "mode", "scenario", "difficulty"):
            value = options.get(key)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"option {key!r} must be a name (text), got {type(value).__name__}")
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

        # The three streams numpy's SeedSequence(seed).spawn(3) seeds, loaded into this env's reusable PCG64s
        # (core/draws.py: the same bits without building three generators a reset).
        incident = self._bitgens[0]
        for bitgen, state in zip(self._bitgens, stream_states(seed), strict=True):
            load(bitgen, state)
        n = len(self.names)
        ints, doubles = decode_incident(
            incident.random_raw(self._raw_count).tolist(), self._bounds, self._doubles, incident
        )  # type: ignore[misc]
        drawn = iter(ints)
        drawn_root = self.names[next(drawn)]
        drawn_mode = FAULT_MODES[next(drawn)]
        self.seed = seed
        # Random, not derived from the seed: an id in the player's channel must not rebuild the incident.
        self.episode_id = episode_id or str(uuid.uuid4())
        self.difficulty = difficulty
        self.scenario = scenario
        self._logs_rng = self._generators[2]
        # Each episode's noise in one block from its stream (the same values as one draw per observation).
        self._noise_low, self._noise_high = 1.0 - difficulty.noise, 1.0 + difficulty.noise
        self._noise_block = self._generators[1].uniform(self._noise_low, self._noise_high, size=self._noise_size)
        self._noise_at = 0

        self._version = [f"v{next(drawn)}.{next(drawn)}.{next(drawn)}" for _ in range(n)]
        self._prev_version = [previous_version(v) for v in self._version]
        self._replicas = [next(drawn) for _ in range(n)]
        self._memory = [b.memory / 100 for b in self._base]
        self._own = [1.0] * n
        self._eff = [1.0] * n
        self._blip = [False] * n
        self._warmup = [False] * n
        self._breaker = [False] * n
        self._deploy_minutes = next(drawn)

        # Every draw below happens whatever the options say, so a chosen incident keeps the seed's other draws.
        first = Fault(self._index[root or drawn_root], mode or drawn_mode)
        # One block of uniform draws for the rest of the incident, read where INCIDENT_LAYOUT puts each.
        at = self._layout

        def draw(name: str, low: float, high: float) -> float:
            return low + (high - low) * doubles[at[name].start]

        def pick(name: str, count: int) -> int:
            return min(count - 1, int(doubles[at[name].start] * count))

        u = doubles[at["mechanics"]]  # draw() on [0, 1) is the draw itself
        first.bad_health = draw("bad_health", *rules.bad_deploy_health)
        first.leak_start = draw("leak_start", *rules.leak_start_memory)
        first.masked_cpu = draw("masked_cpu", *MASKED_CPU)
        first.masked = u[1] < difficulty.masked
        first.silent = u[2] < difficulty.silent
        first.silent_errors = draw("silent_errors", *SILENT_ERRORS)
        p_lo, p_hi = PASS_FACTOR
        self._pass = [p_lo + (p_hi - p_lo) * v for v in doubles[at["pass"]]]
        shield_u = doubles[at["shield"]]
        # How each service shows sickness this episode (latency, errors, cpu, rps responses): victims and roots
        # vary, so the shape of a panel's numbers says "sick", not "root" or "victim".
        style = doubles[at["style"]]
        self._style = [
            tuple(lo + (hi - lo) * style[5 * i + j] for j, (lo, hi) in enumerate(STYLE_RANGES)) for i in range(n)
        ]
        decoy_pick = pick("decoy_pick", n - 1)
        decoy_kind = DECOY_KINDS[pick("decoy_kind", len(DECOY_KINDS))]
        self._decoy_level = doubles[at["decoy_level"].start]  # where in its kind's range the anomaly sits
        second_pick = pick("second_pick", n - 1)
        second_mode = FAULT_MODES[pick("second_mode", len(FAULT_MODES))]
        lo, hi = rules.second_fault_delay
        second_delay = lo + pick("second_delay", hi - lo + 1)
        second_u = doubles[at["second_u"]]
        lo, hi = rules.onset_steps
        onset = lo + pick("onset", hi - lo + 1)

        others = [i for i in range(n) if i != first.root]
        self._secondary = -1
        callers = self._callers[first.root]
        if callers and u[3] < difficulty.secondary:
            self._secondary = callers[int(u[6] * len(callers))]
        bystanders = [i for i in others if i != self._secondary]
        self._decoy = bystanders[decoy_pick % len(bystanders)] if u[0] < difficulty.decoys else -1
        self._decoy_kind = decoy_kind if self._decoy >= 0 else None
        # A shielded caller serves its sick callees' answers from cache: its metrics hardly move, its logs say so.
        self._shield = [bool(shield_u[i] < difficulty.shielded) for i in range(n)]
        self._faults = [first]
        # Named scenarios ask for a second fault explicitly; random incidents draw one at the difficulty's rate.
        wants_second = scenario.second is not None if scenario is not None else bool(u[4] < difficulty.compound)
        if wants_second:
            if scenario is not None and scenario.second is not None:
                s_root, s_mode = self._index[scenario.second[0]], scenario.second[1]
            else:
                s_root, s_mode = others[second_pick % len(others)], second_mode
            second = Fault(s_root, s_mode, phase=PENDING)
            second.delay = second_delay
            (b_lo, b_hi), (m_lo, m_hi) = rules.bad_deploy_health, rules.leak_start_memory
            second.bad_health = b_lo + second_u[0] * (b_hi - b_lo)
            second.leak_start = m_lo + second_u[1] * (m_hi - m_lo)
            c_lo, c_hi = MASKED_CPU
            second.masked_cpu = c_lo + second_u[2] * (c_hi - c_lo)
            self._faults.append(second)
        self._can_go_stale = self._decoy_kind == "flapping" or any(
            f.silent and f.mode == "crashed" for f in self._faults
        )
        self._k = 0  # the fault the player is facing now
        self.step_count = 0
        self._first_fix_text: str | None = None
        self._start_fault(first)

        self._stress = 0.0
        self._score = 0.0
        self._deferred: list[RewardEvent] = []
        self._window = True  # diagnose is legal: no fix and no diagnosis since this page
        self._page = 1
        self._confirm = 0
        self._collapse = 0
        self._done = False
        self._outcome: str | None = None
        self._failed = 0.0
        self._stale_shown: dict[int, list[float]] = {}
        self._last_log_templates: tuple[tuple[int, ...], int] | None = None
        self._started = True

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
        well_formed: Action | None = None
        try:
            well_formed = coerce_action(action)
            self._validate(well_formed)
        except InvalidAction as exc:
            parsed, error = None, str(exc)
            events.append(RewardEvent("invalid", rw.invalid, self.step_count))
        else:
            parsed, error = well_formed, None

        result = ""
        if parsed is not None:
            result = self._apply(parsed)
            if parsed.type == "check_logs":
                logs_service = parsed.service
        paged = self._advance(cascade=True)
        self._judge(events)
        metrics = self._all_true_metrics()

        logs = None
        if logs_service is not None:
            logs = self._read_logs(self._index[logs_service])
            result = f"read {len(logs)} log lines from {logs_service}"
        elif parsed is not None and parsed.type in FIX_TYPES:
            status = metrics[self._index[parsed.service]][0]  # type: ignore[index]
            result = f"{result}: health check {status}"
        if self._done:  # the end: every deferred row is paid now, each with its own step
            events = [*self._deferred, *events]
            self._deferred = []
        reward = 0.0
        for event in events:  # left to right from 0.0, as sum() adds
            reward += event.value
        self._score += reward
        # A well-formed move the rules refuse now (a second diagnose) is recorded as the move; garbage as its text.
        action_record = well_formed.to_dict() if well_formed is not None else {"raw": _raw_text(action)}
        message = result if error is None else f"invalid action: {error}"
        if paged and not self._done:
            message = f"{message} · {self._second_page_text()}" if message else self._second_page_text()
        if self._outcome is not None:
            message = f"{message} · {self._outcome_text()}" if message else self._outcome_text()
        obs = self._observe(
            message, action_record, error is None, error, tuple(events), logs, logs_service, reward, metrics
        )
        if True in self._blip or True in self._warmup:
            n = len(self._blip)
            self._blip, self._warmup = [False] * n, [False] * n
        self._last = obs
        return obs

    @property
    def state(self) -> EnvState:
        """The full truth, including the hidden fault (never shown to players)."""
        if not self._started:
            raise RuntimeError("call reset() before reading state")
        fault = self._faults[self._k]
        faulty = {f.root for f in self._faults if f.phase in (ACTIVE, DORMANT)}
        services = {
            name: ServiceTruth(
                name=name,
                health=self._eff[i],
                own_health=self._own[i],
                memory=self._memory[i],
                replicas=self._replicas[i],
                version=self._version[i],
                faulty=i in faulty,
            )
            for i, name in enumerate(self.names)
        }
        first = self._faults[0]
        return EnvState(
            episode_id=self.episode_id,
            step_count=self.step_count,
            seed=self.seed,
            difficulty=self.difficulty.name,
            scenario=self.scenario.name if self.scenario else None,
            root_service=self.names[fault.root],
            fault_mode=fault.mode,
            fault_phase=fault.phase,
            stress=self._stress,
            services=services,
            score=self._score,
            diagnosis=dict(first.diagnosis) if first.diagnosis else None,
            diagnosis_correct=all(f.diagnosis_correct for f in self._faults if f.phase != PENDING),
            fix_step=first.fix_step,
            confirm_streak=self._confirm,
            collapse_streak=self._collapse,
            done=self._done,
            outcome=self._outcome,
            faults=tuple(f.to_dict(self.names) for f in self._faults),
            pending=tuple(self._deferred),
            mechanics={
                "pass_through": self.difficulty.pass_through,
                "decoy": self.names[self._decoy] if self._decoy >= 0 else None,
                "decoy_kind": self._decoy_kind,
                "secondary": self.names[self._secondary] if self._secondary >= 0 else None,
            },
        )

    @property
    def started(self) -> bool:
        """Whether an incident has been reset (step and state need one)."""
        return self._started

    @property
    def last_log_read(self) -> tuple[tuple[int, ...], int] | None:
        """The last `check_logs` as drawn: its template ids (core.logs.LOG_TEMPLATES) in display order and the
        index of the callee its victim lines blame (-1: none). None before the episode's first read."""
        return self._last_log_templates

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
        if action.type == "diagnose" and not self._window:
            fault = self._faults[self._k]
            if self._page_diagnosis is not None:
                d = self._page_diagnosis
                raise InvalidAction(
                    f"already diagnosed {d['service']}/{d['mode']}: a diagnosis is committed once per incident"
                )
            raise InvalidAction(
                f"diagnose is possible only before the first fix: {self._first_fix_text or 'a fix'} already ran"
                " (commit to a root cause before you fix)"
                + (" · a second incident opens a new diagnosis" if fault.phase == FIXED else "")
            )

    @property
    def _page_diagnosis(self) -> dict[str, str] | None:
        return self._faults[self._k].diagnosis

    def _defer(self, row: str) -> None:
        self._deferred.append(RewardEvent(row, getattr(self.config.rewards, row), self.step_count))

    def _apply(self, action: Action) -> str:
        rules = self.config.rules
        kind = action.type
        if kind == "wait":
            return "waited one step"
        if kind == "check_logs":
            return ""
        i = self._index[action.service]  # type: ignore[index]
        name = self.names[i]
        fault = self._faults[self._k]
        if kind == "diagnose":
            fault.diagnosis = {"service": name, "mode": action.mode}  # type: ignore[dict-item]
            fault.diagnosis_step = self.step_count
            fault.diagnosis_correct = i == fault.root and action.mode == fault.mode and fault.phase != PENDING
            self._defer("correct_diagnosis" if fault.diagnosis_correct else "wrong_diagnosis")
            self._window = False
            return f"diagnosis committed: {name} / {action.mode} (judged when the episode ends)"
        if kind == "circuit_break":
            self._breaker[i] = not self._breaker[i]
            if self._breaker[i]:
                return f"opened the circuit breakers in front of {name}: its callers serve degraded responses"
            return f"closed the circuit breakers in front of {name}: its callers call it again"

        # A fix: it closes this page's diagnosis window and the breakers in front of the service.
        if self._window:
            self._first_fix_text = f"{kind} {name} at step {self.step_count}"
        self._window = False
        self._breaker[i] = False
        right_fix = self.config.fault_modes[fault.mode].fix
        on_root = i == fault.root and fault.phase in (ACTIVE, DORMANT)
        if on_root and kind == right_fix:
            if fault.mode == "memory_leak" and (fault.phase == DORMANT or not fault.relapsed):
                self._restart_leak(fault)  # a restart before the relapse only resets the clock
            else:
                fault.phase = FIXED
                fault.fixed_at = self.step_count
                self._own[i] = max(self._own[i], 1.0 - rules.recovery_rate)
                fault.oom = False
                self._memory[i] = self._base[i].memory / 100
                if kind == "rollback":
                    self._version[i], self._prev_version[i] = (
                        self._prev_version[i],
                        previous_version(self._prev_version[i]),
                    )
                if kind == "scale_up":
                    self._replicas[i] += 2
            if not fault.fix_paid:
                fault.fix_paid = True
                fault.fix_step = self.step_count
                self._defer("correct_fix" if fault.diagnosis_correct else "lucky_fix")
            # The same words as any restart: a message only a relapsed leak got would confirm the root before the
            # end. The relapse shows in the logs and the memory metric; the post-mortem says why this one held.
            return _fix_text(kind, name, self._replicas[i], self._version[i])

        repeat_of_fix = any(
            f.root == i and f.phase == FIXED and self.config.fault_modes[f.mode].fix == kind for f in self._faults
        )  # the fault is gone; paid once already
        if not repeat_of_fix:
            self._defer("wrong_fix")
        if on_root:
            if kind == "restart" and fault.mode == "bad_deploy":
                fault.bad_health = max(0.05, fault.bad_health - rules.bad_restart_penalty)
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

    def _start_fault(self, fault: Fault) -> None:
        """The fault begins: its mode's initial damage on its service."""
        rules = self.config.rules
        r = fault.root
        fault.phase = ACTIVE
        fault.started_at = self.step_count
        if fault.mode == "bad_deploy":
            self._prev_version[r] = self._version[r]
            self._version[r] = next_version(self._version[r])
        if fault.mode == "memory_leak":
            # masked: the leak already hit its limit and was OOM-killed before anyone was paged
            self._memory[r] = 0.99 if fault.masked else fault.leak_start
        if fault.mode == "overloaded":
            self._own[r] = min(self._own[r], rules.overload_health + rules.overload_decay)

    def _restart_leak(self, fault: Fault) -> None:
        i = fault.root
        fault.phase = DORMANT
        fault.relapse_at = self.step_count + self.config.rules.relapse_after
        self._memory[i] = self._base[i].memory / 100
        self._own[i] = 1.0
        fault.oom = False

    def _advance(self, cascade: bool) -> bool:
        """Move the hidden world one step: the fault, the cascade, then propagation (one hop).
        Returns True when a second fault paged the player this step."""
        rules = self.config.rules
        paged = False
        fault = self._faults[self._k]
        if fault.phase == FIXED and self._k + 1 < len(self._faults):
            nxt = self._faults[self._k + 1]
            if self.step_count >= fault.fixed_at + nxt.delay:
                self._k += 1
                self._start_fault(nxt)
                fault = nxt
                self._window = True
                self._page += 1
                self._first_fix_text = None
                paged = True
        r = fault.root
        own = self._own
        if fault.phase == DORMANT and self.step_count >= fault.relapse_at:
            fault.phase = ACTIVE
            fault.relapsed = True
        rate, healed = rules.recovery_rate, fault.phase == FIXED
        for i in range(len(own)):
            if i != r or healed:
                value = own[i] + rate
                own[i] = value if value < 1.0 else 1.0  # min(1.0, value)
        if fault.phase == ACTIVE:
            mode = fault.mode
            if mode == "crashed":
                own[r] = 0.0
            elif mode == "memory_leak":
                self._memory[r] = min(1.0, self._memory[r] + rules.leak_rate)
                if self._memory[r] >= 1.0:
                    fault.oom = True
                own[r] = 0.0 if fault.oom else _leak_health(self._memory[r])
            elif mode == "overloaded":
                fault.overload_steps += 1
                own[r] = max(0.05, own[r] - rules.overload_decay)
            else:
                own[r] = fault.bad_health
        elif fault.phase == DORMANT:
            own[r] = 1.0
        blip, warmup = self._blip, self._warmup
        if True in blip or True in warmup:
            for i in range(len(own)):
                if blip[i]:
                    own[i] = min(own[i], rules.restart_blip)
                elif warmup[i]:
                    own[i] = min(own[i], rules.scale_blip)

        contained = self._breaker[r]  # retry storms stop while the root sits behind open breakers
        if cascade and fault.phase == ACTIVE and self.step_count >= rules.cascade_start and not contained:
            self._stress = min(1.0, self._stress + self.difficulty.cascade_rate)
        elif fault.phase == FIXED:
            self._stress = max(0.0, self._stress - rules.recovery_rate)
        keep = 1.0 - self._stress
        prev = self._eff
        spread = rules.propagation
        eff = []
        breaker = self._breaker
        degrade = rules.breaker_degrade
        for i, callees in enumerate(self._callees):
            worst = 0.0
            for c in callees:
                sick = degrade if breaker[c] else 1.0 - prev[c]
                if sick > worst:
                    worst = sick
            eff.append(own[i] * (1.0 - spread * worst) * keep)
        self._eff = eff
        return paged

    def _judge(self, events: list[RewardEvent]) -> None:
        rules = self.config.rules
        eff = self._eff
        if sum(eff) / len(eff) < rules.collapse_health:
            self._collapse += 1
        else:
            self._collapse = 0
        # the last fault fixed means every fault is (they come one after the other)
        if min(eff) >= rules.healthy_health and self._faults[-1].phase == FIXED and not any(self._breaker):
            self._confirm += 1
        else:
            self._confirm = 0
        if self._confirm >= rules.confirm_steps:
            self._finish("recovered")
            diagnosed = all(f.diagnosis_correct for f in self._faults)
            self._defer("recovery_diagnosed" if diagnosed else "recovery_undiagnosed")
            unused = rules.max_steps - self.step_count
            if unused > 0:
                events.append(
                    RewardEvent("efficiency", self.config.rewards.efficiency_per_step * unused, self.step_count)
                )
        elif self._collapse >= rules.collapse_steps:
            self._finish("collapsed")
            events.append(RewardEvent("collapse", self.config.rewards.collapse, self.step_count))
        elif self.step_count >= rules.max_steps:
            self._finish("timed_out")
            events.append(RewardEvent("timeout", self.config.rewards.timeout, self.step_count))

    def _finish(self, outcome: str) -> None:
        self._done = True
        self._outcome = outcome


def _callees_first(callees: list[tuple[int, ...]]) -> list[int]:
    """Service indices ordered so that every callee comes before its callers (the topology is acyclic)."""
    order: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        if i in seen:
            return
        seen.add(i)
        for c in callees[i]:
            visit(c)
        order.append(i)

    for i in range(len(callees)):
        visit(i)
    return order


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


def _raw_text(value: Any) -> str:
    if isinstance(value, Action):  # quoted as its dict form: the form a replay records and re-plays
        value = value.to_dict()
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:  # a hostile __repr__ must not crash the referee
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."
