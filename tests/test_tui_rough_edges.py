"""Issue 12's rough edges, each played through the app with keys or the mouse (Textual pilot)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_tui_app import SIZE, message_text, record, type_fast, wait_until
from textual import events
from textual.widgets import DataTable, Footer, Input

from mirr_tui.core import IncidentEnv
from mirr_tui.tui.app import make_app
from mirr_tui.tui.browse import ReplayPickerScreen
from mirr_tui.tui.modals import AlertsModal, ConfirmModal, HelpModal, SummaryModal
from mirr_tui.tui.model import ALERT_WORDS, alert_lines, format_metric, over_limit
from mirr_tui.tui.panes import LogView, MessageLine
from mirr_tui.tui.widgets import AlertStrip, ServicePanel, fit_alerts

from helpers import clear_llm_environment


async def test_the_timeline_is_chronological_a_move_before_the_page_it_led_to(tmp_path):
    app = make_app("play", seed=1, scenario="retry-storm", replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("colon", *"diagnose payment bad_deploy", "enter")
        await pilot.press("4", "b", "1")  # rollback payment: the first fault is fixed
        while screen.view.obs.page == 1:
            await pilot.press("c")  # the gateway's breakers, open and closed: a move on every step
        paged_at = screen.view.step
        while not screen.view.done:
            await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        assert not list(app._notifications)  # the page's toast does not outlive the episode over the board
        timeline = app.screen.summary.timeline()
        move = f"step {paged_at}: {'opened' if paged_at % 2 == 1 else 'closed'} gateway's breakers"
        assert timeline.index(move) < timeline.index(f"step {paged_at}: paged again"), timeline
        steps = [int(part.split(":")[0].split()[-1].split("-")[0]) for part in timeline.split(" → ")]
        assert steps == sorted(steps), timeline


async def test_the_leak_coming_back_shows_in_the_logs_not_in_a_message_and_the_post_mortem_explains_it(tmp_path):
    """Item 6 under the rule that nothing true reaches a player before the end: the second restart of a
    relapsed leak says what any restart says (a message only it got would confirm the root); the relapse is
    in the service's logs, and a run that never restarted again is told why at the end."""
    app = make_app("play", seed=7, scenario="slow-bleed", replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        state = screen.env.state
        assert (state.root_service, state.fault_mode) == ("auth", "memory_leak")
        await pilot.press("2", "r")
        first = message_text(app)
        assert "leak" not in first
        while not screen.env._faults[0].relapsed:
            await pilot.press("w")
        await pilot.press("l")
        assert any("climbing again since restart" in line.text for line in screen.view.obs.logs)
        await pilot.press("r")
        assert message_text(app).split(":")[0] == first.split(":")[0] == "restarted auth"
        assert "leak" not in message_text(app) and "good" not in message_text(app)

    app = make_app("play", seed=7, scenario="slow-bleed", replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("colon", *"diagnose auth memory_leak", "enter", "2", "r")
        while not screen.view.done:
            await pilot.press("w")  # the leak comes back and is never restarted again
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        lessons = app.screen.summary.post_mortem.lessons()
        relapse = screen.env._faults[0].relapse_at
        assert lessons[0].startswith(f"the leak came back at step {relapse}") and "second restart" in lessons[0]


async def test_quit_and_new_incident_mid_episode_ask_first(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("2", "l", "q")
        assert isinstance(app.screen, ConfirmModal) and "Quit" in app.screen.question
        await pilot.press("n")  # keep playing
        assert app.screen is screen and app.is_running and screen.view.step == 1
        await pilot.press("q", "escape")
        assert app.screen is screen and app.is_running
        await pilot.press("n")  # a new incident: asked too
        assert isinstance(app.screen, ConfirmModal) and "new incident" in app.screen.question
        await pilot.press("escape")
        assert app.screen is screen and screen.seed == 3 and screen.view.step == 1
        await pilot.press("n", "y")
        assert app.screen is screen and screen.view.step == 0
        assert len(list(tmp_path.glob("*.json"))) == 1  # the abandoned incident was kept
        await pilot.press("q")  # nothing played in this one: no question
        await pilot.pause()
    assert not app.is_running
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", "q", "y")
        await pilot.pause()
    assert not app.is_running and len(list(tmp_path.glob("*.json"))) == 2


async def test_quitting_a_watched_agent_mid_episode_asks_first_and_holds_the_agent_still(tmp_path):
    app = make_app("watch", agent="heuristic", seed=12, speed=8, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.view.step >= 1)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmModal) and "keep watching" in app.screen.no
        step = screen.view.step
        await pilot.pause(0.5)  # four steps' worth at 8/s
        assert screen.view.step <= step + 1  # at most the move already under way
        held = screen.view.step
        await pilot.press("n")
        assert app.screen is screen and app.is_running and not screen.paused
        await wait_until(pilot, lambda: screen.view.step > held)
        await pilot.press("space")  # paused by the player: still paused after the question
        await pilot.press("q", "escape")
        assert app.screen is screen and screen.paused and not screen.finished
        await pilot.press("q", "y")
        await pilot.pause()
    assert not app.is_running
    saved = list(tmp_path.glob("*.json"))
    assert len(saved) == 1 and '"abandoned": true' in saved[0].read_text()


async def test_the_watch_footer_says_resume_while_paused_and_the_bar_drops_the_controls_once_finished(tmp_path):
    app = make_app("watch", agent="heuristic", seed=12, speed=1, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen

        def footer_labels():
            return {str(key.description) for key in screen.query("FooterKey")}

        await pilot.press("space")
        await pilot.pause()
        assert screen.paused and "resume" in footer_labels() and "pause" not in footer_labels()
        await pilot.press("space")
        await pilot.pause()
        assert not screen.paused and "pause" in footer_labels() and "resume" not in footer_labels()
        await pilot.press("plus", "plus", "plus", "plus")  # to 50 steps a second
        await wait_until(pilot, lambda: screen.finished and screen.summary is not None, limit=500)
        assert [key for key, _, _ in screen.bar_actions()] == ["e", "q"]
        await wait_until(pilot, lambda: not {"pause", "resume", "one step"} & footer_labels())


async def test_tab_completes_in_the_command_line_like_a_shell(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        command = screen.query_one("#command", Input)
        await pilot.press("colon", *"diag", "tab")
        assert command.value == "diagnose " and command.has_focus  # the focus stays in the command line
        await pilot.press(*"pay", "tab")
        assert command.value == "diagnose payment "
        await pilot.press(*"ov", "tab", "enter")
        assert screen.view.obs.diagnosis == {"service": "payment", "mode": "overloaded"}
        await pilot.press("colon", "r", "tab")  # restart or rollback: Tab cannot choose
        assert command.value == "r"
        await pilot.press("o", "tab", *"pay", "tab")
        assert command.value == "rollback payment "


def footer_text(screen) -> str:
    return " ".join(str(key.render()) for key in screen.query("FooterKey"))


async def test_at_80x24_every_key_shows_in_the_footer_and_the_log_scrolls_from_the_keyboard(tmp_path):
    app = make_app("play", seed=12, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("3", "l", "l", "l")
        await pilot.pause()
        footer = screen.query_one(Footer)
        keys = list(screen.query("FooterKey"))
        assert {"n", "?", "q", "PgUp", "PgDn", ":", "v"} <= {key.key_display for key in keys}, footer_text(screen)
        right = max(key.region.right for key in keys)
        assert right <= footer.region.right, footer_text(screen)  # nothing cut at the edge
        log = screen.query_one(LogView)
        assert log.max_scroll_y > 0 and log.scroll_y == 0
        await pilot.press("pagedown")
        assert log.scroll_y > 0
        await pilot.press("pageup")
        assert log.scroll_y == 0
        log.post_message(events.MouseScrollDown(log, 2, 2, 0, 1, 0, False, False, False))
        await pilot.pause()
        assert log.scroll_y > 0  # the mouse wheel too


def test_alerts_and_panels_share_one_rounding(config):
    """The strip's alerts are the core's alerts, worded with the panels' numbers (half up: 500.5ms shows 501ms
    and alerts; 500.4ms shows 500ms and does not)."""
    assert format_metric("latency_ms", 500.5).strip() == "501ms" and over_limit("latency_ms", 500.5, config.alerts)
    assert format_metric("latency_ms", 500.4).strip() == "500ms" and not over_limit("latency_ms", 500.4, config.alerts)
    assert format_metric("error_rate", 0.0549).strip() == "5%" and not over_limit("error_rate", 0.0549, config.alerts)
    env = IncidentEnv(config)
    moves = ["wait", "restart payment", "check_logs auth", "scale_up orders", "rollback database"]
    seen = 0
    for seed in range(60):
        obs = env.reset(seed=seed)
        for k in range(30):
            lines = alert_lines(obs, config.alerts)
            assert [line.split()[:2] for line in lines] == [a.split()[:2] for a in obs.alerts], (lines, obs.alerts)
            for line in lines:  # every number an alert quotes is the number its panel shows
                name, *_ = line.split()
                service = obs.services[name]
                for metric, word in ALERT_WORDS.items():
                    if line.startswith(f"{name} {word} "):
                        assert line.split(" > ")[0].endswith(format_metric(metric, getattr(service, metric)).strip())
                        seen += 1
            if obs.done:
                break
            obs = env.step(moves[(seed + k) % len(moves)])
    assert seen > 100


async def test_a_cut_alert_line_ends_with_an_ellipsis_and_a_lists_them_all(tmp_path):
    app = make_app("play", seed=12, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        strip = screen.query_one(AlertStrip)
        while len(" · ".join(strip.alerts)) < 2 * strip.content_region.width and not screen.view.done:
            await pilot.press("w")
        await pilot.pause()
        shown = str(strip.render())
        assert len(strip.render().wrap(strip.content_region.width)) == len(shown.splitlines()) <= 2  # no wrap
        assert shown.rstrip().endswith("more (a)") and "…" in shown, shown
        cut = [a for line in shown.split(": ", 1)[1].splitlines() for a in line.split(" · ") if "more (a)" not in a]
        assert cut == list(strip.alerts[: len(cut)])  # whole alerts, lines broken between them, never inside one
        for name in screen.names:  # a panel's red numbers are exactly the metrics its alerts name
            panel = screen.query_one(f"#panel-{name}", ServicePanel)
            red = {m for m in ALERT_WORDS if panel._alerting(m, float(getattr(screen.view.obs.services[name], m)))}
            named = {m for m, w in ALERT_WORDS.items() if any(a.startswith(f"{name} {w} ") for a in strip.alerts)}
            assert red == named, name
        await pilot.press("a")
        assert isinstance(app.screen, AlertsModal)
        assert str(app.screen.query_one("#alerts-list").render()).splitlines() == list(strip.alerts)
        await pilot.press("escape")
        assert app.screen is screen


async def test_the_replay_picker_keeps_score_on_screen_sorts_newest_played_first_and_has_its_own_help(tmp_path):
    import shutil

    old = sorted((Path(__file__).parent.parent / "replays").glob("curated-*.json"))[0]
    shutil.copy(old, tmp_path / ("curated-" + "x" * 60 + ".json"))  # long name, played before the one below
    record(tmp_path, 23)
    app = make_app("replay", replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayPickerScreen)
        table = screen.query_one(DataTable)
        columns = list(table.columns.values())
        widths = [column.get_render_width(table) for column in columns]
        labels = [column.label.plain for column in columns]
        steps_end = sum(widths[: labels.index("steps") + 1])
        assert steps_end <= SIZE[0] - 2, (labels, widths)
        played = [str(table.get_row_at(n)[0]) for n in range(table.row_count)]
        assert played == sorted(played, reverse=True)  # newest played first, curated or not
        assert str(table.get_row_at(0)[1]) == "heuristic"
        await pilot.press("s")
        labels = [column.label.plain for column in table.columns.values()]
        assert labels[0].endswith("▲") and not any(label.endswith(("▲", "▼")) for label in labels[1:])
        await pilot.press("s")
        assert next(iter(table.columns.values())).label.plain.endswith("▼")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        text = str(app.screen.query_one("Static").render())
        assert "MIRR replays" in text and "enter opens it" in text and "MIRR in brief" not in text


async def test_watching_an_agent_that_cannot_start_offers_no_pause_and_records_the_failure(tmp_path, monkeypatch):
    clear_llm_environment(monkeypatch)
    app = make_app("watch", agent="llm", seed=5, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert "cannot start agent 'llm'" in message_text(app) and "GROQ_API_KEY" in message_text(app)
        shown = {key.key_display for key in screen.query("FooterKey")}
        assert not shown & {"space", ".", "+", "-"} and "q" in shown, shown
        assert screen.bar_actions() == [("q", "quit", True)]
        await pilot.press("q")
    assert app.failure.startswith("cannot start agent 'llm': GROQ_API_KEY is not set")


def test_mirr_watch_with_an_agent_that_cannot_start_exits_2_like_mirr_eval(tmp_path, monkeypatch, capsys):
    """The real app, run headless by the CLI: `q` on the error screen ends it; the CLI says why and exits 2."""
    from mirr_tui import cli
    from mirr_tui.tui.app import MirrApp

    clear_llm_environment(monkeypatch)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # where eval would keep its results

    def run_headless(self):
        async def drive():
            async with self.run_test(size=SIZE) as pilot:
                await pilot.pause()
                await pilot.press("q")

        asyncio.run(drive())

    monkeypatch.setattr(MirrApp, "run", run_headless)
    monkeypatch.setattr(cli, "require_terminal", lambda: None)  # headless on purpose: the app runs under Pilot
    with pytest.raises(SystemExit) as watched:
        cli.main(["watch", "--agent", "llm", "--seed", "5", "--replays", str(tmp_path)])
    watch_err = capsys.readouterr().err
    with pytest.raises(SystemExit) as evaluated:
        cli.main(["eval", "--agent", "llm", "-n", "1"])
    eval_err = capsys.readouterr().err
    assert watched.value.code == evaluated.value.code == 2
    assert watch_err.startswith("mirr: cannot start agent 'llm': GROQ_API_KEY is not set"), watch_err
    assert watch_err.strip() == eval_err.strip()


async def test_a_typo_is_explained_in_full_and_the_command_line_keeps_the_log_width(tmp_path):
    app = make_app("play", seed=12, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        log = screen.query_one(LogView)
        width = log.region.width
        await type_fast(pilot, "colon", *"restrat payment")  # typed fast: no key reaches the board
        command = screen.query_one("#command", Input)
        assert command.value == "restrat payment" and screen.view.step == 0
        assert log.region.width == width  # the log does not narrow while the command line is open
        await pilot.press("enter")
        line = screen.query_one(MessageLine)
        text = " ".join(part.plain.strip() for part in line.render().wrap(line.content_region.width))
        assert "unknown action 'restrat'" in text and text.endswith("circuit_break, wait"), text
        assert line.region.height == len(line.render().wrap(line.content_region.width)) <= 3
        assert screen.view.step == 0


async def test_a_second_diagnosis_typed_is_refused_for_free_with_the_reason(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("colon", *"diagnose payment overloaded", "enter")
        assert screen.view.step == 1 and screen.check_action("diagnose", ()) is None  # `d` struck out
        await pilot.press("colon", *"diagnose auth crashed", "enter")
        assert screen.view.step == 1 and screen.view.obs.valid and screen.view.obs.score == 0
        text = message_text(app)
        assert "not possible now (no step spent)" in text and "already diagnosed payment/overloaded" in text
        assert not screen.query_one("#command", Input).has_class("-open")  # the keys are the game's again
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)


async def test_escape_closes_the_summary_e_reopens_it_and_no_saved_toast_lingers(tmp_path):
    app = make_app("play", seed=1, scenario="checkout-3am", replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert screen.check_action("summary", ()) is False  # nothing to reopen yet: not in the footer
        await pilot.press("4", "b")
        while not screen.view.done:
            await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        saved = next(tmp_path.glob("*.json"))
        assert not [n for n in app._notifications if "saved" in n.message]  # no toast over the log
        body = "".join(str(app.screen.query_one("#summary-body").render()).split())  # a long path wraps
        assert f"replaysavedto{saved}" in body
        await pilot.press("escape")
        assert app.screen is screen
        assert "e" in {key.key_display for key in screen.query("FooterKey")}
        await pilot.press("e")
        assert isinstance(app.screen, SummaryModal) and app.screen.summary is screen.summary
        await pilot.press("escape", "2", "n")  # a new incident from the board: the episode is over, no question
        assert screen.view.step == 0 and screen.summary is None
        await pilot.press("l", "n", "y")  # one step into the next one, abandoned: saved, said on the line
        await pilot.pause()
        assert len(list(tmp_path.glob("*.json"))) == 2
        assert not list(app._notifications), [n.message for n in app._notifications]
        assert "the last incident's replay is saved to" in message_text(app)
        await pilot.press("w")
        assert "saved" not in message_text(app)


@pytest.mark.parametrize("size", [SIZE, (80, 24)])
async def test_clicking_a_service_panel_selects_it(tmp_path, size):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        await pilot.pause()  # the size's layout (compact at 80x24) is in place
        assert screen.selected == 0
        await pilot.click("#panel-payment", offset=(4, 2))
        assert screen.names[screen.selected] == "payment"
        assert screen.query_one("#panel-payment", ServicePanel).has_class("-selected")
        await pilot.press("l")  # the keys act on the clicked service
        assert screen.view.obs.logs_service == "payment"


async def test_a_loss_ends_with_a_post_mortem_that_teaches(tmp_path):
    app = make_app("play", seed=1, scenario="checkout-3am", replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("4")
        while not screen.view.done:
            await pilot.press("r")  # restart the bad deploy until it collapses
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryModal))
        body = " ".join(str(app.screen.query_one("#summary-body").render()).split())  # as read, unwrapped
        post = body[body.index("post-mortem") :]
        steps = screen.view.end_step
        assert "payment/bad_deploy" in post and "the fix was rollback payment" in post
        assert f"steps 1-{steps} restart payment x{steps} {-2.0 * steps:+.1f} wrong fix:" in post
        assert "same bad build" in post and "payment true health" in post  # why it made it worse, and by how much
        assert "payment's logs were never read" in post and "step 0" in post  # what showed it, and when
        assert app.screen.summary.post_mortem.faults[0].wrong_moves[0].step == 1


@pytest.mark.parametrize("mode", ["watch", "replay"])
async def test_the_watch_and_replay_footers_fit_80_columns(tmp_path, mode):
    path = record(tmp_path, 23)
    app = make_app(mode, agent="heuristic", seed=5, speed=0.25, replay_path=path, replay_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        keys = list(screen.query("FooterKey"))
        assert {"?", "q", "PgUp", "PgDn", "a", "v"} <= {key.key_display for key in keys}, footer_text(screen)
        assert max(key.region.right for key in keys) <= screen.query_one(Footer).region.right, footer_text(screen)


@pytest.mark.parametrize("mode", ["play", "watch", "replay"])
async def test_at_80_columns_v_puts_the_side_pane_in_the_logs_place_and_back(tmp_path, mode):
    """The notebook (play), the agent's reasoning (watch) and the frame's notes (replay) do not fit beside the log
    below 110 columns; `v` swaps them, and the box on show names the other one."""
    path = record(tmp_path, 23)
    app = make_app(mode, agent="heuristic", seed=12, speed=0.25, replay_path=path, replay_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        log, side = screen.query_one(LogView), screen.query_one("#side")
        assert log.display and not side.display and log.border_subtitle == f"v: {side.border_title}"
        await pilot.press("v")
        await pilot.pause()
        assert side.display and not log.display and side.border_subtitle == "v: log"
        assert side.region.width > 60  # the whole width the log had
        await pilot.press("v")
        await pilot.pause()
        assert log.display and not side.display
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert log.display and side.display and log.border_subtitle is None  # both fit: nothing to swap
        assert screen.check_action("swap_side", ()) is False  # so `v` leaves the footer
        assert "v" not in {key.key_display for key in screen.query("FooterKey")}


async def test_tab_completes_in_typing_order_when_typed_fast(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        await type_fast(pilot, "colon", *"diag", "tab", *"au", "tab", *"cr", "tab")
        assert app.screen.query_one("#command", Input).value == "diagnose auth crashed "


def test_alerts_pack_whole_into_the_lines_with_room_for_the_count():
    import random

    rng = random.Random(12)
    words = ["orders", "payment", "error rate 38% > 5%", "p95 1149ms > 500ms", "cpu 100% > 90%", "health check down"]
    for _ in range(500):
        alerts = [f"{rng.choice(words[:2])} {rng.choice(words[2:])}" for _ in range(rng.randrange(1, 12))]
        width, room = rng.randrange(30, 130), rng.choice((1, 2))
        content = fit_alerts(alerts, width, room)
        lines = content.plain.splitlines()
        assert len(lines) <= room and all(len(line) <= width for line in lines), (lines, width)
        body = [line.split("): ", 1)[-1] for line in lines]
        shown = [a for line in body for a in line.split(" · ") if a and "more (a)" not in a]
        assert shown == alerts[: len(shown)]
        rest = len(alerts) - len(shown)
        assert (f"… +{rest} more (a)" in content.plain) == (rest > 0)


async def test_help_and_the_diagnose_dialog_read_their_numbers_from_the_manifest(tmp_path):
    """One source of truth: a manifest with other rewards and rules shows those, not the shipped ones."""
    import dataclasses

    from mirr_tui.core import load_config
    from mirr_tui.tui.modals import DiagnoseModal

    base = load_config()
    config = dataclasses.replace(
        base,
        rewards=dataclasses.replace(base.rewards, correct_diagnosis=11, wrong_diagnosis=-7, efficiency_per_step=0.25),
        rules=dataclasses.replace(base.rules, max_steps=24, cascade_start=7, confirm_steps=3),
    )
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester", config=config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        text = str(app.screen.query_one("Static").render())
        assert "24 steps" in text and "From step 7" in text and "healthy for 3 steps" in text
        assert "diagnosis +11 / -7" in text and "+0.25 per unused step" in text
        assert "+8" not in text and "30 steps" not in text
        for mode, spec in config.fault_modes.items():
            assert f"{mode} → {spec.fix.replace('_', ' ')}" in text
        await pilot.press("escape", "d")
        assert isinstance(app.screen, DiagnoseModal)
        hint = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "right +11, wrong -7" in hint and "+8" not in hint


async def test_a_struck_out_d_and_a_typo_in_a_name_are_refused_for_free_with_the_reason(tmp_path):
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("colon", *"restart nosuch", "enter")
        assert (
            screen.view.step == 0
            and "unknown service 'nosuch'" in message_text(app)
            and "no step spent" in message_text(app)
        )
        await pilot.press("escape", "colon", *"diagnose auth nosuch", "enter")  # the line stays open to fix a typo
        assert screen.view.step == 0 and "unknown fault mode 'nosuch'" in message_text(app)
        await pilot.press("escape", "1", "r")  # a fix: diagnose is closed for this page
        assert screen.view.step == 1 and not screen.view.obs.can_diagnose
        await pilot.press("d")
        assert screen.view.step == 1 and app.screen is screen  # no dialog, no step
        assert "not possible now (no step spent)" in message_text(app) and "fix" in message_text(app)
        await pilot.press("w")
        assert "not possible now" not in message_text(app)  # the reason goes with the next move


async def test_at_80_columns_the_picker_shows_outcome_score_and_steps_beside_a_daily_sized_seed(tmp_path):
    record(tmp_path, 5627301658712110168)  # a daily incident's seed is 19 digits
    app = make_app("replay", replay_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        columns = list(table.columns.values())
        labels = [column.label.plain for column in columns]
        widths = [column.get_render_width(table) for column in columns]
        assert sum(widths[: labels.index("steps") + 1]) <= 80 - 2, (labels, widths)
