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
print(total / (time.process_time() - start))
"""


def measure(tree: Path, steps: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(steps)], check=True, capture_output=True, text=True, env=env, cwd=tree
    )
    return float(out.stdout.strip())


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
    print(f"random valid steps/s, {args.steps:,} steps x {args.rounds} interleaved rounds (resets included)")
    print(f"  {args.rev:<10} median {statistics.median(theirs):>9,.0f}  best {max(theirs):>9,.0f}")
    print(f"  {'this tree':<10} median {statistics.median(ours):>9,.0f}  best {max(ours):>9,.0f}")
    print(f"  ratio (median/median): {statistics.median(ours) / statistics.median(theirs):.2f}x")


if __name__ == "__main__":
    main()
