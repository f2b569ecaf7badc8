"""Play MIRR on a remote `mirr serve` exactly as on a local `IncidentEnv`.

`MirrClient` is an OpenEnv `EnvClient` (async; `.sync()` for blocking code) whose results carry the
core's own `Observation` and `EnvState`, so agents written for local play run unchanged.
`RemoteIncidentEnv` wraps it in the local env's shape (`reset` / `step` / `state` / `config`), which
is what `mirr eval --remote URL` hands to the evaluator. Needs the `server` extra.

A server tells clients the hidden truth only when it was started with `mirr serve --referee`; a plain
one answers `state` with a `SessionState` (episode id and step count), and everything an evaluation
needs then comes from the observations (`reveals_truth` says which kind of server a session is on).
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

try:
    from openenv.core.client_types import StepResult
    from openenv.core.env_client import EnvClient
    from websockets.exceptions import ConnectionClosed
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise ModuleNotFoundError(
        f"the MIRR client needs the `server` extra ({exc.name} is missing): pip install -e '.[server]'"
    ) from exc

from .core import Action, ConfigError, EnvConfig, EnvState, Observation, coerce_action, parse_config
from .core.render import render_observation


class RemoteError(RuntimeError):
    """The server refused a request (bad payload, unknown option, no free session...)."""


class HiddenStateError(RemoteError):
    """The server withholds the referee's view (it was not started with `mirr serve --referee`)."""


@dataclasses.dataclass(frozen=True, slots=True)
class SessionState:
    """What a plain server's `state` says: OpenEnv's base fields, no hidden truth."""

    episode_id: str
    step_count: int


def action_payload(action: Action | dict[str, Any] | str | Any) -> dict[str, Any]:
    """The JSON a step sends: a core Action, its dict, its text form, or a pydantic MirrAction."""
    if hasattr(action, "model_dump"):
        return action.model_dump(exclude={"metadata"}, exclude_none=True)
    if isinstance(action, dict):
        return dict(action)  # the server validates it; a bad one comes back as a VALIDATION_ERROR
    return coerce_action(action).to_dict()


def observation_from_payload(payload: dict[str, Any]) -> Observation:
    """Rebuild the core Observation from OpenEnv's envelope (reward and done ride beside it)."""
    data = dict(payload.get("observation") or {})
    data["reward"] = payload.get("reward") or 0.0
    data["done"] = bool(payload.get("done", False))
    return Observation.from_dict(data)


def state_from_payload(payload: dict[str, Any]) -> EnvState | SessionState | None:
    """Rebuild the core EnvState from a referee's state message; a plain server's (no truth in it)
    becomes a SessionState. None before the session's first reset."""
    if payload.get("episode_id") is None:
        return None
    if payload.get("root_service") is None:
        return SessionState(episode_id=str(payload["episode_id"]), step_count=int(payload.get("step_count") or 0))
    return EnvState.from_dict(payload)


class MirrClient(EnvClient):
    """OpenEnv client for a MIRR server; `step` takes an Action, its dict or its text form.

    ```python
    with MirrClient(base_url="http://127.0.0.1:8000").sync() as env:
        result = env.reset(seed=7)
        result = env.step(Action("check_logs", "payment"))
        result.observation.logs, result.reward, result.done
        env.state()            # SessionState; the core EnvState (hidden truth) from `mirr serve --referee`
    ```
    """

    def _step_payload(self, action: Any) -> dict[str, Any]:
        return action_payload(action)

    def _parse_result(self, payload: dict[str, Any]) -> StepResult:
        obs = observation_from_payload(payload)
        return StepResult(observation=obs, reward=obs.reward, done=obs.done, metadata=payload.get("metadata"))

    def _parse_state(self, payload: dict[str, Any]) -> EnvState | SessionState | None:
        return state_from_payload(payload)


def http_url(url: str) -> str:
    """The server's HTTP base URL for a ws://, wss://, http:// or https:// address."""
    url = url.rstrip("/")
    if url.endswith("/ws"):
        url = url[:-3]
    for scheme, replacement in (("ws://", "http://"), ("wss://", "https://")):
        if url.startswith(scheme):
            return replacement + url[len(scheme) :]
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not a server address (expected http://host:port or ws://host:port)")
    return url


def fetch_server_config(url: str, timeout: float = 10.0) -> EnvConfig:
    """The openenv.yaml the server at `url` plays (GET /mirr/config), parsed like a local one."""
    base = http_url(url)
    try:
        text = _http_get(f"{base}/mirr/config", timeout)
    except urllib.error.HTTPError as exc:  # something answered, but not a MIRR server
        raise RemoteError(f"{base} is not a MIRR server (HTTP {exc.code} on /mirr/config)") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(f"cannot reach a MIRR server at {base}: {reason}") from None
    try:
        return parse_config(text, source=f"{base}/mirr/config")
    except ConfigError as exc:
        raise RemoteError(f"{base} is not a MIRR server (its /mirr/config is not a manifest: {exc})") from None


class RemoteIncidentEnv:
    """A remote session with the local `IncidentEnv` interface (what `evaluate(env=...)` expects).

    `config` is the server's own manifest, so difficulty names, the oracle's fix table and the
    summary agree with what the server plays. `reveals_truth` is the server's `referee` flag (asked
    of GET /mirr on first use unless given): without it `state` raises HiddenStateError. Close it (or use `with`)
    to free the server session.
    """

    def __init__(
        self,
        url: str,
        difficulty: str | None = None,
        config: EnvConfig | None = None,
        timeout: float = 60.0,
        referee: bool | None = None,
    ) -> None:
        self.url = url
        self.config = config or fetch_server_config(url)
        self._referee = referee
        self.default_difficulty = self.config.difficulty(difficulty).name
        self.names = self.config.service_names
        self._client = MirrClient(base_url=http_url(url), message_timeout_s=timeout).sync()
        self._connected = False
        self._last: Observation | None = None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if not self._connected:
            self._client.connect()
            self._connected = True
        try:
            return getattr(self._client, method)(*args, **kwargs)
        except ConnectionClosed as exc:  # the server went away mid-request
            raise RemoteError(f"lost the connection to {self.url}: {exc}") from None
        except RuntimeError as exc:
            if str(exc).startswith("Server error:"):
                raise RemoteError(str(exc)) from None
            raise

    def reset(
        self, seed: int | None = None, episode_id: str | None = None, options: dict[str, Any] | None = None
    ) -> Observation:
        kwargs: dict[str, Any] = {"seed": seed, "episode_id": episode_id}
        if options:
            kwargs["options"] = dict(options)
        self._last = self._call("reset", **kwargs).observation
        return self._last

    def step(self, action: Action | dict[str, Any] | str) -> Observation:
        """One move. Input that is not an action at all raises InvalidAction (no step is spent)."""
        self._last = self._call("step", action_payload(action)).observation
        return self._last

    @property
    def reveals_truth(self) -> bool:
        """Whether this server hands out the hidden state (asked once, on first use)."""
        if self._referee is None:
            self._referee = server_is_referee(self.url)
        return self._referee

    @property
    def state(self) -> EnvState:
        """The referee's view; HiddenStateError on a server not started with `--referee`."""
        if not self.reveals_truth:
            raise HiddenStateError(
                f"{self.url} withholds the hidden state: start the server with 'mirr serve --referee'"
            )
        truth = self._call("state")
        if truth is None:
            raise RuntimeError("call reset() before reading state")
        if not isinstance(truth, EnvState):
            raise HiddenStateError(f"{self.url} sent no hidden state: start the server with 'mirr serve --referee'")
        return truth

    @property
    def observation(self) -> Observation:
        if self._last is None:
            raise RuntimeError("call reset() first")
        return self._last

    def render(self) -> str:
        return render_observation(self.observation, self.config.rules.max_steps)

    def close(self) -> None:
        if self._connected:
            self._connected = False
            self._client.close()

    def __enter__(self) -> RemoteIncidentEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def server_info(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """GET /mirr: id, version, config hash, live session counts and whether it is a referee."""
    base = http_url(url)
    return json.loads(_http_get(f"{base}/mirr", timeout))


def server_is_referee(url: str, timeout: float = 10.0) -> bool:
    """Whether the server at `url` hands out the hidden truth (`mirr serve --referee`)."""
    # servers from before the flag always sent the truth
    return bool(_checked_info(url, timeout).get("referee", True))


def server_draws_secret_seeds(url: str, timeout: float = 10.0) -> bool:
    """Whether the server at `url` picks every seed itself (`mirr serve --secret-seeds`)."""
    return bool(_checked_info(url, timeout).get("secret_seeds", False))


def _checked_info(url: str, timeout: float) -> dict[str, Any]:
    base = http_url(url)
    try:
        info = server_info(url, timeout)
    except urllib.error.HTTPError as exc:
        raise RemoteError(f"{base} is not a MIRR server (HTTP {exc.code} on /mirr)") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(f"cannot reach a MIRR server at {base}: {reason}") from None
    except ValueError:
        raise RemoteError(f"{base} is not a MIRR server (its /mirr is not JSON)") from None
    if not isinstance(info, dict):
        raise RemoteError(f"{base} is not a MIRR server (its /mirr is not an object)")
    return info


def _http_get(url: str, timeout: float) -> str:
    # a loopback server is never reached through an HTTP proxy, whatever the environment says
    host = urllib.parse.urlsplit(url).hostname or ""
    handlers = [urllib.request.ProxyHandler({})] if host in ("127.0.0.1", "localhost", "::1") else []
    with urllib.request.build_opener(*handlers).open(url, timeout=timeout) as response:
        return response.read().decode("utf-8")


__all__ = [
    "HiddenStateError",
    "MirrClient",
    "RemoteError",
    "RemoteIncidentEnv",
    "SessionState",
    "action_payload",
    "fetch_server_config",
    "http_url",
    "observation_from_payload",
    "server_info",
    "server_is_referee",
    "state_from_payload",
]
