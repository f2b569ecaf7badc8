"""Replay: step through a saved episode, optionally with the hidden truth shown."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.timer import Timer

from ..core import EnvConfig
from ..replay import Replay, ReplayError, ReplayRecorder, fork_replay, player_label
from ..tags import TAGS, replay_tags
from .incident import LOG_BINDINGS, IncidentScreen, reasoning_lines
from .model import ROW_LABELS, IncidentView, ReplayCursor, describe_action, scrubber
from .notebook import notebook_lines
from .panes import ActionBar, SideLine
from .widgets import _esc

STEP_KEYS = Binding.Group("step", compact=False)


def _mean_health(truth: dict[str, Any]) -> float:
    services = truth.get("services") or {}
    return sum(float(s.get("health", 0.0)) for s in services.values()) / max(1, len(services))


class ReplayScreen(IncidentScreen):
    """Step through a saved replay; the view for frame k is rebuilt from frames 0..k."""

    selectable = False
    BINDINGS: ClassVar[list[BindingType]] = [
        # The arrows and home/end are spelled on the scrubber bar right above the footer, so 80 columns hold
        # the rest.
        Binding("left", "move(-1)", "step", group=STEP_KEYS, key_display="←", show=False),
        Binding("right", "move(1)", "step", group=STEP_KEYS, key_display="→", show=False),
        Binding("home", "jump('start')", "first", show=False),
        Binding("end", "jump('end')", "last", show=False),
        Binding("space", "play", "play"),
        Binding("t", "truth", "truth"),
        Binding("p", "take_over", "fork", tooltip="take over: play on from this frame (an agent with --agent)"),
        Binding("escape", "back", "back"),
        *LOG_BINDINGS,
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, config: EnvConfig, replay: Replay, speed: float = 2.0) -> None:
        super().__init__(config)
        self.replay = replay
        self.cursor = ReplayCursor(len(replay.frames))
        self.observations = [frame.obs for frame in replay.frames]
        self.tagging = replay_tags(replay, config.service_names)  # the run's habits, marked at their steps
        self.speed = speed
        self.timer: Timer | None = None
        self._playing = False

    def on_mount(self) -> None:
        self.timer = self.set_interval(1.0 / self.speed, self._tick, pause=True)
        self.show_frame()

    def show_frame(self) -> None:
        k = self.cursor.index
        reasons = [frame.reasoning for frame in self.replay.frames[: k + 1]]
        self.view = IncidentView.rebuild(self.names, self.observations[: k + 1], reasons)
        self.draw()

    @property
    def frame(self) -> Any:
        return self.replay.frames[self.cursor.index]

    @property
    def incident_seed(self) -> int | None:
        return self.replay.seed

    def header_label(self) -> str:
        return f"replay · {player_label(self.replay)}"

    def header_extra(self) -> str:
        if not self.show_truth:
            return ""
        return "[b reverse $accent] truth [/]"

    def truth(self) -> dict[str, Any] | None:
        return self.frame.truth if self.show_truth else None

    def side_content(self) -> tuple[str, list[SideLine]]:
        lines: list[SideLine] = []
        if self.show_truth:
            truth = self.frame.truth
            cause = f"{truth.get('root_service')}/{truth.get('fault_mode')}"
            lines.append(f"[b $accent]truth: {_esc(cause)} ({_esc(str(truth.get('fault_phase')))})[/]")
            for n, fault in enumerate(truth.get("faults") or ()):
                if (fault.get("service"), fault.get("mode")) == (truth.get("root_service"), truth.get("fault_mode")):
                    continue  # the fault the line above names (the one the player faces now)
                cause = f"{fault.get('service')}/{fault.get('mode')}"
                lines.append(f"[$accent]fault {n + 1}: {_esc(cause)} ({_esc(str(fault.get('phase')))})[/]")
            lines.append(
                f"[$accent]mean health {_mean_health(truth):.2f} · confirm streak {truth.get('confirm_streak', 0)}[/]"
            )
            pending = truth.get("pending") or ()
            if pending:
                rows = ", ".join(
                    f"{_esc(ROW_LABELS.get(str(e.get('row')), str(e.get('row'))))} {float(e.get('value', 0)):+g} @{e.get('step')}"
                    for e in pending
                )
                lines.append(f"[$accent]decided, paid at the end: {rows}[/]")
        if self.replay.error:
            lines.append(f"[b $error]recorded error: {_esc(self.replay.error)}[/]")
        step = self.frame.step
        here = [TAGS[tag] for tag in self.tagging.tags if step in self.tagging.steps[tag]]
        if here:
            lines.append(f"[b $warning]habit at this step: {_esc(', '.join(here))}[/]")
        if self.cursor.at_end and self.tagging.tags:
            lines.append(f"[$warning]habits in this run: {_esc(' · '.join(self.tagging.describe()))}[/]")
        frame_input = self.frame.input
        if frame_input is not None:
            shown = describe_action(frame_input) if isinstance(frame_input, dict) else str(frame_input)
            lines.append(f"input at step {self.frame.step}: [b]{_esc(shown)}[/]")
        lines.extend(reasoning_lines(self.view.reasoning))
        if not self.view.reasoning:  # a person's run: what the logs read so far showed, as play's notebook has it
            rows = notebook_lines(self.view.entries, self.names, {})
            if rows:
                lines.append("[b]logs read so far[/]")
                lines.extend((f"[b]{_esc(head)}[/]", _esc(text)) for head, text in rows)
        if len(lines) == 0:
            lines.append("[$text-muted](no reasoning recorded)[/]")
        return f"{self.replay.player_name}", lines

    def action_take_over(self) -> None:
        """Play on from the frame on screen: the episode so far is re-simulated into a new replay."""
        from .play import PlayScreen
        from .watch import WatchScreen

        if self.frame.observation.get("done"):
            self.notify("the episode is over at this frame: step back to take over earlier", severity="warning")
            return
        frame = self.cursor.index
        try:
            fork_replay(self.replay, frame, ReplayRecorder(), self.config)  # fails here, not in the next screen
        except ReplayError as exc:
            self.notify(str(exc), title="cannot take over", severity="error", timeout=10)
            return
        if self._playing:  # the replay stops where it was taken over
            self.action_play()
        app: Any = self.app
        common = {"seed": None, "scenario": None, "difficulty": None, "replay_dir": app.replay_dir}
        if app.takeover_agent:
            screen: IncidentScreen = WatchScreen(
                self.config,
                agent_name=app.takeover_agent,
                agent_options=app.takeover_options,
                speed=self.speed,
                fork=(self.replay, frame),
                **common,
            )
        else:
            screen = PlayScreen(self.config, player_name=app.player_name, fork=(self.replay, frame), **common)
        app.push_screen(screen)

    def draw_bar(self) -> None:
        width = max(10, min(40, self.size.width - 70))
        bar = scrubber(self.cursor.index, self.cursor.last, width)
        state = "▶ playing" if self._playing else "⏸"
        truth = "truth shown" if self.show_truth else "t: truth"
        self.query_one(ActionBar).show_text(
            Content.from_markup(f"[b $accent]{_esc(bar)}  [/]{state}  ←/→ step · home/end · space play · {truth}")
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "move" and parameters:
            delta = int(parameters[0])  # type: ignore[call-overload]
            if (delta < 0 and self.cursor.at_start) or (delta > 0 and self.cursor.at_end):
                return None
        if action == "jump" and parameters:
            start, end = parameters[0] == "start", parameters[0] == "end"
            if (start and self.cursor.at_start) or (end and self.cursor.at_end):
                return None
        return super().check_action(action, parameters)

    def action_move(self, delta: int) -> None:
        if self.cursor.step(delta):
            self.show_frame()

    def action_jump(self, where: str) -> None:
        moved = self.cursor.home() if where == "start" else self.cursor.end()
        if moved:
            self.show_frame()

    def action_truth(self) -> None:
        self.show_truth = not self.show_truth
        self.draw()

    def action_play(self) -> None:
        if self.timer is None:
            return
        if self._playing:
            self._playing = False
            self.timer.pause()
        else:
            if self.cursor.at_end:
                self.cursor.home()
                self.show_frame()
            self._playing = True
            self.timer.resume()
        self.draw()

    def _tick(self) -> None:
        self.cursor.step(1)
        if self.cursor.at_end and self.timer is not None:
            self._playing = False
            self.timer.pause()
        self.show_frame()

    def action_quit(self) -> None:
        self.app.exit()
