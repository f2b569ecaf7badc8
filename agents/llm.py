"""The LLM agent: a chat model (Groq, or any OpenAI-compatible server) plays MIRR from observations.

Each step the agent sends the rules in brief, a notebook of evidence (what each log read showed, what
each move did, repeats folded and noted; never its own earlier reasoning), the current observation as
text, one line with the page, whether diagnose is still open and the open breakers, and one with what is
still open; the model answers one JSON object `{"reasoning": "...", "action": {...}}` and the agent turns
it into an `Action`. Servers other than Groq get a JSON schema whose action enumerates the moves valid
now (falling back to JSON mode where refused); `cancel()` gives up on a request in flight.

Failure policy (one rule each, tested in tests/test_llm*.py):
- no key             -> `LLMSetupError` from the constructor, before any episode starts.
- 401/403/404        -> `LLMError` ("key rejected", ...); later calls fail at once without a request.
- 429, 5xx, timeouts, connection errors -> the SDK retries with backoff honouring Retry-After,
                        then `LLMError`: the episode ends as `aborted` (still recorded, with the error).
- a reply that is not a usable action (not JSON, unknown action or service, empty) -> one corrective
  re-ask, then a `wait` marked `"fallback": true` with the raw reply in `last_details`. Never a crash.
The key never appears in `describe()`, `last_details`, `last_reasoning`, error messages or request bodies
(a server that echoes it back has it scrubbed), and each step keeps at most MAX_REASONING characters of
reasoning and MAX_RAW of each raw reply (a huge reply cannot bloat a replay).

The parts live next door and are re-exported here: llm_settings (options and where they come from),
llm_prompt (system prompt, transcript, reply parsing) and llm_transport (the groq SDK seam).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from mirr_tui.core import Action, EnvConfig, Observation, load_config

from .base import BaseAgent
from .llm_prompt import (
    LOG_SIGNATURES,
    MAX_REASONING,
    LogNote,
    Message,
    ReplyError,
    StepRecord,
    Transcript,
    _clip,
    copied_reasoning,
    corrective_message,
    parse_reply,
    reply_schema,
    status_line,
    system_prompt,
)
from .llm_settings import (
    DEFAULTS,
    GROQ_BASE_URL,
    GROQ_PREFIX,
    KEY_HELP,
    LOCAL_DEFAULTS,
    LLMSettings,
    LLMSetupError,
    mask_url,
    resolve_settings,
)
from .llm_transport import (
    ChatFn,
    GroqChat,
    LLMError,
    OpenAICompatTransport,
    Reply,
    request_params,
)

__all__ = [
    "DEFAULTS",
    "GROQ_BASE_URL",
    "GROQ_PREFIX",
    "KEY_HELP",
    "LOCAL_DEFAULTS",
    "LOG_SIGNATURES",
    "MAX_RAW",
    "MAX_REASONING",
    "ChatFn",
    "GroqChat",
    "LLMAgent",
    "LLMError",
    "LLMSettings",
    "LLMSetupError",
    "LogNote",
    "Message",
    "OpenAICompatTransport",
    "Reply",
    "ReplyError",
    "StepRecord",
    "Transcript",
    "corrective_message",
    "mask_url",
    "parse_reply",
    "preview_request",
    "reply_schema",
    "request_params",
    "resolve_settings",
    "status_line",
    "system_prompt",
]

MAX_RAW = 2000  # characters of an unusable reply kept in the replay


class _Cancelled(Exception):
    """The request in flight was cancelled with `LLMAgent.cancel()`."""


class LLMAgent(BaseAgent):
    """A chat model playing MIRR. Options: model, temperature, max_tokens, history, base_url, timeout, retries,
    response_format.

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
        response_format: str | None = None,
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
            "response_format": response_format,
            "api_key": api_key,
        }
        needs_key = chat is None and client is None
        self.settings = resolve_settings(options, environ=environ, manifest=manifest, require_key=needs_key)
        self.config = config or load_config()
        self.system = system_prompt(self.config)
        self.chat: ChatFn = chat or GroqChat(self.settings, client=client, transport=transport)
        self.transcript = Transcript(self.settings.history, self.config.rules.max_steps)
        self._fatal: str | None = None
        self._sent: Action | None = None  # the action the last act() returned
        self._in_flight: threading.Event | None = None  # set by cancel() or by the reply arriving
        self.waiting_since: float | None = None  # time.monotonic() when the request in flight was sent

    def cancel(self) -> bool:
        """Give up on the request in flight (a runaway reply): act() returns a `wait` marked
        `"cancelled": true` at once. The server may go on generating until its own limit; the reply is
        dropped. Safe from any thread; False when no request was in flight."""
        pending = self._in_flight
        if pending is None:
            return False
        pending.set()
        return True

    def describe(self) -> dict[str, Any]:
        return self._scrub({"name": self.name, **self.settings.public()})

    def _scrub(self, value: Any) -> Any:
        """`value` with the key (alone or as `Bearer <key>`) replaced by *** in every string it holds:
        a server can echo the Authorization header into its reply, which would land in the replay."""
        key = self.settings.api_key
        if not key or key == "unused":
            return value
        if isinstance(value, str):
            return value.replace(key, "***")
        if isinstance(value, dict):
            return {self._scrub(k): self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(v) for v in value)
        return value

    def _kept(self, text: str | None, limit: int = MAX_RAW) -> str:
        """Text the agent keeps or hands out to be saved: key scrubbed first, then clipped."""
        return _clip(self._scrub(text or ""), limit)

    def reset(self, observation: Observation) -> None:
        super().reset(observation)
        self.transcript = Transcript(self.settings.history, self.config.rules.max_steps)
        self._sent = None

    def messages(self, obs: Observation) -> list[Message]:
        """The messages for this step (after `observe`)."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.transcript.user_message(obs)},
        ]

    def act(self, obs: Observation) -> Action:
        self.transcript.observe(obs, self._sent)
        self._sent = action = self._decide(obs)
        self.last_details = self._scrub(self.last_details)
        if self.last_reasoning is not None:
            self.last_reasoning = self._kept(self.last_reasoning, MAX_REASONING)
        return action

    def _decide(self, obs: Observation) -> Action:
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
        schema = reply_schema(obs, list(self.config.fault_modes)) if self.settings.wants_schema else None
        try:
            reply = self._call(messages, details, schema)
            try:
                action, reasoning, extracted = parse_reply(reply.text, services)
            except ReplyError as first:
                details.update(raw=self._kept(reply.text), parse_error=self._kept(str(first)), reasked=True)
                retry_messages = [
                    *messages,
                    {"role": "assistant", "content": details["raw"]},
                    {"role": "user", "content": corrective_message(first)},
                ]
                second_reply = self._call(retry_messages, details, schema)
                try:
                    action, reasoning, extracted = parse_reply(second_reply.text, services)
                except ReplyError as second:
                    details.update(
                        raw_first=details["raw"],
                        raw=self._kept(second_reply.text),
                        parse_error=self._kept(str(second)),
                    )
                    details["fallback"] = True
                    self.last_reasoning = (
                        f"(fallback: the model's reply was unusable twice, last because {second}; waiting)"
                    )
                    return Action("wait")
        except _Cancelled as cancelled:
            details.update(fallback=True, cancelled=True)
            self.last_reasoning = f"(cancelled: {cancelled}; waiting)"
            return Action("wait")
        if extracted:
            details["extracted"] = True  # the JSON came wrapped in prose or code fences
        if reasoning and copied_reasoning(reasoning):
            details["copied_reasoning"] = True  # the prompt's sample, not the model's own words: not kept
            reasoning = ""
        self.last_reasoning = reasoning or None
        return action

    def _call(self, messages: Sequence[Message], details: dict[str, Any], schema: dict[str, Any] | None) -> Reply:
        if self._fatal is not None:
            raise LLMError(self._fatal, fatal=True)
        reply = self._wait_for(lambda: self.chat(messages, schema=schema) if schema else self.chat(messages))
        details["calls"] += 1
        details["prompt_tokens"] += reply.prompt_tokens
        details["completion_tokens"] += reply.completion_tokens
        details["total_tokens"] += reply.total_tokens
        details["latency_s"] = round(details["latency_s"] + reply.latency_s, 4)
        details["retries"] += reply.retries
        if reply.finish_reason and reply.finish_reason != "stop":
            details["finish_reason"] = reply.finish_reason  # e.g. "length": raise max_tokens
        if reply.response_format:
            details["response_format"] = reply.response_format  # how the schema reached the server
        return reply

    def _wait_for(self, request: Any) -> Reply:
        """Run `request()` in a helper thread and wait for its reply or for `cancel()`, whichever comes first
        (a blocking HTTP call cannot be interrupted from another thread; it is left to finish and dropped)."""
        woken = threading.Event()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["reply"] = request()
            except BaseException as exc:  # handed to the waiting thread, which raises it
                outcome["error"] = exc
            finally:
                woken.set()

        self._in_flight, self.waiting_since = woken, time.monotonic()
        try:
            threading.Thread(target=run, name="llm-request", daemon=True).start()
            woken.wait()
        finally:
            self._in_flight = None
            waited = time.monotonic() - (self.waiting_since or time.monotonic())
            self.waiting_since = None
        if "reply" not in outcome and "error" not in outcome:
            raise _Cancelled(f"the reply was cancelled after {waited:.0f} s")
        if "error" in outcome:
            error = outcome["error"]
            if isinstance(error, LLMError) and error.fatal:
                self._fatal = str(error)
            raise error
        return outcome["reply"]


def preview_request(
    obs: Observation, config: EnvConfig | None = None, **options: Any
) -> tuple[LLMSettings, dict[str, Any]]:
    """The settings and the exact request body the agent would send for `obs` as its first step (no key)."""
    agent = LLMAgent(**{**options, "api_key": None}, config=config, chat=_no_network)
    agent.reset(obs)
    agent.transcript.observe(obs)
    schema = reply_schema(obs, list(agent.config.fault_modes)) if agent.settings.wants_schema else None
    return agent.settings, request_params(agent.settings, agent.messages(obs), schema)


def _no_network(messages: Sequence[Message]) -> Reply:  # pragma: no cover - preview never calls it
    raise LLMError("preview only: nothing is sent")
