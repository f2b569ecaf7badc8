"""The end-of-episode summary, computed from the episode's observations and truth (no Textual import): the
settled rows, every fault, the timeline in step order and what other agents score on the same seed. The view
model of the screen during the episode is in model.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core import EnvConfig
from .model import OUTCOME_TEXT, IncidentView


# ------------------------------------------------------------------------------- end summary
@dataclass(slots=True)
class FaultSummary:
    """One fault of the episode as the referee saw it, with the player's diagnosis and fix (the end only)."""

    service: str
    mode: str
    started_at: int
    phase: str
    masked: bool = False
    silent: bool = False
    diagnosis: dict[str, str] | None = None
    diagnosis_step: int | None = None
    diagnosis_correct: bool = False
    fix_step: int | None = None

    @property
    def cause(self) -> str:
        return f"{self.service}/{self.mode}"


@dataclass(slots=True)
class EpisodeSummary:
    """What the end-of-episode modal shows."""

    outcome: str | None
    score: float
    breakdown: list[tuple[str, float]]  # by row, largest first
    rows: list[tuple[str, float, int | None]]  # every row paid, by step: (row, value, step)
    faults: list[FaultSummary]
    end_step: int | None
    seed: int
    impact: dict[str, float] = field(default_factory=dict)
    currency: str = "$"
    moves: list[tuple[int, str, str]] = field(default_factory=list)  # (step, move, verdict) for fixes, breakers
    comparisons: dict[str, tuple[float, str]] = field(default_factory=dict)
    post_mortem: Any = None  # a postmortem.PostMortem, built by the screen from the episode's observations
    habits: list[str] = field(default_factory=list)  # failure tags with their steps (mirr_tui.tags)
    bests: str = ""  # "your best on this seed: ..." (mirr_tui.scores.best_text)
    share_card: str = ""  # the daily incident's spoiler-free card

    # The first fault (the incident that paged the player): what a one-fault episode is about.
    @property
    def root_service(self) -> str:
        return self.faults[0].service if self.faults else "?"

    @property
    def fault_mode(self) -> str:
        return self.faults[0].mode if self.faults else "?"

    @property
    def diagnosis(self) -> dict[str, str] | None:
        return self.faults[0].diagnosis if self.faults else None

    @property
    def started(self) -> list[FaultSummary]:
        """The faults that happened (a second fault may still have been waiting when the episode ended)."""
        return [fault for fault in self.faults if fault.phase != "pending"]

    @property
    def diagnosis_correct(self) -> bool:
        return bool(self.started) and all(fault.diagnosis_correct for fault in self.started)

    @property
    def fix_step(self) -> int | None:
        return self.faults[0].fix_step if self.faults else None

    def timeline(self) -> str:
        """What happened, in step order: pages, diagnoses (with their verdict), fixes and breakers, the end."""
        # (step, order inside the step, text): a step's move comes first, then what it led to (a page that
        # came after the move, then the end), so every line reads in the order it happened.
        events: list[tuple[int, int, str]] = []
        for n, fault in enumerate(self.faults):
            if fault.phase == "pending":
                continue
            if n > 0:
                events.append((fault.started_at, 2, f"paged again ({fault.cause})"))
            if fault.diagnosis is not None and fault.diagnosis_step is not None:
                verdict = "right" if fault.diagnosis_correct else "wrong"
                d = fault.diagnosis
                events.append((fault.diagnosis_step, 1, f"diagnosed {d['service']}/{d['mode']} ({verdict})"))
        for step, move, verdict in self.moves:
            events.append((step, 1, f"{move} ({verdict})" if verdict else move))
        if self.end_step is not None:
            events.append((self.end_step, 3, OUTCOME_TEXT.get(self.outcome, str(self.outcome)).lower()))
        # The same move on consecutive steps reads once: `steps 1-20: restart payment x20 (wrong fix)`.
        runs: list[list[Any]] = []  # [first step, last step, text, count]
        for step, _, text in sorted(events, key=lambda e: (e[0], e[1])):
            if runs and runs[-1][2] == text and runs[-1][1] == step - 1:
                runs[-1][1], runs[-1][3] = step, runs[-1][3] + 1
            else:
                runs.append([step, step, text, 1])
        parts = [
            f"step {first}: {text}" if count == 1 else f"steps {first}-{last}: {_times(text, count)}"
            for first, last, text, count in runs
        ]
        if all(fault.diagnosis is None for fault in self.faults):
            parts.insert(0, "no diagnosis")
        return " → ".join(parts)


def _times(text: str, count: int) -> str:
    """`restart payment x20 (wrong fix)`: the count goes before a trailing verdict."""
    head, paren, verdict = text.partition(" (")
    return f"{head} x{count}{paren}{verdict}"


def row_runs(rows: Sequence[tuple[str, float, int | None]]) -> list[tuple[str, float, int | None, int | None, int]]:
    """Score rows with a run of the same row on consecutive steps as one: (row, total, first, last, count)."""
    runs: list[list[Any]] = []
    for row, value, step in rows:
        last = runs[-1] if runs else None
        if last and step is not None and last[3] is not None and last[0] == row and last[3] == step - 1:
            last[1], last[3], last[4] = last[1] + value, step, last[4] + 1
        else:
            runs.append([row, value, step, step, 1])
    return [(row, total, first, last, count) for row, total, first, last, count in runs]


MOVE_VERDICTS = {"correct_fix": "right fix", "lucky_fix": "right fix, undiagnosed", "wrong_fix": "wrong fix"}


def episode_summary(
    view: IncidentView, truth: dict[str, Any], comparisons: dict[str, tuple[float, str]], currency: str = "$"
) -> EpisodeSummary:
    """Combine the player's view with the hidden truth (only revealed once the episode ends)."""
    obs = view.obs
    assert obs is not None, "episode_summary needs at least the reset observation"
    raw_faults = truth.get("faults") or [
        {
            "service": truth.get("root_service"),
            "mode": truth.get("fault_mode"),
            "phase": truth.get("fault_phase"),
            "started_at": 0,
            "diagnosis": truth.get("diagnosis"),
            "diagnosis_correct": truth.get("diagnosis_correct"),
            "fix_step": truth.get("fix_step"),
        }
    ]
    faults = []
    for n, raw in enumerate(raw_faults):
        committed = view.diagnoses.get(n + 1)
        faults.append(
            FaultSummary(
                service=str(raw.get("service")),
                mode=str(raw.get("mode")),
                started_at=int(raw.get("started_at") or 0),
                phase=str(raw.get("phase")),
                masked=bool(raw.get("masked")),
                silent=bool(raw.get("silent")),
                diagnosis=raw.get("diagnosis"),
                diagnosis_step=committed[0] if committed else None,
                diagnosis_correct=bool(raw.get("diagnosis_correct")),
                fix_step=raw.get("fix_step"),
            )
        )
    rows = sorted(((e.row, e.value, e.step) for e in view.paid), key=lambda r: r[2] if r[2] is not None else 10**6)
    verdict_at = {step: MOVE_VERDICTS[row] for row, _, step in rows if row in MOVE_VERDICTS and step is not None}
    moves = [(step, text, verdict_at.get(step, "")) for step, text in view.fixes]
    moves += [(step, text, "") for step, text in view.breaker_moves]
    return EpisodeSummary(
        outcome=obs.outcome,
        score=obs.score,
        breakdown=sorted(view.breakdown.items(), key=lambda item: -abs(item[1])),
        rows=rows,
        faults=faults,
        end_step=view.end_step,
        seed=int(truth.get("seed", 0)),
        impact=dict(obs.impact),
        currency=currency,
        moves=sorted(moves),
        comparisons=comparisons,
    )


def compare_agents(
    config: EnvConfig,
    seed: int,
    options: dict[str, Any] | None,
    names: Sequence[str] = ("heuristic", "reasoner", "oracle"),
) -> dict[str, tuple[float, str]]:
    """What other agents score on the same incident (fresh env, same seed and options)."""
    from mirr_tui import agents

    from ..core import IncidentEnv
    from ..evaluation import run_episode

    results: dict[str, tuple[float, str]] = {}
    for name in names:
        result = run_episode(IncidentEnv(config), agents.create(name, config=config), seed, options=options)
        results[name] = (result.score, result.outcome)
    return results
