"""`mirr watch --agent llm` against a slow model (a real local HTTP server): the screen says a request is in
flight, shows what the answer cost, and a runaway reply can be cancelled from the keyboard (issue 14 item 6)."""

from __future__ import annotations

import json

from mirr_tui.replay import load_replay
from mirr_tui.tui.app import make_app
from mirr_tui.tui.panes import MessageLine
from mirr_tui.tui.watch import WatchScreen

from helpers import clear_llm_environment
from llm_server import FakeModelServer, completion

SIZE = (120, 40)


def message_text(app) -> str:
    return str(app.screen.query_one(MessageLine).render())


async def wait_until(pilot, condition, limit: int = 500) -> None:
    for _ in range(limit):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never became true")


async def test_watch_shows_the_wait_and_the_cost_and_c_cancels_a_runaway_reply(tmp_path, monkeypatch):
    clear_llm_environment(monkeypatch)
    answer = json.dumps({"reasoning": "read the gateway first", "action": {"type": "check_logs", "service": "gateway"}})
    server = FakeModelServer(lambda body: (200, completion(answer, prompt_tokens=1200, completion_tokens=34)))
    server.hold()  # the model is slow: nothing comes back until released
    options = {"base_url": server.base_url, "model": "local-model", "response_format": "json"}
    app = make_app("watch", agent="llm", agent_options=options, seed=4, speed=50, replay_dir=tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, WatchScreen)
            await wait_until(pilot, lambda: server.arrived.is_set() and screen.waited is not None)
            assert "waiting for the model (" in message_text(app) and "c cancels" in message_text(app)
            assert "⏳" in screen.header_extra()
            assert screen.check_action("cancel_reply", ()) is True

            await pilot.press("space")  # pause: no next request once this one is over
            await pilot.press("c")  # a runaway reply: give up on it
            await wait_until(pilot, lambda: screen.view.step == 1)
            assert screen.view.obs.action == {"type": "wait"}
            await wait_until(pilot, lambda: screen.waited is None)
            assert "reply cancelled" in message_text(app)
            assert screen.check_action("cancel_reply", ()) is None  # nothing in flight: dimmed

            server.release()  # the model answers the next request at once
            await pilot.press("full_stop")
            await wait_until(pilot, lambda: screen.view.step == 2)
            assert "1,234 tokens in" in message_text(app)
            await pilot.press("q", "y")  # mid-episode: quitting asks first
    finally:
        server.close()
    replay = load_replay(next(tmp_path.glob("*.json")))
    first = replay.frames[1]
    assert first.details["cancelled"] is True and first.details["fallback"] is True
    assert first.reasoning.startswith("(cancelled: the reply was cancelled after")
    assert replay.frames[2].details["total_tokens"] == 1234
    assert replay.frames[2].reasoning == "read the gateway first"


async def test_the_cancel_key_is_off_when_no_request_is_in_flight(tmp_path):
    app = make_app("watch", agent="heuristic", seed=5, speed=0.25, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("space")
        assert screen.check_action("cancel_reply", ()) is False  # hidden: the heuristic asks no model
        await pilot.press("c")  # harmless
        assert screen.error is None
        await pilot.press("q")
