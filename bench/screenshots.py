"""Remake the README's screenshots of issue 12's screens (seeded, headless), as SVG under docs/.

    .venv/bin/python bench/screenshots.py   # docs/postmortem.svg, notebook.svg, daily.svg, forked.svg

The post-mortem: checkout-3am (seed 1), payment restarted until the system collapses (a bad deploy: the
restarts make it worse). The notebook: the same incident after reading three services' logs and marking two.
The daily incident: 2026-12-02's, waited out, its summary with the share card. The forked replay: the naive
agent's curated checkout-3am replay taken over at step 3, payment selected, your move.
Prints the files written.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (120, 40)


async def postmortem(path: Path) -> None:
    from mirr_tui.tui.app import make_app
    from mirr_tui.tui.modals import SummaryModal

    with tempfile.TemporaryDirectory() as folder:
        app = make_app("play", seed=1, scenario="checkout-3am", replay_dir=Path(folder), player_name="you")
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            await pilot.press("4")
            while not screen.view.done:
                await pilot.press("r")
            await app.workers.wait_for_complete()
            for _ in range(200):
                if isinstance(app.screen, SummaryModal):
                    break
                await pilot.pause(0.02)
            await pilot.pause()
            app.save_screenshot(path.name, path=str(path.parent))


async def notebook(path: Path) -> None:
    from mirr_tui.tui.app import make_app

    with tempfile.TemporaryDirectory() as folder:
        app = make_app("play", seed=1, scenario="checkout-3am", replay_dir=Path(folder), player_name="you")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("1", "l", "3", "l", "m", "m", "4", "l", "l", "m")
            await pilot.pause()
            app.save_screenshot(path.name, path=str(path.parent))


async def daily(path: Path) -> None:
    import datetime

    from mirr_tui.daily import daily_incident
    from mirr_tui.tui.app import make_app
    from mirr_tui.tui.modals import SummaryModal

    incident = daily_incident(datetime.date(2026, 12, 2))
    with tempfile.TemporaryDirectory() as folder:
        app = make_app("play", replay_dir=Path(folder), player_name="you", daily=incident)
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            await pilot.press("3", "l", "4", "l")
            while not screen.view.done:
                await pilot.press("w")
            for _ in range(300):
                if isinstance(app.screen, SummaryModal):
                    break
                await pilot.pause(0.02)
            await pilot.pause()
            body = app.screen.query_one("#summary-body")
            app.screen.query_one("#dialog").scroll_to_widget(body, top=False, animate=False)
            app.screen.query_one("#dialog").scroll_end(animate=False)
            await pilot.pause()
            app.save_screenshot(path.name, path=str(path.parent))


async def forked(path: Path) -> None:
    from mirr_tui.tui.app import make_app

    replay = next((ROOT / "replays").glob("curated-naive-checkout-3am-*.json"))
    with tempfile.TemporaryDirectory() as folder:
        app = make_app("replay", replay_path=replay, replay_dir=Path(folder), player_name="you")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("right", "right", "right", "p", "4")
            await pilot.pause()
            app.save_screenshot(path.name, path=str(path.parent))


def main() -> None:
    scenes = (("postmortem.svg", postmortem), ("notebook.svg", notebook), ("daily.svg", daily), ("forked.svg", forked))
    for name, scene in scenes:
        path = ROOT / "docs" / name
        asyncio.run(scene(path))
        print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
