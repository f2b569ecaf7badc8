"""The post-mortem of a finished episode: what the root and mode were, the evidence that showed it and the
step it was first visible (which metric, which log line), the right fix, and why each wrong move did not help
(or made it worse). Pure: computed from the episode's observations (a replay's frames) and the truth revealed
at the end; no Textual, no env."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import Any

from .core import EnvConfig, Observation, ServiceView
from .core.logs import RELAPSE, SIGNATURES, VICTIM
from .tui.model import alert_lines, describe_action, format_metric

FIX_MOVES = ("restart", "rollback", "scale_up")

# What each mode's telltale metric looks like on the root's panel (the first step it holds is "first visible").
METRIC_TELLS: dict[str, str] = {
    "crashed": "health check down with almost no traffic",
    "memory_leak": "memory climbing step after step",
    "overloaded": "cpu saturated",
    "bad_deploy": "errors over the limit while its health check said ok",
}

# Why a wrong move on the root did not help, by (mode, move).
ROOT_MISSES: dict[tuple[str, str], str] = {
    (
        "bad_deploy",
        "restart",
    ): "a restart brings the same bad build back up and worsens it (each restart costs it health)",
    ("bad_deploy", "scale_up"): "more replicas of the bad build serve more of the same errors",
    ("crashed", "rollback"): "the build is fine: the process is down, and only a restart brings it back",
    ("crashed", "scale_up"): "new replicas of a crashing process crash too: only a restart brings it back",
    (
        "overloaded",
        "restart",
    ): "a restart drops the queue for a moment; the load comes straight back (it needs capacity)",
    ("overloaded", "rollback"): "the build is fine: the service is out of capacity, and only a scale up adds it",
    (
        "memory_leak",
        "rollback",
    ): "the leak is in the running process: a restart clears the heap (and again after it relapses)",
    ("memory_leak", "scale_up"): "new replicas leak too: a restart clears the heap (and again after it relapses)",
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """Something the player could see: a metric on a panel, or a log line read."""

    step: int
    kind: str  # "metric" | "alert" | "caller" (an alert on a caller) | "log" | "pointer" (a log line blaming it)
    text: str


@dataclass(frozen=True, slots=True)
class WrongMove:
    """A wrong fix (a `wrong_fix` row) with its step and why it did not help."""

    step: int
    move: str
    value: float
    why: str
    target: str = ""
    health_before: float | None = None  # the target's true health before the move, and after it
    health_after: float | None = None

    @property
    def effect(self) -> str:
        return health_change(self.target, self.health_before, self.health_after)


@dataclass(frozen=True, slots=True)
class WrongRun:
    """The same wrong fix on consecutive steps (one row per step in the score; one line in the post-mortem)."""

    first: int
    last: int
    move: str
    count: int
    value: float
    why: str
    effect: str  # the target's true health from before the first to after the last, when it fell

    @property
    def steps(self) -> str:
        return f"step {self.first}" if self.first == self.last else f"steps {self.first}-{self.last}"


@dataclass(slots=True)
class FaultPostMortem:
    service: str
    mode: str
    page: int
    started_at: int
    signature: str
    right_fix: str
    fixed_at: int | None
    first_metric: Evidence | None  # the mode's telltale metric on the root's panel, the first step it showed
    first_alert: Evidence | None  # the first alert that named the root
    first_caller_alert: Evidence | None  # the first alert on a service that calls the root (where to look next)
    first_log: Evidence | None  # the root's own signature line, the first time the player read it
    first_pointer: Evidence | None  # the first log line read that blamed the root
    logs_read_at: list[int]  # the steps the root's logs were read
    diagnosis: tuple[int, str, str] | None  # (step, service, mode) committed for this page
    diagnosis_correct: bool
    wrong_moves: list[WrongMove] = field(default_factory=list)
    quiet: bool = False  # the root looked healthier than its victims
    masked: bool = False  # its metrics looked like another mode
    relapsed_at: int | None = None  # memory_leak: the step the leak came back after the first restart
    held_at: int | None = None  # the step the fix that held was made (the second restart after a relapse)

    @property
    def cause(self) -> str:
        return f"{self.service}/{self.mode}"

    def wrong_runs(self) -> list[WrongRun]:
        """The wrong-fix rows, a run of the same move on consecutive steps as one (steps 1-20, x20)."""
        runs: list[list[WrongMove]] = []
        for move in self.wrong_moves:
            if runs and runs[-1][-1].move == move.move and runs[-1][-1].step == move.step - 1:
                runs[-1].append(move)
            else:
                runs.append([move])
        return [
            WrongRun(
                run[0].step,
                run[-1].step,
                run[0].move,
                len(run),
                sum(m.value for m in run),
                run[0].why,
                health_change(run[0].target, run[0].health_before, run[-1].health_after),
            )
            for run in runs
        ]

    def verdict(self) -> str:
        """One sentence: what it was, when it showed, what would have fixed it."""
        first = self.first_metric or self.first_alert
        shown = f"on its own panel from step {first.step}" if first else "never clear on its own panel"
        seen = [e for e in (self.first_log, self.first_pointer, self.first_caller_alert) if e is not None]
        earliest = min(seen, key=lambda e: e.step) if seen else None
        if earliest is not None and (first is None or earliest.step < first.step):  # the evidence list starts there
            where = {"log": "its logs", "pointer": "a log blaming it", "caller": "an alert on a caller"}[earliest.kind]
            shown = f"first visible at step {earliest.step} ({where}), {shown}"
        if self.quiet:
            shown += f" ({quiet_text(self.mode)})"
        fixed = f"fixed at step {self.fixed_at}" if self.fixed_at is not None else "never fixed"
        if self.relapsed_at is not None:
            fixed = f"restarted at step {self.fixed_at}; the leak came back at step {self.relapsed_at}, " + (
                f"and the restart at step {self.held_at} held" if self.held_at is not None else "never restarted again"
            )
        return f"{self.cause}, {shown}: the fix was {self.right_fix} ({fixed})"


def quiet_text(mode: str, short: bool = False) -> str:
    """How a silent root showed on its own panel. Its numbers stay calm, except that a crash freezes its
    metrics scrape (stale) and a leak shows once the process runs out of memory (mirr_tui/core/observe.py)."""
    if mode == "crashed":
        return "stale metrics" if short else "a silent crash: its metrics scrape went stale, frozen numbers, not health"
    if mode == "memory_leak":
        return (
            "quiet until out of memory"
            if short
            else "a quiet leak: its numbers stay calm, except when it runs out of memory (an OOM kill shows as down)"
        )
    return "quiet root" if short else "a quiet root: it looked healthier than its victims"


@dataclass(slots=True)
class PostMortem:
    outcome: str | None
    faults: list[FaultPostMortem]
    wrong_fix_total: float
    diagnosis_reward: float  # rewards.correct_diagnosis in openenv.yaml

    @property
    def wrong_moves(self) -> list[WrongMove]:
        return sorted((m for f in self.faults for m in f.wrong_moves), key=lambda m: m.step)

    def lessons(self) -> list[str]:
        """The few sentences to take away, most important first."""
        lessons = []
        for fault in self.faults:
            d = fault.diagnosis
            if d is None:
                if fault.first_log is None and not fault.logs_read_at:
                    lessons.append(
                        f"{fault.service}'s logs were never read: `l` on {fault.service} shows {fault.mode}'s"
                        f" signature ({fault.signature})"
                    )
                lessons.append(
                    f"no diagnosis for {fault.cause}: commit one before the first fix"
                    f" ({self.diagnosis_reward:+g} when right)"
                )
            elif not fault.diagnosis_correct:
                lessons.append(f"diagnosed {d[1]}/{d[2]} at step {d[0]}; it was {fault.cause}")
            if fault.wrong_moves:
                total = sum(m.value for m in fault.wrong_moves)
                worse = [run.effect for run in fault.wrong_runs() if run.effect]
                made = f", and they made it worse ({worse[0]})" if worse else ""
                lessons.append(f"{len(fault.wrong_moves)} wrong fix(es) cost {total:+.1f}{made}")
            if fault.relapsed_at is not None and fault.held_at is None:
                lessons.insert(
                    0,
                    f"the leak came back at step {fault.relapsed_at} ({fault.service}'s memory climbed again; its logs"
                    " said 'climbing again since restart'): a second restart of {fault.service} then holds, as a leak relapses only once",
                )
            if fault.fixed_at is None:
                lessons.append(f"the fix was {fault.right_fix} ({fault.mode} → {fault.right_fix.split()[0]})")
        return lessons


@lru_cache(maxsize=64)
def _pattern(template: str) -> re.Pattern[str]:
    """A log template (`deploy {version} rolled out {minutes}m ago`) as a regex over rendered lines."""
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("^" + ".+?".join(re.escape(part) for part in parts) + "$")


def matches_signature(text: str, mode: str) -> bool:
    templates = [t for _, t in SIGNATURES.get(mode, ())]
    if mode == "memory_leak":
        templates.append(RELAPSE[1])
    return any(_pattern(t).match(text) for t in templates)


def blames(text: str, service: str) -> bool:
    """Whether a victim's line names `service` as the callee it waits on."""
    return any(_pattern(t.replace("{callee}", service)).match(text) for _, t in VICTIM)


def _metric_tell(mode: str, view: ServiceView, before: ServiceView | None, config: EnvConfig) -> str | None:
    """The root's panel at one step, if it shows the mode's telltale metric (worded with the panel's numbers)."""
    if view.stale:
        return None
    limits = config.alerts
    if mode == "crashed" and view.status == "down":
        return f"{view.name} health check down, rps {format_metric('rps', view.rps).strip()}"
    climbing = before is not None and not before.stale and view.memory > before.memory
    if mode == "memory_leak" and climbing and view.memory >= limits.memory * 0.8:
        return f"{view.name} memory {format_metric('memory', view.memory).strip()} and climbing"
    if mode == "overloaded" and view.cpu > limits.cpu:
        return f"{view.name} cpu {format_metric('cpu', view.cpu).strip()} (limit {limits.cpu:g}%)"
    if mode == "bad_deploy" and view.error_rate > limits.error_rate and view.status == "ok":
        return f"{view.name} error rate {format_metric('error_rate', view.error_rate).strip()} with its health check ok"
    return None


def true_health(truth: Mapping[str, Any] | None, service: str) -> float | None:
    """A service's hidden health in one frame's truth (revealed once the episode is over)."""
    if not truth:
        return None
    value = (truth.get("services") or {}).get(service, {}).get("health")
    return float(value) if value is not None else None


def health_change(service: str, before: float | None, after: float | None) -> str:
    """`payment true health 0.62 → 0.47` when the hidden health fell across moves (else "")."""
    if before is None or after is None or round(after, 2) >= round(before, 2):
        return ""
    return f"{service} true health {before:.2f} → {after:.2f}"


def _why(move_kind: str, target: str, fault_service: str, mode: str, right: str) -> str:
    if target != fault_service:
        return (
            f"{target} was not the root ({fault_service} was): {move_kind} there fixes nothing and blips it for a step"
        )
    if move_kind == right:
        return f"{move_kind} was the fix, but it had already been applied"
    return ROOT_MISSES.get((mode, move_kind), f"{mode} is fixed by {right}, not {move_kind}")


def build_post_mortem(
    config: EnvConfig, observations: Sequence[Observation], truths: Sequence[Mapping[str, Any]]
) -> PostMortem:
    """The post-mortem of an episode from its frames: the observations (frame 0 = the reset) and each frame's
    truth, aligned (with only the end's truth, moves are judged without what they did to the hidden health)."""
    if not observations or not truths:
        raise ValueError("a post-mortem needs at least the reset observation and the final truth")
    truth = truths[-1]
    truth_at = {obs.step: t for obs, t in zip(observations, truths, strict=False)} if len(truths) > 1 else {}
    raw_faults = list(truth.get("faults") or [])
    if not raw_faults:
        raw_faults = [
            {
                "service": truth.get("root_service"),
                "mode": truth.get("fault_mode"),
                "phase": truth.get("fault_phase"),
                "started_at": 0,
                "diagnosis_correct": truth.get("diagnosis_correct"),
                "fix_step": truth.get("fix_step"),
            }
        ]
    started = [(n, raw) for n, raw in enumerate(raw_faults) if raw.get("phase") != "pending"]
    by_step = {obs.step: obs for obs in observations}
    paid = [event for obs in observations for event in obs.rewards]
    wrong_rows = sorted((e for e in paid if e.row == "wrong_fix" and e.step is not None), key=lambda e: e.step)
    faults: list[FaultPostMortem] = []
    for index, (n, raw) in enumerate(started):
        service, mode = str(raw.get("service")), str(raw.get("mode"))
        begin = int(raw.get("started_at") or 0)
        # This fault's window: from its page to the next fault's page (or the end).
        end = int(started[index + 1][1].get("started_at") or 10**6) if index + 1 < len(started) else 10**6
        window = [obs for obs in observations if begin <= obs.step < end or (index == 0 and obs.step == 0)]
        spec = config.fault_modes[mode]
        first_metric = first_alert = first_caller_alert = first_log = first_pointer = None
        callers = [spec.name for spec in config.services if service in spec.calls]
        logs_read_at: list[int] = []
        diagnosis = None
        before: ServiceView | None = None
        for obs in window:
            view = obs.services.get(service)
            if view is not None:
                if first_metric is None:
                    tell = _metric_tell(mode, view, before, config)
                    if tell is not None:
                        first_metric = Evidence(obs.step, "metric", tell)
                alerts = alert_lines(obs, config.alerts) if first_alert is None or first_caller_alert is None else []
                if first_alert is None:
                    alert = next((a for a in alerts if a.startswith(f"{service} ")), None)
                    if alert is not None:
                        first_alert = Evidence(obs.step, "alert", alert)
                if first_caller_alert is None:
                    alert = next((a for a in alerts if a.split(" ", 1)[0] in callers), None)
                    if alert is not None:
                        first_caller_alert = Evidence(
                            obs.step, "caller", f"{alert} ({alert.split()[0]} calls {service})"
                        )
                before = view
            if obs.logs is not None and obs.logs_service == service:
                logs_read_at.append(obs.step)
            for line in obs.logs or ():
                if first_log is None and line.service == service and matches_signature(line.text, mode):
                    first_log = Evidence(obs.step, "log", f"{line.service} {line.level} {line.text}")
                if first_pointer is None and line.service != service and blames(line.text, service):
                    first_pointer = Evidence(obs.step, "pointer", f"{line.service} {line.level} {line.text}")
            action = obs.action or {}
            if obs.valid and action.get("type") == "diagnose" and diagnosis is None and obs.step > 0:
                diagnosis = (obs.step, str(action.get("service")), str(action.get("mode")))
        wrong_moves = []
        for event in wrong_rows:
            if not begin <= event.step < end and not (index == 0 and event.step < begin):
                continue
            obs = by_step.get(event.step)
            action = (obs.action if obs else None) or {}
            kind, target = str(action.get("type")), str(action.get("service"))
            wrong_moves.append(
                WrongMove(
                    event.step,
                    describe_action(action),
                    event.value,
                    _why(kind, target, service, mode, spec.fix),
                    target,
                    true_health(truth_at.get(event.step - 1), target),
                    true_health(truth_at.get(event.step), target),
                )
            )
        fix_step = raw.get("fix_step")
        phases = [
            (step, str(t["faults"][n].get("phase")))
            for step, t in sorted(truth_at.items())
            if len(t.get("faults") or ()) > n
        ]
        relapsed_at = next(
            (step for (_, was), (step, now) in pairwise(phases) if was == "dormant" and now == "active"), None
        )
        held_at = next((step for step, phase in phases if phase == "fixed"), None) if relapsed_at is not None else None
        faults.append(
            FaultPostMortem(
                service=service,
                mode=mode,
                page=n + 1,
                started_at=begin,
                signature=spec.signature,
                right_fix=f"{spec.fix} {service}",
                fixed_at=int(fix_step) if fix_step is not None else None,
                first_metric=first_metric,
                first_alert=first_alert,
                first_caller_alert=first_caller_alert,
                first_log=first_log,
                first_pointer=first_pointer,
                logs_read_at=logs_read_at,
                diagnosis=diagnosis,
                diagnosis_correct=bool(raw.get("diagnosis_correct")),
                wrong_moves=wrong_moves,
                quiet=bool(raw.get("silent")),
                masked=bool(raw.get("masked")),
                relapsed_at=relapsed_at,
                held_at=held_at,
            )
        )
    return PostMortem(
        outcome=observations[-1].outcome,
        faults=faults,
        wrong_fix_total=sum(e.value for e in wrong_rows),
        diagnosis_reward=config.rewards.correct_diagnosis,
    )
