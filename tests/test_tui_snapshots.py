"""Snapshots of the main screens (seeded, no clock, no $USER). Update with `pytest --snapshot-update`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from mirr_tui import agents
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayRecorder
from mirr_tui.tui.app import make_app
from mirr_tui.tui.modals import SummaryModal

SIZE = (120, 40)
# Seed 3 is payment/overloaded: read its logs, diagnose (third mode), scale up, wait out the confirm window.
WIN_SEED_3 = ["4", "l", "d", "down", "down", "enter", "s", *["w"] * 6]


def record(folder: Path, seed: int, agent_name: str, player: str | None = None) -> Path:
    recorder = (
        ReplayRecorder(player_kind="human", player_name=player)
        if player
        else ReplayRecorder(player_kind="agent", player_name=agent_name)
    )
    run_episode(IncidentEnv(), agents.create(agent_name), seed, recorder=recorder)
    return recorder.save_to_dir(folder)


def test_play_start(snap_compare, tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    assert snap_compare(app, terminal_size=SIZE)


class FixedClock(datetime):
    """The replay's start time (and so its file name, which the summary names): always the same."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz)


def test_play_end_summary(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the summary says where the replay went: a relative folder, a fixed name
    monkeypatch.setattr("mirr_tui.replay.datetime", FixedClock)
    app = make_app("play", seed=3, replay_dir=Path("replays"), player_name="tester")

    async def finish(pilot):
        await pilot.press(*WIN_SEED_3)
        await pilot.app.workers.wait_for_complete()  # the summary opens once the other agents have played
        for _ in range(100):
            if isinstance(pilot.app.screen, SummaryModal):
                break
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=finish)


def test_replay_mid_episode(snap_compare, tmp_path):
    path = record(tmp_path, 5, "heuristic")
    app = make_app("replay", replay_path=path, replay_dir=tmp_path)
    assert snap_compare(app, terminal_size=SIZE, press=["right"] * 4 + ["t"])


def test_scores(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the title shows the folder: keep it relative
    folder = Path("replays")
    for name in ("heuristic", "oracle", "naive"):
        record(folder, 11, name)
    record(folder, 11, "heuristic", player="tester")
    record(folder, 12, "heuristic")
    app = make_app("scores", replay_dir=folder)
    assert snap_compare(app, terminal_size=SIZE)


def test_play_compact_80x24(snap_compare, tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    assert snap_compare(app, terminal_size=(80, 24), press=["4", "l"])
