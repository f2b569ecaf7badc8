"""`mirr scores` on a folder of 1,000 replays: cold (every file re-simulated) and warm (verdicts cached).

Records the replays once (heuristic, naive, reasoner and random players on seeds 0-249), then runs the real
command, `mirr scores --json FOLDER`, as a fresh process each time: with an empty cache folder (cold), then
again with the cache it left (warm). Prints the wall time of each run and the median.

    .venv/bin/python bench/scores_bench.py [--replays 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mirr_tui import agents
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayRecorder

PLAYERS = ("heuristic", "naive", "reasoner", "random")
MIRR = [sys.executable, "-m", "mirr_tui.cli"]


def record(folder: Path, count: int) -> None:
    env = IncidentEnv()
    for n in range(count):
        name = PLAYERS[n % len(PLAYERS)]
        recorder = ReplayRecorder(player_kind="agent", player_name=name)
        run_episode(env, agents.create(name), n // len(PLAYERS), recorder=recorder)
        recorder.save_to_dir(folder)


def timed_scores(folder: Path, cache: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(
        [*MIRR, "scores", "--json", str(folder)],
        env={**os.environ, "MIRR_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - start, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replays", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, cache = Path(tmp) / "replays", Path(tmp) / "cache"
        start = time.perf_counter()
        record(folder, args.replays)
        size = sum(p.stat().st_size for p in folder.glob("*.json"))
        print(f"recorded {args.replays} replays ({size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s")
        cold, warm = [], []
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            seconds, board = timed_scores(folder, cache)
            cold.append(seconds)
            seconds, again = timed_scores(folder, cache)
            warm.append(seconds)
            counted = sum(p["episodes"] + p["abandoned"] for p in board["players"])
            assert board == again and counted == args.replays and not board["unverified"], "verdicts differ"
        print(f"mirr scores, {args.replays} replays, cold (re-simulate all): " + _figures(cold))
        print(f"mirr scores, {args.replays} replays, warm (verdicts cached):  " + _figures(warm))
        print(f"cold/warm: {statistics.median(cold) / statistics.median(warm):.1f}x")


def _figures(seconds: list[float]) -> str:
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    return f"median {statistics.median(seconds):.2f} s ({runs})"


if __name__ == "__main__":
    main()
