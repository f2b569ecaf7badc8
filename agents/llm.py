"""The LLM agent: a chat model (Groq, or any OpenAI-compatible server) plays MIRR from observations.

Each step the agent sends the rules in brief, the recent history (its actions, their results, the logs
it has read) and the current observation as text; the model answers one JSON object
`{"reasoning": "...", "action": {...}}` (JSON mode) and the agent turns it into an `Action`.

Failure policy (one rule each, tested in tests/test_llm*.py):
- no key             -> `LLMSetupError` from the constructor, before any episode starts.
- 401/403/404        -> `LLMError` ("key rejected", ...); later calls fail at once without a request.
- 429, 5xx, timeouts, connection errors -> the SDK retries with backoff honouring Retry-After,
                        then `LLMError`: the episode ends as `aborted` (still recorded, with the error).
- a reply that is not a usable action (not JSON, unknown action or service, empty) -> one corrective
  re-ask, then a `wait` marked `"fallback": true` with the raw reply in `last_details`. Never a crash.
The key never appears in `describe()`, `last_details`, error messages or request bodies.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import yaml

from mirr_tui.core import Action, EnvConfig, InvalidAction, Observation, coerce_action, load_config, render_observation

from .base import BaseAgent

GROQ_BASE_URL = "https://api.groq.com"
GROQ_PREFIX = "/openai/v1"  # the groq client puts this before every path; other servers do not want it
KEY_HELP = "export GROQ_API_KEY=... (get one at console.groq.com) or pass -o base_url=... for a local server"
MAX_RAW = 2000  # characters of an unusable reply kept in the replay

# Built-in defaults; openenv.yaml `llm:` overrides them, MIRR_LLM_* variables override that, and
# constructor arguments (`-o key=value`) override everything.
DEFAULTS: dict[str, Any] = {
    "model": "llama-3.3-70b-versatile",
    "temperature": 0.2,
    "max_tokens": 2048,
    "history": 8,
    "base_url": None,
    "timeout": 30.0,
    "retries": 3,
}

Message = dict[str, str]


class LLMSetupError(RuntimeError):
    """The agent cannot start: no key, or an option that makes no sense. Raised by the constructor."""


class LLMError(RuntimeError):
    """The model server refused or could not be reached after retries; ends the episode (aborted)."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        #: fatal errors (bad key, unknown model) will not get better: later calls fail at once.
        self.fatal = fatal


class ReplyError(ValueError):
    """The model's reply is not a usable action; the message is what the corrective re-ask says."""


# ------------------------------------------------------------------------------------ settings
@dataclass(frozen=True, slots=True)
class LLMSettings:
    model: str
    temperature: float
    max_tokens: int
    history: int
    base_url: str | None
    timeout: float
    retries: int
    api_key: str | None = field(default=None, repr=False)

    @property
    def is_groq(self) -> bool:
        return self.base_url is None or httpx.URL(self.base_url).host == "api.groq.com"

    @property
    def endpoint(self) -> str:
        """The URL the chat request goes to (a password in base_url masked), for messages and `mirr prompt`."""
        root = self.public()["base_url"] or GROQ_BASE_URL + GROQ_PREFIX
        return root + "/chat/completions"

    def public(self) -> dict[str, Any]:
        """Everything but the key (nor a password inside base_url): for describe(), replays and `mirr prompt`."""
        public = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
        if self.base_url and httpx.URL(self.base_url).userinfo:
            public["base_url"] = str(httpx.URL(self.base_url).copy_with(userinfo=b"***"))
        return public


def _manifest_defaults(path: Path | None) -> dict[str, Any]:
    """The `llm:` section of openenv.yaml (empty when absent)."""
    from mirr_tui.core.config import ConfigError, default_config_path

    try:
        source = path or default_config_path()
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, ConfigError, yaml.YAMLError):
        return {}  # the env's own config loader reports a broken manifest; here defaults suffice
    section = raw.get("llm") if isinstance(raw, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise LLMSetupError(f"{source}: llm: must be a mapping of option: value")
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise LLMSetupError(f"{source}: llm.{unknown[0]}: unknown option (known: {', '.join(DEFAULTS)})")
    return section


def _convert(name: str, value: Any, origin: str) -> Any:
    """Check and convert one option value; errors name the option and where it came from."""

    def bad(expected: str) -> LLMSetupError:
        return LLMSetupError(f"llm option {name}={value!r} ({origin}) must be {expected}")

    if name == "model":
        if not isinstance(value, str) or not value.strip():
            raise bad("a model id such as llama-3.3-70b-versatile")
        return value.strip()
    if name == "base_url":
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null", "groq")):
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise bad("an http(s) URL such as http://localhost:11434/v1")
        return value.strip().rstrip("/")
    kind, low, high = {
        "temperature": (float, 0.0, 2.0),
        "max_tokens": (int, 16, 131072),
        "history": (int, 0, 100),
        "timeout": (float, 0.1, 600.0),
        "retries": (int, 0, 10),
    }[name]
    try:
        if isinstance(value, bool):
            raise ValueError
        number = kind(value)
        if kind is int and isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError):
        raise bad(f"{'an integer' if kind is int else 'a number'} from {low:g} to {high:g}") from None
    if not low <= number <= high:
        raise bad(f"from {low:g} to {high:g}")
    return number


def resolve_settings(
    options: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    manifest: Path | None = None,
    require_key: bool = True,
) -> LLMSettings:
    """Options, then MIRR_LLM_* variables, then openenv.yaml `llm:`, then built-in defaults.

    The key: `api_key`, else GROQ_API_KEY for Groq, else MIRR_LLM_API_KEY for another server (the Groq
    key is never sent anywhere but api.groq.com); a local server may need none.
    """
    environ = os.environ if environ is None else environ
    options = dict(options or {})
    from_yaml = _manifest_defaults(manifest)
    values: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        variable = f"MIRR_LLM_{name.upper()}"
        if options.get(name) is not None:
            values[name] = _convert(name, options[name], f"option -o {name}")
        elif environ.get(variable):
            values[name] = _convert(name, environ[variable], f"from ${variable}")
        elif name in from_yaml:
            values[name] = _convert(name, from_yaml[name], "from openenv.yaml llm:")
        else:
            values[name] = default
    settings = LLMSettings(**values)
    key = options.get("api_key") or None
    if key is None:
        key = environ.get("GROQ_API_KEY") if settings.is_groq else environ.get("MIRR_LLM_API_KEY")
    key = key.strip() if isinstance(key, str) and key.strip() else None
    if key is None and require_key:
        if settings.is_groq:
            raise LLMSetupError(f"GROQ_API_KEY is not set: {KEY_HELP}")
        key = "unused"  # local servers (Ollama, vLLM without --api-key) ignore it
    return LLMSettings(**values, api_key=key)


# ------------------------------------------------------------------------------------ prompt
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


def request_params(settings: LLMSettings, messages: Sequence[Message]) -> dict[str, Any]:
    """The chat-completions request body (what `mirr prompt --json` prints and the SDK sends)."""
    # Groq deprecates max_tokens for max_completion_tokens; Ollama and older vLLM only know max_tokens.
    budget_key = "max_completion_tokens" if settings.is_groq else "max_tokens"
    return {
        "model": settings.model,
        "messages": list(messages),
        "temperature": settings.temperature,
        budget_key: settings.max_tokens,
        "response_format": {"type": "json_object"},
    }


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


# ------------------------------------------------------------------------------------ transport
@dataclass(slots=True)
class Reply:
    """One chat completion: the text and what it cost."""

    text: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    latency_s: float = 0.0
    retries: int = 0
    finish_reason: str | None = None


ChatFn = Callable[[Sequence[Message]], Reply]


class OpenAICompatTransport(httpx.BaseTransport):
    """Drop the `/openai/v1` the groq client inserts after a custom base URL.

    With base_url `http://localhost:11434/v1` the groq client asks for
    `/v1/openai/v1/chat/completions`; Ollama and vLLM serve `/v1/chat/completions`.
    """

    def __init__(self, base_url: str, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()
        base_path = httpx.URL(base_url).raw_path.rstrip(b"/")
        self.wrong_prefix = base_path + GROQ_PREFIX.encode()
        self.base_path = base_path

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path
        if path.startswith(self.wrong_prefix + b"/"):
            request.url = request.url.copy_with(raw_path=self.base_path + path[len(self.wrong_prefix) :])
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(exc, "message", "") or exc)


def _error_code(exc: Any) -> str | None:
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    return str(inner.get("code")) if isinstance(inner, dict) and inner.get("code") else None


class GroqChat:
    """The network seam: `chat(messages) -> Reply` through the groq SDK (any OpenAI-compatible server)."""

    def __init__(self, settings: LLMSettings, client: Any = None, transport: httpx.BaseTransport | None = None) -> None:
        import groq

        self.settings = settings
        if client is None:
            if settings.base_url is not None and not settings.base_url.endswith(GROQ_PREFIX):
                transport = OpenAICompatTransport(settings.base_url, transport)
            elif settings.base_url is not None:
                settings = _replace(settings, base_url=settings.base_url[: -len(GROQ_PREFIX)])
            client = groq.Groq(
                api_key=settings.api_key,
                base_url=settings.base_url or GROQ_BASE_URL,
                timeout=settings.timeout,
                max_retries=settings.retries,
                http_client=httpx.Client(transport=transport) if transport is not None else None,
            )
        self.client = client

    def _fail(self, message: str, fatal: bool = False) -> LLMError:
        key = self.settings.api_key
        if key and key != "unused":
            message = message.replace(key, "***")
        return LLMError(message, fatal=fatal)

    def __call__(self, messages: Sequence[Message]) -> Reply:
        import groq

        where = self.settings.endpoint
        tries = f"after {getattr(self.client, 'max_retries', self.settings.retries)} retries"
        started = time.perf_counter()
        try:
            raw = self.client.chat.completions.with_raw_response.create(**request_params(self.settings, messages))
        except groq.AuthenticationError as exc:
            raise self._fail(f"key rejected by {where} (401): {_server_message(exc)}", fatal=True) from None
        except groq.PermissionDeniedError as exc:
            raise self._fail(f"access denied by {where} (403): {_server_message(exc)}", fatal=True) from None
        except groq.NotFoundError as exc:
            raise self._fail(
                f"model {self.settings.model!r} not found at {where} (404): {_server_message(exc)}; pick another with -o model=...",
                fatal=True,
            ) from None
        except groq.BadRequestError as exc:
            if (
                _error_code(exc) == "json_validate_failed"
            ):  # JSON mode caught bad output: a bad reply, not a bad request
                body = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
                text = body.get("failed_generation") if isinstance(body, dict) else None
                return Reply(
                    text=text or "", latency_s=time.perf_counter() - started, finish_reason="json_validate_failed"
                )
            raise self._fail(f"request rejected by {where} (400): {_server_message(exc)}") from None
        except groq.RateLimitError as exc:
            raise self._fail(f"rate limited by {where} (429) {tries}: {_server_message(exc)}") from None
        except groq.APIStatusError as exc:
            raise self._fail(f"server error {exc.status_code} from {where} {tries}: {_server_message(exc)}") from None
        except groq.APITimeoutError:
            raise self._fail(f"no reply from {where} within {self.settings.timeout:g}s {tries}") from None
        except groq.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise self._fail(f"cannot reach {where} {tries}: {cause}") from None
        except groq.GroqError as exc:
            raise self._fail(f"unexpected reply from {where}: {exc}") from None
        try:
            completion = raw.parse()
            choice = completion.choices[0]
            text, finish = choice.message.content, choice.finish_reason
        except (groq.GroqError, IndexError, AttributeError, ValueError) as exc:
            raise self._fail(f"unexpected reply from {where}: {exc}") from None
        usage = completion.usage
        return Reply(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            total_tokens=int(getattr(usage, "total_tokens", 0) or 0),
            latency_s=time.perf_counter() - started,
            retries=int(getattr(raw, "retries_taken", 0) or 0),
            finish_reason=finish,
        )


def _replace(settings: LLMSettings, **changes: Any) -> LLMSettings:
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    values.update(changes)
    return LLMSettings(**values)


# ------------------------------------------------------------------------------------ agent
class LLMAgent(BaseAgent):
    """A chat model playing MIRR. Options: model, temperature, max_tokens, history, base_url, timeout, retries.

    `chat` (a `ChatFn`), `client` (a groq.Groq) or `transport` (an httpx transport) replace the network
    in tests; `environ` and `manifest` replace os.environ and openenv.yaml when resolving options.
    """

    name = "llm"

    def __init__(
        self,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        history: int | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        api_key: str | None = None,
        *,
        config: EnvConfig | None = None,
        chat: ChatFn | None = None,
        client: Any = None,
        transport: httpx.BaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
        manifest: Path | None = None,
    ) -> None:
        super().__init__()
        options = {
            "model": model,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "history": history,
            "base_url": base_url,
            "timeout": timeout,
            "retries": retries,
            "api_key": api_key,
        }
        needs_key = chat is None and client is None
        self.settings = resolve_settings(options, environ=environ, manifest=manifest, require_key=needs_key)
        self.config = config or load_config()
        self.system = system_prompt(self.config)
        self.chat: ChatFn = chat or GroqChat(self.settings, client=client, transport=transport)
        self.transcript = Transcript(self.settings.history, self.config.rules.max_steps)
        self._fatal: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.settings.public()}

    def reset(self, observation: Observation) -> None:
        super().reset(observation)
        self.transcript = Transcript(self.settings.history, self.config.rules.max_steps)

    def messages(self, obs: Observation) -> list[Message]:
        """The messages for this step (after `observe`)."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.transcript.user_message(obs)},
        ]

    def act(self, obs: Observation) -> Action:
        self.transcript.observe(obs, self.last_reasoning)
        messages = self.messages(obs)
        details: dict[str, Any] = {
            "model": self.settings.model,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "latency_s": 0.0,
            "retries": 0,
            "calls": 0,
            "fallback": False,
        }
        self.last_details, self.last_reasoning = details, None
        services = list(obs.services)
        reply = self._call(messages, details)
        try:
            action, reasoning, extracted = parse_reply(reply.text, services)
        except ReplyError as first:
            details.update(raw=_clip(reply.text or "", MAX_RAW), parse_error=str(first), reasked=True)
            retry_messages = [
                *messages,
                {"role": "assistant", "content": _clip(reply.text or "", MAX_RAW)},
                {"role": "user", "content": corrective_message(first)},
            ]
            second_reply = self._call(retry_messages, details)
            try:
                action, reasoning, extracted = parse_reply(second_reply.text, services)
            except ReplyError as second:
                details.update(
                    raw_first=details["raw"], raw=_clip(second_reply.text or "", MAX_RAW), parse_error=str(second)
                )
                details["fallback"] = True
                self.last_reasoning = (
                    f"(fallback: the model's reply was unusable twice, last because {second}; waiting)"
                )
                return Action("wait")
        if extracted:
            details["extracted"] = True  # the JSON came wrapped in prose or code fences
        self.last_reasoning = reasoning or None
        return action

    def _call(self, messages: Sequence[Message], details: dict[str, Any]) -> Reply:
        if self._fatal is not None:
            raise LLMError(self._fatal, fatal=True)
        try:
            reply = self.chat(messages)
        except LLMError as exc:
            if exc.fatal:
                self._fatal = str(exc)
            raise
        details["calls"] += 1
        details["prompt_tokens"] += reply.prompt_tokens
        details["completion_tokens"] += reply.completion_tokens
        details["total_tokens"] += reply.total_tokens
        details["latency_s"] = round(details["latency_s"] + reply.latency_s, 4)
        details["retries"] += reply.retries
        if reply.finish_reason and reply.finish_reason != "stop":
            details["finish_reason"] = reply.finish_reason  # e.g. "length": raise max_tokens
        return reply


def preview_request(
    obs: Observation, config: EnvConfig | None = None, **options: Any
) -> tuple[LLMSettings, dict[str, Any]]:
    """The settings and the exact request body the agent would send for `obs` as its first step (no key)."""
    agent = LLMAgent(**{**options, "api_key": None}, config=config, chat=_no_network)
    agent.reset(obs)
    agent.transcript.observe(obs, None)
    return agent.settings, request_params(agent.settings, agent.messages(obs))


def _no_network(messages: Sequence[Message]) -> Reply:  # pragma: no cover - preview never calls it
    raise LLMError("preview only: nothing is sent")
