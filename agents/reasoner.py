"""A careful reader: follows blame pointers from the entry point down, accepts a signature only where the
evidence agrees (the service blames nobody and a victim blames it), and watches trends over steps.

It is the published reference for what reasoning gets under rules v2, next to the plain `heuristic`
(which trusts signature words wherever it finds them) and the `oracle` (which reads the truth).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mirr_tui.core import FAULT_MODES, Action, EnvConfig, Observation, load_config

from .base import BaseAgent

# Words that only a fault's own signature carries (a blocked victim's thread-pool lines are set apart by
# naming whom they wait on, so they are read as pointers first).
SIGNATURES: dict[str, tuple[str, ...]] = {
    "crashed": ("sigsegv", "segfault", "crashloopbackoff", "code 139", "core dumped", "connection refused"),
    "memory_leak": ("outofmemoryerror", "oomkilled", "heap usage", "gc overhead", "full gc pause", "code 137"),
    "overloaded": ("queue depth", "thread pool exhausted", "cpu saturation", "shedding load"),
    "bad_deploy": ("nullpointerexception", "rolled out", "rollout of", "illegalstateexception"),
}
BENIGN = ("during shutdown drain", "steady", "draining", "canary clean")  # look-alike lines say they are fine
POINTERS = re.compile(
    r"(?:upstream|circuit breaker open for|call to|calls to|response from|\d{3} from|waiting on) (\w+)"
)


@dataclass
class Reading:
    """What one service's logs said when last read."""

    step: int
    blames: dict[str, int] = field(default_factory=dict)  # callee -> lines that name it
    hits: dict[str, int] = field(default_factory=dict)  # fault mode -> signature words

    @property
    def blamed(self) -> str | None:
        return max(self.blames, key=self.blames.__getitem__) if self.blames else None

    @property
    def mode(self) -> str | None:
        best = max(self.hits, key=self.hits.__getitem__) if self.hits else None
        return best if best is not None and self.hits[best] > 0 else None


def read_lines(lines: list[str], known: set[str]) -> Reading:
    reading = Reading(step=0, hits=dict.fromkeys(FAULT_MODES, 0))
    for raw in lines:
        text = raw.lower()
        named = [m.group(1) for m in POINTERS.finditer(text) if m.group(1) in known]
        for callee in named:
            reading.blames[callee] = reading.blames.get(callee, 0) + 1
        if named or any(word in text for word in BENIGN):
            continue  # a line that points elsewhere, or says it is harmless, is no signature of this service
        for mode, words in SIGNATURES.items():
            reading.hits[mode] += sum(word in text for word in words)
    return reading


class ReasonerAgent(BaseAgent):
    name = "reasoner"

    def __init__(self, config: EnvConfig | None = None) -> None:
        super().__init__()
        self.config = config or load_config()

    def reset(self, observation: Observation) -> None:
        super().reset(observation)
        self.history: list[Observation] = []
        self._new_page(observation)

    def _new_page(self, observation: Observation) -> None:
        self.page = observation.page
        self.read: dict[str, Reading] = {}
        self.verdict: tuple[str, str] | None = None
        self.fix: tuple[str, str] | None = None  # (action, service) applied
        self.fixed_at: int | None = None
        self.second_restart = False
        self.callers = self._callers()

    def _callers(self) -> dict[str, list[str]]:
        callers: dict[str, list[str]] = {s.name: [] for s in self.config.services}
        for spec in self.config.services:
            for callee in spec.calls:
                callers[callee].append(spec.name)
        return callers

    # ------------------------------------------------------------------ the loop
    def act(self, obs: Observation) -> Action:
        if obs.page != self.page:
            self._new_page(obs)
        self.history.append(obs)
        if obs.logs is not None and obs.logs_service is not None:
            reading = read_lines([line.text for line in obs.logs], set(obs.services))
            reading.step = obs.step
            self.read[obs.logs_service] = reading
        if self.fix is None and self.verdict is None:
            self.verdict = self._conclude(obs)
        if self.verdict is not None and self.fix is None:
            service, mode = self.verdict
            if obs.can_diagnose and obs.diagnosis is None:
                self.last_reasoning = self._explain(service, mode)
                return Action("diagnose", service, mode)
            fix = self.config.fault_modes[mode].fix
            self.fix, self.fixed_at = (fix, service), obs.step + 1
            self.last_reasoning = f"committed to {service}/{mode}: the fix is {fix}"
            return Action(fix, service)  # type: ignore[arg-type]
        if self.fix is not None:
            return self._after_fix(obs)
        return self._investigate(obs)

    def _conclude(self, obs: Observation) -> tuple[str, str] | None:
        """A root: its logs blame nobody, show a signature, and a victim blames it (or it is the entry point)."""
        for service, reading in self.read.items():
            if reading.blamed is not None or reading.mode is None:
                continue
            blamed_by = [s for s, r in self.read.items() if r.blamed == service]
            entry = not self.callers.get(service)  # users are its callers: the page itself corroborates it
            if blamed_by or entry:
                return service, reading.mode
        return None

    def _looks_sick(self, obs: Observation, service: str) -> bool:
        view = obs.services[service]
        return view.status != "ok" or view.error_rate > 0.08 or view.latency_ms > 300 or view.stale

    def _investigate(self, obs: Observation) -> Action:
        # Follow the chain of blame: from the entry point down to the service that blames nobody.
        for service in self._entry_points():
            node = service
            seen = set()
            while node in self.read and node not in seen:
                seen.add(node)
                nxt = self.read[node].blamed
                if nxt is None:
                    break
                node = nxt
            if node not in self.read:
                why = "the entry point" if node == service else f"{self._pointer_chain(service, node)} blames it"
                self.last_reasoning = f"reading {node}'s logs: {why}"
                return Action("check_logs", node)
            reading = self.read[node]
            inconclusive = reading.blamed is None and reading.mode is None and obs.step - reading.step >= 1
            if inconclusive and (self._looks_sick(obs, node) or node != service):
                self.last_reasoning = f"{node} is blamed but its logs showed no signature yet: reading again"
                return Action("check_logs", node)
        # Nothing points anywhere yet (the fault may not have spread): read the worst-looking unread service.
        unread = [name for name in obs.services if name not in self.read]
        if unread:
            pick = max(unread, key=lambda name: self._badness(obs, name))
            self.last_reasoning = f"no pointer yet; {pick} looks worst of the services not read"
            return Action("check_logs", pick)
        oldest = min(self.read, key=lambda name: self.read[name].step)
        self.last_reasoning = f"no conclusive evidence; re-reading {oldest}"
        return Action("check_logs", oldest)

    def _entry_points(self) -> list[str]:
        return [name for name, callers in self.callers.items() if not callers]

    def _pointer_chain(self, start: str, end: str) -> str:
        chain, node = [start], start
        while node != end and node in self.read and self.read[node].blamed is not None and len(chain) < 8:
            node = self.read[node].blamed  # type: ignore[assignment]
            chain.append(node)
        return " -> ".join(chain[:-1]) or start

    def _badness(self, obs: Observation, name: str) -> float:
        view = obs.services[name]
        status = {"ok": 0.0, "degraded": 0.4, "down": 1.0}.get(view.status, 0.0)
        return view.error_rate + status + (0.5 if view.stale else 0.0)

    def _explain(self, service: str, mode: str) -> str:
        blamed_by = [s for s, r in self.read.items() if r.blamed == service]
        by = f"{', '.join(blamed_by)} blame{'s' if len(blamed_by) == 1 else ''} it" if blamed_by else "it is the entry"
        return f"{service}: {by}, it blames nobody, and its own logs show the {mode} signature"

    def _after_fix(self, obs: Observation) -> Action:
        _action, service = self.fix  # type: ignore[misc]
        mode = self.verdict[1] if self.verdict else None
        relapse = self.config.rules.relapse_after
        if mode == "memory_leak" and not self.second_restart and self.fixed_at is not None:
            memory = [o.services[service].memory for o in self.history[-3:]]
            climbing = len(memory) >= 2 and memory[-1] > memory[-2] + 2
            if obs.step >= self.fixed_at + relapse and (climbing or obs.step >= self.fixed_at + relapse + 1):
                self.second_restart = True
                self.last_reasoning = f"{service}'s memory climbs again {relapse} steps after the restart: restart"
                return Action("restart", service)
            self.last_reasoning = f"restarted {service}; a leak comes back {relapse} steps later, watching memory"
            return Action("wait")
        self.last_reasoning = "fix applied; waiting for recovery to be confirmed"
        return Action("wait")
