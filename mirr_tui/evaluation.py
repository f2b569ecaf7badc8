"""Headless evaluation: play agents on seeded incidents and summarise how they did.

An env that withholds the referee's view (`reveals_truth` False: a remote `mirr serve` without
`--referee`) is scored from its observations alone: outcome, score and steps from the last one,
diagnosis correctness from the `correct_diagnosis` / `wrong_diagnosis` reward rows. The hidden root
service and fault mode stay unknown there (None), so the per-mode breakdown is empty.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
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
    root_service: str | None  # None where the env withholds the truth
    fault_mode: str | None
    error: str | None = None
    tokens: int = 0
    seconds: float = 0.0
    failed_requests: int = 0  # user impact at the gateway (information, not reward)
    cost: float = 0.0

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
    mean_failed_requests: float = 0.0  # user impact per episode (information, not reward)
    mean_cost: float = 0.0

    def to_dict(self, with_seeds: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_seeds:
            data.pop("seeds")
        return data


HIDDEN_STATE_HINT = "start the server with 'mirr serve --referee'"


def reveals_truth(env: Any) -> bool:
    """Whether `env.state` is the referee's view (a local IncidentEnv always; a remote one on a referee)."""
    return bool(getattr(env, "reveals_truth", True))


def diagnosis_verdict(observations: Iterable[Any]) -> bool | None:
    """Right (True) or wrong (False) as the reward rows of an episode's observations say; None when
    no row judged a diagnosis. Rows are paid at the end (rules v2), so this reads the final observation's
    rows; each page (a second fault pages again) needs its own correct diagnosis, as the referee counts."""
    right = wrong = 0
    pages = 1
    for obs in observations:
        pages = max(pages, int(getattr(obs, "page", 1) or 1))
        for event in obs.rewards:
            right += event.row == "correct_diagnosis"
            wrong += event.row == "wrong_diagnosis"
    if not right and not wrong:
        return None
    return wrong == 0 and right >= pages


def _reward_rows(observations: Iterable[Any]) -> Iterator[Any]:
    for obs in observations:
        yield from obs.rewards


def truth_needed(agent: Any, recording: bool = False) -> str | None:
    """Why playing `agent` (and recording replays) needs the hidden state, or None if it does not."""
    if getattr(agent, "needs_env", False):  # the oracle: it reads env.state every step
        name = getattr(agent, "name", type(agent).__name__)
        who = "the oracle" if name == "oracle" else f"agent {name!r}"
        return f"{who} reads the hidden state: {HIDDEN_STATE_HINT}"
    if recording:
        return f"replays record the hidden state: {HIDDEN_STATE_HINT}"
    return None


def check_can_play(env: Any, agent: Any, recording: bool = False) -> None:
    """ValueError, before any episode, when the agent or the replays need a truth the env withholds."""
    problem = None if reveals_truth(env) else truth_needed(agent, recording)
    if problem is not None:
        raise ValueError(problem)


def run_episode(
    env: IncidentEnv,
    agent: Any,
    seed: int | None,
    options: dict[str, Any] | None = None,
    recorder: ReplayRecorder | None = None,
    on_step: Callable[[Any], None] | None = None,
) -> EpisodeResult:
    """Play one episode to its end. An agent that raises ends the episode as `aborted`."""
    import time

    started = time.perf_counter()
    check_can_play(env, agent, recording=recorder is not None)
    obs = env.reset(seed=seed, options=options)
    seen = [obs]
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
            seen.append(obs)
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
    if seed is None:  # a secret seed, drawn by the env or the server: revealed now the episode is over
        seed = obs.metadata.get("seed", getattr(env, "seed", None))
    if not reveals_truth(env):
        verdict = diagnosis_verdict(seen)
        return EpisodeResult(
            seed=seed,
            outcome=obs.outcome or "aborted",
            score=obs.score,
            steps=obs.step,
            diagnosis_correct=bool(verdict),
            diagnosed=any(o.diagnosis is not None for o in seen),
            root_service=None,
            fault_mode=None,
            error=error,
            tokens=tokens,
            seconds=time.perf_counter() - started,
            **_impact(obs),
        )
    state = env.state
    return EpisodeResult(
        seed=seed,
        outcome=state.outcome or "aborted",
        score=state.score,
        steps=state.step_count,
        diagnosis_correct=state.diagnosis_correct,
        diagnosed=any(f.get("diagnosis") for f in state.faults),
        root_service=state.faults[0]["service"] if state.faults else state.root_service,  # the incident paged for
        fault_mode=state.faults[0]["mode"] if state.faults else state.fault_mode,
        error=error,
        tokens=tokens,
        seconds=time.perf_counter() - started,
        **_impact(obs),
    )


def _impact(obs: Any) -> dict[str, Any]:
    impact = getattr(obs, "impact", None) or {}
    return {"failed_requests": int(impact.get("failed_requests", 0)), "cost": float(impact.get("cost", 0.0))}


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
        mean_failed_requests=statistics.fmean(r.failed_requests for r in results) if n else 0.0,
        mean_cost=round(statistics.fmean(r.cost for r in results), 2) if n else 0.0,
    )


def incident_options(difficulty: str | None, scenario: str | None) -> dict[str, Any] | None:
    """The reset options an evaluation passes to every episode."""
    options = {"difficulty": difficulty} if difficulty else {}
    if scenario:
        options["scenario"] = scenario
    return options or None


def play_and_save(
    env: Any,
    agent: Any,
    agent_name: str,
    seed: int | None,
    options: dict[str, Any] | None,
    replay_dir: str | Path | None,
) -> EpisodeResult:
    """One evaluation episode; its replay saved in `replay_dir` when given."""
    recorder = None
    if replay_dir is not None:
        recorder = ReplayRecorder(player_kind="agent", player_name=agent_name, player_details=agent.describe())
    result = run_episode(env, agent, seed, options=options, recorder=recorder)
    if recorder is not None:
        recorder.save_to_dir(replay_dir)
    return result


def evaluate(
    agent_name: str,
    seeds: Iterable[int | None],
    difficulty: str | None = None,
    env: IncidentEnv | None = None,
    agent_options: dict[str, Any] | None = None,
    scenario: str | None = None,
    replay_dir: str | None = None,
    on_episode: Callable[[EpisodeResult], None] | None = None,
) -> tuple[EvalSummary, list[EpisodeResult]]:
    """Play `agent_name` once per seed. Stops cleanly on Ctrl-C, keeping finished episodes."""
    from mirr_tui import agents

    env = env or IncidentEnv(difficulty=difficulty)
    agent = agents.create(agent_name, config=env.config, **(agent_options or {}))
    check_can_play(env, agent, recording=replay_dir is not None)
    options = incident_options(difficulty, scenario)
    results: list[EpisodeResult] = []
    try:
        for seed in seeds:
            result = play_and_save(env, agent, agent_name, seed, options, replay_dir)
            results.append(result)
            if on_episode is not None:
                on_episode(result)
    except KeyboardInterrupt:
        pass
    return summarise(agent_name, results, difficulty or env.default_difficulty), results
