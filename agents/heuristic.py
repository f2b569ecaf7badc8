"""Log-aware heuristic: suspect from metrics, read logs, follow upstream pointers to the root cause,
diagnose, apply the mode's fix, handle the memory-leak relapse, wait out the confirm window."""

from __future__ import annotations

import re

from mirr_tui.core import Action, EnvConfig, Observation, ServiceView, load_config

from .base import BaseAgent

SIGNATURE_WORDS: dict[str, tuple[str, ...]] = {
    "crashed": ("sigsegv", "segfault", "crashloopbackoff", "exited with code 139", "core dumped"),
    "memory_leak": ("outofmemoryerror", "oomkilled", "heap usage", "gc overhead", "full gc pause"),
    "overloaded": ("queue depth", "thread pool exhausted", "cpu saturation"),
    "bad_deploy": ("nullpointerexception", "rolled out", "rollout of", "illegalstateexception"),
}
POINTER = re.compile(r"(?:upstream|circuit breaker open for|call to|from) (\w+)")


def signature_hits(lines: list[str]) -> dict[str, int]:
    """How many signature words of each fault mode the lines contain."""
    hits = dict.fromkeys(SIGNATURE_WORDS, 0)
    for raw in lines:
        text = raw.lower()
        for mode, words in SIGNATURE_WORDS.items():
            hits[mode] += sum(word in text for word in words)
    return hits


def read_signature(lines: list[str]) -> tuple[str | None, str | None]:
    """(fault mode whose signature the lines show at least twice, callee a victim's lines point to)."""
    hits = signature_hits(lines)
    pointers: dict[str, int] = {}
    for raw in lines:
        for match in POINTER.finditer(raw.lower()):
            pointers[match.group(1)] = pointers.get(match.group(1), 0) + 1
    mode = max(hits, key=hits.__getitem__)
    callee = max(pointers, key=pointers.__getitem__) if pointers else None
    return (mode if hits[mode] >= 2 else None), callee


def corroborated_signature(lines: list[str], view: ServiceView) -> str | None:
    """A single signature line counts only if the service's own metrics say it is failing (at hard, a
    bystander's log may carry one look-alike word: a harmless deploy, a steady heap)."""
    found = [mode for mode, n in signature_hits(lines).items() if n > 0]
    failing = view.error_rate > 0.1 or view.status != "ok" or view.cpu > 85 or view.memory > 80
    return found[0] if len(found) == 1 and failing else None


def suspicion(view: ServiceView) -> float:
    """How likely a service is the root cause from metrics alone (victims also look bad)."""
    score = view.error_rate + (0.5 if view.status == "down" else 0.2 if view.status == "degraded" else 0.0)
    if view.memory > 80:
        score += 1.0
    if view.cpu > 85:
        score += 1.0
    if view.status == "down" and view.error_rate > 0.8:
        score += 0.6
    if view.status == "ok" and view.error_rate > 0.2:
        score += 0.3  # a health check that says ok while failing: a bad deploy, or a shallow victim
    return score


class HeuristicAgent(BaseAgent):
    name = "heuristic"

    def __init__(self, config: EnvConfig | None = None) -> None:
        super().__init__()
        self.config = config or load_config()

    def reset(self, observation: Observation) -> None:
        super().reset(observation)
        self.page = observation.page
        self.read: dict[str, tuple[str | None, str | None]] = {}
        self.found: tuple[str, str] | None = None
        self.fixed_at: int | None = None  # step at which our fix ran
        self.restarted_again = False

    def act(self, obs: Observation) -> Action:
        if obs.page != self.page:  # paged again: a new incident, investigated afresh
            self.reset(obs)
        if obs.logs is not None and obs.logs_service is not None:
            lines = [line.text for line in obs.logs]
            mode, callee = read_signature(lines)
            if mode is None and callee is None:
                mode = corroborated_signature(lines, obs.services[obs.logs_service])
            self.read[obs.logs_service] = (mode, callee)
            if mode is not None:
                self.found = (obs.logs_service, mode)
        if self.found is not None and obs.can_diagnose and obs.diagnosis is None:
            service, mode = self.found
            self.last_reasoning = f"{service} logs show the {mode} signature: committing to {service}/{mode}"
            return Action("diagnose", service, mode)
        target = self.found
        if target is None and obs.diagnosis is not None:
            target = (obs.diagnosis["service"], obs.diagnosis["mode"])
        if target is not None:
            return self._treat(obs, *target)
        return self._investigate(obs)

    def _treat(self, obs: Observation, service: str, mode: str) -> Action:
        fix = self.config.fault_modes[mode].fix
        if self.fixed_at is None:
            self.fixed_at = obs.step + 1
            self.last_reasoning = f"{mode} on {service}: the fix is {fix}"
            return Action(fix, service)  # type: ignore[arg-type]
        relapse = self.config.rules.relapse_after
        if mode == "memory_leak" and not self.restarted_again:
            if obs.step >= self.fixed_at + relapse:
                self.restarted_again = True
                self.last_reasoning = (
                    f"the leak in {service} is back {relapse} steps after the restart: restarting again"
                )
                return Action("restart", service)
            self.last_reasoning = f"restarted {service}; a leak returns {relapse} steps later, so I wait for it"
            return Action("wait")
        self.last_reasoning = "fix applied; waiting for recovery to be confirmed"
        return Action("wait")

    def _investigate(self, obs: Observation) -> Action:
        # Follow a pointer from logs already read to a callee not yet read.
        for _service, (_mode, callee) in self.read.items():
            if callee is not None and callee in obs.services and callee not in self.read:
                self.last_reasoning = f"{_service} waits on {callee}: reading {callee}'s logs"
                return Action("check_logs", callee)
        unread = [v for name, v in obs.services.items() if name not in self.read]
        if unread:
            best = max(unread, key=suspicion)
            self.last_reasoning = (
                f"{best.name} looks most suspicious (errors {best.error_rate:.0%}, {best.status}): reading its logs"
            )
            return Action("check_logs", best.name)
        # Everything read and nothing conclusive: read again the most suspicious service.
        self.read.clear()
        best = max(obs.services.values(), key=suspicion)
        self.last_reasoning = f"no signature found yet; re-reading {best.name}"
        return Action("check_logs", best.name)
