"""What the player sees: true metrics before noise, the noisy observation with its alerts, and logs.

`ObservationBuilder` is the observing half of `IncidentEnv` (the rules and dynamics live in env.py);
it reads the env's hidden state and turns it into what a player is shown, never the other way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .logs import decoy_fields, draw_log_lines, format_log_lines, log_fields
from .types import LogLine, Observation, RewardEvent, make_observation, make_service_view

PENDING, ACTIVE, DORMANT, FIXED = "pending", "active", "dormant", "fixed"
Metrics = tuple[str, float, float, float, float, float]  # (status, latency_ms, error_rate, cpu, memory, rps)


@dataclass(slots=True)
class Fault:
    """One hidden fault and the player's dealings with it (its diagnosis, its fix)."""

    root: int
    mode: str
    phase: str = PENDING
    masked: bool = False  # the mode's metric fingerprint is ambiguous
    silent: bool = False  # the root looks healthier than its victims
    bad_health: float = 0.5
    leak_start: float = 0.6
    masked_cpu: float = 80.0
    silent_errors: float = 0.01
    delay: int = 0  # a second fault: steps after the first is fixed before it starts
    started_at: int = 0
    fixed_at: int = 0
    overload_steps: int = 0
    oom: bool = False
    relapsed: bool = False
    relapse_at: int = -1
    diagnosis: dict[str, str] | None = None
    diagnosis_step: int | None = None
    diagnosis_correct: bool = False
    fix_paid: bool = False
    fix_step: int | None = None

    def to_dict(self, names: tuple[str, ...]) -> dict[str, Any]:
        return {
            "service": names[self.root],
            "mode": self.mode,
            "phase": self.phase,
            "masked": self.masked,
            "silent": self.silent,
            "started_at": self.started_at,
            "diagnosis": dict(self.diagnosis) if self.diagnosis else None,
            "diagnosis_step": self.diagnosis_step,
            "diagnosis_correct": self.diagnosis_correct,
            "fix_step": self.fix_step,
        }


class ObservationBuilder:
    """Mixin for IncidentEnv: builds observations and log lines from the hidden state."""

    def _own_metrics(self, i: int, fault: Fault) -> Metrics:
        """A service's metrics from its own state, before anything passes through from its callees."""
        base = self._base[i]
        h = self._eff[i]
        sick = 1.0 - h
        memory = self._memory[i] * 100
        if self._blip[i]:
            return "down", base.latency_ms * 3, 0.5, base.cpu * 0.4, base.memory * 0.5, base.rps * 0.4
        if i == fault.root and fault.phase == ACTIVE:
            mode = fault.mode
            if fault.silent and not (mode == "crashed" or fault.oom):
                # The root looks healthier than its victims: a leak inside a heap the container metric does not
                # see, an overload shed at the edge (fast 429s its exporter counts as served), a bad build that
                # answers fast with malformed payloads. Its callers feel it; its own panel hardly moves.
                return "ok", base.latency_ms, 0.002, base.cpu, base.memory, base.rps
            if mode == "crashed" or fault.oom:
                return "down", 1.0, 1.0, 0.5, 2.0, base.rps * 0.02
            if mode == "memory_leak":
                gc = max(0.0, self._memory[i] - 0.7)
                status = "ok" if self._memory[i] < 0.95 else "degraded"
                return (
                    status,
                    base.latency_ms * (1 + 8 * sick + 12 * gc),
                    min(1.0, 0.002 + 0.9 * sick),
                    base.cpu * (1 + 2.5 * gc),
                    memory,
                    base.rps * (1 - 0.3 * sick),
                )
            if mode == "overloaded":
                latency = min(5000.0, base.latency_ms * (5 + 1.5 * fault.overload_steps) * (1 + 2 * sick))
                cpu, rps = (fault.masked_cpu, base.rps * 1.02) if fault.masked else (98.0, base.rps * 1.7)
                return "degraded", latency, min(1.0, 0.002 + 0.8 * sick), cpu, memory, rps
            a, _, e, c, r = self._style[i]
            return (
                "ok",
                base.latency_ms * (1.0 + a * sick),
                min(1.0, 0.002 + e * sick),
                95.0 if fault.masked else base.cpu * (1.0 + max(0.0, c) * sick),  # masked: a cpu regression
                memory,
                base.rps * (1 - r * sick),
            )
        return self._victim_metrics(i)

    def _victim_metrics(self, i: int) -> Metrics:
        """A service that is not failing itself: it shows what it suffers from its callees and the cascade."""
        base = self._base[i]
        h = self._eff[i]
        sick = 1.0 - h
        memory = self._memory[i] * 100
        if self._shield[i] and self._own[i] >= 0.99:  # sickness from its callees is served from cache
            h = 1.0 - 0.25 * (1.0 - h)
            sick = 1.0 - h
        check = h if self._deep[i] else self._own[i] * (1.0 - self._stress)
        status = "down" if check < 0.35 else "degraded" if check < 0.75 else "ok"
        a, b, e, c, r = self._style[i]
        latency = min(3000.0, base.latency_ms * (1 + a * sick + b * sick * sick))
        return (
            status,
            latency,
            min(1.0, 0.002 + e * sick),
            max(1.0, base.cpu * (1 + c * sick)),
            memory,
            base.rps * (1 - r * sick),
        )

    def _all_true_metrics(self) -> list[Metrics]:
        """Every service's metrics before noise, callees first so errors and latency pass up the chain.
        (The hot path of a step: locals and plain indexing on purpose.)"""
        fault = self._faults[self._k]
        out: list[Metrics] = [("ok", 0.0, 0.0, 0.0, 0.0, 0.0)] * len(self.names)
        through = self.difficulty.pass_through
        breakers = any(self._breaker)
        calm = self._stress == 0.0
        eff, blip, root, active = self._eff, self._blip, fault.root, fault.phase == ACTIVE
        base_latency, callees, shield, memory_of = self._base_latency, self._callees, self._shield, self._memory
        for i in self._order:
            own_failure = blip[i] or (active and i == root)
            if calm and not own_failure and eff[i] >= 1.0:  # healthy (the common case): its baseline
                base = self._base[i]
                status, latency, errors, cpu, memory, rps = (
                    "ok",
                    base.latency_ms,
                    0.002,
                    base.cpu,
                    memory_of[i] * 100,
                    base.rps,
                )
            elif own_failure:
                status, latency, errors, cpu, memory, rps = self._own_metrics(i, fault)
            else:  # a victim or bystander
                status, latency, errors, cpu, memory, rps = self._victim_metrics(i)
            if through and not own_failure and not shield[i]:
                factor = self._pass[i]
                for c in callees[i]:
                    if breakers and self._breaker[c]:
                        continue
                    callee = out[c]
                    passed = callee[2] * factor
                    if passed > errors:
                        errors = passed if passed < 1.0 else 1.0
                    extra = callee[1] - base_latency[c]
                    if extra > 0.0:
                        latency += extra
                if latency > 5000.0:
                    latency = 5000.0
            if i == self._secondary and not own_failure and root in callees[i]:
                sick = 1.0 - eff[root]
                if sick > 0.1:  # workers blocked on the sick callee: it looks overloaded
                    cpu = max(cpu, 91.0 + 7.0 * sick)
            if i == self._decoy and not blip[i]:
                kind, level = self._decoy_kind, self._decoy_level
                if kind == "cpu_spike":
                    cpu, latency = max(cpu, 92.0 + 6.0 * level), latency * 1.3
                elif kind == "steady_heap":
                    memory = max(memory, 84.0 + 8.0 * level)
                elif kind == "canary":
                    errors = max(errors, 0.015 + 0.025 * level)
                # a flapping replica: its metrics scrape keeps hitting the restarting pod and goes stale
            if breakers and self._breaker[i]:
                rps *= 0.1  # behind open breakers: its callers stopped calling it
            out[i] = (status, latency, errors, cpu, memory, rps)
        return out

    def _stale(self) -> set[int]:
        """Services whose metrics scrape is stale: a silent crashed root, or a bystander's flapping replica."""
        stale = set()
        if self._decoy_kind == "flapping" and not self._blip[self._decoy]:
            stale.add(self._decoy)
        fault = self._faults[self._k]
        if fault.silent and fault.mode == "crashed" and fault.phase == ACTIVE:
            stale.add(fault.root)
        return stale

    def _observe(
        self,
        message: str,
        action: dict[str, Any] | None,
        valid: bool,
        error: str | None,
        events: tuple[RewardEvent, ...],
        logs: tuple[LogLine, ...] | None,
        logs_service: str | None,
        reward: float = 0.0,
        metrics: list[Metrics] | None = None,
    ) -> Observation:
        metrics = metrics or self._all_true_metrics()
        statuses = [m[0] for m in metrics]
        truth = [v for m in metrics for v in m[1:]]
        at = self._noise_at
        size = len(truth)
        if at + size > len(self._noise_block):  # steps after the end: the stream goes on
            self._noise_block = self._generators[1].uniform(self._noise_low, self._noise_high, size=self._noise_size)
            at = 0
        draws = self._noise_block[at : at + size]
        self._noise_at = at + size
        # (latency_ms, error_rate, cpu, memory, rps) per service: noise, clip to range, round for display
        noisy = np.multiply(truth, draws)
        np.minimum(noisy, self._caps, out=noisy)
        np.multiply(noisy, self._scale, out=noisy)
        np.rint(noisy, out=noisy)
        shown = np.divide(noisy, self._scale, out=noisy).tolist()
        services = {}
        alerts: list[str] = []
        limits, cuts = self._alert_limits, self._alert_cuts
        c_err, c_lat, c_cpu, c_mem = cuts
        stale_set = self._stale() if self._can_go_stale else ()
        view = make_service_view
        for i, name in enumerate(self.names):
            latency, errors, cpu, memory, rps = shown[5 * i : 5 * i + 5]
            status = statuses[i]
            stale = i in stale_set
            if stale:  # the scrape stopped: the last values it got, frozen, and the last health check
                if i not in self._stale_shown:
                    base = self._base[i]
                    last = [base.latency_ms, 0.002, base.cpu, base.memory, base.rps]
                    scale = self._scale[5 * i : 5 * i + 5]
                    self._stale_shown[i] = (
                        np.rint(np.asarray(last) * draws[5 * i : 5 * i + 5] * scale) / scale
                    ).tolist()
                latency, errors, cpu, memory, rps = self._stale_shown[i]
                status = "ok"
            services[name] = view(name, status, latency, errors, cpu, memory, rps, stale)
            if stale or status != "ok" or errors >= c_err or latency >= c_lat or cpu >= c_cpu or memory >= c_mem:
                add_alerts(alerts, name, status, stale, latency, errors, cpu, memory, limits, cuts)
        if action is not None:  # user impact, from the entry point's shown metrics: information, not reward
            entry = services[self.names[self._entry]]
            self._failed += entry.rps * entry.error_rate * self.config.impact.step_seconds
        impact = self.config.impact
        diagnosis = self._faults[self._k].diagnosis
        scenario = self.scenario
        breaker = self._breaker
        return make_observation(
            self.step_count,
            self.config.rules.max_steps - self.step_count,
            services,
            tuple(alerts),
            logs,
            logs_service,
            message,
            action,
            valid,
            error,
            reward,
            events,
            self._score,
            self._done,
            self._outcome,
            dict(diagnosis) if diagnosis else None,
            self.difficulty.name,
            scenario.name if scenario else None,
            scenario.story if scenario else None,
            self._window and not self._done,
            self._page,
            tuple(n for n, b in zip(self.names, breaker, strict=True) if b) if True in breaker else (),
            {
                "failed_requests": round(self._failed),
                "cost": round(self._failed * impact.checkout_share * impact.price_per_failed_checkout, 2),
            },
            {"episode_id": self.episode_id},
        )

    def _read_logs(self, i: int) -> tuple[LogLine, ...]:
        rules = self.config.rules
        fault = self._faults[self._k]
        active_root = i == fault.root and fault.phase == ACTIVE
        sick = -1
        worst = 0.1  # a callee below 0.9 health shows up in its callers' logs
        for c in self._callees[i]:
            if not self._breaker[c] and 1.0 - self._eff[c] > worst:
                worst, sick = 1.0 - self._eff[c], c
        base = self._base[i]
        decoy = self._decoy_kind if i == self._decoy else None
        difficulty = self.difficulty
        ids, extras, numbers = draw_log_lines(
            self._logs_rng,
            root_mode=fault.mode if active_root else None,
            oom_killed=active_root and fault.oom,
            relapsed=active_root and fault.relapsed,
            sick_callee=sick >= 0,
            red_herrings=difficulty.red_herrings,
            lookalikes=difficulty.lookalikes,
            signature_share=difficulty.signature_share,
            min_signature_lines=difficulty.min_signature_lines,
            line_range=rules.log_lines,
            crashed=active_root and (fault.mode == "crashed" or fault.oom),
            decoy=decoy,
            secondary=i == self._secondary and sick == fault.root,
            breakers=tuple(c for c in self._callees[i] if self._breaker[c]),
        )
        self._last_log_templates = (tuple(ids), sick)
        fields = log_fields(
            self._memory[i],
            fault.overload_steps if active_root else 0,
            base.latency_ms,
            self._replicas[i],
            self._version[i],
            self._prev_version[i],
            self._deploy_minutes,
            self.step_count,
        )
        decoy_args = None
        if decoy is not None:
            version = self._version[i]
            decoy_args = decoy_fields(
                self._decoy_level, base.latency_ms, next_version(version), version, self.step_count
            )  # a canary build
        return format_log_lines(
            self.step_count,
            self.names[i],
            ids,
            extras,
            numbers,
            fields,
            self.names[sick] if sick >= 0 else None,
            decoy_args,
            self.names,
        )

    def _page_text(self) -> str:
        story = f' "{self.scenario.story}"' if self.scenario else ""
        return f"paged at 03:00: users report errors.{story}"

    def _second_page_text(self) -> str:
        return "paged again: a second incident, new errors since the fix (diagnose it before you fix it)"

    def _outcome_text(self) -> str:
        return {
            "recovered": "recovery confirmed: all services healthy",
            "collapsed": "total failure: the system collapsed",
            "timed_out": "out of steps: the incident is still open",
        }[self._outcome or ""]


def add_alerts(
    alerts: list[str],
    name: str,
    status: str,
    stale: bool,
    latency: float,
    errors: float,
    cpu: float,
    memory: float,
    limits: tuple[float, float, float, float],
    cuts: tuple[float, float, float, float],
) -> None:
    """One service's alerts, from its shown values (the scalar env's observations and the batched env's text)."""
    max_errors, max_latency, max_cpu, max_memory = limits
    cut_errors, cut_latency, cut_cpu, cut_memory = cuts
    if stale:
        alerts.append(f"{name} metrics stale: scrape failing")
    if status != "ok":
        alerts.append(f"{name} health check {status}")
    # Alerts compare the values as the panels round them (cut = the smallest value shown above the limit).
    if errors >= cut_errors:
        alerts.append(f"{name} error rate {errors:.0%} > {max_errors:.0%}")
    if latency >= cut_latency:
        alerts.append(f"{name} p95 {latency:.0f}ms > {max_latency:.0f}ms")
    if cpu >= cut_cpu:
        alerts.append(f"{name} cpu {cpu:.0f}% > {max_cpu:.0f}%")
    if memory >= cut_memory:
        alerts.append(f"{name} memory {memory:.0f}% > {max_memory:.0f}%")


def alert_cuts(limits: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Shown values are rounded on the panels (errors to whole percent, the others to whole units): a value
    alerts when its rounded form is over the limit, i.e. from the next rounding boundary up."""
    errors, latency, cpu, memory = limits
    return (
        (math.floor(errors * 100) + 0.5) / 100,
        math.floor(latency) + 0.5,
        math.floor(cpu) + 0.5,
        math.floor(memory) + 0.5,
    )


def previous_version(version: str) -> str:
    major, minor, patch = version.lstrip("v").split(".")
    if int(patch) > 0:
        return f"v{major}.{minor}.{int(patch) - 1}"
    return f"v{major}.{max(0, int(minor) - 1)}.9"


def next_version(version: str) -> str:
    major, minor, patch = version.lstrip("v").split(".")
    return f"v{major}.{minor}.{int(patch) + 1}"
