"""The scoreboard counts only replays that re-simulate (issue 10 items 1-3), with verdicts cached by content."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mirr_tui import agents
from mirr_tui.cli import app as cli_app
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayError, ReplayRecorder, load_replay, verify_replay
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
    # `--replays`, as `play` and `watch` name the folder (a fresh player tried it first), reads the same board
    named = CliRunner().invoke(cli_app, ["scores", "--replays", str(tmp_path), "--json"])
    assert named.exit_code == 0 and json.loads(named.output) == listing
    both = CliRunner().invoke(cli_app, ["scores", str(tmp_path), "--replays", str(tmp_path / "other")])
    assert both.exit_code == 2 and "two folders" in both.output


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
        assert json.loads(cache_file.read_text())["format"] == "mirr-verdicts/2"
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


# ---------------------------------------------------------------------------- crafted files, as a property
_HOSTILE = [None, True, -1, 2**70, 1e308, "", "[/bold]x", "[red]", "\x00\u202e", [], {}, [[[]]], {"a": {"b": None}}]
_RAW = {"@DEEP@": "[" * 5_000 + "]" * 5_000, "@DIGITS@": "9" * 5_000, "@NAN@": "NaN", "@INF@": "1e309"}


def _paths(value, prefix=()):
    """Every place in a JSON value that a mutation can hit."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):  # the first frames are enough
            yield from _paths(item, (*prefix, index))


def _mutate(data, path, new, delete):
    if not path:
        return new
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return data


def test_property_crafted_replay_files_never_crash_the_readers_and_never_hide_a_valid_episode(tmp_path):
    """Issue 10: whatever a replay file holds, the loader, --verify, the scoreboard and `mirr scores` answer
    with a verdict or a listed reason, and the valid replay beside it is always counted."""
    hypothesis = __import__("pytest").importorskip("hypothesis")
    from hypothesis import strategies as st

    source = record(tmp_path / "source", "heuristic", seed=3)
    pristine = json.loads(source.read_text())
    paths = list(_paths(pristine))
    values = st.sampled_from(_HOSTILE) | st.sampled_from(sorted(_RAW)) | st.text(max_size=20)
    mutation = st.tuples(st.sampled_from(paths), values, st.booleans())

    @hypothesis.settings(max_examples=60, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(mutations=st.lists(mutation, min_size=1, max_size=4))
    def run(mutations):
        folder = tmp_path / "board"
        folder.mkdir(exist_ok=True)
        for old in folder.glob("*.json"):
            old.unlink()
        valid = folder / "valid.json"
        valid.write_bytes(source.read_bytes())
        data = json.loads(json.dumps(pristine))
        for path, new, delete in mutations:
            try:
                data = _mutate(data, path, new, delete)
            except (KeyError, IndexError, TypeError):  # an earlier mutation removed the place
                continue
        text = json.dumps(data)
        for token, raw in _RAW.items():
            text = text.replace(f'"{token}"', raw)
        crafted = folder / "crafted.json"
        crafted.write_text(text)
        try:
            replay = load_replay(crafted)
        except ReplayError:
            replay = None
        if replay is not None:
            assert isinstance(verify_replay(replay).ok, bool)
        board = build_scoreboard(folder)
        assert valid in [r.path for r in board.replays]
        placed = [r.path for r in board.replays] + [p for p, _ in board.skipped + board.unverified]
        assert sorted(placed) == sorted([valid, crafted])
        plain = CliRunner().invoke(cli_app, ["scores", str(folder), "--plain"])
        assert plain.exit_code == 0, plain.output
        verify = CliRunner().invoke(cli_app, ["replay", str(crafted), "--verify"])
        assert verify.exit_code in (0, 1, 2), verify.output
        assert verify.exception is None or isinstance(verify.exception, SystemExit)  # no traceback

    run()


def test_personal_bests_per_seed_and_scenario_leave_out_abandoned_runs(tmp_path):
    from mirr_tui.scores import best_text, personal_bests

    for agent in ("naive", "reasoner"):
        env = IncidentEnv()
        recorder = ReplayRecorder(player_kind="human", player_name="tester")
        run_episode(env, agents.create(agent), 4, options={"scenario": "checkout-3am"}, recorder=recorder)
        recorder.save_to_dir(tmp_path)
    record(tmp_path, seed=4, player="tester", steps=2)  # abandoned: never a best
    board = build_scoreboard(tmp_path)
    scores = sorted(r.summary["score"] for r in board.replays if not r.abandoned)
    bests = personal_bests(board.replays, "tester", 4, "normal", "checkout-3am")
    assert [(b.what, b.score, b.tries) for b in bests] == [
        ("this seed", scores[-1], 2),
        ("checkout-3am", scores[-1], 2),
    ]
    assert personal_bests(board.replays, "tester", 5, "normal", None) == []
    assert best_text(bests, scores[-1] + 1).endswith("a new best on this seed")
    assert "on this seed: " in best_text(bests, scores[0]) and "new best" not in best_text(bests, scores[0])


def test_a_take_over_keeps_its_own_row_when_its_verdict_comes_from_the_cache(tmp_path):
    """The cached header keeps `forked_from`: a warm board must not pool a fork with its player's own tries."""
    from mirr_tui.replay import fork_replay

    folder, cache_file = tmp_path / "runs", tmp_path / "verdicts.json"
    source = ReplayRecorder(player_kind="human", player_name="ana")
    run_episode(IncidentEnv(), agents.create("naive"), 7, options={"scenario": "checkout-3am"}, recorder=source)
    original = load_replay(source.save_to_dir(folder))
    fork = ReplayRecorder(player_kind="human", player_name="ana")
    env, _ = fork_replay(original, 2, fork)
    for move in ("diagnose payment bad_deploy", "rollback payment"):
        fork.record(move, env.step(move), env.state)
    while not env.state.done:
        fork.record("wait", env.step("wait"), env.state)
    fork.save_to_dir(folder)
    for board in (build_scoreboard(folder, cache=VerdictCache(cache_file)) for _ in range(2)):  # cold, then warm
        assert sorted(p.player for p in board.players) == ["ana", "ana (fork @2)"]
