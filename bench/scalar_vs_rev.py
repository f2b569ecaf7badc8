"""Scalar env steps/s of this tree against a git revision, measured in one run (interleaved rounds).

    .venv/bin/python bench/scalar_vs_rev.py [--rev 020068f] [--steps 100000] [--rounds 3]

The revision is checked out with `git worktree add --detach` under /tmp (removed afterwards) and measured in a
subprocess with that tree first on sys.path; this tree is measured the same way. Each round runs both, so
machine load hits both alike, and the
clock is CPU time of the measuring process (time.process_time). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Random valid moves (uniform over the Gymnasium adapter's Discrete actions), resets included; the same
# moves and seeds for both trees. Only the core and numpy are imported, so any revision can run it.
PROBE = r"""
import sys, time
import numpy as np
from mirr_tui.core import ACTION_TYPES, FAULT_MODES, Action, IncidentEnv
total = int(sys.argv[1])
env = IncidentEnv()
names = env.names
moves = [Action("wait")]
for kind in ACTION_TYPES:
    if kind == "diagnose":
        moves += [Action(kind, s, m) for s in names for m in FAULT_MODES]
    elif kind != "wait":
        moves += [Action(kind, s) for s in names]
picks = np.random.default_rng(0).integers(len(moves), size=total).tolist()
obs = env.reset(seed=0)
episodes = 0
start = time.process_time()
for i in picks:
    if obs.done:
        episodes += 1
        obs = env.reset(seed=episodes)
    obs = env.step(moves[i])
rate = total / (time.process_time() - start)
start = time.process_time()
for seed in range(2000):
    env.reset(seed=seed)
print(rate, (time.process_time() - start) / 2000 * 1e6)
"""


def measure(tree: Path, steps: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(steps)], check=True, capture_output=True, text=True, env=env, cwd=tree
    )
    rate, reset_us = out.stdout.split()
    return float(rate), float(reset_us)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="020068f")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mirr-rev-") as tmp:
        base = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.rev],
            check=True,
            capture_output=True,
        )
        try:
            ours, theirs = [], []
            for _ in range(args.rounds):
                theirs.append(measure(base, args.steps))
                ours.append(measure(ROOT, args.steps))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False, capture_output=True
            )
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}")
    print(f"random valid steps/s ({args.steps:,} steps, resets included) and the cost of one reset (2,000 resets),")
    print(f"{args.rounds} interleaved rounds, CPU time")
    for name, runs in ((args.rev, theirs), ("this tree", ours)):
        rates, resets = [r for r, _ in runs], [u for _, u in runs]
        print(
            f"  {name:<10} steps/s median {statistics.median(rates):>9,.0f}  best {max(rates):>9,.0f}"
            f"   reset median {statistics.median(resets):6.1f} us  best {min(resets):6.1f} us"
        )
    mine, base = [r for r, _ in ours], [r for r, _ in theirs]
    print(
        f"  steps/s ratio: median/median {statistics.median(mine) / statistics.median(base):.2f}x, best/best {max(mine) / max(base):.2f}x"
    )
    mine, base = [u for _, u in ours], [u for _, u in theirs]
    print(f"  reset cost ratio: median/median {statistics.median(mine) / statistics.median(base):.2f}")


if __name__ == "__main__":
    main()
