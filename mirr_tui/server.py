"""MIRR as an OpenEnv server: `IncidentEnv` behind OpenEnv's `create_app` (WebSocket sessions at /ws).

The wire models are generated from the core's dataclasses (`Action`, `Observation`, `EnvState`), so
the schema the server publishes at /schema is the core's, never a hand-kept copy.

The referee's view (`EnvState`: root service, fault mode, true health) stays on the server unless it
is built with `referee=True` (`mirr serve --referee`): a plain server answers `state` with OpenEnv's
base fields only (episode_id, step_count), and its /schema names no truth field either. Needs the `server`
extra (`pip install -e ".[server]"`); run it with `mirr serve` or `uvicorn mirr_tui.server:app`.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin

try:
    from .openenv_loader import (
        ConcurrencyConfig,
        Environment,
        EnvironmentMetadata,
        OpenEnvAction,
        OpenEnvObservation,
        OpenEnvState,
        create_app,
    )
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise ModuleNotFoundError(
        f"the MIRR server needs the `server` extra ({exc.name} is missing): pip install -e '.[server]'"
    ) from exc
from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .core import FAULT_MODES, EnvConfig, IncidentEnv, InvalidAction, load_config
from .core import Action as CoreAction
from .core import EnvState as CoreState
from .core import Observation as CoreObservation
from .core.actions import action_kind, canonical_fields
from .seeds import MAX_SEED, secret_seed
from .server_guards import DEFAULT_IDLE_TIMEOUT, FrameGuard, OriginGuard

DEFAULT_SESSIONS = 64
RESET_OPTIONS = ("service", "mode", "scenario", "difficulty")
MAX_EPISODE_ID = 128  # characters; an id is echoed on every observation


def check_reset_args(seed: Any, episode_id: Any) -> None:
    """A seed is a bounded non-negative integer and an episode id a short string, or ValueError."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED):
        shown = repr(seed) if len(repr(seed)) <= 40 else repr(seed)[:40] + "..."
        raise ValueError(f"seed must be an integer with 0 <= seed < 2**63, got {shown}")
    if episode_id is not None and (not isinstance(episode_id, str) or len(episode_id) > MAX_EPISODE_ID):
        raise ValueError(f"episode_id must be a string of at most {MAX_EPISODE_ID} characters")


# ---------------------------------------------------------------------------------------- models
def _wire_type(hint: Any) -> Any:
    """The type a core field travels as: tuples become lists, nested dataclasses become models."""
    if dataclasses.is_dataclass(hint):
        return _nested_model(hint, frozenset())
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple:  # tuple[X, ...] in the core, a JSON array on the wire
        return list[_wire_type(args[0])]
    if origin is dict:
        value = args[1]
        if dataclasses.is_dataclass(value) and "name" in {f.name for f in dataclasses.fields(value)}:
            # the core's to_dict() keys these by name and leaves the name out of the value
            return dict[args[0], _nested_model(value, frozenset({"name"}))]
        return dict[args[0], _wire_type(value)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_wire_type(arg) for arg in args)]  # noqa: UP007 - built from a tuple
    return hint


@functools.cache
def _nested_model(cls: type, exclude: frozenset[str]) -> type[BaseModel]:
    base = type(f"{cls.__name__}Base", (BaseModel,), {"model_config": ConfigDict(extra="forbid")})
    return create_model(cls.__name__, __base__=base, __doc__=cls.__doc__, **_fields(cls, exclude))


def _fields(cls: type, exclude: frozenset[str] = frozenset(), optional: bool = False) -> dict[str, Any]:
    """pydantic field definitions for a core dataclass (optional=True: every field may be None)."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        if spec.name in exclude:
            continue
        wire = _wire_type(hints[spec.name])
        if optional:
            fields[spec.name] = (wire | None, None)
        elif spec.default is not dataclasses.MISSING:
            fields[spec.name] = (wire, spec.default)
        elif spec.default_factory is not dataclasses.MISSING:
            fields[spec.name] = (wire, Field(default_factory=spec.default_factory))
        else:
            fields[spec.name] = (wire, ...)
    return fields


class _ActionBase(OpenEnvAction):
    """Reads action words like the core does ("logs" is check_logs, case and spaces do not matter), and the
    original MIRR's fields (`target`, `failure_mode`, free-text `evidence`)."""

    @model_validator(mode="before")
    @classmethod
    def _original_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            try:
                return canonical_fields(data)
            except InvalidAction as exc:  # a custom error: OpenEnv cannot serialize a ValueError in `ctx`
                raise PydanticCustomError("action_fields", str(exc)) from None
        return data

    @field_validator("type", mode="before", check_fields=False)
    @classmethod
    def _alias(cls, value: Any) -> Any:
        if isinstance(value, str):
            return action_kind(value) or value
        return value


class _StateBase(OpenEnvState):
    model_config = ConfigDict(extra="forbid")  # OpenEnv's State allows extras; ours never carry any


class PublicState(_StateBase):
    """What a player may know of a session: its episode id and step count (the hidden fault stays hidden)."""


@dataclass(frozen=True)
class WireModels:
    """The three pydantic models OpenEnv serves, built for one config."""

    action: type[OpenEnvAction]
    observation: type[OpenEnvObservation]
    state: type[OpenEnvState]


_MODELS: dict[tuple[str, tuple[str, ...], bool], WireModels] = {}


def build_models(config: EnvConfig, referee: bool = False) -> WireModels:
    """Generate the Action / Observation / State models from the core dataclasses.

    The action fields keep the core's types (an unknown action type is a schema error; an unknown
    service or mode is a move the referee scores as invalid, exactly as in local play); their
    descriptions list the names this config knows. With `referee`, the state model is the core's
    `EnvState` (all fields optional: a session has no episode before its first reset); without it,
    `PublicState`, OpenEnv's base shape (episode_id, step_count).
    """
    key = (config.hash, config.service_names, referee)
    if key in _MODELS:
        return _MODELS[key]
    action_fields = _fields(CoreAction)
    described = {
        "type": "the move: " + ", ".join(get_args(typing.get_type_hints(CoreAction)["type"])),
        "service": "the target service: " + ", ".join(config.service_names) + " (not for wait)",
        "mode": "the fault mode, for diagnose only: " + ", ".join(FAULT_MODES),
    }
    for name, text in described.items():
        wire, default = action_fields[name]
        action_fields[name] = (wire, Field(default, description=text))
    action = create_model("MirrAction", __base__=_ActionBase, __doc__=CoreAction.__doc__, **action_fields)
    observation = create_model(
        "MirrObservation", __base__=OpenEnvObservation, __doc__=CoreObservation.__doc__, **_fields(CoreObservation)
    )
    if referee:
        state_fields = _fields(CoreState, exclude=frozenset({"episode_id", "step_count"}), optional=True)
        state = create_model("MirrState", __base__=_StateBase, __doc__=CoreState.__doc__, **state_fields)
    else:
        state = PublicState
    _MODELS[key] = WireModels(action=action, observation=observation, state=state)
    return _MODELS[key]


# ---------------------------------------------------------------------------------------- environment
class SessionCounter:
    """Counts live environments, episodes and steps (served at GET /mirr; the load bench reads it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0
        self.created = 0
        self.episodes = 0
        self.steps = 0

    def add(self, field: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, field, getattr(self, field) + amount)
            if field == "open" and amount > 0:
                self.created += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"open": self.open, "created": self.created, "episodes": self.episodes, "steps": self.steps}


class MirrEnvironment(Environment):
    """One session's incident: the core `IncidentEnv` speaking OpenEnv's Environment interface."""

    SUPPORTS_CONCURRENT_SESSIONS = True  # every session builds its own IncidentEnv; nothing is shared

    def __init__(
        self,
        config: EnvConfig | None = None,
        models: WireModels | None = None,
        counter: SessionCounter | None = None,
        referee: bool = False,
        secret_seeds: bool = False,
    ) -> None:
        super().__init__()
        self.core = IncidentEnv(config)
        self.referee = referee
        self.secret_seeds = secret_seeds
        self.models = models or build_models(self.core.config, referee=referee)
        self._counter = counter or SessionCounter()
        self._closed = False
        self._counter.add("open")

    def reset(
        self,
        seed: int | None = None,
        episode_id: str | None = None,
        options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> OpenEnvObservation:
        """Start an incident. `options` (or the same keys at top level): service, mode, scenario, difficulty."""
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options must be an object, got {type(options).__name__}")
        check_reset_args(seed, episode_id)
        merged = {**(options or {}), **kwargs}
        unknown = sorted(set(merged) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"unknown reset option {unknown[0]!r} (known: {', '.join(RESET_OPTIONS)})")
        if self.secret_seeds:
            chosen = sorted(k for k in merged if k != "difficulty")
            if seed is not None or chosen:
                what = "a seed" if seed is not None else f"the {chosen[0]!r} option"
                raise ValueError(
                    f"this server draws secret seeds (mirr serve --secret-seeds), so a client cannot pick {what};"
                    " reset without one (difficulty may be chosen): the seed is revealed when the episode ends"
                )
            seed = secret_seed()
        obs = self.core.reset(seed=seed, episode_id=episode_id, options=merged or None)
        self._counter.add("episodes")
        return self.models.observation.model_validate(obs.to_dict())

    def step(self, action: OpenEnvAction, timeout_s: float | None = None, **kwargs: Any) -> OpenEnvObservation:
        """Play one move; a move the referee rejects costs the step and scores -1, as in local play."""
        move = action.model_dump(exclude={"metadata"}, exclude_none=True)
        if not self.core.started:
            # A stateless POST /step gets a fresh environment with no incident: say how to play instead of a 500.
            raise HTTPException(
                status_code=409,
                detail="no incident in this session: reset first (a WebSocket session at /ws keeps one incident"
                " across reset and step; the stateless POST /step has none)",
            )
        obs = self.core.step(move)
        self._counter.add("steps")
        payload = obs.to_dict()
        if self.secret_seeds and obs.done:  # over: the incident may be rebuilt and verified now
            payload["metadata"]["seed"] = self.core.seed
        return self.models.observation.model_validate(payload)

    # OpenEnv hands a plain reset/step to a thread pool; a MIRR step takes microseconds, far less than the
    # hand-off, so the async forms (which OpenEnv awaits directly) play it inline on the event loop.
    async def reset_async(
        self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any
    ) -> OpenEnvObservation:
        return self.reset(seed=seed, episode_id=episode_id, **kwargs)

    async def step_async(
        self, action: OpenEnvAction, timeout_s: float | None = None, **kwargs: Any
    ) -> OpenEnvObservation:
        return self.step(action, timeout_s=timeout_s, **kwargs)

    @property
    def state(self) -> OpenEnvState:
        """Episode id and step count; with `referee`, the referee's whole view, hidden fault included.
        Empty (episode_id None) before the first reset."""
        try:
            truth = self.core.state
        except RuntimeError:
            return self.models.state()
        if not self.referee:
            return self.models.state(episode_id=truth.episode_id, step_count=truth.step_count)
        return self.models.state.model_validate(truth.to_dict())

    def render_web(self, observation: dict[str, Any]) -> str | None:
        """The board in OpenEnv's web interface (mirr_tui/openenv_web.py)."""
        from .openenv_web import render_web

        return render_web(observation)

    def web_actions(self, observation: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Every legal move as a one-click action in OpenEnv's Playground (its form cannot send `type`)."""
        from .openenv_web import web_actions

        return web_actions(self.core.config, observation)

    def get_metadata(self) -> EnvironmentMetadata:
        cfg = self.core.config
        return EnvironmentMetadata(name="mirr", description=cfg.description, version=cfg.version)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._counter.add("open", -1)


# ---------------------------------------------------------------------------------------- app
def make_server_app(
    config: EnvConfig | str | Path | None = None,
    sessions: int = DEFAULT_SESSIONS,
    referee: bool = False,
    secret_seeds: bool = False,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    allow_origins: tuple[str, ...] = (),
) -> FastAPI:
    """The FastAPI app: OpenEnv's routes (/ws, /reset, /step, /state, /schema, /health, /metadata) plus
    GET /mirr (identity, config hash, live session counts, referee) and GET /mirr/config (the manifest).

    `referee=True` hands every client the hidden truth on `state` (the oracle and replays of remote
    runs need it); leave it off for a server that players or agents under test can reach.
    `secret_seeds=True` draws every incident from a seed no client can pick or guess, revealed in the
    final observation's metadata (`seed`) so the episode can be verified afterwards.
    A session (WebSocket or HTTP MCP) silent for `idle_timeout` seconds is closed (0 or None: never), and a
    request from a browser page on another origin is refused unless `allow_origins` names it (`*`: any)."""
    cfg = config if isinstance(config, EnvConfig) else load_config(config)
    if sessions < 1:
        raise ValueError(f"sessions must be at least 1, got {sessions}")
    if idle_timeout is not None and idle_timeout < 0:
        raise ValueError(f"idle_timeout must be at least 0 seconds, got {idle_timeout}")
    models = build_models(cfg, referee=referee)
    counter = SessionCounter()
    factory = functools.partial(MirrEnvironment, cfg, models, counter, referee, secret_seeds)
    app = create_app(
        factory,
        models.action,
        models.observation,
        env_name="mirr",
        # the idle timeout also reaps sessions made by HTTP MCP `openenv/session/create` (no socket held)
        concurrency_config=ConcurrencyConfig(max_concurrent_envs=sessions, session_timeout=idle_timeout or None),
        state_cls=models.state,
        **web_interface_options(cfg),
    )
    app.state.mirr_sessions = counter
    app.add_middleware(FrameGuard, idle_timeout=idle_timeout)
    app.add_middleware(OriginGuard, allowed=allow_origins)  # outermost: a foreign page reaches nothing
    manifest_text = Path(cfg.source).read_text(encoding="utf-8") if Path(cfg.source).is_file() else ""

    @app.get("/mirr", tags=["Environment Info"], summary="MIRR identity, config hash and live sessions")
    def mirr_info() -> dict[str, Any]:
        return {
            "id": cfg.id,
            "version": cfg.version,
            "config_hash": cfg.hash,
            "max_sessions": sessions,
            "referee": referee,
            "secret_seeds": secret_seeds,
            "idle_timeout_s": idle_timeout or None,
            "sessions": counter.snapshot(),
        }

    @app.get("/mirr/config", tags=["Environment Info"], summary="The openenv.yaml this server plays")
    def mirr_config() -> PlainTextResponse:
        return PlainTextResponse(manifest_text, media_type="application/yaml")

    return app


def web_interface_options(cfg: EnvConfig) -> dict[str, Any]:
    """create_app's options for the web interface at /web (used only with ENABLE_WEB_INTERFACE=true): a MIRR
    tab first, whose form names the move `move`, since OpenEnv's Playground form drops a field named `type`."""
    from .openenv_web import make_gradio_builder

    return {"gradio_builder": make_gradio_builder(cfg), "custom_tab_name": "MIRR", "custom_tab_primary": True}


@functools.cache
def _default_app() -> FastAPI:
    return make_server_app()


def __getattr__(name: str) -> Any:
    # `app` (the manifest's `mirr_tui.server:app`) is built on first use, so importing this module is cheap.
    if name == "app":
        return _default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_SESSIONS",
    "MirrEnvironment",
    "PublicState",
    "SessionCounter",
    "WireModels",
    "build_models",
    "make_server_app",
]
