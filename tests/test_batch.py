"""The batched env against IncidentEnv: the same seeds and moves give the same everything, every step."""

from __future__ import annotations

import numpy as np
import pytest

from mirr_tui.core import IncidentEnv
from mirr_tui.core.batch import BatchIncidentEnv, BatchStep
from mirr_tui.core.config import METRICS
from mirr_tui.core.types import OUTCOMES, STATUSES


def _policy(rng, scalar, actions, index):
    """Random moves, and half the time the right diagnosis or fix (from the hidden truth) so episodes also
    recover, relapse, page a second fault and pay every reward row."""
    if rng.random() < 0.5:
        return int(rng.integers(len(actions)))
    state = scalar.state
    root, mode = state.root_service, state.fault_mode
    fix = {"crashed": "restart", "memory_leak": "restart", "overloaded": "scale_up", "bad_deploy": "rollback"}[mode]
    choices = [f"diagnose {root} {mode}", f"{fix} {root}", f"logs {root}", "wait"]
    return index[choices[int(rng.integers(len(choices)))]]


def _compare(batch, out: BatchStep, e: int, obs, scalar) -> None:
    where = f"env {e} seed {scalar.seed} step {obs.step}"
    for i, name in enumerate(scalar.names):
        view = obs.services[name]
        assert [getattr(view, m) for m in METRICS] == out.metrics[e, i].tolist(), where
        assert STATUSES[out.statuses[e, i]] == view.status, where
        assert bool(out.stale[e, i]) == view.stale, where
    assert tuple(n for n, b in zip(scalar.names, out.breakers[e], strict=True) if b) == obs.breakers, where
    assert out.rewards[e] == obs.reward and out.score[e] == obs.score, where
    assert bool(out.done[e]) == obs.done, where
    assert (OUTCOMES[out.outcome[e]] if out.outcome[e] >= 0 else None) == obs.outcome, where
    assert int(out.step[e]) == obs.step and bool(out.valid[e]) == obs.valid, where
    assert bool(out.can_diagnose[e]) == obs.can_diagnose and int(out.page[e]) == obs.page, where
    assert batch.diagnosis(e) == obs.diagnosis and bool(out.diagnosed[e]) == (obs.diagnosis is not None), where
    assert batch.impact(e) == obs.impact, where
    assert batch.alerts(e) == obs.alerts, where
    assert batch.log_lines(e) == obs.logs, where
    assert (scalar.names[out.logs_from[e]] if out.logs_from[e] >= 0 else None) == obs.logs_service, where
    if obs.logs is not None:
        assert batch.log_templates(e) == scalar.last_log_read, where
    expected = scalar.state.to_dict()
    got = batch.state(e).to_dict()
    expected["episode_id"] = got["episode_id"] = None
    assert got == expected, where


@pytest.mark.parametrize("difficulty", ["easy", "normal", "hard"])
def test_batch_env_is_the_scalar_env_field_for_field(difficulty):
    n, steps = 40, 140
    batch = BatchIncidentEnv(n, difficulty=difficulty, seed=11)
    scalars = [IncidentEnv(difficulty=difficulty) for _ in range(n)]
    actions = batch.actions
    index = {move.to_text(): i for i, move in enumerate(actions)}
    seeds = [1000 * {"easy": 1, "normal": 2, "hard": 3}[difficulty] + e for e in range(n)]
    out = batch.reset(seeds)
    for e, env in enumerate(scalars):
        _compare(batch, out, e, env.reset(seed=seeds[e]), env)
    rng = np.random.default_rng(5)
    seen = {"outcomes": set(), "second": 0, "stale": 0, "logs": 0, "resets": 0, "invalid": 0}
    for _ in range(steps):
        moves = [_policy(rng, env, actions, index) for env in scalars]
        out = batch.step(np.array(moves))
        for e, env in enumerate(scalars):
            if out.reset[e]:  # the batch started a new incident: so does the scalar env, with the same seed
                obs = env.reset(seed=int(batch.seeds[e]))
                seen["resets"] += 1
            else:
                obs = env.step(actions[moves[e]])
            _compare(batch, out, e, obs, env)
            seen["outcomes"].add(obs.outcome)
            seen["second"] += obs.page == 2
            seen["stale"] += any(v.stale for v in obs.services.values())
            seen["logs"] += obs.logs is not None
            seen["invalid"] += not obs.valid
    # the run exercised what it claims to compare
    assert {"recovered", "collapsed", "timed_out"} <= seen["outcomes"]
    assert seen["resets"] > n and seen["logs"] > 100 and seen["invalid"] > 0
    if difficulty == "hard":
        assert seen["second"] > 0
    if difficulty != "easy":
        assert seen["stale"] > 0
