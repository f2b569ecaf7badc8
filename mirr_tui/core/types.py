"""What a player sees (Observation) and what only the referee knows (EnvState)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Status = str  # "ok" | "degraded" | "down"
STATUSES = ("ok", "degraded", "down")
OUTCOMES = ("recovered", "collapsed", "timed_out")


@dataclass(frozen=True, slots=True)
class ServiceView:
    """Noisy metrics and the health-check answer of one service, as shown to the player."""

    name: str
    status: Status
    latency_ms: float
    error_rate: float
    cpu: float
    memory: float
    rps: float
    stale: bool = False  # the metrics scrape failed: these are the last values it got

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "cpu": self.cpu,
            "memory": self.memory,
            "rps": self.rps,
            "stale": self.stale,
        }

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> ServiceView:
        return cls(
            name=name,
            status=str(data["status"]),
            latency_ms=float(data["latency_ms"]),
            error_rate=float(data["error_rate"]),
            cpu=float(data["cpu"]),
            memory=float(data["memory"]),
            rps=float(data["rps"]),
            stale=bool(data.get("stale", False)),
        )


@dataclass(frozen=True, slots=True)
class LogLine:
    step: int
    service: str
    level: str
    text: str

    def __str__(self) -> str:
        return f"{self.level:<5} {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "service": self.service, "level": self.level, "text": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogLine:
        return cls(int(data["step"]), str(data["service"]), str(data["level"]), str(data["text"]))


@dataclass(frozen=True, slots=True)
class RewardEvent:
    """One row of the reward table (`row` is a key of `rewards` in the manifest). `step` is the step the
    row belongs to; rows that judge hidden truth are paid at the episode's end with their own step."""

    row: str
    value: float
    step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"row": self.row, "value": self.value}
        if self.step is not None:
            data["step"] = self.step
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RewardEvent:
        step = data.get("step")
        return cls(str(data["row"]), float(data["value"]), None if step is None else int(step))


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything a player sees after a step; `reward`/`done` ride on it (OpenEnv style)."""

    step: int
    remaining: int
    services: dict[str, ServiceView]
    alerts: tuple[str, ...]
    logs: tuple[LogLine, ...] | None
    logs_service: str | None
    message: str
    action: dict[str, Any] | None
    valid: bool
    error: str | None
    reward: float
    rewards: tuple[RewardEvent, ...]
    score: float
    done: bool
    outcome: str | None
    diagnosis: dict[str, str] | None
    difficulty: str
    scenario: str | None
    story: str | None
    can_diagnose: bool = True  # diagnose is a legal move now (before the first fix of this page)
    page: int = 1  # 1, or 2 once a second fault has paged the player
    breakers: tuple[str, ...] = ()  # services behind breakers the player opened
    impact: dict[str, float] = field(default_factory=dict)  # failed_requests, cost (information, not reward)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "remaining": self.remaining,
            "services": {name: view.to_dict() for name, view in self.services.items()},
            "alerts": list(self.alerts),
            "logs": None if self.logs is None else [line.to_dict() for line in self.logs],
            "logs_service": self.logs_service,
            "message": self.message,
            "action": self.action,
            "valid": self.valid,
            "error": self.error,
            "reward": self.reward,
            "rewards": [event.to_dict() for event in self.rewards],
            "score": self.score,
            "done": self.done,
            "outcome": self.outcome,
            "diagnosis": self.diagnosis,
            "difficulty": self.difficulty,
            "scenario": self.scenario,
            "story": self.story,
            "can_diagnose": self.can_diagnose,
            "page": self.page,
            "breakers": list(self.breakers),
            "impact": dict(self.impact),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        """Rebuild an observation saved with `to_dict` (replays, remote clients)."""
        logs = data.get("logs")
        return cls(
            step=int(data["step"]),
            remaining=int(data["remaining"]),
            services={name: ServiceView.from_dict(name, view) for name, view in data["services"].items()},
            alerts=tuple(str(a) for a in data.get("alerts", ())),
            logs=None if logs is None else tuple(LogLine.from_dict(line) for line in logs),
            logs_service=data.get("logs_service"),
            message=str(data.get("message", "")),
            action=data.get("action"),
            valid=bool(data.get("valid", True)),
            error=data.get("error"),
            reward=float(data.get("reward", 0.0)),
            rewards=tuple(RewardEvent.from_dict(e) for e in data.get("rewards", ())),
            score=float(data.get("score", 0.0)),
            done=bool(data.get("done", False)),
            outcome=data.get("outcome"),
            diagnosis=data.get("diagnosis"),
            difficulty=str(data.get("difficulty", "normal")),
            scenario=data.get("scenario"),
            story=data.get("story"),
            can_diagnose=bool(data.get("can_diagnose", True)),
            page=int(data.get("page", 1)),
            breakers=tuple(str(b) for b in data.get("breakers", ())),
            impact={str(k): float(v) for k, v in (data.get("impact") or {}).items()},
            metadata=dict(data.get("metadata") or {}),
        )


def fast_constructor(cls: type) -> Any:
    """A positional constructor for a frozen slotted dataclass that sets each slot through its descriptor:
    the same object as `cls(*values)` (every field given, in field order) at a third of the cost of the
    generated `__init__`, which goes through `object.__setattr__` per field. For the env's hot path."""
    names = [f for f in cls.__slots__]  # type: ignore[attr-defined]
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    scope.update({f"set_{name}": getattr(cls, name).__set__ for name in names})
    body = "".join(f"    set_{name}(obj, {name})\n" for name in names)
    code = f"def make({', '.join(names)}):\n    obj = new(cls)\n{body}    return obj\n"
    exec(code, scope)
    return scope["make"]


make_service_view = fast_constructor(ServiceView)
make_observation = fast_constructor(Observation)


@dataclass(frozen=True, slots=True)
class ServiceTruth:
    """The hidden state of one service."""

    name: str
    health: float
    own_health: float
    memory: float
    replicas: int
    version: str
    faulty: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "health": self.health,
            "own_health": self.own_health,
            "memory": self.memory,
            "replicas": self.replicas,
            "version": self.version,
            "faulty": self.faulty,
        }


@dataclass(frozen=True, slots=True)
class EnvState:
    """The referee's view: episode bookkeeping plus the full hidden truth (OpenEnv `state`)."""

    episode_id: str
    step_count: int
    seed: int
    difficulty: str
    scenario: str | None
    root_service: str
    fault_mode: str
    fault_phase: str  # "active" | "dormant" (memory_leak between restarts) | "fixed"
    stress: float
    services: dict[str, ServiceTruth]
    score: float
    diagnosis: dict[str, str] | None
    diagnosis_correct: bool
    fix_step: int | None
    confirm_streak: int
    collapse_streak: int
    done: bool
    outcome: str | None
    faults: tuple[dict[str, Any], ...] = ()  # every fault of the episode, in order, with its verdicts
    pending: tuple[RewardEvent, ...] = ()  # rows decided but not yet paid (paid at the end)
    mechanics: dict[str, Any] = field(default_factory=dict)  # which v2 mechanics this incident drew

    @property
    def mean_health(self) -> float:
        return sum(s.health for s in self.services.values()) / len(self.services)

    def to_dict(self) -> dict[str, Any]:
        return {
            "episode_id": self.episode_id,
            "step_count": self.step_count,
            "seed": self.seed,
            "difficulty": self.difficulty,
            "scenario": self.scenario,
            "root_service": self.root_service,
            "fault_mode": self.fault_mode,
            "fault_phase": self.fault_phase,
            "stress": self.stress,
            "services": {name: truth.to_dict() for name, truth in self.services.items()},
            "score": self.score,
            "diagnosis": self.diagnosis,
            "diagnosis_correct": self.diagnosis_correct,
            "fix_step": self.fix_step,
            "confirm_streak": self.confirm_streak,
            "collapse_streak": self.collapse_streak,
            "done": self.done,
            "outcome": self.outcome,
            "faults": [dict(f) for f in self.faults],
            "pending": [event.to_dict() for event in self.pending],
            "mechanics": dict(self.mechanics),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvState:
        """Rebuild a state saved with `to_dict` (a referee server's state message, a replay's truth)."""
        names = {f for f in cls.__dataclass_fields__}  # type: ignore[attr-defined]
        values = {key: data.get(key) for key in names}
        values["services"] = {
            name: ServiceTruth(name=name, **truth) for name, truth in (data.get("services") or {}).items()
        }
        values["faults"] = tuple(dict(f) for f in data.get("faults") or ())
        values["pending"] = tuple(RewardEvent.from_dict(e) for e in data.get("pending") or ())
        values["mechanics"] = dict(data.get("mechanics") or {})
        return cls(**values)
