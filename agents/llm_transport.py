"""The LLM agent's network seam: one chat completion through the groq SDK (Groq or any OpenAI-compatible server).

Part of the LLM agent (agents/llm.py re-exports its public names).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .llm_prompt import Message
from .llm_settings import GROQ_BASE_URL, GROQ_PREFIX, LLMSettings, _replace


class LLMError(RuntimeError):
    """The model server refused or could not be reached after retries; ends the episode (aborted)."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        #: fatal errors (bad key, unknown model) will not get better: later calls fail at once.
        self.fatal = fatal


# The ways a reply's shape is asked for, strictest first. "json_schema" is the OpenAI form (llama.cpp's
# llama-server, vLLM, Ollama, some Groq models); "json_object+schema" the form llama-cpp-python's server
# takes (it refuses the OpenAI one with 422); "json_object" plain JSON mode, which every server knows.
FORMATS = ("json_schema", "json_object+schema", "json_object")


def response_format(form: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    """The `response_format` request field for `form` (one of FORMATS); JSON mode when there is no schema."""
    if schema is None or form == "json_object":
        return {"type": "json_object"}
    if form == "json_object+schema":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "mirr_move", "strict": True, "schema": schema}}


def request_params(
    settings: LLMSettings, messages: Sequence[Message], schema: dict[str, Any] | None = None, form: str = FORMATS[0]
) -> dict[str, Any]:
    """The chat-completions request body (what `mirr prompt --json` prints and the SDK sends)."""
    # Groq deprecates max_tokens for max_completion_tokens; Ollama and older vLLM only know max_tokens.
    budget_key = "max_completion_tokens" if settings.is_groq else "max_tokens"
    return {
        "model": settings.model,
        "messages": list(messages),
        "temperature": settings.temperature,
        budget_key: settings.max_tokens,
        "response_format": response_format(form, schema),
    }


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
    response_format: str | None = None  # the form of FORMATS the server took, when a schema was sent


# chat(messages) -> Reply; the agent passes `schema=` (the valid moves) only when settings.wants_schema.
ChatFn = Callable[..., Reply]


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


class _Refused(Exception):
    """The server refused the form in which the reply's schema was sent (see FORMATS)."""


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
        self.form = FORMATS[0]  # moves down FORMATS when a server refuses a form, and stays there

    def _fail(self, message: str, fatal: bool = False) -> LLMError:
        key = self.settings.api_key
        if key and key != "unused":
            message = message.replace(key, "***")
        return LLMError(message, fatal=fatal)

    def __call__(self, messages: Sequence[Message], schema: dict[str, Any] | None = None) -> Reply:

        while True:
            try:
                reply = self._send(messages, schema)
            except _Refused:
                # The server refused how the reply's shape was asked for: ask in the next, looser form.
                self.form = FORMATS[FORMATS.index(self.form) + 1]
                continue
            if schema is not None:
                reply.response_format = self.form
            return reply

    def _send(self, messages: Sequence[Message], schema: dict[str, Any] | None) -> Reply:
        """One request; `_Refused` when the server refused the form of the schema and a looser one is left."""
        import groq

        where = self.settings.endpoint
        tries = f"after {getattr(self.client, 'max_retries', self.settings.retries)} retries"
        started = time.perf_counter()
        body = request_params(self.settings, messages, schema, self.form)
        can_loosen = schema is not None and self.form != FORMATS[-1]
        try:
            raw = self.client.chat.completions.with_raw_response.create(**body)
        except (groq.BadRequestError, groq.UnprocessableEntityError) as exc:
            if (
                _error_code(exc) == "json_validate_failed"
            ):  # JSON mode caught bad output: a bad reply, not a bad request
                failed = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
                text = failed.get("failed_generation") if isinstance(failed, dict) else None
                return Reply(
                    text=text or "", latency_s=time.perf_counter() - started, finish_reason="json_validate_failed"
                )
            if can_loosen:
                raise _Refused from None
            code = exc.status_code
            raise self._fail(f"request rejected by {where} ({code}): {_server_message(exc)}") from None
        except groq.AuthenticationError as exc:
            raise self._fail(f"key rejected by {where} (401): {_server_message(exc)}", fatal=True) from None
        except groq.PermissionDeniedError as exc:
            raise self._fail(f"access denied by {where} (403): {_server_message(exc)}", fatal=True) from None
        except groq.NotFoundError as exc:
            raise self._fail(
                f"model {self.settings.model!r} not found at {where} (404): {_server_message(exc)}; pick another with -o model=...",
                fatal=True,
            ) from None
        except groq.RateLimitError as exc:
            raise self._fail(f"rate limited by {where} (429) {tries}: {_server_message(exc)}") from None
        except groq.APIStatusError as exc:
            if can_loosen and "response_format" in _server_message(exc):
                raise _Refused from None  # llama-cpp-python answers an unknown form with a 500 naming the field
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
