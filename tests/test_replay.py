from __future__ import annotations

import json
import os
import stat

import pytest

from mirr_tui import agents
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayError, ReplayRecorder, load_replay, save_replay, verify_replay
from mirr_tui.scores import build_scoreboard


def record(tmp_path, agent="heuristic", seed=21, options=None, inputs=None):
    env = IncidentEnv()
    recorder = ReplayRecorder(
        player_kind="agent", player_name=agent, player_details={"name": agent, "api_key": "sk-secret"}
    )
    if inputs is None:
        run_episode(env, agents.create(agent), seed, options=options, recorder=recorder)
    else:
        obs = env.reset(seed=seed, options=options)
        recorder.start(env, obs)
        for item in inputs:
            obs = env.step(item)
            recorder.record(item, obs, env.state)
    return recorder.save_to_dir(tmp_path)


def test_round_trip_and_verify(tmp_path):
    path = record(tmp_path)
    replay = load_replay(path)
    assert replay.player_name == "heuristic" and replay.seed == 21
    assert replay.frames[0].step == 0 and replay.frames[0].input is None
    assert replay.summary["outcome"] == "recovered" and replay.summary["diagnosis_correct"]
    assert replay.summary["steps"] == len(replay.frames) - 1
    assert replay.frames[-1].observation["done"]
    assert all(f.reasoning for f in replay.frames[1:])
    result = verify_replay(replay)
    assert result.ok, result.message
    assert "sk-secret" not in path.read_text()


def test_garbage_inputs_are_recorded_and_verify(tmp_path):
    path = record(
        tmp_path, seed=4, inputs=["restart cache", {"type": "explode"}, 42, "logs payment", "diagnose payment crashed"]
    )
    replay = load_replay(path)
    assert [f.input for f in replay.frames[1:4]] == ["restart cache", {"type": "explode"}, 42]
    assert not replay.frames[1].observation["valid"]
    assert verify_replay(replay).ok


def test_tampered_replay_reports_the_first_diverging_frame(tmp_path):
    path = record(tmp_path, seed=8, options={"scenario": "checkout-3am"})
    data = json.loads(path.read_text())
    data["frames"][3]["observation"]["services"]["payment"]["error_rate"] += 0.01
    path.write_text(json.dumps(data))
    result = verify_replay(load_replay(path))
    assert not result.ok and result.frame == 3
    assert "services.payment.error_rate" in result.message


def test_changed_input_diverges(tmp_path):
    path = record(tmp_path, seed=8, inputs=["wait", "wait", "logs orders"])
    data = json.loads(path.read_text())
    data["frames"][2]["input"] = "logs payment"
    path.write_text(json.dumps(data))
    result = verify_replay(load_replay(path))
    assert not result.ok and result.frame == 2


def test_saving_never_overwrites_and_is_atomic(tmp_path):
    first = record(tmp_path, seed=3)
    replay = load_replay(first)
    second = save_replay(replay, first)
    assert second != first and first.exists() and second.exists()
    assert json.loads(first.read_text()) == json.loads(second.read_text())
    assert not list(tmp_path.glob(".*.tmp"))


def test_saved_replays_get_the_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = record(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["frames"][1].update(step="x"), 'frame 1 has a non-numeric "step"'),
        (lambda d: d["frames"][1].update(reward=[1]), 'frame 1 has a non-numeric "step" or "reward"'),
        (lambda d: d["frames"][1].update(details="x"), 'frame 1 has malformed "details"'),
        (lambda d: d.update(options=[1]), '"options" must be an object'),
        (lambda d: d.update(scenario=5), '"scenario" must be a string'),
        (lambda d: d["summary"].update(score="lots"), '"summary.score" must be a finite number'),
        (lambda d: d["summary"].update(outcome=["recovered"]), '"summary.outcome" must be a string'),
    ],
)
def test_a_malformed_field_is_a_replay_error_and_the_scoreboard_skips_it(tmp_path, change, message):
    path = record(tmp_path)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ReplayError, match=message):
        load_replay(path)
    board = build_scoreboard(tmp_path)
    assert board.players == [] and len(board.skipped) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["summary"].update(score=999.0), "summary.score is 999.0"),
        (lambda d: d["summary"].update(outcome="recovered", diagnosis_correct=True), "summary.outcome"),
        (lambda d: d.update(difficulty="hard"), "difficulty is 'hard'"),
        (lambda d: d.update(scenario="black-friday"), "scenario is 'black-friday'"),
    ],
)
def test_verify_rejects_a_header_or_summary_the_frames_do_not_support(tmp_path, change, message):
    path = record(tmp_path, agent="naive", seed=8, options={"scenario": "checkout-3am"})
    data = json.loads(path.read_text())
    assert data["summary"]["outcome"] != "recovered"
    change(data)
    path.write_text(json.dumps(data))
    result = verify_replay(load_replay(path))
    assert not result.ok and message in result.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level is not an object"),
        ('{"version": 1}', 'missing "format"'),
        ('{"format": "mirr-replay", "version": 99}', "unsupported replay version 99"),
        ('{"format": "mirr-replay", "version": 1}', "played under rules v1; this MIRR plays rules v2"),
        (
            '{"format": "mirr-replay", "version": 2, "env": {}, "seed": 1, "player": {}, "summary": {}}',
            'missing "frames"',
        ),
        (
            '{"format": "mirr-replay", "version": 2, "env": {}, "seed": 1, "player": {}, "frames": [], "summary": {}}',
            "no frames",
        ),
        (
            '{"format": "mirr-replay", "version": 2, "env": {}, "seed": "x", "player": {}, "frames": [1], "summary": {}}',
            '"seed" must be int',
        ),
    ],
)
def test_bad_files_are_rejected_with_clear_messages(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ReplayError, match=message.replace("(", r"\(")):
        load_replay(path)


def test_truncated_file_is_rejected(tmp_path):
    path = record(tmp_path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ReplayError, match="not valid JSON"):
        load_replay(path)


def test_malformed_frame_is_rejected(tmp_path):
    path = record(tmp_path)
    data = json.loads(path.read_text())
    del data["frames"][2]["observation"]["services"]
    path.write_text(json.dumps(data))
    with pytest.raises(ReplayError, match="frame 2 has a malformed observation"):
        load_replay(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ReplayError, match="no such file"):
        load_replay(tmp_path / "nope.json")
    with pytest.raises(ReplayError, match="is a folder"):
        load_replay(tmp_path)


def test_curated_replays_verify():
    from pathlib import Path

    curated = sorted((Path(__file__).resolve().parent.parent / "replays").glob("curated-*.json"))
    assert len(curated) >= 3
    for path in curated:
        assert verify_replay(load_replay(path)).ok, path


def test_a_credential_nested_in_agent_details_is_never_written(tmp_path):
    env = IncidentEnv()
    details = {"name": "custom", "client": {"api_key": "sk-nested", "model": "m"}, "calls": [{"password": "pw-1"}]}
    recorder = ReplayRecorder(player_kind="agent", player_name="custom", player_details=details)
    recorder.start(env, env.reset(seed=2))
    recorder.record("wait", env.step("wait"), env.state, details={"http": {"authorization": "Bearer sk-step"}})
    text = recorder.save_to_dir(tmp_path).read_text()
    assert "sk-nested" not in text and "pw-1" not in text and "sk-step" not in text
    assert '"model": "m"' in text
