"""GRPO from scratch, before and after the batched env, in one run: wall time to the success target and the
held-out result. Prints figures; asserts nothing.

The target is the GRPO issue's: >= 80% success and >= 70% diagnosis. Training watches it on its validation
seeds (500,000-500,199, greedy, every 10 updates); the time to target is the training time (validation
included) at the first validation that meets it, and the policy of that moment and the final one are then
evaluated on the held-out seeds 0-999 (never seen while training: training draws seeds >= 1,000,000).
"before" is the scalar trainer (`mirr train --scalar`: one episode at a time through IncidentEnv), "after"
the batched one (all episodes of an update in one BatchIncidentEnv with vectorised features), same settings
and seed; they draw their samples differently, so they learn different policies. The machine load is
printed too, because the CPU is often shared.

    .venv/bin/python bench/grpo_train.py [--updates 300] [--seeds 0,1,2] [--hard] [--only batched|scalar]
    .venv/bin/python bench/grpo_train.py --weights agents/weights/grpo.npz --hard   # evaluate shipped weights
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from mirr_tui.evaluation import evaluate
from mirr_tui.training import TrainConfig, train

TARGET_SUCCESS = 0.8
TARGET_DIAGNOSIS = 0.7
RUNS = {"scalar": ("before", False), "batched": ("after", True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=TrainConfig().updates)
    parser.add_argument("--seeds", default="0", help="training seeds, comma-separated")
    parser.add_argument("--episodes", type=int, default=1000, help="held-out evaluation episodes (seeds 0..N-1)")
    parser.add_argument("--hard", action="store_true", help="also evaluate at hard (the policy trains at normal)")
    parser.add_argument("--only", choices=sorted(RUNS), help="run one trainer instead of both")
    parser.add_argument("--weights", help="evaluate these weights instead of training")
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at start")
    if args.weights:
        print(f"{args.weights}: {held_out(args.weights, args.episodes, args.hard)}")
        return
    kinds = [args.only] if args.only else list(RUNS)
    for seed in (int(s) for s in args.seeds.split(",")):
        results = {kind: run(kind, seed, args) for kind in kinds}
        if len(results) == 2:
            before, after = results["scalar"], results["batched"]
            parts = [
                f"seed {seed}: full run {before['wall']:.0f}s -> {after['wall']:.0f}s ({ratio(before, after, 'wall')})"
            ]
            if before["target"] and after["target"]:
                parts.append(
                    f"time to target {before['target']['seconds']:.0f}s -> {after['target']['seconds']:.0f}s "
                    f"({before['target']['seconds'] / max(after['target']['seconds'], 1e-9):.1f}x)"
                )
            print("; ".join(parts))
    print(f"load average {os.getloadavg()[0]:.2f} at end")


def run(kind: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    label, batched = RUNS[kind]
    cfg = TrainConfig(updates=args.updates, seed=seed, batched=batched)
    assert cfg.eval_every == cfg.checkpoint_every, "the policy at the target is read from that update's checkpoint"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        target: dict[str, Any] = {}

        def watch(row: dict[str, Any]) -> None:
            reached = (row.get("val_success") or 0) >= TARGET_SUCCESS and (
                row.get("val_diagnosis") or 0
            ) >= TARGET_DIAGNOSIS
            if reached and not target:
                target.update(row)
                shutil.copy(folder / "checkpoint.npz", folder / "target-checkpoint.npz")

        started = time.perf_counter()
        state = train(cfg, folder / "grpo.npz", folder, on_update=watch, plots=False)
        wall = time.perf_counter() - started
        final = held_out(str(folder / "grpo.npz"), args.episodes, args.hard)
        at_target = held_out(policy_of(folder / "target-checkpoint.npz"), args.episodes, args.hard) if target else ""
    reached = (
        f"target (validation >= {TARGET_SUCCESS:.0%} success, >= {TARGET_DIAGNOSIS:.0%} diagnosis) at update "
        f"{target['update']} after {target['seconds']:.0f}s of training (validation {target['val_success']:.1%} / "
        f"{target['val_diagnosis']:.1%}); that policy: {at_target}"
        if target
        else "target never reached"
    )
    print(
        f"seed {seed}, {label} ({kind} rollouts): {cfg.updates} updates in {wall:.0f}s wall; {reached}; final: {final}"
    )
    return {"wall": wall, "target": target, "state": state}


def policy_of(checkpoint: Path) -> str:
    """The weights file of the policy in a training checkpoint."""
    import numpy as np

    from mirr_tui.agents.grpo import LinearPolicy

    with np.load(checkpoint, allow_pickle=False) as data:
        policy = LinearPolicy(data["W"], data["v"], data["u"])
    return str(policy.save(checkpoint.with_name("target.npz")))


def ratio(before: dict[str, Any], after: dict[str, Any], key: str) -> str:
    return f"{before[key] / max(after[key], 1e-9):.1f}x"


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
