"""The daily incident (issue 12 item 14): chosen by the date, spoiler-free, one counted try a day."""

from __future__ import annotations

import json
from datetime import date, timedelta

from mirr_tui import agents
from mirr_tui.core import FAULT_MODES, IncidentEnv
from mirr_tui.daily import daily_board, daily_incident, first_try, share_card
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayRecorder

DAY = date(2026, 12, 2)


def play_daily(folder, player, day=DAY, agent="reasoner", practice=False):
    daily = daily_incident(day)
    env = IncidentEnv(difficulty=daily.difficulty)
    details = {"daily": daily.key, **({"practice": True} if practice else {})}
    recorder = ReplayRecorder(player_kind="human", player_name=player, player_details=details)
    run_episode(env, agents.create(agent), daily.seed, options={"difficulty": daily.difficulty}, recorder=recorder)
    recorder.save_to_dir(folder)
    return recorder.finish()


def test_the_date_alone_picks_the_incident_and_each_day_differs():
    assert daily_incident(DAY) == daily_incident(date(2026, 12, 2))
    days = [daily_incident(DAY + timedelta(days=n)) for n in range(60)]
    assert len({d.seed for d in days}) == 60 and len({d.story for d in days}) > 20
    monday = date(2026, 11, 30)
    assert [daily_incident(monday + timedelta(days=n)).difficulty for n in (0, 1, 5)] == ["easy", "normal", "hard"]
    assert {d.difficulty for d in days} == {"easy", "normal", "hard"}


def test_no_story_names_a_service_or_a_fault_mode():
    names = IncidentEnv().config.service_names
    words = [*names, *FAULT_MODES, "deploy", "memory", "crash", "overload", "leak", "database", "login"]
    for n in range(400):
        story = daily_incident(DAY + timedelta(days=n)).story.lower()
        assert not [w for w in words if w.replace("_", " ") in story or w in story], story


def test_the_share_card_shows_the_shape_of_a_run_and_gives_nothing_away(tmp_path):
    replay = play_daily(tmp_path, "tester")
    card = share_card(replay)
    lines = card.splitlines()
    assert lines[0] == f"MIRR daily 2026-12-02 · {daily_incident(DAY).difficulty}"
    assert len(lines[1]) == replay.summary["steps"] and "🩺" in lines[1]
    assert lines[2].startswith("✅ recovered in") and f"{replay.summary['score']:+.1f}" in lines[2]
    names = IncidentEnv().config.service_names
    assert not any(word in card for word in (*names, *FAULT_MODES))


def test_one_try_counts_a_day_and_practice_only_adds_to_the_tries(tmp_path):
    first = play_daily(tmp_path, "tester", agent="naive")
    play_daily(tmp_path, "tester", agent="reasoner", practice=True)  # better, but not the counted try
    play_daily(tmp_path, "rival", agent="reasoner")
    play_daily(tmp_path, "tester", day=DAY - timedelta(days=1))
    from mirr_tui.replay import load_replay

    replays = [load_replay(p) for p in sorted(tmp_path.glob("*.json"))]
    board = daily_board(replays)
    assert list(board) == ["2026-12-02", "2026-12-01"]
    today = {row.player: row for row in board["2026-12-02"]}
    assert today["tester"].score == first.summary["score"] and today["tester"].tries == 2
    assert board["2026-12-02"][0].player == "rival"
    assert first_try(replays, "2026-12-02", "tester").summary == first.summary
    assert first_try(replays, "2026-12-03", "tester") is None


# ------------------------------------------------------------------------------------------- the app and CLI
def test_print_seed_shows_the_days_incident_and_a_bad_date_is_one_line():
    from typer.testing import CliRunner

    from mirr_tui.cli import app as cli_app

    out = CliRunner().invoke(cli_app, ["daily", "--date", "2026-12-02", "--print-seed"])
    incident = daily_incident(DAY)
    assert out.exit_code == 0 and f"seed {incident.seed}, {incident.difficulty}" in out.output
    assert incident.story in out.output
    bad = CliRunner().invoke(cli_app, ["daily", "--date", "02/12/2026"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


async def test_playing_the_daily_shows_its_story_ends_with_a_share_card_habits_and_bests(tmp_path):
    from mirr_tui.replay import load_replay
    from mirr_tui.tui.app import make_app
    from mirr_tui.tui.modals import SummaryModal
    from mirr_tui.tui.panes import MessageLine
    from mirr_tui.tui.widgets import IncidentHeader

    incident = daily_incident(DAY)
    for practice in (False, True):
        app = make_app("play", replay_dir=tmp_path, player_name="tester", daily=incident, practice=practice)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert screen.seed == incident.seed and screen.env.state.difficulty == incident.difficulty
            message = str(screen.query_one(MessageLine).render())
            assert "daily 2026-12-02" in message and incident.story[:30] in message
            assert str(screen.query_one(IncidentHeader).render()).lstrip().startswith("daily 2026-12-02 seed")
            for _ in range(40):
                if screen.view.done:
                    break
                await pilot.press("w")
            for _ in range(300):
                await pilot.pause(0.05)
                if isinstance(app.screen, SummaryModal):
                    break
            summary = app.screen.summary
            assert summary.share_card.startswith("MIRR daily 2026-12-02") and "⏳⏳⏳" in summary.share_card
            assert any(h.startswith("gave up waiting") for h in summary.habits)
            body = str(app.screen.query_one("#summary-body").render())
            assert "share" in body and "habits" in body
            if practice:
                assert "(practice)" in summary.share_card and summary.bests.startswith("your best on this seed")
            await pilot.press("q")
        assert summary.share_card in app.exit_message
    saved = sorted((load_replay(p) for p in tmp_path.glob("*.json")), key=lambda r: r.started_at)
    assert [r.player.get("practice", False) for r in saved] == [False, True]
    assert all(r.player["daily"] == "2026-12-02" for r in saved)
    assert [row.tries for row in daily_board(saved)["2026-12-02"]] == [2]


def test_scores_daily_lists_each_dates_board(tmp_path):
    from typer.testing import CliRunner

    from mirr_tui.cli import app as cli_app

    play_daily(tmp_path, "tester", agent="naive")
    play_daily(tmp_path, "rival", agent="reasoner")
    listing = json.loads(CliRunner().invoke(cli_app, ["scores", str(tmp_path), "--daily", "--json"]).output)
    assert [row["player"] for row in listing["2026-12-02"]] == ["rival", "tester"]
    plain = CliRunner().invoke(cli_app, ["scores", str(tmp_path), "--daily", "--plain"]).output
    assert "daily 2026-12-02" in plain and "rival" in plain


def test_the_story_tells_the_time_the_game_pages_at():
    """A player read "23:59 on a Wednesday" in the story while the first log line said "paged at 03:00"."""
    env = IncidentEnv()
    for offset in range(60):
        incident = daily_incident(date(2026, 12, 1) + timedelta(days=offset))
        clock = env.reset(seed=incident.seed, options={"difficulty": incident.difficulty}).message.split(":", 1)
        times = {word.strip(".,:") for word in incident.story.split() if word[:2].isdigit() and ":" in word}
        assert times == {"03:00"} and clock[0].endswith("03"), (incident.story, clock)
