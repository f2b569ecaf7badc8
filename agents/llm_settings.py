"""LLM agent settings: built-in defaults, openenv.yaml `llm:`, MIRR_LLM_* variables and options, resolved.

Part of the LLM agent (agents/llm.py re-exports its public names).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import yaml

GROQ_BASE_URL = "https://api.groq.com"
GROQ_PREFIX = "/openai/v1"  # the groq client puts this before every path; other servers do not want it
KEY_HELP = "export GROQ_API_KEY=... (get one at console.groq.com) or pass -o base_url=... for a local server"


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
    "response_format": "auto",
}

# What a server other than Groq (a local llama.cpp, Ollama or vLLM) gets unless an option, a variable or
# openenv.yaml `llm: local:` says otherwise: a small model on a CPU answers in 10-60 s (a runaway for
# minutes), and a reply of the agent's shape is under 200 tokens, so a degenerate run is cut at 512.
LOCAL_DEFAULTS: dict[str, Any] = {"timeout": 300.0, "max_tokens": 512}

# response_format: "schema" sends a JSON schema of the moves valid now (falling back to JSON mode where the
# server refuses it), "json" plain JSON mode; "auto" is "json" on Groq (few of its models take a schema)
# and "schema" elsewhere (llama.cpp, vLLM and Ollama constrain their output to it).
RESPONSE_FORMATS = ("auto", "schema", "json")


class LLMSetupError(RuntimeError):
    """The agent cannot start: no key, or an option that makes no sense. Raised by the constructor."""


@dataclass(frozen=True, slots=True)
class LLMSettings:
    model: str
    temperature: float
    max_tokens: int
    history: int
    base_url: str | None
    timeout: float
    retries: int
    response_format: str = "auto"
    api_key: str | None = field(default=None, repr=False)

    @property
    def is_groq(self) -> bool:
        return self.base_url is None or httpx.URL(self.base_url).host == "api.groq.com"

    @property
    def wants_schema(self) -> bool:
        """Whether requests carry the JSON schema of the valid moves (see RESPONSE_FORMATS)."""
        if self.response_format == "auto":
            return not self.is_groq
        return self.response_format == "schema"

    @property
    def endpoint(self) -> str:
        """The URL the chat request goes to (a password in base_url masked), for messages and `mirr prompt`."""
        root = self.public()["base_url"] or GROQ_BASE_URL + GROQ_PREFIX
        return root + "/chat/completions"

    def public(self) -> dict[str, Any]:
        """Everything but the key (nor a password inside base_url): for describe(), replays and `mirr prompt`."""
        public = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
        if self.base_url:
            public["base_url"] = mask_url(self.base_url)
        return public


def mask_url(url: str) -> str:
    """`url` with the password in its userinfo masked: `http://user:SECRET@host/v1` -> `http://user:***@host/v1`.

    A user name without a password (often a token) is masked whole: `http://TOKEN@host` -> `http://***@host`.
    Anything else is returned as given; never raises (for messages, replays and the results log).
    """
    if not isinstance(url, str):
        return "" if url is None else mask_url(str(url))
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    ends = [i for i in (rest.find(c) for c in "/?#") if i != -1]
    end = min(ends) if ends else len(rest)
    authority = rest[:end]
    if "@" not in authority:
        return url
    userinfo, host = authority.rsplit("@", 1)
    user, colon, _ = userinfo.partition(":")
    masked = f"{user}:***" if colon else "***"
    return f"{scheme}://{masked}@{host}{rest[end:]}"


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
    unknown = sorted(set(section) - set(DEFAULTS) - {"local"})
    if unknown:
        raise LLMSetupError(f"{source}: llm.{unknown[0]}: unknown option (known: {', '.join(DEFAULTS)}, local)")
    local = section.get("local") or {}
    if not isinstance(local, dict) or set(local) - set(DEFAULTS):
        raise LLMSetupError(f"{source}: llm.local: must map options to their values for a server other than Groq")
    return section


def _convert(name: str, value: Any, origin: str) -> Any:
    """Check and convert one option value; errors name the option and where it came from."""

    def bad(expected: str) -> LLMSetupError:
        shown = mask_url(value) if name == "base_url" and isinstance(value, str) else value
        return LLMSetupError(f"llm option {name}={shown!r} ({origin}) must be {expected}")

    if name == "model":
        if not isinstance(value, str) or not value.strip():
            raise bad("a model id such as llama-3.3-70b-versatile")
        return value.strip()
    if name == "response_format":
        if not isinstance(value, str) or value.strip().lower() not in RESPONSE_FORMATS:
            raise bad(" or ".join(RESPONSE_FORMATS))
        return value.strip().lower()
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
    """Options, then MIRR_LLM_* variables, then (base_url only) GROQ_BASE_URL, then OPENAI_BASE_URL, then
    openenv.yaml `llm:`, then built-in defaults. For a server other than Groq, `llm: local:` and then
    LOCAL_DEFAULTS come before the rest of `llm:` and DEFAULTS (timeout and max_tokens suited to a small local model).

    GROQ_BASE_URL is read as the groq SDK reads it: the root the SDK puts `/openai/v1` after.

    The key: `api_key`, else by where base_url came from: GROQ_BASE_URL -> GROQ_API_KEY (the user pointed
    the Groq key there; else MIRR_LLM_API_KEY); OPENAI_BASE_URL -> MIRR_LLM_API_KEY, else OPENAI_API_KEY
    (never the Groq key); otherwise GROQ_API_KEY for api.groq.com and MIRR_LLM_API_KEY for another server.
    So the Groq key is only sent to api.groq.com or to GROQ_BASE_URL; a local server may need no key.
    """
    environ = os.environ if environ is None else environ
    options = dict(options or {})
    from_yaml = _manifest_defaults(manifest)
    values: dict[str, Any] = {}
    base_origin = None  # which of GROQ_BASE_URL / OPENAI_BASE_URL gave base_url, if one did
    given: set[str] = set()  # options set by -o or a MIRR_LLM_* variable (no per-server default replaces them)
    for name, default in DEFAULTS.items():
        variable = f"MIRR_LLM_{name.upper()}"
        if options.get(name) is not None:
            values[name] = _convert(name, options[name], f"option -o {name}")
            given.add(name)
        elif environ.get(variable):
            values[name] = _convert(name, environ[variable], f"from ${variable}")
            given.add(name)
        elif name == "base_url" and (environ.get("GROQ_BASE_URL") or "").strip():
            url = _convert(name, environ["GROQ_BASE_URL"], "from $GROQ_BASE_URL")
            if url is not None and not url.endswith(GROQ_PREFIX):
                url += GROQ_PREFIX  # the SDK's meaning: requests go to $GROQ_BASE_URL/openai/v1/...
            values[name], base_origin = url, "GROQ_BASE_URL"
        elif name == "base_url" and (environ.get("OPENAI_BASE_URL") or "").strip():
            values[name] = _convert(name, environ["OPENAI_BASE_URL"], "from $OPENAI_BASE_URL")
            base_origin = "OPENAI_BASE_URL"
        elif name in from_yaml:
            values[name] = _convert(name, from_yaml[name], "from openenv.yaml llm:")
        else:
            values[name] = default
    if values["base_url"] is not None and httpx.URL(values["base_url"]).host != "api.groq.com":
        local = from_yaml.get("local") or {}
        for name, value in {**LOCAL_DEFAULTS, **local}.items():
            if name in given:
                continue
            values[name] = _convert(name, value, "from openenv.yaml llm: local:") if name in local else value
    settings = LLMSettings(**values)
    key = options.get("api_key") or None
    if key is None:
        if base_origin == "GROQ_BASE_URL":
            key = environ.get("GROQ_API_KEY") or environ.get("MIRR_LLM_API_KEY")
        elif base_origin == "OPENAI_BASE_URL":
            key = environ.get("MIRR_LLM_API_KEY") or environ.get("OPENAI_API_KEY")
        elif settings.is_groq:
            key = environ.get("GROQ_API_KEY")
        else:
            key = environ.get("MIRR_LLM_API_KEY")
    key = key.strip() if isinstance(key, str) and key.strip() else None
    if key is None and require_key:
        if settings.is_groq and base_origin == "OPENAI_BASE_URL":
            raise LLMSetupError("OPENAI_BASE_URL points at Groq but neither MIRR_LLM_API_KEY nor OPENAI_API_KEY is set")
        if settings.is_groq:
            raise LLMSetupError(f"GROQ_API_KEY is not set: {KEY_HELP}")
        key = "unused"  # local servers (Ollama, vLLM without --api-key) ignore it
    return LLMSettings(**values, api_key=key)


def _replace(settings: LLMSettings, **changes: Any) -> LLMSettings:
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    values.update(changes)
    return LLMSettings(**values)
