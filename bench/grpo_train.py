"""GRPO from scratch: wall time to train, when greedy validation first reaches 80% success, and the
held-out result on seeds 0-999 (at normal, and at hard with --hard). Prints figures; asserts nothing.
The machine load is printed too, because the CPU is often shared. Training draws seeds >= 1,000,000 and
validates on 500,000-500,199, so the held-out seeds 0-999 are never seen while training.

    .venv/bin/python bench/grpo_train.py [--updates 300] [--seeds 0,1,2] [--hard]
    .venv/bin/python bench/grpo_train.py --weights agents/weights/grpo.npz --hard   # evaluate shipped weights
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mirr_tui.evaluation import evaluate
from mirr_tui.training import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=TrainConfig().updates)
    parser.add_argument("--seeds", default="0", help="training seeds, comma-separated")
    parser.add_argument("--episodes", type=int, default=1000, help="held-out evaluation episodes (seeds 0..N-1)")
    parser.add_argument("--hard", action="store_true", help="also evaluate at hard (the policy trains at normal)")
    parser.add_argument("--weights", help="evaluate these weights instead of training")
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at start")
    if args.weights:
        print(f"{args.weights}: {held_out(args.weights, args.episodes, args.hard)}")
        return
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg = TrainConfig(updates=args.updates, seed=seed)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            state = train(cfg, Path(tmp) / "grpo.npz", Path(tmp), plots=False)
            wall = time.perf_counter() - started
            first = next((r for r in state.rows if (r.get("val_success") or 0) >= 0.8), None)
            figures = held_out(str(Path(tmp) / "grpo.npz"), args.episodes, args.hard)
        reached = f"update {first['update']} ({first['seconds']:.0f}s)" if first else "never"
        print(f"seed {seed}: {cfg.updates} updates in {wall:.0f}s wall; validation >= 80% at {reached}; {figures}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")


def held_out(weights: str, episodes: int, hard: bool) -> str:
    parts = []
    for difficulty in ("normal", "hard") if hard else ("normal",):
        summary, _ = evaluate("grpo", range(episodes), difficulty=difficulty, agent_options={"weights": weights})
        parts.append(
            f"held-out {difficulty} {summary.episodes} episodes: success {summary.success_rate:.1%}, "
            f"diagnosis {summary.diagnosis_accuracy:.1%}, mean reward {summary.mean_reward:+.1f}, "
            f"mean steps {summary.mean_steps:.1f}"
        )
    return "; ".join(parts)


if __name__ == "__main__":
    main()
