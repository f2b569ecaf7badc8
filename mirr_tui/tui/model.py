"""What the incident screen shows, computed from observations only (no Textual import).

The screens feed observations in (`IncidentView.apply`) and widgets render what this model holds,
so replays rebuild exactly the view a player had by applying frames 0..k again.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core import METRICS, Action, EnvConfig, Observation, RewardEvent

HISTORY = 10  # sparkline length: the last observed values of each metric
SPARK = "▁▂▃▄▅▆▇█"
FIX_ROWS = ("correct_fix", "lucky_fix")
DIAGNOSIS_ROWS = ("correct_diagnosis", "wrong_diagnosis")
FIX_TYPES = ("restart", "rollback", "scale_up")
PAGE_AGAIN = "paged again:"  # the core's words for a second fault's page, inside the step's message
ROW_LABELS = {
    "correct_diagnosis": "correct diagnosis",
    "wrong_diagnosis": "wrong diagnosis",
    "correct_fix": "correct fix",
    "lucky_fix": "lucky fix (no right diagnosis)",
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
    kind: str  # "page" | "action" | "invalid" | "log" | "settle"
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


def shown_number(metric: str, value: float) -> int:
    """The whole number a panel shows for a metric (percent for the error rate), rounded half up: the one
    rounding the panels, their red values and the alert strip share (the core alerts from the same boundary)."""
    return math.floor((value * 100 if metric == "error_rate" else value) + 0.5)


def over_limit(metric: str, value: float, thresholds: Any) -> bool:
    """Whether the value as shown is over its alert limit (no limit: never)."""
    limit = getattr(thresholds, metric, None)
    if limit is None:
        return False
    return shown_number(metric, value) > (limit * 100 if metric == "error_rate" else limit)


def format_metric(metric: str, value: float) -> str:
    if metric == "latency_ms" and value >= 10000:
        return f"{shown_number(metric, value / 1000):4d}s "
    number = shown_number(metric, value)
    if metric == "error_rate":
        return f"{number:4d}%"
    if metric == "latency_ms":
        return f"{number:5d}ms"
    if metric in ("cpu", "memory"):
        return f"{number:4d}%"
    return f"{number:5d}"


ALERT_WORDS = {"error_rate": "error rate", "latency_ms": "p95", "cpu": "cpu", "memory": "memory"}


def alert_lines(obs: Observation, thresholds: Any) -> list[str]:
    """The observation's alerts worded with the panels' rounding, in the core's order: a scrape that failed,
    a health check that is not ok, then each metric shown over its limit (`orders error rate 6% > 5%`)."""
    lines = []
    for name, service in obs.services.items():
        if service.stale:
            lines.append(f"{name} metrics stale: scrape failing")
        if service.status != "ok":
            lines.append(f"{name} health check {service.status}")
        for metric, word in ALERT_WORDS.items():
            value = float(getattr(service, metric))
            if over_limit(metric, value, thresholds):
                limit = getattr(thresholds, metric)
                shown, unit = format_metric(metric, value).strip(), "%" if metric != "latency_ms" else "ms"
                limit_text = f"{shown_number(metric, limit)}{unit}" if metric == "error_rate" else f"{limit:g}{unit}"
                lines.append(f"{name} {word} {shown} > {limit_text}")
    return lines


class IncidentView:
    """The accumulated picture of one episode as the player saw it."""

    def __init__(self, service_names: Iterable[str], history: int = HISTORY) -> None:
        self.names = tuple(service_names)
        self.history: dict[str, dict[str, deque[float]]] = {
            name: {metric: deque(maxlen=history) for metric in METRICS} for name in self.names
        }
        self.entries: list[LogEntry] = []
        self.obs: Observation | None = None
        self.observations: list[Observation] = []  # every one applied, in order (the post-mortem reads them)
        self.breakdown: dict[str, float] = {}
        self.reasoning: list[tuple[int, str]] = []
        self.logs_read: dict[str, list[int]] = {}
        self.fixes: list[tuple[int, str]] = []
        self.invalid_steps: list[int] = []
        self.pages: list[int] = []  # the step each page came at (page 1 at the reset)
        self.diagnoses: dict[int, tuple[int, dict[str, str]]] = {}  # page -> (step, diagnosis) committed
        self.breakers: tuple[str, ...] = ()
        self.breaker_moves: list[tuple[int, str]] = []
        self.paid: list[RewardEvent] = []  # every reward row paid, in the order paid (most at the end)
        self.diagnosis_step: int | None = None  # the first page's diagnosis
        self.fix_step: int | None = None  # the first right fix of the root cause (known once the rows settle)
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

    @property
    def page(self) -> int:
        return self.obs.page if self.obs else 1

    def page_fix(self) -> tuple[int, str] | None:
        """The first fix tried since the current page (it closed the diagnosis window), if any."""
        since = self.pages[-1] if self.pages else 0
        return next(((step, text) for step, text in self.fixes if step > since), None)

    def diagnose_closed_reason(self) -> str | None:
        """Why diagnose is not a legal move now (None when it is), in the player's own terms."""
        obs = self.obs
        if obs is None or obs.can_diagnose:
            return None
        if obs.done:
            return "the episode is over"
        committed = self.diagnoses.get(self.page)
        if committed is not None:
            step, d = committed
            return f"already diagnosed {d['service']}/{d['mode']} at step {step}: one diagnosis per page"
        fix = self.page_fix()
        if fix is not None:
            return f"{fix[1]} ran at step {fix[0]}: a diagnosis comes before the first fix of a page"
        return "diagnose is not possible now"

    def apply(self, obs: Observation, reasoning: str | None = None) -> None:
        """Fold one observation (reset or step) into the view."""
        before = self.obs
        self.obs = obs
        self.observations.append(obs)
        for name, service in obs.services.items():
            if name in self.history:
                for metric in METRICS:
                    self.history[name][metric].append(float(getattr(service, metric)))
        for event in obs.rewards:
            self.breakdown[event.row] = self.breakdown.get(event.row, 0.0) + event.value
            self.paid.append(event)
            at = event.step if event.step is not None else obs.step
            if event.row in FIX_ROWS and self.fix_step is None:
                self.fix_step = at
        self.breakers = tuple(obs.breakers)
        if obs.done and self.end_step is None:
            self.end_step = obs.step
        if reasoning:
            self.reasoning.append((obs.step, reasoning))
        if obs.action is None:
            self.pages = [obs.step]
            self.entries.append(LogEntry(obs.step, "page", None, "PAGE", obs.message))
            return
        paged = before is not None and obs.page > before.page
        if paged:
            self.pages.append(obs.step)
        message, page_text = _split_page(obs.message) if paged else (obs.message, "")
        action_text = describe_action(obs.action)
        paid_now = sum(e.value for e in obs.rewards if e.row == "invalid")  # the rest is shown when it settles
        if not obs.valid:
            self.invalid_steps.append(obs.step)
            self.entries.append(
                LogEntry(obs.step, "invalid", None, "", f"{action_text} · {obs.error or message}", paid_now)
            )
        else:
            self.entries.append(LogEntry(obs.step, "action", obs.action.get("service"), "", message, paid_now))
            kind = obs.action.get("type")
            if kind in FIX_TYPES:
                self.fixes.append((obs.step, action_text))
            if kind == "circuit_break":
                opened = obs.action.get("service") in obs.breakers
                service = obs.action.get("service")
                self.breaker_moves.append((obs.step, f"{'opened' if opened else 'closed'} {service}'s breakers"))
            if kind == "diagnose" and obs.action.get("service") and obs.action.get("mode"):
                page = before.page if before is not None else 1
                committed = {"service": str(obs.action["service"]), "mode": str(obs.action["mode"])}
                self.diagnoses.setdefault(page, (obs.step, committed))
                if page == 1 and self.diagnosis_step is None:
                    self.diagnosis_step = obs.step
            if obs.logs is not None:
                service = obs.logs_service or "?"
                self.logs_read.setdefault(service, []).append(obs.step)
                for line in obs.logs:
                    self.entries.append(LogEntry(obs.step, "log", line.service, line.level, line.text))
        if paged:
            self.entries.append(LogEntry(obs.step, "page", None, "PAGE", page_text or obs.message))
        if obs.done:
            self.entries.append(LogEntry(obs.step, "settle", None, "", settle_text(self.paid), obs.score))

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
        """What the player has learned so far (the play side pane); never a verdict before the end."""
        lines: list[str] = []
        obs = self.obs
        pages = max(1, len(self.pages))
        for page in range(1, pages + 1):
            label = "diagnosis" if pages == 1 else f"page {page} diagnosis"
            committed = self.diagnoses.get(page)
            if committed is not None:
                step, d = committed
                lines.append(f"{label}: {d['service']}/{d['mode']} @{step}")
            elif page == pages and obs is not None and obs.can_diagnose:
                lines.append(f"{label}: not yet committed (d)")
            elif page == pages and obs is not None and not obs.done and self.page_fix() is not None:
                lines.append(f"{label}: closed, you fixed first")
            else:
                lines.append(f"{label}: none")
        if pages > 1:
            lines.append(f"paged again at step {self.pages[-1]}: a second incident")
        if self.logs_read:
            read = ", ".join(f"{name} @{'/'.join(map(str, steps))}" for name, steps in self.logs_read.items())
            lines.append(f"logs read: {read}")
        else:
            lines.append("logs read: none yet (l)")
        if self.fixes:
            lines.append("fixes tried:")
            lines.extend(f"  {step:02d} {text}" for step, text in self.fixes)
        if self.breakers:
            lines.append(f"breakers open: {', '.join(self.breakers)} (c again closes)")
        if self.invalid_steps:
            lines.append(f"invalid actions: {len(self.invalid_steps)} (-1 each)")
        if obs is not None and not obs.done:
            lines.append("diagnoses and fixes are judged when the episode ends")
        return lines


def _split_page(message: str) -> tuple[str, str]:
    """(the action's result, the second page's text) of a step's message."""
    at = message.find(PAGE_AGAIN)
    if at < 0:
        return message, ""
    head = message[:at].rstrip().removesuffix("·").rstrip()
    return head, message[at:]


def settle_text(paid: Sequence[RewardEvent]) -> str:
    """The end's log line: every row paid, with the step it belongs to."""
    rows = sorted(paid, key=lambda e: e.step if e.step is not None else 10**6)
    parts = [f"{ROW_LABELS.get(e.row, e.row)} {e.value:+g} @{e.step}" for e in rows]
    return "score settled: " + (" · ".join(parts) if parts else "no rows paid")


def format_count(value: float) -> str:
    """1,234 below ten thousand, then 12.3k, 1.2M."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    return f"{value:,.0f}"


def format_money(value: float, currency: str = "$") -> str:
    return f"{currency}{format_count(value)}"


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
