"""MIRR agents: one module per agent and a small registry.

from mirr_tui import agents
agents.available()                 # ['random', 'naive', 'metrics', 'heuristic', 'reasoner', 'oracle', 'llm', 'grpo']
agent = agents.create("heuristic")
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from .base import Agent, BaseAgent

# name -> (module, class, one-line description); modules load lazily (llm pulls in groq).
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "random": ("mirr_tui.agents.random_agent", "RandomAgent", "uniformly random valid actions"),
    "naive": ("mirr_tui.agents.naive", "NaiveAgent", "metrics only: restarts whatever looks worst"),
    "metrics": (
        "mirr_tui.agents.metrics_only",
        "MetricsOnlyAgent",
        "never reads logs: deepest sick service, mode from metrics",
    ),
    "heuristic": (
        "mirr_tui.agents.heuristic",
        "HeuristicAgent",
        "log-aware: follows upstream pointers, diagnoses, fixes",
    ),
    "reasoner": (
        "mirr_tui.agents.reasoner",
        "ReasonerAgent",
        "careful reader: follows blame pointers, cross-checks signatures, watches trends",
    ),
    "oracle": ("mirr_tui.agents.oracle", "OracleAgent", "reads the hidden state; the upper bound"),
    "llm": ("mirr_tui.agents.llm", "LLMAgent", "a chat model on Groq or any OpenAI-compatible server (needs a key)"),
    "grpo": ("mirr_tui.agents.grpo", "GrpoAgent", "numpy policy trained from scratch with GRPO (`mirr train`)"),
}


class UnknownAgent(ValueError):
    """No agent is registered under that name."""


def register(name: str, module: str, cls: str, description: str) -> None:
    """Add an agent to the registry (outside packages can register their own)."""
    _REGISTRY[name] = (module, cls, description)


def available() -> list[str]:
    """Names accepted by `create`, in a stable order."""
    return list(_REGISTRY)


def describe(name: str) -> str:
    return _REGISTRY[name][2]


def create(name: str, *, config: Any = None, **options: Any) -> BaseAgent:
    """Build an agent by name. Options go to its constructor (e.g. env= for the oracle).

    `config` is the EnvConfig of the game the agent will play; agents that know the rules (their
    constructor takes `config`) get it, so a custom `--config` manifest reaches them too.
    """
    if name not in _REGISTRY:
        raise UnknownAgent(f"unknown agent {name!r} (available: {', '.join(available())})")
    module, cls, _ = _REGISTRY[name]
    agent_cls = getattr(importlib.import_module(module), cls)
    if config is not None and "config" in inspect.signature(agent_cls).parameters:
        options.setdefault("config", config)
    return agent_cls(**options)


__all__ = ["Agent", "BaseAgent", "UnknownAgent", "available", "create", "describe", "register"]
