"""`gymnasium.make_vec("MIRR-v0")`: the batched env behind Gymnasium's vector API, step for step a
SyncVectorEnv of MirrGymEnv(observation="numeric")."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gymnasium", reason="needs the gym extra: pip install -e '.[gym]'")
import gymnasium
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from mirr_tui.gym_env import ENV_ID, MirrGymEnv
from mirr_tui.gym_vector import MirrVectorEnv


@pytest.mark.parametrize("difficulty", ["normal", "hard"])
def test_make_vec_is_a_sync_vector_env_of_the_scalar_adapter(difficulty):
    n = 8
    vec = gymnasium.make_vec(ENV_ID, num_envs=n, difficulty=difficulty)
    assert isinstance(vec.unwrapped, MirrVectorEnv)
    sync = SyncVectorEnv(
        [lambda: MirrGymEnv(observation="numeric", difficulty=difficulty) for _ in range(n)],
        autoreset_mode=AutoresetMode.NEXT_STEP,
    )
    assert vec.single_observation_space == sync.single_observation_space
    assert vec.observation_space == sync.observation_space and vec.action_space == sync.action_space
    got, _ = vec.reset(seed=7)
    want, _ = sync.reset(seed=7)
    rng = np.random.default_rng(2)
    episodes = 0
    for step in range(150):
        for key in want:
            assert np.array_equal(got[key], want[key]), (step, key)
            assert got[key].dtype == want[key].dtype, key
        assert vec.observation_space.contains(got)
        masks = vec.unwrapped.action_masks()
        assert np.array_equal(masks, np.array([env.action_masks() for env in sync.envs]))
        # mostly legal moves, so episodes run long enough to recover, plus some the rules refuse
        actions = np.array(
            [rng.choice(np.flatnonzero(m)) if rng.random() < 0.9 else rng.integers(len(m)) for m in masks]
        )
        got, g_reward, g_term, g_trunc, _ = vec.step(actions)
        want, w_reward, w_term, w_trunc, _ = sync.step(actions)
        assert np.array_equal(g_reward, w_reward) and np.array_equal(g_term, w_term), step
        assert np.array_equal(g_trunc, w_trunc), step
        episodes += int(g_term.sum() + g_trunc.sum())
    assert episodes > n  # auto-reset happened, with the same next incidents


def test_the_vector_env_refuses_what_it_does_not_do():
    with pytest.raises(ValueError, match="numeric"):
        MirrVectorEnv(2, observation="dict")
    env = MirrVectorEnv(2)
    with pytest.raises(RuntimeError):
        env.step(np.zeros(2, dtype=np.int64))
    env.reset(seed=1)
    with pytest.raises(ValueError):
        env.step(np.array([0, 10_000]))
    with pytest.raises(ValueError):
        env.reset(seed=[1, 2, 3])
