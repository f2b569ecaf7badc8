"""The terminal app driven by keys (Textual pilot): play, watch, replay, scores, bad input, small terminals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual import events
from textual.widgets import DataTable, Input

from mirr_tui import agents
from mirr_tui.core import FAULT_MODES, IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import VERSION as REPLAY_VERSION
from mirr_tui.replay import ReplayRecorder, load_replay, verify_replay
from mirr_tui.tui.app import make_app
from mirr_tui.tui.browse import MessageScreen, ReplayPickerScreen, ScoresScreen
from mirr_tui.tui.modals import DiagnoseModal, PickReplayModal, SummaryModal
from mirr_tui.tui.panes import LogView, MessageLine
from mirr_tui.tui.play import PlayScreen
from mirr_tui.tui.replay_screen import ReplayScreen
from mirr_tui.tui.watch import WatchScreen
from mirr_tui.tui.widgets import ServicePanel

SIZE = (120, 40)
FIX_KEYS = {"restart": "r", "rollback": "b", "scale_up": "s"}


def record(tmp_path: Path, seed: int, agent_name: str = "heuristic", player: str | None = None, options=None) -> Path:
    """Play one episode headless and save its replay in tmp_path (a human replay if `player` is given)."""
    env = IncidentEnv()
    recorder = (
        ReplayRecorder(player_kind="human", player_name=player)
        if player
        else ReplayRecorder(player_kind="agent", player_name=agent_name)
    )
    run_episode(env, agents.create(agent_name), seed, options=options, recorder=recorder)
    return recorder.save_to_dir(tmp_path)


def message_text(app) -> str:
    return str(app.screen.query_one(MessageLine).render())


async def wait_until(pilot, condition, limit: int = 200) -> None:
    for _ in range(limit):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never became true")


# ------------------------------------------------------------------------------------ play
async def test_play_a_seeded_episode_to_recovery_with_keys_only(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayScreen)
        truth = screen.env.state  # the test may peek at the truth to choose its keys
        root = screen.names.index(truth.root_service)
        await pilot.press(str(root + 1), "l")
        assert screen.view.logs_read == {truth.root_service: [1]}
        await pilot.press("d")
        assert isinstance(app.screen, DiagnoseModal)
        await pilot.press(*["down"] * FAULT_MODES.index(truth.fault_mode), "enter")
        assert screen.view.obs.diagnosis == {"service": truth.root_service, "mode": truth.fault_mode}
        assert screen.check_action("diagnose", ()) is None  # greyed out: one diagnosis per episode
        fix_key = FIX_KEYS[app.screen.config.fault_modes[truth.fault_mode].fix]
        for _ in range(30):
            if screen.view.done:
                break
            await pilot.press(fix_key if screen.env.state.fault_phase == "active" else "w")
        state = screen.env.state
        assert state.outcome == "recovered" and state.diagnosis_correct
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))  # other agents play in a thread
        summary = app.screen.summary
        assert summary.outcome == "recovered" and summary.score == state.score == screen.view.obs.score
        assert dict(summary.breakdown)["correct_diagnosis"] == 8 and dict(summary.breakdown)["correct_fix"] == 10
        assert set(summary.comparisons) == {"heuristic", "reasoner", "oracle"}
        assert summary.comparisons["oracle"][1] == "recovered"
        assert not screen.check_action("act", ("wait",))  # the episode is over
        assert "replay saved to" in (app.exit_message or "")
        await pilot.press("q")
    saved = list(tmp_path.glob("*.json"))
    assert len(saved) == 1  # quitting after the end does not save twice
    replay = load_replay(saved[0])
    assert replay.player == {"kind": "human", "name": "tester"}
    assert replay.summary["outcome"] == "recovered" and replay.summary["score"] == state.score
    assert verify_replay(replay).ok


async def test_restarting_a_bad_deploy_is_judged_at_the_end_and_the_episode_is_lost(tmp_path):
    app = make_app("play", seed=1, scenario="checkout-3am", replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert screen.env.state.root_service == "payment" and screen.env.state.fault_mode == "bad_deploy"
        await pilot.press("4", "r")
        obs = screen.view.obs
        assert obs.rewards == () and obs.score == 0.0  # the wrong fix is decided now, paid at the end
        assert "restarted payment" in message_text(app)
        assert "-2" not in "\n".join(screen.query_one("#log", LogView).plain_lines)  # no verdict during play
        for _ in range(40):
            if screen.view.done:
                break
            await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        summary = app.screen.summary
        assert summary.outcome in ("collapsed", "timed_out")
        assert dict(summary.breakdown)["wrong_fix"] == -2.0
        assert ("wrong_fix", -2.0, 1) in summary.rows  # with the step it belongs to
        assert (summary.root_service, summary.fault_mode) == ("payment", "bad_deploy")
        await pilot.press("n")  # a new incident from the summary
        assert isinstance(app.screen, PlayScreen) and app.screen.view.step == 0
    assert len(list(tmp_path.glob("*.json"))) == 1


async def test_a_bad_command_is_explained_and_costs_no_step(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("colon")
        command = screen.query_one("#command", Input)
        assert command.has_focus
        await pilot.press(*"restrat payment", "enter")
        assert "unknown action 'restrat'" in message_text(app)
        assert screen.view.step == 0  # a typo spends no step
        command.value = ""
        await pilot.press(*"restart nowhere", "enter")  # a typo in the service: free too, the line stays open
        assert screen.view.step == 0 and "unknown service 'nowhere'" in message_text(app)
        assert command.has_class("-open")
        await pilot.press("escape")
        assert not command.has_class("-open")
        await pilot.press("slash", *"logs pay", "right", "enter")  # → completes the service
        assert screen.view.obs.logs_service == "payment" and screen.view.obs.valid
        assert screen.view.step == 1
        await pilot.press("colon", *"diag pay over", "enter")  # enter plays the unique completion
        assert screen.view.obs.diagnosis == {"service": "payment", "mode": "overloaded"}
        assert screen.view.step == 2


async def type_fast(pilot, *keys: str) -> None:
    """Send keys the way a fast typist does: all queued before the app handles the first one."""
    for key in keys:
        pilot.app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
    await pilot.pause()
    await pilot.pause()


async def test_keys_typed_while_the_diagnose_dialog_closes_are_played(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("4", "d")
        assert isinstance(app.screen, DiagnoseModal)
        await type_fast(pilot, "down", "down", "enter", "s", "w")  # overloaded, then scale up and wait
        assert app.screen is screen
        assert screen.view.obs.diagnosis == {"service": "payment", "mode": "overloaded"}
        actions = [e.text for e in screen.view.entries if e.kind == "action"]
        assert screen.view.step == 3, actions  # diagnose, scale up, wait: no key lost
        assert "scaled up payment" in actions[-2] and actions[-1].startswith("waited one step"), actions
        await pilot.press("question_mark")
        await type_fast(pilot, "escape", "w")  # close the help and wait, in one breath
        assert app.screen is screen and screen.view.step == 4


async def test_the_log_wraps_under_the_message_column_and_separates_step_and_service(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4", "l")
        lines = app.screen.query_one("#log", LogView).plain_lines
        log_lines = [line for line in lines if line.startswith("01 · payment")]
        assert log_lines, lines
        first = lines.index(log_lines[0])
        column = len("01 · ") + 9 + 5 + 1  # step · service (9 wide) level (5 wide) and a space
        wrapped = [n for n, line in enumerate(lines) if n > first and line[:column].strip() == "" and line.strip()]
        assert wrapped, "a long payment log line should wrap at 80 columns"
        for n in wrapped:
            assert len(lines[n]) - len(lines[n].lstrip()) == column, lines[n]  # under the message, not column 0


async def test_the_watch_header_fits_80_columns_paused(tmp_path):
    app = make_app("watch", agent="heuristic", seed=12345, speed=2, replay_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("space")  # paused before the agent's first move (its first step waits 1/speed)
        await pilot.press("full_stop")
        await wait_until(pilot, lambda: screen.view.step >= 1)
        header = screen.query_one("#header")
        text = header._header(0).plain
        shown = str(header.render())
        assert len(shown) <= header.content_region.width and "⏸ paused" in shown, (shown, text)
        assert "seed 12345" in shown and "heuristic" in shown


async def test_quitting_mid_episode_saves_the_replay(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")  # no step played: nothing to save
    assert not list(tmp_path.glob("*.json")) and app.exit_message is None
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "l", "w", "q", "y")  # y: yes, abandon it
    saved = list(tmp_path.glob("*.json"))
    assert len(saved) == 1 and app.exit_message == f"replay saved to {saved[0]}"
    replay = load_replay(saved[0])
    assert replay.summary["steps"] == 2 and replay.summary["outcome"] is None
    assert replay.abandoned and replay.summary["abandoned"] is True  # not a loss (issue 10 item 2)
    assert verify_replay(replay).ok
    assert replay.frames[1].input == {"type": "check_logs", "service": "auth"}


async def test_help_and_selection_keys(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("5")
        assert screen.query_one("#panel-database", ServicePanel).has_class("-selected")
        await pilot.press("right")
        assert screen.selected == 0  # wraps around
        await pilot.press("left", "left")
        assert screen.names[screen.selected] == "payment"
        await pilot.press("question_mark")
        assert "MIRR in brief" in str(app.screen.query_one("Static").render())
        await pilot.press("escape")
        assert app.screen is screen
        panel = screen.query_one("#panel-payment", ServicePanel)
        assert panel.has_class(f"-{screen.view.obs.services['payment'].status}")  # the health check's colour


# ------------------------------------------------------------------------------------ watch
async def test_watch_the_heuristic_finish(tmp_path):
    app = make_app("watch", agent="heuristic", seed=23, speed=50, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert screen.view.done and screen.view.obs.outcome == "recovered"
        assert screen.view.reasoning  # the agent's explanations reached the side pane
        assert "reasoning" in str(screen.query_one("#side").border_title)
        assert app.screen.summary.comparisons["oracle"][1] == "recovered"
        assert app.screen.check_action("choose", ("new",)) is False
    saved = list(tmp_path.glob("*.json"))
    assert len(saved) == 1
    replay = load_replay(saved[0])
    assert replay.player["kind"] == "agent" and replay.player["name"] == "heuristic"
    assert replay.summary["outcome"] == "recovered" and replay.frames[-1].reasoning
    assert verify_replay(replay).ok


async def test_watch_pause_step_and_speed(tmp_path):
    app = make_app("watch", agent="heuristic", seed=5, speed=0.25, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("space")
        assert screen.paused and screen.check_action("step_once", ()) is True
        await pilot.press("full_stop")
        await wait_until(pilot, lambda: screen.view.step == 1)
        await pilot.pause(0.1)
        assert screen.view.step == 1  # paused: only the one step
        await pilot.press("plus", "plus")
        assert screen.speed == 1.0
        await pilot.press("minus")
        assert screen.speed == 0.5
        await pilot.press("q", "y")  # mid-episode: quitting asks first
    saved = list(tmp_path.glob("*.json"))
    assert len(saved) == 1 and load_replay(saved[0]).summary["steps"] == 1


async def test_an_agent_failure_is_shown_and_the_episode_saved(tmp_path, monkeypatch):
    from mirr_tui.agents.heuristic import HeuristicAgent

    calls = {"n": 0}
    real_act = HeuristicAgent.act

    def flaky_act(self, obs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("network down")
        return real_act(self, obs)

    monkeypatch.setattr(HeuristicAgent, "act", flaky_act)
    app = make_app("watch", agent="heuristic", seed=23, speed=50, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.finished)
        assert "ConnectionError: network down" in message_text(app)
        assert "network down" in str(screen.query_one("#side-body").render())
    replay = load_replay(next(tmp_path.glob("*.json")))
    assert replay.error == "ConnectionError: network down" and replay.summary["steps"] == 2


async def test_an_agent_that_cannot_start_is_shown_not_raised(tmp_path):
    app = make_app("watch", agent="heuristic", agent_options={"bogus": 1}, seed=5, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "cannot start agent 'heuristic'" in message_text(app)
        assert app.screen.finished
    assert not list(tmp_path.glob("*.json"))  # no episode was played: nothing to save or score


# ------------------------------------------------------------------------------------ replay
async def test_step_a_replay_and_toggle_the_truth(tmp_path):
    path = record(tmp_path, 23)  # heuristic: auth/memory_leak, recovered
    replay = load_replay(path)
    app = make_app("replay", replay_path=path, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen) and screen.cursor.index == 0
        assert screen.check_action("move", (-1,)) is None
        await pilot.press("right", "right", "right")
        assert screen.cursor.index == 3 and screen.view.step == replay.frames[3].step
        # the log holds exactly what was read in frames 0..3
        read = sum(len(f.obs.logs or ()) for f in replay.frames[:4])
        assert sum(e.kind == "log" for e in screen.view.entries) == read
        assert "3/" in str(screen.query_one("#actionbar").render())
        await pilot.press("left")
        assert screen.cursor.index == 2
        await pilot.press("end")
        assert screen.cursor.at_end and screen.view.done
        assert screen.check_action("move", (1,)) is None and screen.check_action("jump", ("end",)) is None
        panel = screen.query_one("#panel-auth", ServicePanel)
        assert "true health" not in str(panel.border_subtitle)
        await pilot.press("t")
        assert "root, fixed" in str(panel.border_subtitle) and panel.has_class("-root")
        assert not screen.query_one("#panel-payment", ServicePanel).has_class("-root")
        side = str(screen.query_one("#side-body").render()).splitlines()
        assert "truth: auth/memory_leak (fixed)" in side
        # Long reasoning wraps under its text, not under the step numbers ("09-12 fix applied; waiting...").
        starts = [n for n, line in enumerate(side) if line[:2].isdigit()]
        wrapped = [line for line in side[starts[0] :] if line and not line[:2].isdigit()]
        assert wrapped and all(
            (line.startswith("   ") and line[3] != " ") or line.startswith("      ") for line in wrapped
        )
        await pilot.press("t")
        assert "true health" not in str(panel.border_subtitle)
        await pilot.press("home")
        assert screen.cursor.at_start
        await pilot.press("space")  # play: one timer moves the cursor
        await wait_until(pilot, lambda: screen.cursor.index >= 1)
        await pilot.press("space")
        assert not screen._playing


async def test_a_corrupt_replay_shows_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "mirr-replay", "version": REPLAY_VERSION}))
    app = make_app("replay", replay_path=bad, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, MessageScreen)
        assert 'missing "env"' in str(app.screen.query_one("#message-text").render())
        await pilot.press("q")


async def test_the_replay_picker_lists_and_opens_replays(tmp_path):
    record(tmp_path, 23)
    (tmp_path / "broken.json").write_text("{not json")
    app = make_app("replay", replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, ReplayPickerScreen)
        assert app.screen.query_one(DataTable).row_count == 1
        assert "unreadable broken.json" in str(app.screen.query_one("#skipped").render())
        await pilot.press("enter")
        assert isinstance(app.screen, ReplayScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ReplayPickerScreen)


async def test_picker_and_scores_show_markup_names_as_text_and_abandoned_runs_as_such(tmp_path):
    record(tmp_path, 23, "naive", player="[/bold]x")
    env = IncidentEnv()
    recorder = ReplayRecorder(player_kind="human", player_name="[red]quitter")
    recorder.start(env, env.reset(seed=4))
    recorder.record("wait", env.step("wait"), env.state)
    left = recorder.save_to_dir(tmp_path)
    forged = record(tmp_path, 24, "naive")
    data = json.loads(forged.read_text())
    data["summary"]["score"] = 99.5
    forged.write_text(json.dumps(data))
    app = make_app("replay", replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(DataTable)
        rows = {str(row.key.value): [str(cell) for cell in table.get_row(row.key)] for row in table.ordered_rows}
        assert rows[left.name][1] == "[red]quitter" and rows[left.name][2] == "abandoned"
        assert "[/bold]x" in {row[1] for row in rows.values()}
        await pilot.press("q")
    app = make_app("scores", replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        players = app.screen.query_one("#players", DataTable)
        cells = {str(players.get_row_at(n)[0]): [str(c) for c in players.get_row_at(n)] for n in range(2)}
        assert cells["[red]quitter"][2:] == ["0", "-", "-", "-", "-", "1"]
        assert cells["[/bold]x"][2] == "1"
        assert f"not counted {forged.name}" in str(app.screen.query_one("#skipped").render())
        await pilot.press("q")


# ------------------------------------------------------------------------------------ scores
async def test_scores_sort_and_open_a_replay(tmp_path):
    record(tmp_path, 11, "heuristic")
    record(tmp_path, 11, "oracle")
    human = record(tmp_path, 11, "naive", player="tester")
    app = make_app("scores", replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ScoresScreen)
        players = screen.query_one("#players", DataTable)
        assert players.row_count == 3
        names = [str(players.get_row_at(n)[0]) for n in range(3)]
        assert names[0] == "oracle"  # sorted by mean score
        await pilot.click("#players", offset=(3, 0))  # the "player" header: sort by name
        assert [str(players.get_row_at(n)[0]) for n in range(3)] == sorted(names)
        await pilot.click("#players", offset=(3, 0))
        assert [str(players.get_row_at(n)[0]) for n in range(3)] == sorted(names, reverse=True)
        players.move_cursor(row=[str(players.get_row_at(n)[0]) for n in range(3)].index("tester"))
        await pilot.press("enter")
        assert isinstance(app.screen, ReplayScreen) and app.screen.replay.path == human
        await pilot.press("escape")
        assert app.screen is screen
        h2h = screen.query_one("#h2h", DataTable)
        assert h2h.row_count == 1
        h2h.focus()
        await pilot.press("enter")
        assert isinstance(app.screen, PickReplayModal) and len(app.screen.choices) == 3
        await pilot.press("enter")  # the best score of this incident comes first
        assert isinstance(app.screen, ReplayScreen) and app.screen.replay.player_name == "oracle"


# ------------------------------------------------------------------------------------ sizes
@pytest.mark.parametrize(
    ("size", "too_small", "side_shown"), [((60, 20), True, False), ((80, 24), False, False), ((120, 40), False, True)]
)
async def test_small_terminals(tmp_path, size, too_small, side_shown):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#too-small").display is too_small
        assert screen.query_one("#board").display is not too_small
        if not too_small:
            assert screen.query_one("#side").display is side_shown
            panel = screen.query_one("#panel-gateway", ServicePanel)
            assert panel.region.height == (5 if side_shown else 4)  # compact: two metric lines
            await pilot.press("1", "l")  # still playable
            assert screen.view.step == 1


# ------------------------------------------------------------------------------------ rules v2
def header_text(screen) -> str:
    return str(screen.query_one("#header").render())


async def test_the_header_shows_the_seed_the_screen_started(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert not hasattr(screen.view.obs, "seed")  # the seed never reaches the player's channel
        assert "seed 3" in header_text(screen)
        await pilot.press("n")  # a new, random incident: the seed the screen drew is shown
        assert screen.seed is not None and f"seed {screen.seed} " in header_text(screen)
    path = record(tmp_path, 23)
    app = make_app("replay", replay_path=path, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert "seed 23" in header_text(app.screen)


async def test_the_score_settles_at_the_end_with_every_row_and_its_step(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("4", "l", "d", "down", "down", "enter", "s")  # payment/overloaded, scaled up
        obs = screen.view.obs
        assert obs.score == 0 and obs.rewards == ()  # decided, not paid
        header = header_text(screen)
        assert "settles at end" in header and "+0" in header
        log = "\n".join(screen.query_one("#log", LogView).plain_lines)
        assert "+8" not in log and "+10" not in log and "right" not in log  # no verdict during play
        while not screen.view.done:
            await pilot.press("w")
        assert "settles" not in header_text(screen) and f"score {obs.score:+.1f}" not in header_text(screen)
        assert f"score {screen.view.obs.score:+.1f}" in header_text(screen)
        log = screen.query_one("#log", LogView).plain_lines
        assert any("score settled: correct diagnosis +8 @2" in line for line in log), log
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        summary = app.screen.summary
        assert summary.rows[:2] == [("correct_diagnosis", 8.0, 2), ("correct_fix", 10.0, 3)]
        assert [step for _, _, step in summary.rows] == sorted(step for _, _, step in summary.rows)
        assert sum(value for _, value, _ in summary.rows) == pytest.approx(summary.score)
        await wait_until(pilot, lambda: bool(app.screen.query("#summary-body")))  # pushed is not yet composed
        body = str(app.screen.query_one("#summary-body").render())
        assert "step  2  correct diagnosis" in body and "step  3  correct fix" in body
        assert "failed requests" in body


async def test_diagnose_closes_after_a_fix_and_typing_it_costs_nothing(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert screen.check_action("diagnose", ()) is True
        await pilot.press("4", "s")  # a fix before any diagnosis
        assert not screen.view.obs.can_diagnose
        assert screen.check_action("diagnose", ()) is None  # struck out in the footer
        assert "d diagnose" in str(screen.query_one("#actionbar").render())
        assert ("d", "diagnose", False) in screen.bar_actions()
        await pilot.press("d")
        assert app.screen is screen  # no dialog
        await pilot.press("colon", *"diagnose payment overloaded", "enter")
        assert screen.view.step == 1 and screen.view.obs.valid  # no step spent, nothing invalid
        text = message_text(app)
        assert "not possible now (no step spent)" in text and "scale_up payment ran at step 1" in text
        assert not screen.query_one("#command", Input).has_class(
            "-open"
        )  # no diagnosis can be made: keys back to the game
        assert "closed, you fixed first" in str(screen.query_one("#side-body").render())


async def test_the_breaker_key_opens_and_closes_a_breaker_shown_on_the_panel(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        panel = screen.query_one("#panel-payment", ServicePanel)
        assert "breaker" not in str(panel.border_title)
        await pilot.press("4", "c")
        obs = screen.view.obs
        assert obs.breakers == ("payment",) and obs.step == 1 and obs.valid
        assert "breaker open" in str(panel.border_title) and panel.has_class("-breaker")
        assert "breakers open: payment" in str(screen.query_one("#side-body").render())
        assert "c breaker" in str(screen.query_one("#actionbar").render())
        await pilot.press("c")
        assert screen.view.obs.breakers == () and "breaker" not in str(panel.border_title)
        await pilot.press("colon", *"break orders", "enter")  # the command line knows it too
        assert screen.view.obs.breakers == ("orders",)


async def test_a_second_page_is_announced_and_opens_a_new_diagnosis(tmp_path):
    app = make_app("play", seed=1, scenario="retry-storm", replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("colon", *"diagnose payment bad_deploy", "enter")
        await pilot.press("4", "b")  # rollback payment: the first fault is fixed
        assert screen.check_action("diagnose", ()) is None and screen.view.obs.page == 1
        for _ in range(10):
            if screen.view.obs.page == 2:
                break
            await pilot.press("w")
        obs = screen.view.obs
        assert obs.page == 2 and "paged again" in obs.message and obs.can_diagnose
        assert "PAGE 2" in header_text(screen)
        assert any("paged again" in (n.title or "") for n in app._notifications)
        assert screen.check_action("diagnose", ()) is True and ("d", "diagnose", True) in screen.bar_actions()
        await pilot.press("w")  # the toast told of the step before: it does not cover the next one
        assert not any("paged again" in (n.title or "") for n in app._notifications)
        assert [e.kind for e in screen.view.entries[-3:-1]] == ["action", "page"]
        await pilot.press("5", "d")
        assert isinstance(app.screen, DiagnoseModal)
        await pilot.press("down", "down", "enter")  # database/overloaded
        assert screen.view.obs.diagnosis == {"service": "database", "mode": "overloaded"}
        notes = str(screen.query_one("#side-body").render())
        assert "page 1 diagnosis: payment/bad_deploy @1" in notes and "page 2 diagnosis: database/overloaded" in notes
        await pilot.press("s")
        while not screen.view.done:
            await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        summary = app.screen.summary
        assert [f.cause for f in summary.faults] == ["payment/bad_deploy", "database/overloaded"]
        assert summary.diagnosis_correct and summary.outcome == "recovered"
        timeline = summary.timeline()
        assert (
            timeline.index("payment/bad_deploy (right)")
            < timeline.index("paged again")
            < timeline.index("diagnosed database/overloaded (right)")
        )
        await wait_until(pilot, lambda: bool(app.screen.query("#summary-body")))  # pushed is not yet composed
        body = str(app.screen.query_one("#summary-body").render())
        assert "incident 1" in body and "incident 2" in body


async def test_user_impact_is_shown_in_the_header(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert "0 failed" in header_text(screen)
        await pilot.press("w", "w")
        impact = screen.view.obs.impact
        assert impact["failed_requests"] > 0
        assert f"{impact['failed_requests']:,} failed" in header_text(screen)
        assert f"${impact['cost']:,.0f}" in header_text(screen)
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w", "w")
        header = app.screen.query_one("#header")
        shown = str(header.render())
        assert len(shown) <= header.content_region.width and "$" in shown and "seed 3" in shown, shown


async def test_a_stale_scrape_is_badged_and_dimmed_on_its_panel(tmp_path):
    from dataclasses import replace

    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        panel = screen.query_one("#panel-orders", ServicePanel)
        view = screen.view.obs.services["orders"]
        assert not view.stale and not panel.has_class("-stale") and "stale" not in str(panel.border_title)
        panel.show(replace(view, error_rate=0.5, stale=True), screen.view.history["orders"], selected=False, index=3)
        await pilot.pause()
        assert panel.has_class("-stale") and "stale" in str(panel.border_title)
        cells = panel._cell("error_rate", 30)
        assert cells[0] == ("err   50%", "$text-muted")  # frozen values: dimmed, never alarming
