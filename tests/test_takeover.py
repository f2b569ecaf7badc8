"""Take over a replay (issue 12 item 13): `p` plays on from the frame on screen, as a person or an agent;
the new replay re-simulates the steps before and records where it forked from."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable

from mirr_tui import agents
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayError, ReplayRecorder, fork_replay, load_replay, verify_replay
from mirr_tui.tui.app import make_app
from mirr_tui.tui.play import PlayScreen
from mirr_tui.tui.replay_screen import ReplayScreen
from mirr_tui.tui.watch import WatchScreen
from mirr_tui.tui.widgets import IncidentHeader

STORY = {"scenario": "checkout-3am"}


def recorded(folder, agent="naive", seed=7):
    env = IncidentEnv()
    recorder = ReplayRecorder(player_kind="agent", player_name=agent)
    run_episode(env, agents.create(agent), seed, options=STORY, recorder=recorder)
    return recorder.save_to_dir(folder)


def test_a_fork_re_simulates_the_steps_before_and_the_new_replay_verifies(tmp_path):
    original = load_replay(recorded(tmp_path))
    recorder = ReplayRecorder(player_kind="human", player_name="tester")
    env, seen = fork_replay(original, 3, recorder)
    assert [o.step for o in seen] == [0, 1, 2, 3] and env.state.step_count == 3
    obs = env.step("logs payment")
    recorder.record("logs payment", obs, env.state)
    path = recorder.save_to_dir(tmp_path / "forks")
    fork = load_replay(path)
    assert fork.forked_from == {"file": original.path.name, "frame": 3}
    assert [f.observation for f in fork.frames[:4]] == [f.observation for f in original.frames[:4]]
    assert fork.frames[1].reasoning == original.frames[1].reasoning and verify_replay(fork).ok


def test_a_replay_that_does_not_re_simulate_cannot_be_taken_over(tmp_path):
    path = recorded(tmp_path)
    data = json.loads(path.read_text())
    data["frames"][2]["observation"]["message"] = "edited"
    path.write_text(json.dumps(data))
    with pytest.raises(ReplayError, match="frame 2 does not re-simulate"):
        fork_replay(load_replay(path), 3, ReplayRecorder())
    with pytest.raises(ReplayError, match="not in this replay"):
        fork_replay(load_replay(path), 99, ReplayRecorder())
    data["forked_from"] = {"file": 3}
    path.write_text(json.dumps(data))
    with pytest.raises(ReplayError, match="forked_from"):
        load_replay(path)


async def test_p_in_a_replay_lets_a_person_play_on_from_the_frame_on_screen(tmp_path):
    path = recorded(tmp_path)
    app = make_app("replay", replay_path=path, replay_dir=tmp_path / "mine", player_name="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right", "right", "right", "p")
        screen = app.screen
        assert isinstance(screen, PlayScreen) and screen.view.step == 3 and screen.env.state.step_count == 3
        assert "taken over from naive's replay at step 3" in screen.message_content()[0]
        await pilot.press("4", "l")  # payment's logs: the player's own first move
        assert screen.view.step == 4
        await pilot.press("q", "y")
    (saved,) = (tmp_path / "mine").glob("*.json")
    fork = load_replay(saved)
    assert fork.player_name == "tester" and fork.forked_from == {"file": path.name, "frame": 3}
    assert fork.frames[4].input == {"type": "check_logs", "service": "payment"} and verify_replay(fork).ok
    # The fork says so on screen too: in the picker's player column and in the replay's header.
    app = make_app("replay", replay_dir=tmp_path / "mine")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert str(table.get_row_at(0)[1]) == "tester (fork @3)"
        await pilot.press("enter")
        await pilot.pause()
        assert "replay · tester (fork @3)" in str(app.screen.query_one(IncidentHeader).render())


async def test_with_agent_p_hands_the_episode_to_the_agent(tmp_path):
    path = recorded(tmp_path)
    app = make_app("replay", replay_path=path, replay_dir=tmp_path / "runs", agent="reasoner", speed=50)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right", "right", "p")
        (screen,) = [s for s in app.screen_stack if isinstance(s, WatchScreen)]  # it may have finished already
        for _ in range(400):
            await pilot.pause(0.02)
            if screen.finished:
                break
        assert screen.finished and screen.saved is not None
    fork = load_replay(screen.saved)
    assert fork.player_name == "reasoner" and fork.forked_from["frame"] == 2 and verify_replay(fork).ok


async def test_the_last_frame_of_a_finished_episode_cannot_be_taken_over(tmp_path):
    path = recorded(tmp_path)
    app = make_app("replay", replay_path=path, replay_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("end", "p")
        assert isinstance(app.screen, ReplayScreen)
        await pilot.press("q")


async def test_a_take_over_finished_by_a_person_is_on_the_board_apart_from_their_own_tries(tmp_path):
    """A take-over may follow a look at the truth (`t`): it is never pooled with the player's own tries, in
    `mirr scores` or in the personal bests, and its end summary says what it was."""
    from mirr_tui.scores import build_scoreboard
    from mirr_tui.tui.modals import SummaryModal

    source = recorded(tmp_path)  # naive's replay of checkout-3am (payment / bad_deploy)
    mine = tmp_path / "mine"
    mine.mkdir()
    own = ReplayRecorder(player_kind="human", player_name="tester")
    run_episode(IncidentEnv(), agents.create("naive"), 7, options=STORY, recorder=own)  # the player's own try
    own.save_to_dir(mine)
    app = make_app("replay", replay_path=source, replay_dir=mine, player_name="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right", "t", "p")  # one step in, a look at the truth, then take over
        screen = app.screen
        await pilot.press("colon", *"diagnose payment bad_deploy", "enter", "colon", *"rollback payment", "enter")
        for _ in range(40):
            if screen.view.done:
                break
            await pilot.press("w")
        for _ in range(200):
            if isinstance(app.screen, SummaryModal):
                break
            await pilot.pause(0.02)
        bests = app.screen.summary.bests
        assert bests.startswith(f"a take-over of {source.name} at step 1") and "on this seed" in bests
    board = build_scoreboard(mine)
    rows = {p.player: p for p in board.players}
    assert not board.unverified and not board.skipped, (board.unverified, board.skipped, list(mine.iterdir()))
    assert set(rows) == {"tester", "tester (fork @1)"}
    assert rows["tester"].episodes == 1 and rows["tester"].success_rate == 0  # the fork's win is not theirs
    assert rows["tester (fork @1)"].episodes == 1 and rows["tester (fork @1)"].success_rate == 1
