"""What the player sees: true metrics before noise, the noisy observation with its alerts, and logs.

`ObservationBuilder` is the observing half of `IncidentEnv` (the rules and dynamics live in env.py);
it reads the env's hidden state and turns it into what a player is shown, never the other way round.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .logs import generate_logs
from .types import LogLine, Observation, RewardEvent, ServiceView

ACTIVE, DORMANT, FIXED = "active", "dormant", "fixed"


class ObservationBuilder:
    """Mixin for IncidentEnv: builds observations and log lines from the hidden state."""

    def _true_metrics(self, i: int) -> tuple[str, float, float, float, float, float]:
        """(status, latency_ms, error_rate, cpu, memory, rps) before noise."""
        base = self._base[i]
        h = self._eff[i]
        sick = 1.0 - h
        memory = self._memory[i] * 100
        if self._blip[i]:
            return "down", base.latency_ms * 3, 0.5, base.cpu * 0.4, base.memory * 0.5, base.rps * 0.4
        if i == self.root and self._phase == ACTIVE:
            mode = self.mode
            if mode == "crashed" or self._oom:
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
                latency = min(5000.0, base.latency_ms * (5 + 1.5 * self._overload_steps) * (1 + 2 * sick))
                return "degraded", latency, min(1.0, 0.002 + 0.8 * sick), 98.0, memory, base.rps * 1.7
            return (
                "ok",
                base.latency_ms * (1.3 + 2 * sick),
                min(1.0, 0.002 + 0.9 * sick),
                base.cpu * 1.1,
                memory,
                base.rps * (1 - 0.2 * sick),
            )
        check = h if self._deep[i] else self._own[i] * (1.0 - self._stress)
        status = "down" if check < 0.35 else "degraded" if check < 0.75 else "ok"
        latency = min(3000.0, base.latency_ms * (1 + 12 * sick * sick + 3 * sick))
        return (
            status,
            latency,
            min(1.0, 0.002 + 0.9 * sick),
            base.cpu * (1 + 0.6 * sick),
            memory,
            base.rps * (1 - 0.4 * sick),
        )

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
    ) -> Observation:
        noise = self.difficulty.noise
        statuses = []
        truth: list[float] = []
        for i in range(len(self.names)):
            status, *values = self._true_metrics(i)
            statuses.append(status)
            truth.extend(values)
        draws = self._noise_rng.uniform(1.0 - noise, 1.0 + noise, size=len(truth))
        # (latency_ms, error_rate, cpu, memory, rps) per service: noise, clip to range, round for display
        shown = (np.rint(np.minimum(np.asarray(truth) * draws, self._caps) * self._scale) / self._scale).tolist()
        services = {}
        alerts = []
        max_errors, max_latency, max_cpu, max_memory = self._alert_limits
        text_errors, text_latency, text_cpu, text_memory = self._alert_texts
        for i, name in enumerate(self.names):
            latency, errors, cpu, memory, rps = shown[5 * i : 5 * i + 5]
            status = statuses[i]
            services[name] = ServiceView(name, status, latency, errors, cpu, memory, rps)
            if status != "ok":
                alerts.append(f"{name} health check {status}")
            if errors > max_errors:
                alerts.append(f"{name} error rate {errors:.0%} > {text_errors}")
            if latency > max_latency:
                alerts.append(f"{name} p95 {latency:.0f}ms > {text_latency}")
            if cpu > max_cpu:
                alerts.append(f"{name} cpu {cpu:.0f}% > {text_cpu}")
            if memory > max_memory:
                alerts.append(f"{name} memory {memory:.0f}% > {text_memory}")
        return Observation(
            step=self.step_count,
            remaining=self.config.rules.max_steps - self.step_count,
            services=services,
            alerts=tuple(alerts),
            logs=logs,
            logs_service=logs_service,
            message=message,
            action=action,
            valid=valid,
            error=error,
            reward=reward,
            rewards=events,
            score=self._score,
            done=self._done,
            outcome=self._outcome,
            diagnosis=dict(self._diagnosis) if self._diagnosis else None,
            difficulty=self.difficulty.name,
            scenario=self.scenario.name if self.scenario else None,
            story=self.scenario.story if self.scenario else None,
            seed=self.seed,
            metadata={"episode_id": self.episode_id},
        )

    def _read_logs(self, i: int) -> tuple[LogLine, ...]:
        rules = self.config.rules
        active_root = i == self.root and self._phase == ACTIVE
        sick_callee = None
        worst = 0.1  # a callee below 0.9 health shows up in its callers' logs
        for c in self._callees[i]:
            if 1.0 - self._eff[c] > worst:
                worst, sick_callee = 1.0 - self._eff[c], self.names[c]
        base = self._base[i]
        fields = {
            "mem": f"{self._memory[i] * 100:.0f}",
            "gc": f"{20 + 200 * max(0.0, self._memory[i] - 0.7):.0f}",
            "pause": f"{400 + int(4000 * max(0.0, self._memory[i] - 0.7))}",
            "queue": f"{1000 + 450 * self._overload_steps:,}",
            "p99": f"{min(9000, int(base.latency_ms * (6 + 2 * self._overload_steps)))}",
            "replicas": str(self._replicas[i]),
            "version": self._version[i],
            "old": self._prev_version[i],
            "minutes": str(self._deploy_minutes + self.step_count // 2),
        }
        return generate_logs(
            self._logs_rng,
            self.step_count,
            self.names[i],
            root_mode=self.mode if active_root else None,
            oom_killed=active_root and self._oom,
            relapsed=active_root and self._relapsed,
            sick_callee=sick_callee,
            fields=fields,
            red_herrings=self.difficulty.red_herrings,
            lookalikes=self.difficulty.lookalikes,
            signature_share=self.difficulty.signature_share,
            min_signature_lines=self.difficulty.min_signature_lines,
            line_range=rules.log_lines,
        )

    def _page_text(self) -> str:
        story = f' "{self.scenario.story}"' if self.scenario else ""
        return f"paged at 03:00: users report errors.{story}"

    def _outcome_text(self) -> str:
        return {
            "recovered": "recovery confirmed: all services healthy",
            "collapsed": "total failure: the system collapsed",
            "timed_out": "out of steps: the incident is still open",
        }[self._outcome or ""]
