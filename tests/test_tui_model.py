"""The TUI's plain parts (no screen): view model, replay cursor, scrubber, sparklines, completion."""

from __future__ import annotations

import asyncio

import pytest

from mirr_tui import agents
from mirr_tui.core import FAULT_MODES, IncidentEnv, load_config
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayRecorder
from mirr_tui.tui.command import ActionSuggester, complete_command
from mirr_tui.tui.incident import reasoning_lines
from mirr_tui.tui.model import IncidentView, ReplayCursor, scrubber, sparkline, topology_tiers
from mirr_tui.tui.summary import compare_agents, episode_summary


def test_topology_tiers_follow_the_call_graph():
    assert topology_tiers(load_config()) == [["gateway"], ["auth", "orders"], ["payment", "database"]]


def test_replay_cursor_clamps_and_reports_its_ends():
    cursor = ReplayCursor(5)
    assert cursor.at_start and not cursor.at_end
    assert not cursor.step(-1)
    assert cursor.step(+1) and cursor.index == 1
    assert cursor.jump(99) and cursor.index == 4 and cursor.at_end
    assert not cursor.step(+1)
    assert cursor.home() and cursor.index == 0
    assert cursor.end() and cursor.index == cursor.last == 4
    with pytest.raises(ValueError):
        ReplayCursor(0)


def test_scrubber_puts_the_knob_where_the_frame_is():
    assert scrubber(0, 13, 14) == "▕●━━━━━━━━━━━━━▏ 0/13"
    assert scrubber(13, 13, 14) == "▕━━━━━━━━━━━━━●▏ 13/13"
    assert scrubber(7, 13, 14).endswith(" 7/13")
    assert scrubber(7, 13, 14).index("●") == 8  # 1 for the frame edge + round(7/13*13)
    assert scrubber(0, 0, 5) == "▕●━━━━▏ 0/0"


def test_sparkline_uses_a_fixed_scale():
    assert sparkline([0.0, 0.5, 1.0], 0.0, 1.0) == "▁▅█"
    assert sparkline([2.0, -1.0], 0.0, 1.0) == "█▁"  # clipped, never an index error
    assert sparkline([1, 10, 100, 1000], 1, 1000, log_scale=True) == "▁▃▆█"


def _episode(seed: int, agent_name: str = "heuristic", options=None):
    env = IncidentEnv()
    recorder = ReplayRecorder(player_kind="agent", player_name=agent_name)
    result = run_episode(env, agents.create(agent_name), seed, options=options, recorder=recorder)
    return env, recorder.finish(), result


def test_view_accumulates_what_the_player_saw():
    env, replay, result = _episode(23)
    view = IncidentView.rebuild(env.names, [f.obs for f in replay.frames], [f.reasoning for f in replay.frames])
    assert view.done and view.step == result.steps
    assert sum(view.breakdown.values()) == pytest.approx(result.score)
    # every log line read and every action is in the log, newest step first
    read = sum(len(f.obs.logs or ()) for f in replay.frames)
    assert sum(e.kind == "log" for e in view.entries) == read
    steps = [block[0].step for block in view.blocks_newest_first()]
    assert steps == sorted(steps, reverse=True) and steps[-1] == 0
    for block in view.blocks_newest_first():
        assert block[0].kind in ("action", "invalid", "page")  # the action heads its own log lines
    # sparklines keep the last HISTORY values, exactly as observed
    last = replay.frames[-1].obs.services["auth"].memory
    assert view.history["auth"]["memory"][-1] == last
    assert len(view.history["auth"]["memory"]) == min(10, len(replay.frames))
    assert view.diagnosis_step is not None and view.fix_step is not None and view.end_step == result.steps


def test_summary_names_the_truth_and_the_timeline():
    env, replay, result = _episode(23)
    view = IncidentView.rebuild(env.names, [f.obs for f in replay.frames])
    summary = episode_summary(view, replay.frames[-1].truth, {"oracle": (47.5, "recovered")})
    assert (summary.root_service, summary.fault_mode) == ("auth", "memory_leak")
    assert summary.outcome == "recovered" and summary.score == result.score
    assert dict(summary.breakdown)["correct_diagnosis"] == 8
    assert "diagnosed auth/memory_leak (right)" in summary.timeline()
    assert f"step {result.steps}: recovered" in summary.timeline()


def test_compare_agents_plays_the_same_incident():
    cfg = load_config()
    scores = compare_agents(cfg, 11, None)
    _, _, heuristic = _episode(11)
    assert scores["heuristic"] == (heuristic.score, heuristic.outcome)
    assert scores["oracle"][1] == "recovered"


def test_invalid_actions_and_notes_show_in_the_view():
    env = IncidentEnv()
    view = IncidentView(env.names)
    view.apply(env.reset(seed=3))
    view.apply(env.step("restart nowhere"))
    view.apply(env.step("logs payment"))
    assert view.entries[1].kind == "invalid" and "unknown service" in view.entries[1].text
    assert view.breakdown == {"invalid": -1.0}
    notes = "\n".join(view.notes())
    assert "logs read: payment @2" in notes and "invalid actions: 1" in notes


def test_reasoning_runs_are_collapsed_newest_first():
    lines = reasoning_lines([(1, "look"), (2, "wait"), (3, "wait"), (4, "fix")])
    assert [body for _, body in lines] == ["fix", "wait", "look"]
    assert "02-03" in lines[1][0]


@pytest.mark.parametrize(
    ("typed", "completed"),
    [
        ("rest", "restart"),
        ("restart pay", "restart payment"),
        ("diagnose payment bad", "diagnose payment bad_deploy"),
        ("logs da", "logs database"),
        ("circ", "circuit_break"),
        ("break pay", "break payment"),
        ("wait x", None),
        ("", None),
    ],
)
def test_command_completion(typed, completed):
    suggester = ActionSuggester(load_config().service_names, FAULT_MODES)
    assert asyncio.run(suggester.get_suggestion(typed)) == completed


@pytest.mark.parametrize(
    ("typed", "completed"),
    [
        ("diag pay over", "diagnose payment overloaded"),
        ("rest a", "restart auth"),  # a is only auth
        ("restart o", "restart orders"),
        ("w", "wait"),
        ("c orders", "circuit_break orders"),
        ("br pay", "break payment"),
        ("r payment", "r payment"),  # r could be restart or rollback: left for the parser to explain
        ("restrat payment", "restrat payment"),
    ],
)
def test_complete_command_expands_unique_prefixes(typed, completed):
    names = ("gateway", "auth", "orders", "payment", "database")
    assert complete_command(typed, names, FAULT_MODES) == completed


def test_the_view_follows_pages_diagnoses_and_deferred_rows():
    env = IncidentEnv()
    view = IncidentView(env.names)
    view.apply(env.reset(seed=1, options={"scenario": "retry-storm"}))
    assert view.pages == [0] and view.diagnose_closed_reason() is None
    view.apply(env.step("diagnose payment bad_deploy"))
    assert "already diagnosed payment/bad_deploy at step 1" in view.diagnose_closed_reason()
    view.apply(env.step("rollback payment"))
    assert view.paid == [] and view.fix_step is None  # decided, paid at the end
    while view.page == 1:
        view.apply(env.step("wait"))
    assert len(view.pages) == 2 and view.diagnose_closed_reason() is None
    assert view.entries[-1].kind == "page" and view.entries[-1].text.startswith("paged again")
    assert not view.entries[-2].text.endswith("·")  # the action's own result, without the page's words
    view.apply(env.step("scale_up database"))  # fixed before diagnosing this page
    assert view.diagnose_closed_reason().startswith("scale_up database ran at step")
    assert "page 2 diagnosis: closed, you fixed first" in view.notes()
    while not view.done:
        view.apply(env.step("wait"))
    assert view.fix_step == 2 and view.entries[-1].kind == "settle"
    assert "correct diagnosis +8 @1" in view.entries[-1].text and "lucky fix" in view.entries[-1].text
    summary = episode_summary(view, env.state.to_dict(), {})
    assert [f.diagnosis_step for f in summary.faults] == [1, None]
    assert not summary.diagnosis_correct  # the second fault was never diagnosed
    assert summary.rows == sorted(summary.rows, key=lambda row: row[2])
