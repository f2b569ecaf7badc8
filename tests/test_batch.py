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


def test_a_changed_manifest_changes_both_alike_under_random_moves():
    from pathlib import Path

    from mirr_tui.core import parse_config

    manifest = (Path(__file__).resolve().parent.parent / "openenv.yaml").read_text(encoding="utf-8")
    for old, new in (
        ("max_steps: 30", "max_steps: 12"),
        ("confirm_steps: 5", "confirm_steps: 2"),
        ("wrong_fix: -2", "wrong_fix: -2.3"),
    ):
        assert old in manifest
        manifest = manifest.replace(old, new, 1)
    config = parse_config(manifest)
    n = 16
    batch = BatchIncidentEnv(n, difficulty="hard", config=config, seed=3)
    scalars = [IncidentEnv(config, difficulty="hard") for _ in range(n)]
    out = batch.reset(range(500, 500 + n))
    for e, env in enumerate(scalars):
        _compare(batch, out, e, env.reset(seed=500 + e), env)
    rng = np.random.default_rng(9)
    ended = 0
    for _ in range(60):
        moves = rng.integers(len(batch.actions), size=n)
        out = batch.step(moves)
        for e, env in enumerate(scalars):
            obs = env.reset(seed=int(batch.seeds[e])) if out.reset[e] else env.step(batch.actions[moves[e]])
            _compare(batch, out, e, obs, env)
            ended += obs.done
    assert ended > n


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(ValueError, match="positive"):
        BatchIncidentEnv(0)
    batch = BatchIncidentEnv(3)
    with pytest.raises(RuntimeError):
        batch.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="3 seeds"):
        batch.reset([1, 2])
    with pytest.raises(ValueError, match="seeds"):
        batch.reset([1, 2, -5])
    batch.reset([1, 2, 3])
    for bad in (np.zeros(2, dtype=np.int64), np.array([0, 1, len(batch.actions)]), np.array([0.5, 1.0, 2.0])):
        with pytest.raises(ValueError, match="action ids"):
            batch.step(bad)
    out = batch.step(np.zeros(3, dtype=np.int64))  # still playable after refused input
    assert out.step.tolist() == [1, 1, 1]
    assert set(BatchStep.AXES) >= {"metrics", "statuses", "rewards", "done", "outcome"}
