"""What the LLM agent says and reads: the system prompt, the per-step transcript, reply parsing.

Part of the LLM agent (agents/llm.py re-exports its public names).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mirr_tui.core import Action, EnvConfig, InvalidAction, Observation, coerce_action, render_observation

Message = dict[str, str]


class ReplyError(ValueError):
    """The model's reply is not a usable action; the message is what the corrective re-ask says."""


def system_prompt(config: EnvConfig) -> str:
    """The rules in brief, built from the manifest so a changed rule changes the prompt."""
    rules, rewards = config.rules, config.rewards
    services = "\n".join(
        f"- {s.name} -> {', '.join(s.calls) or 'nothing'}: {s.role}"
        + (" (health check calls its dependencies)" if s.deep_health_check else " (shallow health check)")
        for s in config.services
    )
    modes = "\n".join(f"- {m.name}: {m.signature}. Fix: {m.fix}." for m in config.fault_modes.values())
    names = ", ".join(config.service_names)
    return f"""You are the on-call engineer in MIRR, an incident-response game. {len(config.services)} microservices, one hidden fault in one of them. Find the root cause, commit to a diagnosis, apply the right fix, then wait until recovery is confirmed, all within {rules.max_steps} steps.

Services (caller -> callees):
{services}

How to read the evidence:
- Metrics are noisy (about ±15%). Symptoms travel upstream one hop per step, so the worst-looking service is often a victim, not the root cause.
- Health checks lie: a bad deploy answers ok while failing requests; a leaking service says ok until memory is nearly full.
- Logs are the decisive clue: a victim's logs name the callee it waits on ("upstream payment timed out"); the root cause's logs show its fault mode's signature.
- Logs also carry red herrings (at hard, lines that look like a signature: a harmless deploy, a steady heap). Trust a signature line when the service's own metrics agree.
- From step {rules.cascade_start} an untreated fault spreads; left alone the system collapses.

Fault modes (signature. fix):
{modes}
- memory_leak comes back {rules.relapse_after} steps after the first restart; restart it again then.

Actions (each costs one step; services: {names}):
- {{"type": "check_logs", "service": S}}: the next observation shows S's recent log lines.
- {{"type": "diagnose", "service": S, "mode": M}}: commit to the root cause (M: {", ".join(config.fault_modes)}); once per episode ({rewards.correct_diagnosis:+g} right, {rewards.wrong_diagnosis:+g} wrong).
- {{"type": "restart" | "rollback" | "scale_up", "service": S}}: a fix; the right fix on the root cause pays {rewards.correct_fix:+g} after a correct diagnosis, any other fix {rewards.wrong_fix:+g}.
- {{"type": "wait"}}: observe one more step.
Recovery is confirmed when every service stays healthy for {rules.confirm_steps} steps in a row: {rewards.recovery_diagnosed:+g} with a correct diagnosis, plus {rewards.efficiency_per_step:+g} per unused step. Collapse {rewards.collapse:+g}, timeout {rewards.timeout:+g}, invalid action {rewards.invalid:+g}.

Answer with one JSON object and nothing else, in this form:
{{"reasoning": "one or two sentences: what the evidence says and why this action", "action": {{"type": "check_logs", "service": "payment"}}}}"""


@dataclass(slots=True)
class StepRecord:
    step: int
    action: str
    reward: float
    result: str
    reasoning: str | None


class Transcript:
    """What the agent remembers of an episode: recent steps and the latest logs read per service."""

    def __init__(self, history: int, max_steps: int) -> None:
        self.max_steps = max_steps
        self.steps: deque[StepRecord] = deque(maxlen=max(history, 1))
        self.history = history
        self.logs: dict[str, tuple[int, list[str]]] = {}

    def observe(self, obs: Observation, reasoning: str | None) -> None:
        """Take in the result of the previous action (what `obs` reports about it)."""
        if obs.action is None:
            return
        shown = obs.action.get("raw") if "raw" in obs.action else " ".join(str(v) for v in obs.action.values())
        result = obs.message if obs.valid else f"INVALID: {obs.error or obs.message}"
        self.steps.append(StepRecord(obs.step, str(shown), obs.reward, result, reasoning))
        if obs.logs is not None and obs.logs_service is not None:
            self.logs[obs.logs_service] = (obs.step, [f"{line.level:<5} {line.text}" for line in obs.logs])

    def user_message(self, obs: Observation) -> str:
        parts = []
        earlier_logs = {s: v for s, v in self.logs.items() if v[0] != obs.step}
        if earlier_logs:
            parts.append("Logs you read earlier:")
            for service, (step, lines) in earlier_logs.items():
                parts.append(f"  {service} (step {step}):")
                parts.extend(f"    {line}" for line in lines)
        if self.history and self.steps:
            parts.append(f"Your last {len(self.steps)} step(s), oldest first:")
            for record in self.steps:
                line = f"  step {record.step}: {record.action} -> {record.reward:+g}; {record.result}"
                if record.reasoning:
                    line += f' (you thought: "{_clip(record.reasoning, 200)}")'
                parts.append(line)
        parts.append("Current observation:")
        parts.append(render_observation(obs, self.max_steps))
        parts.append('Reply with the JSON object {"reasoning": ..., "action": {...}} for your next action.')
        return "\n".join(parts)


# ------------------------------------------------------------------------------------ replies
def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _extract_json(text: str) -> tuple[Any, bool]:
    """The JSON value in `text` and whether prose or code fences had to be stripped around it."""
    stripped = text.strip()
    try:
        return json.loads(stripped), False
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    start = stripped.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(stripped, start)
            return value, True
        except json.JSONDecodeError:
            start = stripped.find("{", start + 1)
    raise ReplyError("the reply is not JSON")


def parse_reply(text: str | None, services: Sequence[str]) -> tuple[Action, str, bool]:
    """(action, reasoning, extracted_from_prose) from a model reply, or raise ReplyError saying why."""
    if not text or not text.strip():
        raise ReplyError("the reply was empty")
    value, extracted = _extract_json(text)
    if not isinstance(value, dict):
        raise ReplyError(f"the reply is a JSON {type(value).__name__}, not an object")
    raw_action = value.get("action")
    if raw_action is None and "type" in value:  # the action's fields at the top level
        raw_action = {k: value[k] for k in ("type", "service", "mode") if k in value}
    if raw_action is None:
        raise ReplyError('the reply has no "action"')
    if isinstance(raw_action, dict):
        raw_action = {k: v for k, v in raw_action.items() if v not in (None, "")}
        if str(raw_action.get("type", "")).strip().lower() in ("wait", "noop"):
            raw_action = {"type": "wait"}
    try:
        action = coerce_action(raw_action)
    except InvalidAction as exc:
        raise ReplyError(str(exc)) from None
    if action.service is not None and action.service not in services:
        raise ReplyError(f"unknown service {action.service!r}: use one of {', '.join(services)}")
    reasoning = value.get("reasoning")
    reasoning = reasoning.strip() if isinstance(reasoning, str) else json.dumps(reasoning) if reasoning else ""
    return action, reasoning, extracted


def corrective_message(error: ReplyError) -> str:
    return (
        f"Your reply could not be used: {error}. Answer again with only one JSON object, for example "
        '{"reasoning": "payment errors are high while its check says ok", "action": {"type": "check_logs", '
        '"service": "payment"}}. Action types: check_logs, diagnose, restart, rollback, scale_up, wait.'
    )
