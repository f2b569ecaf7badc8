"""Headless evaluation: play agents on seeded incidents and summarise how they did."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from .core import FAULT_MODES, IncidentEnv
from .replay import ReplayRecorder


@dataclass(slots=True)
class EpisodeResult:
    seed: int
    outcome: str  # recovered | collapsed | timed_out | aborted
    score: float
    steps: int
    diagnosis_correct: bool
    diagnosed: bool
    root_service: str
    fault_mode: str
    error: str | None = None
    tokens: int = 0
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return self.outcome == "recovered"


@dataclass(slots=True)
class EvalSummary:
    agent: str
    episodes: int
    success_rate: float
    diagnosis_accuracy: float
    mean_reward: float
    median_reward: float
    mean_steps: float
    outcomes: dict[str, int]
    per_mode: dict[str, dict[str, float]]
    difficulty: str
    seeds: list[int] = field(default_factory=list)
    errors: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def to_dict(self, with_seeds: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_seeds:
            data.pop("seeds")
        return data


def run_episode(
    env: IncidentEnv,
    agent: Any,
    seed: int,
    options: dict[str, Any] | None = None,
    recorder: ReplayRecorder | None = None,
    on_step: Callable[[Any], None] | None = None,
) -> EpisodeResult:
    """Play one episode to its end. An agent that raises ends the episode as `aborted`."""
    import time

    started = time.perf_counter()
    obs = env.reset(seed=seed, options=options)
    if getattr(agent, "needs_env", False):
        agent.attach(env)
    if recorder is not None:
        recorder.start(env, obs)
    error = None
    tokens = 0
    stepping = False
    try:
        agent.reset(obs)
        while not obs.done:
            action = agent.act(obs)
            stepping = True
            obs = env.step(action)
            stepping = False
            details = dict(getattr(agent, "last_details", None) or {})
            tokens += int(details.get("total_tokens", 0) or 0)
            if recorder is not None:
                recorder.record(
                    action, obs, env.state, reasoning=getattr(agent, "last_reasoning", None), details=details
                )
            if on_step is not None:
                on_step(obs)
    except Exception as exc:  # an agent failure ends the episode; it must not end the run
        if stepping:  # the environment failed (a remote server went away): not the agent's doing
            raise
        error = f"{type(exc).__name__}: {exc}"
        if recorder is not None:
            recorder.note_error(error)
    state = env.state
    return EpisodeResult(
        seed=seed,
        outcome=state.outcome or "aborted",
        score=state.score,
        steps=state.step_count,
        diagnosis_correct=state.diagnosis_correct,
        diagnosed=state.diagnosis is not None,
        root_service=state.root_service,
        fault_mode=state.fault_mode,
        error=error,
        tokens=tokens,
        seconds=time.perf_counter() - started,
    )


def summarise(agent_name: str, results: list[EpisodeResult], difficulty: str) -> EvalSummary:
    """Aggregate metrics over episodes (rates are fractions in [0, 1])."""
    n = len(results)
    scores = [r.score for r in results]
    per_mode = {}
    for mode in FAULT_MODES:
        subset = [r for r in results if r.fault_mode == mode]
        if subset:
            per_mode[mode] = {
                "episodes": len(subset),
                "success_rate": sum(r.success for r in subset) / len(subset),
                "diagnosis_accuracy": sum(r.diagnosis_correct for r in subset) / len(subset),
                "mean_reward": statistics.fmean(r.score for r in subset),
            }
    return EvalSummary(
        agent=agent_name,
        episodes=n,
        success_rate=sum(r.success for r in results) / n if n else 0.0,
        diagnosis_accuracy=sum(r.diagnosis_correct for r in results) / n if n else 0.0,
        mean_reward=statistics.fmean(scores) if n else 0.0,
        median_reward=statistics.median(scores) if n else 0.0,
        mean_steps=statistics.fmean(r.steps for r in results) if n else 0.0,
        outcomes=dict(Counter(r.outcome for r in results)),
        per_mode=per_mode,
        difficulty=difficulty,
        seeds=[r.seed for r in results],
        errors=sum(r.error is not None for r in results),
        tokens=sum(r.tokens for r in results),
        seconds=sum(r.seconds for r in results),
    )


def evaluate(
    agent_name: str,
    seeds: Iterable[int],
    difficulty: str | None = None,
    env: IncidentEnv | None = None,
    agent_options: dict[str, Any] | None = None,
    scenario: str | None = None,
    replay_dir: str | None = None,
    on_episode: Callable[[EpisodeResult], None] | None = None,
) -> tuple[EvalSummary, list[EpisodeResult]]:
    """Play `agent_name` once per seed. Stops cleanly on Ctrl-C, keeping finished episodes."""
    import agents

    env = env or IncidentEnv(difficulty=difficulty)
    agent = agents.create(agent_name, config=env.config, **(agent_options or {}))
    options = {"difficulty": difficulty} if difficulty else {}
    if scenario:
        options["scenario"] = scenario
    results: list[EpisodeResult] = []
    try:
        for seed in seeds:
            recorder = None
            if replay_dir is not None:
                recorder = ReplayRecorder(player_kind="agent", player_name=agent_name, player_details=agent.describe())
            result = run_episode(env, agent, seed, options=options or None, recorder=recorder)
            if recorder is not None:
                recorder.save_to_dir(replay_dir)
            results.append(result)
            if on_episode is not None:
                on_episode(result)
    except KeyboardInterrupt:
        pass
    return summarise(agent_name, results, difficulty or env.default_difficulty), results
