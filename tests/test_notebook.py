"""Issue 12 item 12: the play side pane's notebook (a digest per service read, the player's marks)."""

from __future__ import annotations

from test_tui_app import SIZE

from mirr_tui.tui.app import make_app
from mirr_tui.tui.model import LogEntry
from mirr_tui.tui.notebook import digest, gist, next_mark, notebook_lines
from mirr_tui.tui.widgets import ServicePanel

NAMES = ("gateway", "auth", "orders", "payment", "database")


def log(service, level, text, step=1):
    return LogEntry(step, "log", service, level, text)


def test_a_digest_counts_complaints_names_who_it_waits_on_and_the_build():
    lines = [
        log("payment", "ERROR", "NullPointerException in RequestHandler.handle (v2.4.1)"),
        log("payment", "ERROR", "NullPointerException in RequestHandler.handle (v2.4.1)", 2),
        log("payment", "INFO", "GET /health 200 in 2ms"),
        log("payment", "INFO", "deploy v2.4.1 rolled out 12m ago (previous v2.4.0)"),
    ]
    assert digest("payment", lines, NAMES) == "NullPointerException in RequestHandler.handle x2 · builds v2.4.1, v2.4.0"
    waits = [
        log("orders", "ERROR", "upstream payment timed out after 3000ms"),
        log("orders", "WARN", "502 from payment"),
    ]
    assert digest("orders", waits, NAMES) == "waiting on payment x2"
    assert digest("auth", [log("auth", "INFO", "cache hit ratio 0.97")], NAMES) == "routine lines only"
    assert gist("request queue depth 2,350 (limit 1000)") == gist("request queue depth 900 (limit 1000)")
    assert [next_mark(None), next_mark("suspect"), next_mark("cleared")] == ["suspect", "cleared", None]
    rows = notebook_lines([*lines, *waits], NAMES, {"database": "cleared"})
    assert [head for head, _ in rows] == ["orders @1: ", "payment @1/2: ", "✓ database: "]


def test_bad_gateway_is_no_pointer_and_a_cut_complaint_ends_with_an_ellipsis():
    """A player read auth's `502 from database: bad gateway` as "waiting on gateway" in the notebook (auth does
    not call the gateway), and `core dumped; worker pid ·` as a phrase cut off with no sign of it."""
    auth = [log("auth", "ERROR", "502 from database: bad gateway"), log("auth", "WARN", "waiting on database")]
    assert digest("auth", auth, NAMES) == "waiting on database x2"
    crashed = [log("orders", "FATAL", "core dumped; worker pid 4412 exited with code 139")]
    assert digest("orders", crashed, NAMES) == "core dumped; worker pid…"
    assert gist("heap usage 91% of 2048MB after full GC") == "heap usage…"
    assert gist("java.lang.OutOfMemoryError: Java heap space") == "java.lang.OutOfMemoryError…"
    assert (
        gist("NullPointerException in RequestHandler.handle (v2.4.1)")
        == "NullPointerException in RequestHandler.handle"
    )


async def test_the_notebook_keeps_what_each_log_showed_and_the_players_marks(tmp_path):
    app = make_app("play", seed=1, scenario="checkout-3am", replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("3", "l", "4", "l", "m")
        assert screen.view.step == 2  # marking is free
        side = str(screen.query_one("#side-body").render())
        assert str(screen.query_one("#side").border_title) == "notebook"
        orders_line = next(line for line in side.splitlines() if line.startswith("orders @1:"))
        assert "waiting on payment" in orders_line
        payment = " ".join(side[side.index("? payment @2:") :].split())
        assert "build v" in payment, side
        panel = screen.query_one("#panel-payment", ServicePanel)
        assert "? suspect" in str(panel.border_title)
        await pilot.press("m")
        assert "✓ cleared" in str(panel.border_title) and "✓ payment @2:" in str(
            screen.query_one("#side-body").render()
        )
        await pilot.press("m")
        assert "suspect" not in str(panel.border_title) and "cleared" not in str(panel.border_title)
        await pilot.press("colon", *"diagnose payment bad_deploy", "enter")
        assert "diagnosis: payment/bad_deploy @3" in str(screen.query_one("#side-body").render())
        await pilot.press("m", "n", "y")  # a new incident starts a new notebook
        assert screen.marks == {} and "suspect" not in str(panel.border_title)


async def test_a_persons_replay_shows_what_the_logs_read_so_far_showed(tmp_path):
    """A fresh player opened their own replay and found `(no reasoning recorded)` where the notebook had been."""
    app = make_app("play", seed=3, replay_dir=tmp_path, player_name="tester")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "l", "w", "q", "y")
        await pilot.pause()
    (path,) = tmp_path.glob("*.json")
    app = make_app("replay", replay_path=path, replay_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        side = lambda: str(app.screen.query_one("#side-body").render())  # noqa: E731
        assert "payment" not in side()  # frame 0: nothing read yet
        await pilot.press("right")
        await pilot.pause()
        assert "logs read so far" in side() and "payment @1:" in side() and "no reasoning recorded" not in side()
