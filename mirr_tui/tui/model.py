"""What the incident screen shows, computed from observations only (no Textual import).

The screens feed observations in (`IncidentView.apply`) and widgets render what this model holds,
so replays rebuild exactly the view a player had by applying frames 0..k again.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core import METRICS, Action, EnvConfig, Observation

HISTORY = 10  # sparkline length: the last observed values of each metric
SPARK = "▁▂▃▄▅▆▇█"
FIX_ROWS = ("correct_fix", "lucky_fix")
ROW_LABELS = {
    "correct_diagnosis": "correct diagnosis",
    "wrong_diagnosis": "wrong diagnosis",
    "correct_fix": "correct fix",
    "lucky_fix": "lucky fix (no diagnosis)",
    "wrong_fix": "wrong fix",
    "recovery_diagnosed": "recovery (diagnosed)",
    "recovery_undiagnosed": "recovery (undiagnosed)",
    "efficiency": "efficiency bonus",
    "efficiency_per_step": "efficiency bonus",
    "collapse": "collapse",
    "timeout": "timeout",
    "invalid": "invalid actions",
}
OUTCOME_TEXT = {
    "recovered": "RECOVERED",
    "collapsed": "COLLAPSED",
    "timed_out": "TIMED OUT",
    None: "in progress",
}


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the log viewer: an action and its result, or a log line read at that step."""

    step: int
    kind: str  # "page" | "action" | "invalid" | "log"
    service: str | None
    level: str
    text: str
    reward: float = 0.0


def topology_tiers(config: EnvConfig) -> list[list[str]]:
    """Services grouped by call depth from the entry points, so the call graph reads top to bottom."""
    called = {callee for spec in config.services for callee in spec.calls}
    depth = {spec.name: 0 for spec in config.services if spec.name not in called}
    if not depth:  # a cycle with no entry point: fall back to one row
        return [list(config.service_names)]
    frontier = list(depth)
    while frontier:
        following = []
        for name in frontier:
            for callee in config.service(name).calls:
                if callee not in depth:
                    depth[callee] = depth[name] + 1
                    following.append(callee)
        frontier = following
    for name in config.service_names:
        depth.setdefault(name, max(depth.values()) + 1)
    tiers: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for name in config.service_names:
        tiers[depth[name]].append(name)
    return tiers


def sparkline(values: Sequence[float], low: float, high: float, log_scale: bool = False) -> str:
    """Block characters for values on a fixed scale (so noise looks like noise, not like a trend)."""
    if log_scale:
        values = [math.log10(max(v, 1.0)) for v in values]
        low, high = math.log10(max(low, 1.0)), math.log10(max(high, 1.0))
    span = max(high - low, 1e-9)
    top = len(SPARK) - 1
    return "".join(SPARK[min(top, max(0, round((v - low) / span * top)))] for v in values)


def metric_scale(metric: str, values: Sequence[float]) -> tuple[float, float, bool]:
    """(low, high, log scale) used to draw one metric's sparkline."""
    if metric == "error_rate":
        return 0.0, 1.0, False
    if metric in ("cpu", "memory"):
        return 0.0, 100.0, False
    if metric == "latency_ms":
        return 1.0, 5000.0, True
    return 0.0, max([*values, 1.0]), False  # rps: relative to the busiest value seen


def format_metric(metric: str, value: float) -> str:
    if metric == "error_rate":
        return f"{value * 100:4.0f}%"
    if metric == "latency_ms":
        return f"{value:5.0f}ms" if value < 10000 else f"{value / 1000:4.0f}s "
    if metric in ("cpu", "memory"):
        return f"{value:4.0f}%"
    return f"{value:5.0f}"


class IncidentView:
    """The accumulated picture of one episode as the player saw it."""

    def __init__(self, service_names: Iterable[str], history: int = HISTORY) -> None:
        self.names = tuple(service_names)
        self.history: dict[str, dict[str, deque[float]]] = {
            name: {metric: deque(maxlen=history) for metric in METRICS} for name in self.names
        }
        self.entries: list[LogEntry] = []
        self.obs: Observation | None = None
        self.breakdown: dict[str, float] = {}
        self.reasoning: list[tuple[int, str]] = []
        self.logs_read: dict[str, list[int]] = {}
        self.fixes: list[tuple[int, str, float]] = []
        self.invalid_steps: list[int] = []
        self.diagnosis_step: int | None = None
        self.fix_step: int | None = None
        self.end_step: int | None = None

    @classmethod
    def rebuild(
        cls, service_names: Iterable[str], observations: Iterable[Observation], reasonings: Iterable[str | None] = ()
    ) -> IncidentView:
        """The view after applying these observations in order (replays use this for frame k)."""
        view = cls(service_names)
        reasons = list(reasonings)
        for n, obs in enumerate(observations):
            view.apply(obs, reasons[n] if n < len(reasons) else None)
        return view

    @property
    def step(self) -> int:
        return self.obs.step if self.obs else 0

    @property
    def done(self) -> bool:
        return bool(self.obs and self.obs.done)

    def apply(self, obs: Observation, reasoning: str | None = None) -> None:
        """Fold one observation (reset or step) into the view."""
        self.obs = obs
        for name, service in obs.services.items():
            if name in self.history:
                for metric in METRICS:
                    self.history[name][metric].append(float(getattr(service, metric)))
        for event in obs.rewards:
            self.breakdown[event.row] = self.breakdown.get(event.row, 0.0) + event.value
        rows = {event.row for event in obs.rewards}
        if rows & {"correct_diagnosis", "wrong_diagnosis"}:
            self.diagnosis_step = obs.step
        if rows & set(FIX_ROWS) and self.fix_step is None:
            self.fix_step = obs.step
        if obs.done and self.end_step is None:
            self.end_step = obs.step
        if reasoning:
            self.reasoning.append((obs.step, reasoning))
        if obs.action is None:
            self.entries.append(LogEntry(obs.step, "page", None, "PAGE", obs.message))
            return
        action_text = describe_action(obs.action)
        if not obs.valid:
            self.invalid_steps.append(obs.step)
            self.entries.append(
                LogEntry(obs.step, "invalid", None, "", f"{action_text} · {obs.error or obs.message}", obs.reward)
            )
            return
        self.entries.append(LogEntry(obs.step, "action", obs.action.get("service"), "", obs.message, obs.reward))
        kind = obs.action.get("type")
        if kind in ("restart", "rollback", "scale_up"):
            self.fixes.append((obs.step, action_text, obs.reward))
        if obs.logs is not None:
            service = obs.logs_service or "?"
            self.logs_read.setdefault(service, []).append(obs.step)
            for line in obs.logs:
                self.entries.append(LogEntry(obs.step, "log", line.service, line.level, line.text))

    def blocks_newest_first(self) -> list[list[LogEntry]]:
        """Entries grouped by step, newest step first; inside a step the action comes before its logs."""
        blocks: list[list[LogEntry]] = []
        for entry in self.entries:
            if blocks and blocks[-1][0].step == entry.step:
                blocks[-1].append(entry)
            else:
                blocks.append([entry])
        return blocks[::-1]

    def notes(self) -> list[str]:
        """What the player has learned so far (the play side pane)."""
        lines: list[str] = []
        obs = self.obs
        if obs and obs.diagnosis:
            lines.append(f"diagnosis: {obs.diagnosis['service']}/{obs.diagnosis['mode']} @{self.diagnosis_step}")
        else:
            lines.append("diagnosis: not yet committed")
        if self.logs_read:
            read = ", ".join(f"{name} @{'/'.join(map(str, steps))}" for name, steps in self.logs_read.items())
            lines.append(f"logs read: {read}")
        else:
            lines.append("logs read: none yet (l)")
        if self.fixes:
            lines.append("fixes tried:")
            lines.extend(f"  {step:02d} {text} {value:+g}" for step, text, value in self.fixes)
        if self.invalid_steps:
            lines.append(f"invalid actions: {len(self.invalid_steps)}")
        return lines


def describe_action(action: dict[str, Any] | None) -> str:
    """`restart payment` for a recorded action dict; the raw text for an invalid one."""
    if not action:
        return ""
    if "raw" in action:
        return str(action["raw"])
    try:
        return Action.from_dict(action).to_text()
    except ValueError:
        return str(action)


# ------------------------------------------------------------------------------- end summary
@dataclass(slots=True)
class EpisodeSummary:
    """What the end-of-episode modal shows."""

    outcome: str | None
    score: float
    breakdown: list[tuple[str, float]]
    root_service: str
    fault_mode: str
    diagnosis: dict[str, str] | None
    diagnosis_correct: bool
    diagnosis_step: int | None
    fix_step: int | None
    end_step: int | None
    seed: int
    comparisons: dict[str, tuple[float, str]] = field(default_factory=dict)

    def timeline(self) -> str:
        parts = []
        if self.diagnosis_step is not None and self.diagnosis:
            verdict = "right" if self.diagnosis_correct else "wrong"
            parts.append(
                f"step {self.diagnosis_step}: diagnosed {self.diagnosis['service']}/{self.diagnosis['mode']} ({verdict})"
            )
        else:
            parts.append("no diagnosis")
        parts.append(f"step {self.fix_step}: fixed the root cause" if self.fix_step is not None else "never fixed")
        if self.end_step is not None:
            parts.append(f"step {self.end_step}: {OUTCOME_TEXT.get(self.outcome, str(self.outcome)).lower()}")
        return " → ".join(parts)


def summarise(view: IncidentView, truth: dict[str, Any], comparisons: dict[str, tuple[float, str]]) -> EpisodeSummary:
    """Combine the player's view with the hidden truth (only revealed once the episode ends)."""
    obs = view.obs
    assert obs is not None, "summarise needs at least the reset observation"
    return EpisodeSummary(
        outcome=obs.outcome,
        score=obs.score,
        breakdown=sorted(view.breakdown.items(), key=lambda item: -abs(item[1])),
        root_service=str(truth.get("root_service")),
        fault_mode=str(truth.get("fault_mode")),
        diagnosis=obs.diagnosis,
        diagnosis_correct=bool(truth.get("diagnosis_correct")),
        diagnosis_step=view.diagnosis_step,
        fix_step=view.fix_step,
        end_step=view.end_step,
        seed=obs.seed,
        comparisons=comparisons,
    )


def compare_agents(
    config: EnvConfig, seed: int, options: dict[str, Any] | None, names: Sequence[str] = ("heuristic", "oracle")
) -> dict[str, tuple[float, str]]:
    """What other agents score on the same incident (fresh env, same seed and options)."""
    import agents

    from ..core import IncidentEnv
    from ..evaluation import run_episode

    results: dict[str, tuple[float, str]] = {}
    for name in names:
        result = run_episode(IncidentEnv(config), agents.create(name, config=config), seed, options=options)
        results[name] = (result.score, result.outcome)
    return results


# ------------------------------------------------------------------------------- replays
class ReplayCursor:
    """Which frame of a replay is shown; plain so tests can drive it without a screen."""

    def __init__(self, length: int, index: int = 0) -> None:
        if length < 1:
            raise ValueError("a replay has at least one frame")
        self.length = length
        self.index = 0
        self.jump(index)

    @property
    def last(self) -> int:
        return self.length - 1

    @property
    def at_start(self) -> bool:
        return self.index == 0

    @property
    def at_end(self) -> bool:
        return self.index == self.last

    def step(self, delta: int = 1) -> bool:
        """Move by `delta` frames (clamped); True if the cursor moved."""
        return self.jump(self.index + delta)

    def jump(self, index: int) -> bool:
        before = self.index
        self.index = max(0, min(self.last, index))
        return self.index != before

    def home(self) -> bool:
        return self.jump(0)

    def end(self) -> bool:
        return self.jump(self.last)


def scrubber(index: int, last: int, width: int = 30) -> str:
    """`▕━━━━━●━━━━━━━━▏ 7/13` for frame `index` of `last`."""
    width = max(3, width)
    position = 0 if last <= 0 else round(index / last * (width - 1))
    bar = "━" * position + "●" + "━" * (width - 1 - position)
    return f"▕{bar}▏ {index}/{last}"


def budget_bar(remaining: int, total: int, width: int = 15) -> str:
    """`▕███████░░░░░░░░▏`: steps used of the budget."""
    used = total - remaining
    filled = 0 if total <= 0 else round(used / total * width)
    return "▕" + "█" * filled + "░" * (width - filled) + "▏"
