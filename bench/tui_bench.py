"""How fast the terminal app feels: launch to first frame, and one step applied and redrawn.

    .venv/bin/python bench/tui_bench.py [--steps 60] [--size 120x40]
    .venv/bin/python bench/tui_bench.py --screenshot docs/play.svg   # the README screenshot

Runs the real app headless (Textual's test driver). Targets: first frame < 1.5 s, one step < 16 ms.
Prints figures; asserts nothing (speed depends on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path


async def measure(steps: int, size: tuple[int, int]) -> dict[str, float]:
    started = time.perf_counter()
    from mirr_tui.core import Action
    from mirr_tui.tui.app import make_app
    from mirr_tui.tui.panes import SidePane

    imported = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        app = make_app("play", seed=3, replay_dir=Path(folder), player_name="bench")
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            first_frame = time.perf_counter()
            screen = app.screen
            step_only: list[float] = []
            step_and_draw: list[float] = []
            to_summary: list[float] = []
            seed = 3
            screen.action_mark()  # a suspicion in the notebook too (the side pane is the notebook in play)
            notebook_rows: list[int] = []
            while len(step_and_draw) < steps:
                if screen.view.done:
                    await pilot.press("escape")  # close the summary modal
                    seed += 1
                    screen.start_incident(seed)
                    screen.action_mark()
                    await pilot.pause()
                action = Action("check_logs", "payment") if len(step_and_draw) % 3 == 0 else Action("wait")
                t0 = time.perf_counter()
                screen.take(action)
                t1 = time.perf_counter()
                # Let every widget handle its update messages, then lay out and paint (what a frame costs);
                # pilot.pause() would add its idle-detection sleep, which is not the app's time.
                await pilot._wait_for_screen()
                app.screen._on_timer_update()
                t2 = time.perf_counter()
                notebook_rows.append(len(app.screen.query_one(SidePane).shown or ()))
                step_only.append(t1 - t0)
                step_and_draw.append(t2 - t0)
                if screen.view.done:
                    # The last step: the board above, then the summary once the heuristic, reasoner and oracle agents
                    # have played the same seed in a worker thread (the modal is drawn like any frame).
                    await app.workers.wait_for_complete()
                    await pilot._wait_for_screen()
                    app.screen._on_timer_update()
                    to_summary.append(time.perf_counter() - t0)
                await pilot.pause()
            screen.saved = Path(folder)  # nothing to keep from a benchmark
    return {
        "import_s": imported - started,
        "first_frame_s": first_frame - started,
        "step_median_ms": statistics.median(step_only) * 1000,
        "step_refresh_median_ms": statistics.median(step_and_draw) * 1000,
        "step_refresh_p95_ms": sorted(step_and_draw)[int(len(step_and_draw) * 0.95) - 1] * 1000,
        "step_refresh_max_ms": max(step_and_draw) * 1000,
        "summary_median_ms": statistics.median(to_summary) * 1000 if to_summary else float("nan"),
        "episodes": len(to_summary),
        "notebook_rows_median": statistics.median(notebook_rows),
    }


# The README screenshot: seed 3, read the logs of orders then payment, diagnose payment/overloaded.
SCREENSHOT_KEYS = ["3", "l", "4", "l", "d", "down", "down", "enter"]


async def screenshot(path: Path, size: tuple[int, int]) -> None:
    from mirr_tui.tui.app import make_app

    with tempfile.TemporaryDirectory() as folder:
        app = make_app("play", seed=3, replay_dir=Path(folder), player_name="you")
        async with app.run_test(size=size) as pilot:
            await pilot.press(*SCREENSHOT_KEYS)
            await pilot.pause()
            app.save_screenshot(path.name, path=str(path.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--screenshot", type=Path, help="save an SVG of the play screen here instead")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    if args.screenshot:
        asyncio.run(screenshot(args.screenshot, (width, height)))
        print(f"saved {args.screenshot}")
        return
    result = asyncio.run(measure(args.steps, (width, height)))
    print(f"MIRR TUI bench ({args.size}, {args.steps} steps, headless)")
    print(
        f"  launch to first frame     {result['first_frame_s']:.2f} s  (imports {result['import_s']:.2f} s; target < 1.5 s)"
    )
    print(f"  one step, model + widgets {result['step_median_ms']:.1f} ms median")
    print(
        f"  one step + screen refresh {result['step_refresh_median_ms']:.1f} ms median, "
        f"{result['step_refresh_p95_ms']:.1f} ms p95, {result['step_refresh_max_ms']:.1f} ms max (target < 16 ms)"
    )
    print(f"  notebook on               {result['notebook_rows_median']:.0f} side-pane rows median per frame")
    print(
        f"  last step to summary      {result['summary_median_ms']:.1f} ms median over {result['episodes']} episodes"
        " (incl. heuristic, reasoner and oracle on the same seed)"
    )


if __name__ == "__main__":
    main()
