"""Re-record the curated replays in replays/ (one per named scenario played by the reasoner, and the plain
heuristic and the naive agent losing checkout-3am), for when the rules or the manifest change. Prints each file.

    .venv/bin/python bench/curated_replays.py
"""

from __future__ import annotations

from pathlib import Path

from mirr_tui import agents
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayRecorder, save_replay

ROOT = Path(__file__).resolve().parent.parent
CURATED = [
    ("reasoner", "black-friday", 7),
    ("reasoner", "checkout-3am", 7),
    ("reasoner", "dead-store", 7),
    ("reasoner", "slow-bleed", 7),
    ("reasoner", "retry-storm", 7),
    ("heuristic", "checkout-3am", 1),  # trusts a blocked victim's thread-pool lines
    ("naive", "checkout-3am", 7),  # restarts a bad deploy into collapse
]


def main() -> None:
    folder = ROOT / "replays"
    for old in folder.glob("curated-*.json"):
        old.unlink()
    for name, scenario, seed in CURATED:
        recorder = ReplayRecorder("agent", name, agents.create(name).describe())
        run_episode(IncidentEnv(), agents.create(name), seed, options={"scenario": scenario}, recorder=recorder)
        replay = recorder.finish()
        s = replay.summary
        path = folder / f"curated-{name}-{scenario}-{s['root_service']}-{s['fault_mode']}-{s['outcome']}.json"
        save_replay(replay, path)
        print(f"{path.name}: score {s['score']:+.1f}, {s['steps']} steps")


if __name__ == "__main__":
    main()
