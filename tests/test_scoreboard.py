"""The scoreboard counts only replays that re-simulate (issue 10 items 1-3), with verdicts cached by content."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import agents
from mirr_tui.cli import app as cli_app
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayRecorder, load_replay, verify_replay
from mirr_tui.scores import build_scoreboard, player_cells
from mirr_tui.verdicts import VerdictCache


def record(folder, agent="heuristic", seed=21, player=None, steps=None):
    """One replay in `folder`: a whole episode, or (with `steps`) one left after that many waits."""
    env = IncidentEnv()
    kind, name = ("human", player) if player else ("agent", agent)
    recorder = ReplayRecorder(player_kind=kind, player_name=name)
    if steps is None:
        run_episode(env, agents.create(agent), seed, recorder=recorder)
    else:
        obs = env.reset(seed=seed)
        recorder.start(env, obs)
        for _ in range(steps):
            obs = env.step("wait")
            recorder.record("wait", obs, env.state)
    return recorder.save_to_dir(folder)


def edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_forged_score_or_seed_is_not_counted_and_is_listed_with_the_reason(tmp_path):
    honest = record(tmp_path, "naive", seed=5)
    forged = record(tmp_path, "naive", seed=6)
    reseeded = record(tmp_path, "naive", seed=7)
    edit(forged, lambda d: d["summary"].update(score=99.5, outcome="recovered"))
    edit(reseeded, lambda d: d.update(seed=8))
    board = build_scoreboard(tmp_path)
    assert [r.path for r in board.replays] == [honest]
    (naive,) = board.players
    assert naive.episodes == 1 and naive.best_score == load_replay(honest).summary["score"] < 99.5
    reasons = dict(board.unverified)
    assert set(reasons) == {forged, reseeded}
    assert "summary.outcome" in reasons[forged] or "summary.score" in reasons[forged]
    assert "frame 0" in reasons[reseeded]

    result = CliRunner().invoke(cli_app, ["scores", str(tmp_path), "--plain"])
    assert result.exit_code == 0, result.output
    assert "+99.5" not in result.output
    assert f"not counted {forged.name}" in result.output.replace("\n", " ")
    listing = json.loads(CliRunner().invoke(cli_app, ["scores", str(tmp_path), "--json"]).output)
    assert {item["file"] for item in listing["unverified"]} == {str(forged), str(reseeded)}
    assert listing["players"][0]["episodes"] == 1


def test_verdicts_are_cached_by_content_and_an_edit_is_a_miss(tmp_path):
    folder = tmp_path / "replays"
    paths = [record(folder, "naive", seed=seed) for seed in (1, 2, 3)]
    cache_file = tmp_path / "cache" / "verdicts.json"
    cold = VerdictCache(cache_file)
    build_scoreboard(folder, cache=cold)
    assert (cold.hits, cold.misses) == (0, 3) and cache_file.is_file()
    warm = VerdictCache(cache_file)
    board = build_scoreboard(folder, cache=warm)
    assert (warm.hits, warm.misses) == (0 + 3, 0) and len(board.replays) == 3
    edit(paths[0], lambda d: d["summary"].update(score=50.0))
    again = VerdictCache(cache_file)
    board = build_scoreboard(folder, cache=again)
    assert (again.hits, again.misses) == (2, 1)
    assert [path for path, _ in board.unverified] == [paths[0]]


def test_a_broken_or_foreign_cache_file_is_ignored_and_replaced(tmp_path):
    folder = tmp_path / "replays"
    record(folder, "naive", seed=1)
    cache_file = tmp_path / "verdicts.json"
    for junk in ("{not json", json.dumps([1, 2]), json.dumps({"format": "other", "entries": {}}), "[" * 100_000):
        cache_file.write_text(junk)
        cache = VerdictCache(cache_file)
        assert len(build_scoreboard(folder, cache=cache).replays) == 1 and cache.misses == 1
        assert json.loads(cache_file.read_text())["format"] == "mirr-verdicts/1"
    # a forged verdict in the cache cannot vouch for a file: the key is the file's content hash
    data = json.loads(cache_file.read_text())
    key = next(iter(data["entries"]))
    assert key.endswith(load_replay(next(folder.glob("*.json"))).digest)


def test_an_unwritable_cache_folder_costs_speed_not_results(tmp_path):
    folder = tmp_path / "replays"
    record(folder, "naive", seed=1)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cache = VerdictCache(blocker / "verdicts.json")
    assert len(build_scoreboard(folder, cache=cache).replays) == 1


def test_an_abandoned_episode_is_kept_out_of_the_rates_and_counted_apart(tmp_path):
    for seed in range(3):
        record(tmp_path, "heuristic", seed=seed, player="tester")
    left = record(tmp_path, seed=40, player="tester", steps=2)
    replay = load_replay(left)
    assert replay.abandoned and replay.summary["outcome"] is None and verify_replay(replay).ok
    board = build_scoreboard(tmp_path)
    (tester,) = board.players
    finished = [load_replay(p) for p in sorted(tmp_path.glob("*.json")) if p != left]
    assert tester.episodes == 3 and tester.abandoned == 1
    assert tester.success_rate == sum(r.summary["outcome"] == "recovered" for r in finished) / 3
    assert player_cells(tester)[-1] == "1"


def test_only_abandoned_runs_show_dashes_not_a_zero_rate(tmp_path):
    record(tmp_path, seed=40, player="quitter", steps=1)
    (quitter,) = build_scoreboard(tmp_path).players
    assert player_cells(quitter)[2:] == ("0", "-", "-", "-", "-", "1")


def test_a_finished_episode_that_claims_abandoned_does_not_verify(tmp_path):
    loss = record(tmp_path, "naive", seed=5)
    edit(loss, lambda d: d["summary"].update(abandoned=True))
    result = verify_replay(load_replay(loss))
    assert not result.ok and "summary.abandoned" in result.message
    assert build_scoreboard(tmp_path).players == []


def test_markup_in_a_player_name_is_shown_as_text_in_plain_scores(tmp_path):
    record(tmp_path, "naive", seed=5, player="[/bold]x")
    record(tmp_path, "naive", seed=5, player="[red]y")
    result = CliRunner().invoke(cli_app, ["scores", str(tmp_path), "--plain"])
    assert result.exit_code == 0, result.output
    assert "[/bold]x" in result.output and "[red]y" in result.output


def test_a_warm_scoreboard_equals_a_cold_one_and_a_bad_cached_header_is_re_verified(tmp_path):
    folder = tmp_path / "replays"
    for seed in range(3):
        record(folder, "naive", seed=seed)
    record(folder, seed=9, player="tester", steps=1)
    cache_file = tmp_path / "verdicts.json"
    cold = build_scoreboard(folder, cache=VerdictCache(cache_file))
    warm = build_scoreboard(folder, cache=VerdictCache(cache_file))
    assert warm.players == cold.players and warm.head_to_head == cold.head_to_head
    data = json.loads(cache_file.read_text())
    for entry in data["entries"].values():
        entry[2]["seed"] = "not a seed"
    cache_file.write_text(json.dumps(data))
    cache = VerdictCache(cache_file)
    assert build_scoreboard(folder, cache=cache).players == cold.players and cache.misses == 4
