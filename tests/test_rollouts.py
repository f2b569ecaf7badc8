"""Rollout export: a JSONL chat dataset that loads line by line and re-plays through the environment."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mirr_tui import agents
from mirr_tui.cli import app
from mirr_tui.core import IncidentEnv, render_observation
from mirr_tui.rollouts import (
    RolloutError,
    assistant_actions,
    export_rollouts,
    load_rollouts,
    rollout_episode,
    verify_rollout,
    write_jsonl,
)

SEEDS = range(1_000_000, 1_000_006)


@pytest.fixture(scope="module")
def reasoner_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The reasoner (the careful reader) solves these training-range seeds; the plain heuristic no longer
    # solves every incident under rules v2 (metrics and look-alike lines do not name the root).
    path = tmp_path_factory.mktemp("rollouts") / "reasoner.jsonl"
    written, interrupted = export_rollouts("reasoner", SEEDS, path)
    assert (written, interrupted) == (6, False)
    return path


def test_every_line_is_a_chat_record(reasoner_file: Path) -> None:
    lines = reasoner_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    for line in lines:
        record = json.loads(line)
        messages = record["messages"]
        assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in messages)
        roles = [m["role"] for m in messages]
        assert roles[0] == "system" and "diagnose" in messages[0]["content"]
        assert roles[1:] == ["user", "assistant"] * record["steps"]
        for message in messages[2::2]:
            reply = json.loads(message["content"])
            assert set(reply) == {"reasoning", "action"} and reply["reasoning"]
        assert len(record["rewards"]) == record["steps"]
        assert sum(record["rewards"]) == pytest.approx(record["score"])
        assert record["outcome"] == "recovered" and record["diagnosis_correct"] is True
        assert record["seed"] >= 1_000_000 and record["agent"]["name"] == "reasoner"
        assert set(record["truth"]) == {"root_service", "fault_mode"}
    assert [json.loads(line)["seed"] for line in lines] == list(SEEDS)


def test_the_seed_comes_from_the_runner_not_the_observation(reasoner_file: Path) -> None:
    """Observations carry no seed (rules v2); the record keeps the seed the episode was started with,
    and no user turn shows it."""
    obs = IncidentEnv().reset(seed=1_000_003)
    assert not hasattr(obs, "seed") and "seed" not in obs.to_dict()
    for record in load_rollouts(reasoner_file):
        users = [m["content"] for m in record["messages"] if m["role"] == "user"]
        assert all(str(record["seed"]) not in text for text in users)
    record = rollout_episode(IncidentEnv(), agents.create("reasoner"), 4_321_987, "rules")
    assert record["seed"] == 4_321_987 and verify_rollout(record)[0]


def test_rows_that_judge_the_truth_are_paid_on_the_last_step(reasoner_file: Path) -> None:
    """Mid-episode rewards hold only `invalid` rows; diagnosis, fix and recovery rows arrive at the end."""
    for record in load_rollouts(reasoner_file):
        *middle, last = record["rewards"]
        assert all(reward in (0.0, -1.0) for reward in middle)
        assert last == pytest.approx(record["score"] - sum(middle)) and last > 20  # diagnosis + fix + recovery


def test_records_round_trip_and_replay(reasoner_file: Path, tmp_path: Path) -> None:
    records = load_rollouts(reasoner_file)
    copy = write_jsonl(records, tmp_path / "copy.jsonl")
    assert copy.read_bytes() == reasoner_file.read_bytes()
    for record in records:
        ok, message = verify_rollout(record)
        assert ok, message
        first_user = record["messages"][1]["content"]
        assert first_user.startswith("step 0/30")
    assert [len(assistant_actions(r)) for r in records] == [r["steps"] for r in records]


def test_tampered_record_fails_verification(reasoner_file: Path) -> None:
    record = load_rollouts(reasoner_file)[0]
    record["rewards"][0] += 1
    ok, message = verify_rollout(record)
    assert not ok and "reward at step 1" in message
    record = load_rollouts(reasoner_file)[0]
    record["messages"][1]["content"] = record["messages"][1]["content"].replace("step 0", "step 9")
    assert verify_rollout(record) == (False, "observation before step 1 differs")
    record["messages"][2]["content"] = "not json"
    ok, message = verify_rollout(record)
    assert not ok and "unreadable assistant turn" in message


def test_malformed_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n{oops\n', encoding="utf-8")
    with pytest.raises(RolloutError, match=r"bad.jsonl:2: not JSON"):
        load_rollouts(bad)
    bad.write_text('{"seed": 1}\n', encoding="utf-8")
    with pytest.raises(RolloutError, match='missing "messages"'):
        load_rollouts(bad)
    with pytest.raises(RolloutError, match="no such file"):
        load_rollouts(tmp_path / "missing.jsonl")


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "keep.jsonl"
    path.write_text('{"messages": []}\n', encoding="utf-8")
    with pytest.raises(TypeError):
        write_jsonl([{"messages": []}, {"messages": object()}], path)
    assert path.read_text(encoding="utf-8") == '{"messages": []}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["keep.jsonl"]


def test_oracle_and_grpo_episodes_export(tmp_path: Path) -> None:
    for name in ("oracle", "grpo"):
        path = tmp_path / f"{name}.jsonl"
        assert export_rollouts(name, [1_000_123], path) == (1, False)
        (record,) = load_rollouts(path)
        assert verify_rollout(record)[0]
        assert record["messages"][1]["content"].splitlines()[0].startswith("step 0/30")


def test_user_turn_is_render_observation(tmp_path: Path) -> None:
    from mirr_tui.core import IncidentEnv

    path = tmp_path / "one.jsonl"
    export_rollouts("naive", [1_000_777], path)
    (record,) = load_rollouts(path)
    env = IncidentEnv()
    assert record["messages"][1]["content"] == render_observation(env.reset(seed=1_000_777), 30)


def test_export_command(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "data" / "r.jsonl"
    result = runner.invoke(app, ["export-rollouts", str(out), "--agent", "heuristic", "-n", "3"])
    assert result.exit_code == 0, result.output
    assert "wrote 3 episode(s) of heuristic (seeds 1000000-1000002)" in result.output
    assert len(load_rollouts(out)) == 3
    folder = runner.invoke(app, ["export-rollouts", str(tmp_path), "-n", "1"])
    assert folder.exit_code == 2 and "is a directory" in folder.output
    unknown = runner.invoke(app, ["export-rollouts", str(out), "--agent", "nobody"])
    assert unknown.exit_code == 2 and "unknown agent" in unknown.output


def test_every_line_has_the_same_columns(reasoner_file: Path) -> None:
    """`datasets.load_dataset("json", ...)` infers one schema; every line must carry the same keys."""
    records = load_rollouts(reasoner_file)
    assert len({tuple(r) for r in records}) == 1
    assert all(r["error"] is None for r in records)


def test_an_agent_that_fails_mid_episode_is_recorded_as_aborted() -> None:
    from mirr_tui.agents.base import BaseAgent
    from mirr_tui.core import Action, IncidentEnv
    from mirr_tui.rollouts import rollout_episode

    class Flaky(BaseAgent):
        name = "flaky"

        def act(self, observation: object) -> Action:
            if getattr(observation, "step", 0) >= 2:
                raise RuntimeError("model server went away")
            self.last_reasoning = "reading logs"
            return Action("check_logs", "payment")

    record = rollout_episode(IncidentEnv(), Flaky(), 1_000_001, "rules")
    assert record["outcome"] == "aborted" and record["error"] == "RuntimeError: model server went away"
    assert record["steps"] == 2 and len(record["rewards"]) == 2
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert verify_rollout(record) == (True, "2 steps re-played, aborted")


def test_an_unwritable_path_fails_before_any_episode_is_played(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    played: list[dict] = []
    with pytest.raises(OSError):
        export_rollouts("heuristic", range(1_000_000, 1_000_003), blocker / "out.jsonl", on_episode=played.append)
    assert played == []


def test_export_streams_to_a_file_with_the_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "out.jsonl"
        assert export_rollouts("heuristic", range(1_000_000, 1_000_002), path) == (2, False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert len(load_rollouts(path)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_an_agent_credential_never_reaches_the_dataset() -> None:
    from mirr_tui.agents.heuristic import HeuristicAgent

    class KeyedAgent(HeuristicAgent):
        def describe(self) -> dict:
            return {"name": "keyed", "api_key": "sk-secret", "client": {"password": "pw"}}

    record = rollout_episode(IncidentEnv(), KeyedAgent(), 1_000_000, "rules")
    assert "sk-secret" not in json.dumps(record) and "pw" not in json.dumps(record["agent"])
    assert record["agent"] == {"name": "keyed", "client": {}}
