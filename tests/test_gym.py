"""The Gymnasium adapter: registration, honest spaces, check_env, terminated vs truncated."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gymnasium", reason="needs the gym extra: pip install -e '.[gym]'")
import gymnasium
from gymnasium.utils.env_checker import check_env

from mirr_tui import agents
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


# ---------------------------------------------------------------------- the numeric observation (issue 11 item 5)
def _template_pattern(level: str, text: str):
    import re

    parts = re.split(r"\{[a-z_0-9]+\}", text)
    return re.compile(re.escape(level) + " " + "(.+?)".join(re.escape(p) for p in parts) + "$")


def test_module_prefixed_id_works_in_a_fresh_interpreter_either_import_order():
    import subprocess
    import sys

    for code in (
        "import gymnasium; e = gymnasium.make('mirr_tui:MIRR-v0', observation='numeric'); o, _ = e.reset(seed=1);"
        " assert e.observation_space.contains(o)",
        "import mirr_tui, gymnasium; e = gymnasium.make('mirr_tui:MIRR-v0'); e.reset(seed=1)",
        "import mirr_tui, sys; assert 'gymnasium' not in sys.modules and 'numpy' not in sys.modules",
    ):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_numeric_observation_is_boxes_and_discretes_and_counts_the_log_templates():
    from mirr_tui.core.logs import BLAME_TEMPLATES, LOG_TEMPLATES, VICTIM

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gymnasium.make(ENV_ID, observation="numeric", difficulty="hard").unwrapped)
    env = gymnasium.make(ENV_ID, observation="numeric", difficulty="hard")
    inner = env.unwrapped
    space = env.observation_space
    assert all(isinstance(s, gymnasium.spaces.Box | gymnasium.spaces.Discrete) for s in space.values())
    patterns = [_template_pattern(level, text) for level, text in LOG_TEMPLATES]
    rng = np.random.default_rng(3)
    reads = blamed = 0
    for seed in range(40):
        obs, _ = env.reset(seed=seed)
        assert space.contains(obs) and not obs["log_counts"].any()
        for _ in range(12):
            name = inner.services[int(rng.integers(len(inner.services)))]
            obs, _, terminated, truncated, _ = env.step(inner.action_index(f"logs {name}"))
            assert space.contains(obs)
            lines = inner.core.observation.logs
            assert obs["logs_from"] == inner.services.index(name)
            # every line is counted once, under a template its text matches
            assert obs["log_counts"].sum() == len(lines)
            for template in np.flatnonzero(obs["log_counts"]):
                matching = sum(1 for line in lines if patterns[template].match(f"{line.level} {line.text}"))
                assert matching >= obs["log_counts"][template]
            victims = [
                line
                for line in lines
                if any(_template_pattern(lv, t).match(f"{line.level} {line.text}") for lv, t in VICTIM)
            ]
            if victims:
                callee = int(np.argmax(obs["log_blame"]))
                assert all(inner.services[callee] in line.text for line in victims)
                blamed += 1
            assert obs["log_blame"].sum() == sum(obs["log_counts"][t] for t in BLAME_TEMPLATES)
            reads += 1
            if terminated or truncated:
                break
    assert reads > 100 and blamed > 5
    with pytest.raises(ValueError, match="observation"):
        MirrGymEnv(observation="pixels")


def test_action_masks_close_diagnose_when_the_rules_refuse_it():
    env = gymnasium.make(ENV_ID, observation="numeric")
    inner = env.unwrapped
    diagnose = np.array([move.type == "diagnose" for move in inner.actions])
    env.reset(seed=4)
    assert inner.action_masks().all()
    env.step(inner.action_index("diagnose payment crashed"))
    masks = inner.action_masks()
    assert not masks[diagnose].any() and masks[~diagnose].all()
    # a masked move is exactly a move the core refuses; an unmasked one is never refused
    _, reward, *_ = env.step(int(np.flatnonzero(diagnose)[0]))
    assert reward == inner.core.config.rewards.invalid and not inner.core.observation.valid
    env.reset(seed=5)
    env.step(inner.action_index("restart gateway"))  # a fix closes the window too
    assert not inner.action_masks()[diagnose].any()
    rng = np.random.default_rng(0)
    for seed in range(10):
        env.reset(seed=seed)
        done = False
        while not done:
            legal = np.flatnonzero(inner.action_masks())
            _, _, terminated, truncated, info = env.step(int(rng.choice(legal)))
            assert info["valid"]
            done = terminated or truncated
