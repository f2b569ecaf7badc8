"""Environment speed: random valid steps per second, heuristic episodes per second, and the wall
time of `mirr eval --agent heuristic --episodes 1000`. Prints figures; asserts nothing.

    .venv/bin/python bench/env_bench.py [--steps 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mirr_tui import agents
from mirr_tui.core import ACTION_TYPES, FAULT_MODES, Action, IncidentEnv
from mirr_tui.evaluation import run_episode


def random_actions(count: int, services: tuple[str, ...], seed: int = 0) -> list[Action]:
    rng = np.random.default_rng(seed)
    moves = []
    for _ in range(count):
        kind = ACTION_TYPES[int(rng.integers(len(ACTION_TYPES)))]
        if kind == "wait":
            moves.append(Action("wait"))
        elif kind == "diagnose":
            moves.append(Action("diagnose", services[int(rng.integers(5))], FAULT_MODES[int(rng.integers(4))]))
        else:
            moves.append(Action(kind, services[int(rng.integers(5))]))
    return moves


def steps_per_second(total: int) -> tuple[float, int]:
    env = IncidentEnv()
    moves = random_actions(total, env.names)
    episodes = 0
    obs = env.reset(seed=0)
    start = time.perf_counter()
    for move in moves:
        if obs.done:
            episodes += 1
            obs = env.reset(seed=episodes)
        obs = env.step(move)
    return total / (time.perf_counter() - start), episodes


def heuristic_episodes_per_second(count: int) -> float:
    env = IncidentEnv()
    agent = agents.create("heuristic")
    start = time.perf_counter()
    for seed in range(count):
        run_episode(env, agent, seed)
    return count / (time.perf_counter() - start)


def eval_wall_time() -> float:
    mirr = Path(sys.executable).with_name("mirr")
    start = time.perf_counter()
    subprocess.run(
        [str(mirr), "eval", "--agent", "heuristic", "--episodes", "1000", "--json", "--no-results"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}")
    rates = [steps_per_second(args.steps) for _ in range(args.repeats)]
    print(
        f"random valid steps/s (single process, {args.steps:,} steps, includes resets): median {statistics.median(r for r, _ in rates):,.0f}  best {max(r for r, _ in rates):,.0f}"
    )
    eps = [heuristic_episodes_per_second(1000) for _ in range(args.repeats)]
    print(f"heuristic episodes/s (1,000 episodes): median {statistics.median(eps):,.0f}  best {max(eps):,.0f}")
    walls = [eval_wall_time() for _ in range(args.repeats)]
    print(
        f"`mirr eval --agent heuristic --episodes 1000` wall time: median {statistics.median(walls):.2f}s  best {min(walls):.2f}s"
    )


if __name__ == "__main__":
    main()
