"""GRPO through the batched env: the vectorised features equal the scalar agent's, value for value; batched
greedy play is the scalar agent's play; batched sampling is the scalar sampler row by row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mirr_tui import agents
from mirr_tui.agents.grpo import (
    DEFAULT_WEIGHTS,
    F_GLOBAL,
    F_MATCH,
    F_SERVICE,
    GLOBAL_FEATURES,
    N_ROWS,
    SERVICE_FEATURES,
    FeatureTracker,
    LinearPolicy,
    index_to_action,
    n_actions,
)
from mirr_tui.agents.grpo_batch import BatchFeatures, _plain_name
from mirr_tui.cli import app
from mirr_tui.core import FAULT_MODES, IncidentEnv, load_config
from mirr_tui.core.batch import BatchIncidentEnv
from mirr_tui.training import BatchRollouts, ScalarRollouts, make_batch, play, validate
from mirr_tui.training_batch import BatchPlayer, greedy_moves, play_batch, sample_moves


def _compare(difficulty: str | None, chooser: str, steps: int, plain: bool = True, n: int = 16) -> dict[str, int]:
    """Drive n batched envs and n scalar envs + trackers with the same moves (auto-resets included); every
    feature array of every env must be equal at every step. Returns how often rarer states were seen."""
    config = load_config()
    names = config.service_names
    env = BatchIncidentEnv(n, difficulty=difficulty, config=config, seed=11)
    features = BatchFeatures(config, n, env.statuses)
    features._plain = plain and features._plain
    to_env = features.env_actions(env.actions)
    scalar = [IncidentEnv(config, difficulty=difficulty) for _ in range(n)]
    trackers = [FeatureTracker(config) for _ in range(n)]
    seeds = list(range(640_000, 640_000 + n))
    out = env.reset(seeds)
    obs = [scalar[e].reset(seed=s) for e, s in enumerate(seeds)]
    policy, _ = LinearPolicy.load(DEFAULT_WEIGHTS)
    rng = np.random.default_rng(3)
    seen = dict.fromkeys(("page_2", "diagnosed", "read", "blamed", "fixed_twice", "recovered", "stale", "resets"), 0)
    col = SERVICE_FEATURES.index
    moves = None
    for _ in range(steps):
        for e in np.flatnonzero(out.reset).tolist():  # the batched env started a new incident here
            obs[e] = scalar[e].reset(seed=int(env.seeds[e]))
            trackers[e].reset()
            seen["resets"] += 1
        phi, psi, xi, mask = features.observe(env, out, moves)
        for e in range(n):
            expected = trackers[e].observe(obs[e])
            for name, want, got in zip(("phi", "psi", "xi", "mask"), expected, (phi[e], psi[e], xi[e], mask[e])):
                assert np.array_equal(want, got), (name, e, obs[e].step, np.argwhere(want != got)[:4])
        seen["page_2"] += int((psi[:, GLOBAL_FEATURES.index("g_page_2")] == 1).sum())
        seen["diagnosed"] += int((psi[:, GLOBAL_FEATURES.index("g_diagnosed")] == 1).sum())
        seen["read"] += int((phi[:, :, col("read_now")] == 1).sum())
        seen["blamed"] += int((phi[:, :, col("blamed_by")] > 0).sum())
        seen["fixed_twice"] += int(phi[:, :, [col(f"belief_{b}_twice") for b in ("none", *FAULT_MODES)]].sum())
        seen["stale"] += int(phi[:, :, col("stale")].sum())
        seen["recovered"] += int((out.done & (out.outcome == 0)).sum())
        if chooser == "random":
            p = mask / mask.sum(axis=1, keepdims=True)
            moves = np.array([rng.choice(mask.shape[1], p=p[e]) for e in range(n)])
        else:  # the shipped policy, sampling: realistic play (recoveries, second pages, diagnoses)
            moves = sample_moves(policy.log_probs(phi, psi, xi, mask), rng.random(n))
        out = env.step(to_env[moves])
        for e in range(n):
            if not obs[e].done:
                obs[e] = scalar[e].step(index_to_action(int(moves[e]), names))
    return seen


@pytest.mark.parametrize(
    ("difficulty", "chooser"),
    [("easy", "random"), ("normal", "random"), ("hard", "random"), ("normal", "policy"), ("hard", "policy")],
)
def test_batch_features_equal_the_scalar_trackers(difficulty: str, chooser: str) -> None:
    seen = _compare(difficulty, chooser, steps=90)
    assert seen["resets"] > 16 and seen["read"] > 50 and seen["blamed"] > 0 and seen["diagnosed"] > 0
    assert seen["fixed_twice"] > 0 and (seen["stale"] > 0) == (difficulty != "easy")
    assert (seen["page_2"] > 0) == (difficulty == "hard")  # compound faults exist at hard only
    if chooser == "policy":
        assert seen["recovered"] > 10


def test_batch_features_from_the_text_equal_the_cached_counts() -> None:
    """The fallback that counts every line's text (breakers, unusual names) gives the same features."""
    seen = _compare("hard", "policy", steps=40, plain=False)
    assert seen["read"] > 20


def test_plain_names_exclude_what_quoted_numbers_could_spell() -> None:
    assert all(_plain_name(name) for name in load_config().service_names)
    assert not any(_plain_name(name) for name in ("db2", "cafe", "v1", "beef", "-edge", "", "3000ms"))


def test_batched_greedy_play_is_the_scalar_play() -> None:
    """Greedy episodes through the batched env: the same moves, features, scores and verdicts as `play`."""
    config = load_config()
    policy, _ = LinearPolicy.load(DEFAULT_WEIGHTS)
    seeds = np.arange(500_000, 500_012)
    for difficulty in ("normal", "hard"):
        player = BatchPlayer(config, len(seeds), difficulty)
        played = play_batch(player, policy, seeds, None)
        env, tracker = IncidentEnv(config, difficulty=difficulty), FeatureTracker(config)
        for e, seed in enumerate(seeds.tolist()):
            episode = play(env, tracker, policy, seed, None)
            steps = played.episode == e
            assert played.actions[steps].tolist() == episode.actions
            assert np.array_equal(played.phi[steps], np.stack(episode.phi))
            assert np.array_equal(played.xi[steps], np.stack(episode.xi))
            assert played.score[e] == episode.score and played.success[e] == episode.success
            assert played.diagnosis_correct[e] == episode.diagnosis_correct
            assert played.lengths[e] == len(episode.actions)


def test_batched_validation_equals_scalar_validation() -> None:
    config = load_config()
    policy, _ = LinearPolicy.load(DEFAULT_WEIGHTS)
    seeds = range(500_000, 500_060)
    for difficulty in (None, "hard"):
        batched = BatchRollouts(config, 4, difficulty).validate(policy, seeds)
        assert batched == validate(policy, seeds, difficulty)
        assert 0.5 < batched[0] <= 1.0


def test_greedy_moves_break_ties_as_the_scalar_agent() -> None:
    """A zero policy ties every move: the batched argmax must pick what `np.argmax` picks on one row."""
    config = load_config()
    n = 6
    env = BatchIncidentEnv(n, config=config)
    features = BatchFeatures(config, n, env.statuses)
    phi, psi, xi, mask = features.observe(env, env.reset(range(n)), None)
    rng = np.random.default_rng(0)
    mask[2, :5] = False  # a row whose first moves are masked
    for policy in (LinearPolicy(), LinearPolicy(v=rng.normal(size=psi.shape[1]))):
        logp = policy.log_probs(phi, psi, xi, mask)
        want = [int(np.argmax(policy.log_probs(phi[r], psi[r], xi[r], mask[r]))) for r in range(n)]
        assert greedy_moves(policy, logp, phi, psi, xi, mask).tolist() == want


def test_sample_moves_is_the_scalar_inverse_cdf_sampler() -> None:
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(200, n_actions(5)))
    logits[:, 20:40] = np.where(rng.random((200, 20)) < 0.5, -np.inf, logits[:, 20:40])
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    u = rng.random(200)
    u[:3] = (0.0, 1.0 - 1e-16, 0.5)
    got = sample_moves(logp, u)
    for r in range(200):  # training.play's sampler on one row
        cdf = np.cumsum(np.exp(logp[r]))
        want = min(int(np.searchsorted(cdf, u[r] * cdf[-1], side="right")), len(cdf) - 1)
        assert got[r] == want and np.isfinite(logp[r, got[r]])


def test_scalar_training_option_trains_weights_the_agent_plays(tmp_path: Path) -> None:
    """`mirr train --scalar` (the trainer before the batched env) still works, and both write weights the
    scalar agent loads and plays."""
    runner = CliRunner()
    for flag in ([], ["--scalar"]):
        out = tmp_path / f"w{len(flag)}.npz"
        args = ["train", "--updates", "2", "--group-size", "2", "--prompts", "2", "--eval-every", "2"]
        result = runner.invoke(app, [*args, *flag, "--out", str(out)])
        assert result.exit_code == 0, result.output
        agent = agents.create("grpo", weights=str(out))
        assert agent.meta["train_config"]["batched"] is (not flag)
        env = IncidentEnv()
        obs = env.reset(seed=1)
        agent.reset(obs)
        while not obs.done:
            obs = env.step(agent.act(obs))
        assert obs.outcome is not None


class _Draws:
    """A stand-in generator that hands out pre-drawn uniforms, one row per episode: `random()` the next of
    episode `row`'s (scalar play); `random(k)` the next step's of the k episodes still playing, given every
    episode's length (batched play draws for its live episodes, in env order)."""

    def __init__(self, table: np.ndarray, row: int | None = None, lengths: list[int] | None = None) -> None:
        self.table, self.row, self.lengths, self.t = table, row, lengths, 0

    def random(self, size: int | None = None) -> object:
        self.t += 1
        if size is None:
            return float(self.table[self.row, self.t - 1])
        live = [e for e, length in enumerate(self.lengths or []) if length >= self.t]
        assert size == len(live), "the batched episodes ended at other steps than the scalar ones"
        return self.table[live, self.t - 1]


def test_batched_group_rollouts_are_the_scalar_ones_given_the_same_draws() -> None:
    """Fed the same uniform for each (episode, step), the batched rollouts give the scalar trainer's batch:
    the same episodes, moves, advantages, weights and log-probs. Only the order of the draws differs."""
    config = load_config()
    rng = np.random.default_rng(8)
    policy = LinearPolicy(
        rng.normal(0, 0.3, (N_ROWS, F_SERVICE)), rng.normal(0, 0.3, F_GLOBAL), rng.normal(0, 0.3, F_MATCH)
    )
    seeds, group = np.array([1_200_001, 1_200_002, 1_200_003]), 4
    table = rng.random((len(seeds) * group, config.rules.max_steps + 1))
    scalar = ScalarRollouts(config)
    groups = [
        [play(scalar.env, scalar.tracker, policy, int(seed), _Draws(table, p * group + g)) for g in range(group)]
        for p, seed in enumerate(seeds)
    ]
    want = make_batch(groups)
    lengths = [len(e.actions) for g in groups for e in g]
    got, stats = BatchRollouts(config, len(table)).groups(policy, seeds, group, _Draws(table, lengths=lengths))
    assert got.actions.tolist() == want.actions.tolist()
    for key in ("phi", "psi", "xi", "mask", "adv", "weight"):
        assert np.array_equal(getattr(got, key), getattr(want, key)), key
    np.testing.assert_allclose(got.logp_old, want.logp_old, rtol=0, atol=1e-12)
    episodes = [e for g in groups for e in g]
    assert stats["mean_return"] == pytest.approx(np.mean([e.score for e in episodes]))
    assert stats["success_rate"] == np.mean([e.success for e in episodes])
    assert len({e.score for e in episodes}) > 1  # the groups carry signal
