"""GRPO's rollouts through the batched env: every episode of an update steps together in one
`BatchIncidentEnv`, and the policy's features come from `mirr_tui.agents.grpo_batch.BatchFeatures` (equal, value for
value, to the scalar agent's `FeatureTracker`). Used by `mirr train` (mirr_tui/training.py) unless `--scalar`.

`play_batch` plays one episode per env, from the given seeds, to its end: sampling from the policy with one
uniform draw per live env per step (deterministic from the generator), or greedily (rng None), choosing
exactly the move the scalar agent would choose (`greedy_moves`). An env whose episode ended waits until the
others end (the batched env restarts it on an incident nobody reads, which costs one reset).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirr_tui.agents.grpo import LinearPolicy
from mirr_tui.agents.grpo_batch import BatchFeatures

from .core import EnvConfig
from .core.batch import BatchIncidentEnv

TIE = 1e-9  # a batched log-prob gap this small is recomputed row by row (batched sums may differ in the last bit)


@dataclass(slots=True)
class Played:
    """Episodes played in a batch, their steps in episode order (episode 0's steps, then episode 1's, ...)."""

    phi: np.ndarray  # [steps, S, F]
    psi: np.ndarray  # [steps, G]
    xi: np.ndarray  # [steps, S, M, X]
    mask: np.ndarray  # [steps, A]
    actions: np.ndarray  # [steps] policy move indices
    logp: np.ndarray  # [steps] log-prob of the move when it was played
    episode: np.ndarray  # [steps] the episode each step belongs to
    lengths: np.ndarray  # [episodes]
    score: np.ndarray  # [episodes]
    success: np.ndarray  # [episodes]
    diagnosis_correct: np.ndarray  # [episodes]


class BatchPlayer:
    """A batched env of n incidents with its feature function and the policy-move -> env-action table."""

    def __init__(self, config: EnvConfig, n: int, difficulty: str | None = None) -> None:
        self.env = BatchIncidentEnv(n, difficulty=difficulty, config=config)
        self.features = BatchFeatures(config, n, self.env.statuses)
        self.to_env = self.features.env_actions(self.env.actions)
        self.wait = len(self.features.moves) - 1
        self.recovered = self.env.outcomes.index("recovered")

    def play(
        self, policy: LinearPolicy, seeds: np.ndarray, rng: np.random.Generator | None, record: bool = True
    ) -> Played:
        return play_batch(self, policy, seeds, rng, record)


def greedy_moves(
    policy: LinearPolicy, logp: np.ndarray, phi: np.ndarray, psi: np.ndarray, xi: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """argmax per row, the same move as `np.argmax(policy.log_probs(...))` on that row alone: rows whose two
    best log-probs are within TIE are recomputed one by one."""
    best = np.argmax(logp, axis=1)
    top2 = -np.partition(-logp, 1, axis=1)[:, :2]
    close = np.flatnonzero(~(top2[:, 0] - top2[:, 1] > TIE))
    for r in close.tolist():
        best[r] = int(np.argmax(policy.log_probs(phi[r], psi[r], xi[r], mask[r])))
    return best


def sample_moves(logp: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling, one uniform per row (as `training.play` samples one episode)."""
    cdf = np.cumsum(np.exp(logp), axis=1)
    index = (cdf <= (u * cdf[:, -1])[:, None]).sum(axis=1)
    return np.minimum(index, logp.shape[1] - 1)


def play_batch(
    player: BatchPlayer,
    policy: LinearPolicy,
    seeds: np.ndarray,
    rng: np.random.Generator | None,
    record: bool = True,
) -> Played:
    """One episode per env from `seeds`; `record=False` keeps only the episodes' results (the step arrays
    of `Played` are then empty)."""
    env, features = player.env, player.features
    n = env.n
    out = env.reset([int(s) for s in seeds])
    features.reset()
    moves: np.ndarray | None = None
    active = np.ones(n, dtype=bool)
    lengths = np.zeros(n, dtype=np.int64)
    score = np.zeros(n)
    success = np.zeros(n, dtype=bool)
    diagnosis = np.zeros(n, dtype=bool)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("phi", "psi", "xi", "mask", "actions", "logp", "episode")}
    while active.any():
        rows = np.flatnonzero(active)
        phi, psi, xi, mask = features.observe(env, out, moves, rows)
        phi, psi, xi, mask = phi[rows], psi[rows], xi[rows], mask[rows]
        logp = policy.log_probs(phi, psi, xi, mask)
        if rng is None:
            chosen = greedy_moves(policy, logp, phi, psi, xi, mask)
        else:
            chosen = sample_moves(logp, rng.random(len(rows)))
        if record:
            for key, value in (("phi", phi), ("psi", psi), ("xi", xi), ("mask", mask), ("actions", chosen)):
                parts[key].append(value)
            parts["logp"].append(logp[np.arange(len(rows)), chosen])
            parts["episode"].append(rows)
        lengths[rows] += 1
        moves = np.full(n, player.wait, dtype=np.int64)
        moves[rows] = chosen
        out = env.step(player.to_env[moves])
        ended = np.flatnonzero(active & out.done)
        for e in ended.tolist():  # the referee's verdicts, read before the env restarts at the next step
            score[e] = out.score[e]
            success[e] = out.outcome[e] == player.recovered
            diagnosis[e] = env.state(e).diagnosis_correct
        active[ended] = False
    if not record:
        joined = {key: np.empty(0) for key in parts}
    else:
        episode = np.concatenate(parts["episode"])
        order = np.argsort(episode, kind="stable")  # episode-major, each episode's steps in order
        joined = {key: np.concatenate(values)[order] for key, values in parts.items()}
    return Played(lengths=lengths, score=score, success=success, diagnosis_correct=diagnosis, **joined)
