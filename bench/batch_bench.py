"""Batched vs scalar env-steps/s: BatchIncidentEnv at N = 1, 64, 1,024, 4,096 against IncidentEnv, measured in
one run, interleaved (scalar, then each N, repeated), on CPU time of this process (time.process_time), so
other processes on a shared machine do not skew the ratio. Random moves, uniform over the Discrete action
ids, auto-resets included; the batch figures exclude drawing log text (logs are drawn when asked), the
`make_vec` figure includes it (its numeric observation counts every read's templates).

    .venv/bin/python bench/batch_bench.py [--steps 60000] [--rounds 3] [--difficulty normal]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from mirr_tui.core import IncidentEnv
from mirr_tui.core.actions import all_actions
from mirr_tui.core.batch import BatchIncidentEnv

SIZES = (1, 64, 1024, 4096)


def scalar_rate(steps: int, difficulty: str) -> float:
    env = IncidentEnv(difficulty=difficulty)
    moves = all_actions(env.names)
    picks = np.random.default_rng(0).integers(len(moves), size=steps).tolist()
    obs = env.reset(seed=0)
    episodes = 0
    start = time.process_time()
    for i in picks:
        if obs.done:
            episodes += 1
            obs = env.reset(seed=episodes)
        obs = env.step(moves[i])
    return steps / (time.process_time() - start)


def batch_rate(n: int, steps: int, difficulty: str) -> float:
    env = BatchIncidentEnv(n, difficulty=difficulty, seed=0)
    env.reset(range(n))
    count = max(10, steps // n)
    picks = np.random.default_rng(0).integers(len(env.actions), size=(count, n))
    start = time.process_time()
    for actions in picks:
        env.step(actions)
    return n * count / (time.process_time() - start)


def vector_rate(n: int, steps: int, difficulty: str) -> float:
    import gymnasium

    env = gymnasium.make_vec("mirr_tui:MIRR-v0", num_envs=n, difficulty=difficulty)
    env.reset(seed=0)
    count = max(10, steps // n)
    picks = np.random.default_rng(0).integers(env.single_action_space.n, size=(count, n))
    start = time.process_time()
    for actions in picks:
        env.step(actions)
    return n * count / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60_000, help="env-steps per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--difficulty", default="normal")
    args = parser.parse_args()
    scalar: list[float] = []
    batch: dict[int, list[float]] = {n: [] for n in SIZES}
    vector: list[float] = []
    for _ in range(args.rounds):
        scalar.append(scalar_rate(args.steps // 4, args.difficulty))
        for n in SIZES:
            batch[n].append(batch_rate(n, args.steps if n > 1 else args.steps // 20, args.difficulty))
        vector.append(vector_rate(4096, args.steps, args.difficulty))
    base = statistics.median(scalar)
    print(
        f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, numpy {np.__version__}, load {os.getloadavg()[0]:.2f}"
    )
    print(f"difficulty {args.difficulty}, {args.rounds} interleaved rounds, CPU time, medians")
    print(f"  IncidentEnv (scalar)        {base:>11,.0f} env-steps/s")
    for n in SIZES:
        rate = statistics.median(batch[n])
        print(f"  BatchIncidentEnv N={n:<6,}  {rate:>11,.0f} env-steps/s  {rate / base:6.1f}x scalar")
    rate = statistics.median(vector)
    print(f"  make_vec num_envs=4,096     {rate:>11,.0f} env-steps/s  {rate / base:6.1f}x scalar (numeric observation)")


if __name__ == "__main__":
    main()
