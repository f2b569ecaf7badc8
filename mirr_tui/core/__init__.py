"""The MIRR environment core: pure Python, no UI imports."""

from __future__ import annotations

from .actions import ACTION_TYPES, FIX_TYPES, Action, InvalidAction, coerce_action
from .config import FAULT_MODES, METRICS, ConfigError, EnvConfig, load_config, parse_config
from .env import IncidentEnv
from .render import render_observation
from .types import STATUSES, EnvState, LogLine, Observation, RewardEvent, ServiceTruth, ServiceView

__all__ = [
    "ACTION_TYPES",
    "FAULT_MODES",
    "FIX_TYPES",
    "METRICS",
    "STATUSES",
    "Action",
    "ConfigError",
    "EnvConfig",
    "EnvState",
    "IncidentEnv",
    "InvalidAction",
    "LogLine",
    "Observation",
    "RewardEvent",
    "ServiceTruth",
    "ServiceView",
    "coerce_action",
    "load_config",
    "parse_config",
    "render_observation",
]
