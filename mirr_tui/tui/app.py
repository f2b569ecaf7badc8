"""The MIRR terminal app, built by one factory (`make_app`) that the CLI and the tests share."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from ..core import EnvConfig, load_config
from ..replay import ReplayError, load_replay
from .browse import MessageScreen, ReplayPickerScreen, ScoresScreen
from .incident import HORIZONTAL_BREAKPOINTS, VERTICAL_BREAKPOINTS, IncidentScreen
from .play import PlayScreen
from .replay_screen import ReplayScreen
from .watch import WatchScreen

MODES = ("play", "watch", "replay", "scores")


class MirrApp(App[None]):
    """One app, four uses; the first screen depends on the mode."""

    CSS_PATH = "mirr.tcss"
    TITLE = "MIRR"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = HORIZONTAL_BREAKPOINTS
    VERTICAL_BREAKPOINTS = VERTICAL_BREAKPOINTS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "quit", show=False, priority=True)]

    def __init__(self, mode: str, screen_factory: Any) -> None:
        super().__init__()
        self.mode = mode
        self._screen_factory = screen_factory
        self.exit_message: str | None = None
        self.saved_messages: list[str] = []
        self.failure: str | None = None  # why the app could not do its job (cli.run_app exits 2 with it)
        # Who takes over a replay with `p` (mirr replay): a person by this name, or the agent if one is named.
        self.replay_dir = Path("replays")
        self.player_name = "human"
        self.takeover_agent: str | None = None
        self.takeover_options: dict[str, Any] = {}

    def get_default_screen(self) -> Screen:
        return self._screen_factory()

    def on_ready(self) -> None:
        # Everything alive at the first frame (Textual, Rich, the config, the first screen) lives as long as
        # the app: move it out of the garbage collector's sight, so its full collections (tens of ms
        # mid-game, growing with the heap) only scan what the game allocates since.
        gc.freeze()

    def note_exit(self, line: str) -> None:
        """Remember a line for the terminal after the app exits (cli.run_app prints `exit_message`)."""
        self.saved_messages.append(line)
        self.exit_message = "\n".join(self.saved_messages)

    def save_unsaved(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, IncidentScreen):
                screen.save_unsaved()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        # Every way out (q, ctrl+q, the summary's quit) keeps a half-played episode.
        self.save_unsaved()
        super().exit(*args, **kwargs)

    async def action_quit(self) -> None:
        self.exit()


def make_app(
    mode: str,
    *,
    seed: int | None = None,
    scenario: str | None = None,
    difficulty: str | None = None,
    agent: str | None = None,
    agent_options: dict[str, Any] | None = None,
    speed: float = 2.0,
    replay_path: Path | None = None,
    replay_dir: Path = Path("replays"),
    config: EnvConfig | None = None,
    player_name: str | None = None,
    daily: Any = None,
    practice: bool = False,
) -> MirrApp:
    """Build the app for `mode` in {"play", "watch", "replay", "scores"}.

    `seed=None` picks a random incident (shown in the header). `player_name` defaults to $USER.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    cfg = config or load_config()
    replay_dir = Path(replay_dir)
    name = player_name or os.environ.get("USER") or "human"

    def first_screen() -> Screen:
        if mode == "play":
            return PlayScreen(
                cfg,
                seed=seed,
                scenario=scenario,
                difficulty=difficulty,
                replay_dir=replay_dir,
                player_name=name,
                daily=daily,
                practice=practice,
            )
        if mode == "watch":
            return WatchScreen(
                cfg,
                agent_name=agent or "heuristic",
                agent_options=agent_options,
                seed=seed,
                scenario=scenario,
                difficulty=difficulty,
                speed=speed,
                replay_dir=replay_dir,
            )
        if mode == "replay":
            if replay_path is None:
                return ReplayPickerScreen(cfg, replay_dir)
            try:
                return ReplayScreen(cfg, load_replay(replay_path), speed=speed)
            except ReplayError as exc:
                return MessageScreen("cannot open this replay", str(exc))
        return ScoresScreen(cfg, replay_dir)

    application = MirrApp(mode, first_screen)
    application.replay_dir, application.player_name = replay_dir, name
    if mode == "replay":
        application.takeover_agent, application.takeover_options = agent, dict(agent_options or {})
    return application
