"""What the LLM agent says and reads: the system prompt, the per-step transcript, reply parsing.

Part of the LLM agent (agents/llm.py re-exports its public names).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mirr_tui.core import (
    ACTION_TYPES,
    FIX_TYPES,
    Action,
    EnvConfig,
    InvalidAction,
    Observation,
    coerce_action,
    render_observation,
)
from mirr_tui.core.logs import ROUTINE, named_service

Message = dict[str, str]


class ReplyError(ValueError):
    """The model's reply is not a usable action; the message is what the corrective re-ask says."""


# Words of each mode's signature lines in the root's own logs (mirr_tui/core/logs.py; a test keeps them in step).
LOG_SIGNATURES: dict[str, str] = {
    "crashed": "SIGSEGV, CrashLoopBackOff",
    "memory_leak": "heap usage, GC overhead, OutOfMemoryError",
    "overloaded": "queue depth, thread pool exhausted, shedding load",
    "bad_deploy": "rolled out, NullPointerException",
}


def system_prompt(config: EnvConfig) -> str:
    """The rules in brief, built from the manifest so a changed rule changes the prompt."""
    rules, rewards = config.rules, config.rewards
    services = "\n".join(
        f"- {s.name} -> {', '.join(s.calls) or 'nothing'}: {s.role}"
        + (" (health check calls its dependencies)" if s.deep_health_check else " (shallow health check)")
        for s in config.services
    )
    modes = "\n".join(
        f"- {m.name}: {m.signature}."
        + (f" Log words: {LOG_SIGNATURES[m.name]}." if m.name in LOG_SIGNATURES else "")
        + f" Fix: {m.fix}."
        for m in config.fault_modes.values()
    )
    names = ", ".join(config.service_names)
    called = {callee for s in config.services for callee in s.calls}
    entry = " or ".join(s.name for s in config.services if s.name not in called) or config.services[0].name
    noise = sorted({round(d.noise * 100) for d in config.difficulties.values()})
    noise_text = f"{noise[0]}%" if len(noise) == 1 else f"{noise[0]}-{noise[-1]}%"
    compound = [name for name, d in config.difficulties.items() if d.compound > 0]
    compound += [f"in scenario {name}" for name, sc in config.scenarios.items() if sc.second is not None]
    second_page = (
        f'\nAt {" and ".join(compound)} a second fault can follow a fix: the message says "paged again", the page'
        " number rises, and diagnose opens again for the new fault."
        if compound
        else ""
    )
    return f"""You are the on-call engineer in MIRR, an incident-response game. {len(config.services)} microservices; a hidden fault in one of them pages you. Find the root cause, commit to a diagnosis, apply the right fix, then wait until recovery is confirmed, all within {rules.max_steps} steps.

Services (caller -> callees):
{services}

How to find the root cause:
- Metrics (noise ±{noise_text}) do not name it: errors and latency pass up through callers, and the root can look healthy (silent) or show a stale scrape ("metrics stale" alert: frozen numbers, not health). Health checks can say ok while requests fail.
- Logs decide. A victim blames the callee it waits on ("upstream payment timed out", "502 from payment", "waiting on payment"). Follow the blame from {entry} down to the service that blames nobody and whose own logs show a signature.
- Trust a signature only where a victim blames that service: a bystander can carry a benign decoy (canary, steady heap, cpu spike, flapping replica) with real-looking signature lines that nobody blames, and a victim blocked on its callee shows thread-pool or queue lines but names the callee.
- From step {rules.cascade_start} an untreated fault spreads; left alone the system collapses.

Fault modes (metrics unless masked or silent. log words. fix):
{modes}
- memory_leak comes back {rules.relapse_after} steps after the first restart; restart it again then.

Actions (one step each; services: {names}):
- {{"type": "check_logs", "service": S}}: the next observation shows S's recent log lines.
- {{"type": "diagnose", "service": S, "mode": M}}: commit to the root cause (M: {", ".join(config.fault_modes)}); once per page, and only before the first fix (restart, rollback or scale_up on any service): after a fix it is invalid. The observation says whether diagnose is open.
- {{"type": "restart" | "rollback" | "scale_up", "service": S}}: a fix.
- {{"type": "circuit_break", "service": S}}: open (again: close) the breakers in front of S: callers serve degraded responses and stop blaming S in their logs; on the root it stops the cascade. Not a fix; a fix on S closes them; recovery needs every breaker closed.
- {{"type": "wait"}}: observe one more step.{second_page}

Rules v2 in short: commit before you fix (read logs, then diagnose once per page, then fix: a diagnose after any fix of this page is invalid, {rewards.invalid:+g}); every verdict row (diagnosis, fix, recovery) is settled at the end, so a move's own reward stays 0 until then; a recovery needs {rules.confirm_steps} healthy steps in a row after the fix, so wait once the root is fixed.

Scoring: verdicts on the hidden truth are decided at their step but paid only when the episode ends: diagnosis {rewards.correct_diagnosis:+g} right, {rewards.wrong_diagnosis:+g} wrong; the right fix on the root {rewards.correct_fix:+g} after a correct diagnosis, {rewards.lucky_fix:+g} without; any other fix {rewards.wrong_fix:+g}; recovery (every service healthy {rules.confirm_steps} steps in a row) {rewards.recovery_diagnosed:+g} if every diagnosis was right, {rewards.recovery_undiagnosed:+g} if not, plus {rewards.efficiency_per_step:+g} per unused step; collapse {rewards.collapse:+g}, timeout {rewards.timeout:+g}. Until the end only an invalid action ({rewards.invalid:+g}) moves the score, so a 0 after a diagnose or fix is no verdict.

Answer with one JSON object and nothing else, in this form:
{{"reasoning": "{SAMPLE_REASONING}", "action": {{"type": "check_logs", "service": "payment"}}}}"""


@dataclass(slots=True)
class StepRecord:
    step: int
    action: str
    reward: float
    result: str
    learned: bool = True  # False: the same move as before, and it showed nothing new


@dataclass(slots=True)
class LogNote:
    """What one read of a service's logs showed: its distinct lines (with counts) and whom they blame."""

    step: int
    page: int
    lines: list[tuple[str, int]]  # (line, times seen), first appearance first; routine lines left out
    blames: list[str]  # services named by this service's warnings and errors
    routine: int = 0  # routine lines (health checks, request counts, ...: mirr_tui.core.logs.ROUTINE)

    @classmethod
    def of(cls, obs: Observation, services: Sequence[str]) -> LogNote:
        counts: dict[str, int] = {}
        blames: list[str] = []
        routine = 0
        for line in obs.logs or ():
            if any(pattern.fullmatch(line.text) for pattern in _ROUTINE):
                routine += 1
                continue
            text = _REQUEST_ID.sub("", f"{line.level:<5} {line.text}").rstrip()
            counts[text] = counts.get(text, 0) + 1
            if line.level in ("WARN", "ERROR"):
                named = named_service(line.text, [s for s in services if s != obs.logs_service])
                if named is not None and named not in blames:
                    blames.append(named)
        return cls(obs.step, obs.page, list(counts.items()), blames, routine)


_REQUEST_ID = re.compile(r" \(request id [0-9a-f]+\)")
_ROUTINE = [re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(text))) for _, text in ROUTINE]


class Transcript:
    """What the agent remembers of an episode, as a notebook of evidence rather than a transcript.

    It keeps what each service's logs showed (distinct lines, whom they blame), what each move did (repeats
    folded, a note when a move was repeated and showed nothing new) and what is still open. The model's own
    earlier reasoning is not quoted back: a small model copies it (and its clipping) instead of thinking.
    """

    def __init__(self, history: int, max_steps: int) -> None:
        self.max_steps = max_steps
        self.history = history
        self.steps: list[StepRecord] = []
        self.logs: dict[str, LogNote] = {}

    def observe(self, obs: Observation, sent: Action | None = None) -> None:
        """Take in the result of the previous action (what `obs` reports about it); `sent` is the action the
        agent sent, shown if the env could not record the move itself (garbage is recorded as its text)."""
        if obs.action is None:
            return
        if "raw" not in obs.action:
            shown = " ".join(str(v) for v in obs.action.values())
        elif sent is not None:
            shown = " ".join(sent.to_dict().values())
        else:
            shown = str(obs.action["raw"])
        result = obs.message if obs.valid else f"INVALID: {obs.error or obs.message}"
        learned = True
        if obs.logs is not None and obs.logs_service is not None:
            note = LogNote.of(obs, list(obs.services))
            before = self.logs.get(obs.logs_service)
            learned = before is None or before.lines != note.lines or before.page != note.page
            self.logs[obs.logs_service] = note
        elif shown != "wait":
            learned = not any(r.action == shown and r.result == result for r in self.steps)
        self.steps.append(StepRecord(obs.step, shown, obs.reward, result, learned))

    def _moves(self) -> list[str]:
        """One line per run of the same move with the same result, oldest first."""
        runs: list[list[StepRecord]] = []
        for record in self.steps:
            last = runs[-1][-1] if runs else None
            if last and last.action == record.action and last.result == record.result and last.step + 1 == record.step:
                runs[-1].append(record)
            else:
                runs.append([record])
        lines = []
        for run in runs:
            first, last = run[0], run[-1]
            steps = f"step {first.step}" if len(run) == 1 else f"steps {first.step}-{last.step}"
            times = f" x{len(run)}" if len(run) > 1 else ""
            # Mid-episode rewards are only ever the invalid row: a 0 is no verdict, so it is not shown.
            paid = sum(r.reward for r in run)
            lines.append(f"  {steps}: {first.action}{times}{f' ({paid:+g})' if paid else ''} -> {first.result}")
        return lines

    def user_message(self, obs: Observation) -> str:
        parts = []
        earlier = {s: n for s, n in self.logs.items() if n.step != obs.step}
        if earlier:
            parts.append("Notebook: what the logs you read showed")
            for service, note in earlier.items():
                before = f", before page {obs.page}" if note.page < obs.page else ""
                blamed_by = [s for s, n in self.logs.items() if service in n.blames]
                pointers = f"blames {', '.join(note.blames)}" if note.blames else "blames nobody"
                if blamed_by:
                    pointers += f"; blamed by {', '.join(blamed_by)}"
                parts.append(f"  {service} (step {note.step}{before}; {pointers}):")
                parts.extend(f"    {line}" + (f" (x{n})" if n > 1 else "") for line, n in note.lines)
                if note.routine:
                    parts.append(f"    ({note.routine} routine lines: health checks, request counts, pools)")
        if self.history and self.steps:
            moves = self._moves()
            shown = moves[-self.history :]
            parts.append(f"Your moves ({len(self.steps)} so far, oldest first, repeats folded):")
            if len(moves) > len(shown):
                parts.append(f"  ({len(moves) - len(shown)} earlier line(s) left out)")
            parts.extend(shown)
            repeated = sorted({r.action for r in self.steps if not r.learned})
            if repeated:
                parts.append(
                    "Note: you repeated "
                    + ", ".join(repeated)
                    + " and learned nothing new from it; the same move again will not change that."
                )
        parts.append("Current observation:")
        parts.append(render_observation(obs, self.max_steps))
        parts.append(status_line(obs))
        parts.append(self.open_line(obs))
        parts.append('Reply with the JSON object {"reasoning": ..., "action": {...}} for your next action.')
        return "\n".join(parts)

    def open_line(self, obs: Observation) -> str:
        """Which moves are still open: services whose logs are unread, and whether diagnose is allowed."""
        unread = [s for s in obs.services if s not in self.logs]
        moves = [t for t in ACTION_TYPES if t != "diagnose" or obs.can_diagnose]
        return (
            f"Still open: logs not read yet: {', '.join(unread) or 'none'} · moves you can make now: {', '.join(moves)}"
        )


def reply_schema(obs: Observation, modes: Sequence[str]) -> dict[str, Any]:
    """A JSON schema of a reply whose action is one of the moves valid now (no diagnose once committed or
    after a fix; only this incident's services; only known fault modes). Servers that take it (llama.cpp,
    vLLM, Ollama) can only produce such a reply, so a small model cannot run away into noise."""
    services = {"type": "string", "enum": list(obs.services)}

    def move(types: Sequence[str], **fields: Any) -> dict[str, Any]:
        properties = {"type": {"type": "string", "enum": list(types)}, **fields}
        return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}

    moves = [move(["check_logs"], service=services)]
    if obs.can_diagnose:
        moves.append(move(["diagnose"], service=services, mode={"type": "string", "enum": list(modes)}))
    moves += [move(FIX_TYPES, service=services), move(["circuit_break"], service=services), move(["wait"])]
    return {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string", "maxLength": SCHEMA_REASONING},
            "action": {"anyOf": moves},
        },
        "required": ["reasoning", "action"],
        "additionalProperties": False,
    }


SCHEMA_REASONING = 400  # characters of reasoning a schema allows: two sentences, never a runaway


def status_line(obs: Observation) -> str:
    """Page, whether diagnose is legal now and the open breakers: what render_observation does not say."""
    if obs.can_diagnose:
        diagnose = "open (no fix yet on this page)"
    elif obs.diagnosis is not None:
        diagnose = "closed (committed on this page)"
    else:
        diagnose = "closed (a fix already ran on this page)"
    page = f"page {obs.page}" + (" (a second incident)" if obs.page > 1 else "")
    breakers = ", ".join(obs.breakers) or "none"
    return f"{page} · diagnose: {diagnose} · breakers open in front of: {breakers}"


# ------------------------------------------------------------------------------------ replies
def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_REASONING = 2000  # characters of the model's reasoning kept per step (like MAX_RAW for raw replies)
MAX_ERROR = 300  # characters of a parse error kept (it can quote the reply's values)
MAX_STARTS = 50  # places a JSON object is looked for inside prose (bounds the work on a huge reply)


def _extract_json(text: str) -> tuple[Any, bool]:
    """The JSON value in `text` and whether prose or code fences had to be stripped around it.

    JSON nested too deep for the parser or holding an integer too long to convert is not JSON here.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped), False
    except json.JSONDecodeError:
        pass
    except (RecursionError, ValueError):
        raise ReplyError("the reply is not usable JSON (nested too deep or a number too long)") from None
    decoder = json.JSONDecoder()
    start = stripped.find("{")
    for _ in range(MAX_STARTS):
        if start == -1:
            break
        try:
            value, _ = decoder.raw_decode(stripped, start)
            return value, True
        except json.JSONDecodeError:
            start = stripped.find("{", start + 1)
        except (RecursionError, ValueError):
            raise ReplyError("the reply is not usable JSON (nested too deep or a number too long)") from None
    raise ReplyError("the reply is not JSON")


def parse_reply(text: str | None, services: Sequence[str]) -> tuple[Action, str, bool]:
    """(action, reasoning, extracted_from_prose) from a model reply, or raise ReplyError saying why.

    The reasoning is clipped to MAX_REASONING characters and error messages to MAX_ERROR; a reply the
    parser cannot take (too deep, a giant number) is a ReplyError like any unusable reply.
    """
    try:
        return _parse_reply(text, services)
    except ReplyError as exc:
        raise ReplyError(_clip(str(exc), MAX_ERROR)) from None
    except (RecursionError, ValueError, TypeError) as exc:
        raise ReplyError(_clip(f"the reply is not a usable action ({type(exc).__name__})", MAX_ERROR)) from None


def _parse_reply(text: str | None, services: Sequence[str]) -> tuple[Action, str, bool]:
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
    return action, _clip(reasoning, MAX_REASONING), extracted


def corrective_message(error: ReplyError) -> str:
    """The re-ask after an unusable reply. It holds no sample reasoning: a small model copies any it is shown
    (with the sample's move) instead of reasoning about the incident."""
    return (
        f"Your reply could not be used: {error}. Answer again with only one JSON object with two keys: "
        '"reasoning" (your own one or two sentences about the evidence above) and "action" (one move, such as '
        '{"type": "check_logs", "service": S} with S one of the services). '
        f"Action types: {', '.join(ACTION_TYPES)}."
    )


# The reasoning of the system prompt's sample reply: a reply that only repeats it explains nothing.
SAMPLE_REASONING = "one or two sentences: what the evidence says and why this action"


def copied_reasoning(reasoning: str) -> bool:
    """Whether `reasoning` is a copy of the prompt's sample reasoning rather than the model's own words."""
    words = " ".join(reasoning.lower().split()).strip(" .\"'")
    return len(words) >= 20 and (words in SAMPLE_REASONING or SAMPLE_REASONING.startswith(words[:40]))
