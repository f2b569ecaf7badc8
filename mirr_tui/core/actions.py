"""Actions as plain data, parsed from dicts or text; parsing never trusts its input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .config import FAULT_MODES

ActionType = Literal["check_logs", "diagnose", "restart", "rollback", "scale_up", "circuit_break", "wait"]
ACTION_TYPES: tuple[str, ...] = ("check_logs", "diagnose", "restart", "rollback", "scale_up", "circuit_break", "wait")
FIX_TYPES: tuple[str, ...] = ("restart", "rollback", "scale_up")

# Words people type for an action type.
ALIASES = {
    "logs": "check_logs",
    "log": "check_logs",
    "check_logs": "check_logs",
    "check-logs": "check_logs",
    "diagnose": "diagnose",
    "diag": "diagnose",
    "restart": "restart",
    "rollback": "rollback",
    "roll_back": "rollback",
    "scale_up": "scale_up",
    "scale-up": "scale_up",
    "scaleup": "scale_up",
    "scale": "scale_up",
    "circuit_break": "circuit_break",
    "circuit-break": "circuit_break",
    "circuitbreak": "circuit_break",
    "break": "circuit_break",
    "breaker": "circuit_break",
    "wait": "wait",
    "noop": "wait",
}
JOINED = ("logs", "log", "up", "back", "break")  # `check logs`, `scale up`, `roll back`, `circuit break`
MAX_TEXT = 200  # longer input is not an action; quoting it back is truncated to this


class InvalidAction(ValueError):
    """The input is not a well-formed action; the message says exactly what is wrong."""


@dataclass(frozen=True, slots=True)
class Action:
    """One player move. `service` for everything but wait; `mode` for diagnose."""

    type: ActionType
    service: str | None = None
    mode: str | None = None

    def to_dict(self) -> dict[str, str]:
        data = {"type": self.type}
        if self.service is not None:
            data["service"] = self.service
        if self.mode is not None:
            data["mode"] = self.mode
        return data

    def to_text(self) -> str:
        """The text form that `parse` reads back: `diagnose payment bad_deploy`."""
        word = "logs" if self.type == "check_logs" else self.type
        return " ".join(p for p in (word, self.service, self.mode) if p)

    def __str__(self) -> str:
        return self.to_text()

    @classmethod
    def parse(cls, text: str) -> Action:
        """Read `restart payment`, `diagnose payment bad_deploy`, `logs payment`, `wait`."""
        if not isinstance(text, str):
            raise InvalidAction(f"expected action text, got {type(text).__name__}")
        if len(text) > MAX_TEXT:
            raise InvalidAction(f"action text is too long ({len(text)} characters)")
        words = text.strip().lower().replace(",", " ").split()
        if not words:
            raise InvalidAction("empty action: try 'logs payment', 'diagnose payment bad_deploy' or 'wait'")
        if words[0] in ("check", "scale", "roll", "circuit") and len(words) > 1 and words[1] in JOINED:
            words = [words[0] + "_" + words[1], *words[2:]]
        kind = ALIASES.get(words[0])
        if kind is None:
            raise InvalidAction(f"unknown action {_quote(words[0])}: use one of {', '.join(ACTION_TYPES)}")
        return cls.from_parts(kind, *words[1:])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        """Read `{"type": "restart", "service": "payment"}` (extra keys are an error)."""
        if not isinstance(data, dict):
            raise InvalidAction(f"expected an action object, got {type(data).__name__}")
        extra = set(data) - {"type", "service", "mode"}
        if extra:
            raise InvalidAction(f"unexpected field {_quote(str(sorted(map(str, extra))[0]))} in action")
        kind = data.get("type")
        if not isinstance(kind, str):
            raise InvalidAction("action needs a 'type' string: one of " + ", ".join(ACTION_TYPES))
        resolved = ALIASES.get(kind.strip().lower())
        if resolved is None:
            raise InvalidAction(f"unknown action {_quote(kind)}: use one of {', '.join(ACTION_TYPES)}")
        args = []
        for key in ("service", "mode"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidAction(f"'{key}' must be a string, got {type(value).__name__}")
            args.append(value)
        service, mode = args
        if mode is not None and service is None:
            raise InvalidAction("'mode' given without 'service'")
        return cls.from_parts(resolved, *(a for a in args if a is not None))

    @classmethod
    def from_parts(cls, kind: str, *args: str) -> Action:
        words = [a.strip().lower() for a in args]
        if kind == "wait":
            if words:
                raise InvalidAction("wait takes no arguments")
            return cls("wait")
        if not words:
            needs = "a service and a mode" if kind == "diagnose" else "a service"
            raise InvalidAction(f"{kind} needs {needs}, e.g. '{_example(kind)}'")
        if kind == "diagnose":
            if len(words) != 2:
                raise InvalidAction(f"diagnose needs a service and a mode, e.g. '{_example(kind)}'")
            mode = words[1]
            if mode not in FAULT_MODES:
                raise InvalidAction(f"unknown fault mode {_quote(mode)}: use one of {', '.join(FAULT_MODES)}")
            return cls("diagnose", words[0], mode)
        if len(words) != 1:
            raise InvalidAction(f"{kind} takes one service, e.g. '{_example(kind)}'")
        return cls(kind, words[0])  # type: ignore[arg-type]


def all_actions(service_names: tuple[str, ...]) -> tuple[Action, ...]:
    """Every well-formed move for these services, in a fixed order: the integer action ids of the Gymnasium
    adapter's Discrete space and of the batched env (core/batch.py)."""
    moves: list[Action] = []
    for kind in ACTION_TYPES:
        if kind == "wait":
            moves.append(Action("wait"))
        elif kind == "diagnose":
            moves.extend(Action("diagnose", name, mode) for name in service_names for mode in FAULT_MODES)
        else:
            moves.extend(Action(kind, name) for name in service_names)  # type: ignore[arg-type]
    return tuple(moves)


def coerce_action(value: Any) -> Action:
    """Turn an Action, dict or text into an Action, or raise InvalidAction."""
    if isinstance(value, Action):
        # Validated exactly like its dict form, so an Action object and {"type": ...} are the same move
        # (and a replay, which records the dict, re-simulates it identically). A move already in that
        # form (the agents' everyday case) is returned as it is; anything else goes through from_dict.
        if _canonical(value):
            return value
        data: dict[str, Any] = {"type": value.type}
        for key in ("service", "mode"):
            if getattr(value, key) is not None:
                data[key] = getattr(value, key)
        return Action.from_dict(data)
    if isinstance(value, str):
        return Action.parse(value)
    if isinstance(value, dict):
        return Action.from_dict(value)
    raise InvalidAction(f"expected an action (object or text), got {type(value).__name__}")


def _canonical(action: Action) -> bool:
    """The action is exactly what from_dict would build from its own dict form."""
    kind, service, mode = action.type, action.service, action.mode
    if kind == "wait":
        return service is None and mode is None
    if kind not in ACTION_TYPES or not isinstance(service, str) or service != service.strip().lower() or not service:
        return False
    return mode in FAULT_MODES if kind == "diagnose" else mode is None


def _quote(text: str) -> str:
    text = text if len(text) <= 40 else text[:37] + "..."
    return repr(text)


def _example(kind: str) -> str:
    return {
        "check_logs": "logs payment",
        "diagnose": "diagnose payment bad_deploy",
    }.get(kind, f"{kind} payment")
