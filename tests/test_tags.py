"""Failure tags (issue 12 item 15): how a trajectory failed, from the observations the player saw."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mirr_tui import agents
from mirr_tui.cli import app as cli_app
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayRecorder
from mirr_tui.tags import replay_tags, tag_trajectory

STORY = {"scenario": "checkout-3am"}  # payment, bad_deploy


def play(moves, seed=7, options=STORY):
    env = IncidentEnv()
    frames = [env.reset(seed=seed, options=options).to_dict()]
    for move in moves:
        obs = env.step(move)
        frames.append(obs.to_dict())
        if obs.done:
            break
    return frames, env.config.service_names


def test_a_careful_run_carries_no_tag():
    env = IncidentEnv()
    recorder = ReplayRecorder(player_kind="agent", player_name="reasoner")
    result = run_episode(env, agents.create("reasoner"), 7, options=STORY, recorder=recorder)
    assert result.success
    assert replay_tags(recorder.finish(), env.config.service_names).tags == []


def test_restarting_before_any_diagnosis_again_and_again_is_fixed_blind_and_looped():
    frames, names = play(["restart payment"] * 4)
    tagging = tag_trajectory(frames, names)
    assert tagging.steps["fixed_blind"][0] == 1 and tagging.steps["looped"] == [3]
    assert "fixed before diagnosing (steps 1, 2, 3" in tagging.describe()[0]


def test_reading_the_same_log_twice_with_nothing_done_between_is_a_reread():
    frames, names = play(["logs payment", "logs payment", "restart auth", "logs payment"])
    tagging = tag_trajectory(frames, names)
    assert tagging.steps["reread"] == [2]  # the third read follows a fix: something may have changed


def test_a_diagnosis_its_own_reads_contradict_is_against_the_evidence():
    frames, names = play(["logs payment", "diagnose payment crashed"])
    assert tag_trajectory(frames, names).steps["against_evidence"] == [2]
    frames, names = play(["logs payment", "diagnose payment bad_deploy"])
    assert "against_evidence" not in tag_trajectory(frames, names).steps


def test_a_pointer_never_followed_is_ignored_and_waiting_out_a_loss_is_giving_up():
    frames, names = play(["logs gateway"] + ["wait"] * 40)
    tagging = tag_trajectory(frames, names)
    gateway_read = frames[1]["logs"]
    assert any("payment" in line["text"] or "orders" in line["text"] for line in gateway_read)
    assert tagging.steps["ignored_pointer"] == [1]
    assert frames[-1]["outcome"] != "recovered" and tagging.steps["gave_up"] == [frames[-1]["step"]]


def test_the_scoreboard_shows_each_players_habits(tmp_path):
    env = IncidentEnv()
    for name in ("naive", "reasoner"):
        for seed in (1, 2):
            recorder = ReplayRecorder(player_kind="agent", player_name=name)
            run_episode(env, agents.create(name), seed, options=STORY, recorder=recorder)
            recorder.save_to_dir(tmp_path)
    listing = json.loads(CliRunner().invoke(cli_app, ["scores", str(tmp_path), "--json"]).output)
    habits = {p["player"]: p["tags"] for p in listing["players"]}
    assert habits["naive"]["fixed_blind"] == 2 and habits["reasoner"] == {}
    plain = CliRunner().invoke(cli_app, ["scores", str(tmp_path), "--plain"]).output
    assert "how they fail" in plain and "fixed blind" in plain


async def test_the_replay_timeline_marks_each_habit_at_its_step(tmp_path):
    from mirr_tui.replay import load_replay
    from mirr_tui.tui.app import make_app
    from mirr_tui.tui.replay_screen import ReplayScreen

    env = IncidentEnv()
    recorder = ReplayRecorder(player_kind="agent", player_name="naive")
    run_episode(env, agents.create("naive"), 7, options=STORY, recorder=recorder)
    path = recorder.save_to_dir(tmp_path)
    app = make_app("replay", replay_path=path, replay_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        await pilot.press("right")  # step 1: the first blind restart
        _, lines = screen.side_content()
        assert any("habit at this step: fixed before diagnosing" in str(line) for line in lines)
        await pilot.press("end")
        _, lines = screen.side_content()
        assert any("habits in this run:" in str(line) and "looped" in str(line) for line in lines)
    assert load_replay(path).frames[1].observation["action"]["type"] == "restart"


def test_a_second_read_that_shows_a_new_pointer_or_signature_is_not_a_reread():
    """Logs are a sample of lines: a re-read that turns up what the first did not is evidence, not a habit."""

    def read(step, *texts):
        logs = [{"text": text} for text in texts]
        return {"step": step, "action": {"type": "check_logs", "service": "orders"}, "valid": True, "logs": logs}

    names = ["gateway", "auth", "orders", "payment", "database"]
    first = read(1, "WARN slow request")
    pointer = read(2, "ERROR timeout waiting on payment")
    same = read(3, "ERROR timeout waiting on payment", "WARN slow request")
    assert tag_trajectory([{"step": 0}, first, pointer, same], names).steps["reread"] == [3]
    assert "reread" not in tag_trajectory([{"step": 0}, first, pointer], names).steps
