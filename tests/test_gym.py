"""The Gymnasium adapter: registration, honest spaces, check_env, terminated vs truncated."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gymnasium", reason="needs the gym extra: pip install -e '.[gym]'")
import gymnasium
from gymnasium.utils.env_checker import check_env

import agents
from mirr_tui.core import ACTION_TYPES, Action, parse_config
from mirr_tui.gym_env import ENV_ID, MirrGymEnv, all_actions


@pytest.fixture
def env():
    environment = gymnasium.make(ENV_ID, render_mode="ansi")
    yield environment
    environment.close()


def test_check_env_passes_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gymnasium.make(ENV_ID).unwrapped)
        check_env(gymnasium.make(ENV_ID, render_mode="ansi", difficulty="hard").unwrapped)


def test_spaces_describe_what_the_player_sees(env):
    inner = env.unwrapped
    services = inner.services
    assert env.action_space == gymnasium.spaces.Discrete(len(inner.actions))
    # every index is a well-formed move and every well-formed move has one index
    # check_logs, restart, rollback, scale_up, circuit_break per service; diagnose per service x mode; wait
    assert len(set(inner.actions)) == len(inner.actions) == 5 * len(services) + 4 * len(services) + 1
    assert inner.actions == all_actions(services)
    assert {move.type for move in inner.actions} == set(ACTION_TYPES)
    assert inner.action_index("circuit_break payment") == inner.actions.index(Action("circuit_break", "payment"))
    assert inner.action_index("diagnose payment bad_deploy") == inner.actions.index(
        Action("diagnose", "payment", "bad_deploy")
    )
    with pytest.raises(ValueError):
        inner.action_index(Action("restart", "mainframe"))
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    assert obs["metrics"].shape == (len(services), 5)
    assert obs["logs"] == "" and obs["logs_from"] == len(services)
    # the info carries what the player sees, never the hidden fault
    assert not {"root_service", "fault_mode", "fault_phase", "services"} & set(info)
    obs, *_ = env.step(inner.action_index("logs payment"))
    assert env.observation_space.contains(obs)
    assert obs["logs"] and obs["logs_from"] == services.index("payment")


def _scalars(value):
    """Every number and string inside an observation or info (arrays flattened)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, np.ndarray):
        yield from value.ravel().tolist()
    else:
        yield value


def test_info_and_observation_carry_no_seed(env):
    seed = 987_654_321
    obs, info = env.reset(seed=seed)
    inner = env.unwrapped
    steps = [(obs, info)]
    for move in ("logs gateway", "circuit_break payment", "wait"):
        obs, _, _, _, info = env.step(inner.action_index(move))
        steps.append((obs, info))
    for obs, info in steps:
        assert not {"seed", "episode_id", "metadata"} & set(info)
        assert not {"seed", "episode_id"} & set(obs)
        for value in (*_scalars(obs), *_scalars(info)):
            assert value != seed and str(seed) not in str(value)
    assert steps[2][0]["breakers"][inner.services.index("payment")] == 1  # the breaker move is played
    # the info is a function of what the player saw: the same seed twice gives the same info
    _, first = env.reset(seed=seed)
    _, again = env.reset(seed=seed)
    assert first == again


def test_same_seed_same_episode_and_matches_the_core(env, config):
    from mirr_tui.core import IncidentEnv

    core = IncidentEnv(config)
    first, _ = env.reset(seed=42)
    expected = core.reset(seed=42)
    metrics = [
        [getattr(expected.services[name], m) for m in ("latency_ms", "error_rate", "cpu", "memory", "rps")]
        for name in core.names
    ]
    assert np.array_equal(first["metrics"], np.array(metrics, dtype=np.float32))
    again, _ = env.reset(seed=42)
    assert all(np.array_equal(first[k], again[k]) for k in first)


def play(env, moves: list[str]) -> tuple[float, bool, bool, dict]:
    inner = env.unwrapped
    total, terminated, truncated, info = 0.0, False, False, {}
    for move in moves:
        _, reward, terminated, truncated, info = env.step(inner.action_index(move))
        total += reward
        if terminated or truncated:
            break
    return total, terminated, truncated, info


def test_recovery_is_terminated(env):
    env.reset(seed=1, options={"scenario": "dead-store"})
    total, terminated, truncated, info = play(env, ["diagnose database crashed", "restart database"] + ["wait"] * 28)
    assert (terminated, truncated, info["outcome"]) == (True, False, "recovered")
    assert total == info["score"] > 0


def test_collapse_is_terminated(env):
    env.reset(seed=2, options={"scenario": "black-friday"})
    _, terminated, truncated, info = play(env, ["wait"] * 30)
    assert (terminated, truncated, info["outcome"]) == (True, False, "collapsed")


def test_running_out_of_steps_is_truncated():
    manifest = (Path(__file__).resolve().parent.parent / "openenv.yaml").read_text(encoding="utf-8")
    assert "max_steps: 30" in manifest
    short = parse_config(manifest.replace("max_steps: 30", "max_steps: 4", 1))
    env = MirrGymEnv(config=short)
    obs, _ = env.reset(seed=5)
    assert obs["remaining"] == 4
    _, terminated, truncated, info = play(env, ["wait"] * 4)
    assert (terminated, truncated, info["outcome"]) == (False, True, "timed_out")


def test_render_ansi_is_the_core_text(env):
    assert "reset" in env.unwrapped.render()
    env.reset(seed=8)
    text = env.render()
    assert "gateway" in text and text == env.unwrapped.core.render() + "\n"
    silent = gymnasium.make(ENV_ID)
    silent.reset(seed=8)
    assert silent.render() is None  # no render_mode, no rendering
    with pytest.raises(ValueError):
        MirrGymEnv(render_mode="human")


def test_the_heuristic_scores_the_same_through_the_adapter(env, config):
    from mirr_tui.core import IncidentEnv

    core = IncidentEnv(config)
    for seed in range(5):
        agent = agents.create("heuristic")
        env.reset(seed=seed)
        obs = core.reset(seed=seed)
        agent.reset(obs)
        done = False
        while not done:
            move = agent.act(obs)
            _, reward, terminated, truncated, _ = env.step(env.unwrapped.action_index(move))
            obs = core.step(move)
            assert reward == obs.reward
            done = terminated or truncated
            assert done == obs.done


def test_bad_actions_and_options_fail_loudly(env):
    with pytest.raises(RuntimeError):
        MirrGymEnv().step(0)
    env.reset(seed=1)
    with pytest.raises(ValueError):
        env.step(env.action_space.n)
    with pytest.raises(Exception, match="scenario"):
        MirrGymEnv(scenario="no-such-incident")
