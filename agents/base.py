"""The agent protocol every player (built-in or outside) follows."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from mirr_tui.core import Action, Observation


@runtime_checkable
class Agent(Protocol):
    """`reset(observation)` at the start of an episode, then `act(observation)` once per step.

    After `act`, `last_reasoning` holds the agent's explanation of that move (or None) and
    `last_details` any extra per-step record (model, tokens, latency) that replays keep.
    """

    name: str
    last_reasoning: str | None
    last_details: dict[str, Any]

    def reset(self, observation: Observation) -> None: ...

    def act(self, observation: Observation) -> Action: ...


class BaseAgent:
    """Defaults for the optional parts of the protocol."""

    name = "agent"
    #: agents that read the hidden truth (the oracle) set this and get `attach(env)` before reset.
    needs_env = False

    def __init__(self) -> None:
        self.last_reasoning: str | None = None
        self.last_details: dict[str, Any] = {}

    def reset(self, observation: Observation) -> None:
        self.last_reasoning = None
        self.last_details = {}

    def act(self, observation: Observation) -> Action:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The agent's name and options, for results logs and replays (never secrets)."""
        return {"name": self.name}
