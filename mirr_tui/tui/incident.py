"""The incident screen shared by play, watch and replay: header, panels, alerts, log, side pane, bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..core import EnvConfig, Observation
from ..replay import ReplayRecorder
from .modals import AlertsModal, HelpModal, help_text
from .model import IncidentView, alert_lines, topology_tiers
from .panes import ActionBar, LogView, MessageLine, SideLine, SidePane
from .widgets import AlertStrip, IncidentHeader, ServicePanel, _esc

LOG_KEYS = Binding.Group("log", compact=False)
# Every incident screen lists all alerts and scrolls its log from the keyboard (each screen puts these among
# its own keys); on a narrow terminal, where the side pane does not fit beside the log, `v` swaps them.
LOG_BINDINGS: list[BindingType] = [
    Binding("a", "alerts", "alerts"),
    Binding("pageup", "scroll_log(-1)", "log", group=LOG_KEYS, key_display="PgUp"),
    Binding("pagedown", "scroll_log(1)", "log", group=LOG_KEYS, key_display="PgDn"),
    Binding(
        "v", "swap_side", "log", group=LOG_KEYS, tooltip="the side pane in the log's place, and back (narrow terminals)"
    ),
]
MIN_SIZE = (80, 24)
# Screen classes by terminal size (Textual applies them to every screen, modals included).
HORIZONTAL_BREAKPOINTS = [(0, "-w-tiny"), (MIN_SIZE[0], "-w-compact"), (110, "-w-full")]
VERTICAL_BREAKPOINTS = [(0, "-h-tiny"), (MIN_SIZE[1], "-h-compact"), (36, "-h-full")]


class MirrScreen(Screen):
    """Base: responsive classes, and a clear message when the terminal is too small."""

    def compose_too_small(self) -> ComposeResult:
        yield Static(
            f"MIRR needs a bigger terminal: resize to at least {MIN_SIZE[0]}x{MIN_SIZE[1]} (ctrl+q quits)",
            id="too-small",
        )

    config: EnvConfig  # every screen that binds `?` has one

    def action_help(self) -> None:
        self.app.push_screen(HelpModal(help_text(self.config)))

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1 and self.app.screen_stack[0] is not self:
            self.dismiss()
        else:
            self.app.exit()


class IncidentScreen(MirrScreen):
    """Header, topology of service panels, alerts, log + side pane, message line, action bar, footer."""

    label = "play"
    selectable = True

    AUTO_FOCUS = ""  # keys go to the screen's bindings; the command line takes focus only when opened

    def __init__(self, config: EnvConfig) -> None:
        super().__init__()
        self.config = config
        self.names = config.service_names
        self.selected = 0
        self.view = IncidentView(self.names)
        self.show_truth = False
        self._binding_actions: list[tuple[str, tuple[object, ...]]] | None = None
        self._binding_state: tuple[bool | None, ...] | None = None

    def compose(self) -> ComposeResult:
        yield IncidentHeader(id="header")
        with Container(id="board"):
            with Vertical(id="topology"):
                for tier in topology_tiers(self.config):
                    with Horizontal(classes="tier"):
                        for name in tier:
                            yield ServicePanel(name, self.config.service(name).calls, self.config.alerts)
            yield AlertStrip(id="alerts")
            with Horizontal(id="lower"):
                log = LogView(id="log")
                log.border_title = "log (newest first)"
                yield log
                yield SidePane(id="side")
            yield MessageLine(id="message")
            yield from self.compose_bar()
        yield from self.compose_too_small()
        yield Footer(compact=True, show_command_palette=False)

    def compose_bar(self) -> ComposeResult:
        yield ActionBar(id="actionbar")

    def action_alerts(self) -> None:
        """`a`: every alert of the step on screen, whatever fits on the strip."""
        self.app.push_screen(AlertsModal(self.query_one(AlertStrip).alerts))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "swap_side":  # only where the side pane is hidden for want of width
            return self.has_class("-w-compact")
        return True

    def on_resize(self) -> None:
        self.refresh_bindings()  # `v` comes and goes with the width
        self._swap_hints()

    def action_swap_side(self) -> None:
        """`v` on a narrow terminal: the side pane (notebook, reasoning, notes) in the log's place, and back."""
        self.toggle_class("-side-first")
        self._swap_hints()

    def _swap_hints(self) -> None:
        """On a narrow terminal the box on show says which key brings the other one."""
        compact, swapped = self.has_class("-w-compact"), self.has_class("-side-first")
        side = self.query_one(SidePane)
        self.query_one(LogView).border_subtitle = f"v: {side.border_title}" if compact and not swapped else None
        side.border_subtitle = "v: log" if compact and swapped else None

    def action_scroll_log(self, pages: int) -> None:
        """PgUp / PgDn: the log by a page (the mouse wheel scrolls it too), at any size."""
        log = self.query_one(LogView)
        log.scroll_page_down(animate=False) if pages > 0 else log.scroll_page_up(animate=False)

    # -------------------------------------------------------------- drawing
    def header_label(self) -> str:
        return self.label

    def header_extra(self) -> str:
        return ""

    def header_extra_short(self) -> str:
        """The extra part when the terminal is narrow (defaults to the long one)."""
        return ""

    def panel_mark(self, name: str) -> str | None:
        """The player's mark on a service panel (play: suspect / cleared), else None."""
        return None

    def truth(self) -> dict[str, Any] | None:
        """The hidden state to reveal on the panels (replay with `t`), else None."""
        return None

    def side_content(self) -> tuple[str, list[SideLine]]:
        return "notes", [_esc(line) for line in self.view.notes()]

    def message_content(self) -> tuple[str, bool]:
        obs = self.view.obs
        if obs is None:
            return "", False
        if not obs.valid:
            return f"invalid action (-1): {obs.error}", True
        return obs.message, False

    def bar_actions(self) -> list[tuple[str, str, bool]]:
        return []

    @property
    def incident_seed(self) -> int | None:
        """The seed this screen started (observations do not carry it: it would rebuild the incident)."""
        return None

    def draw(self) -> None:
        obs = self.view.obs
        if obs is None:
            return
        max_steps = self.config.rules.max_steps
        self.query_one(IncidentHeader).show(
            label=self.header_label(),
            seed=self.incident_seed,
            difficulty=obs.difficulty,
            scenario=obs.scenario,
            step=obs.step,
            max_steps=max_steps,
            remaining=obs.remaining,
            score=obs.score,
            settled=obs.done,
            page=obs.page,
            diagnosis=obs.diagnosis,
            impact=obs.impact,
            currency=self.config.impact.currency,
            outcome=obs.outcome,
            extra=self.header_extra(),
            extra_short=self.header_extra_short(),
        )
        truth = self.truth()
        for n, name in enumerate(self.names):
            self.query_one(f"#panel-{name}", ServicePanel).show(
                obs.services.get(name),
                self.view.history[name],
                selected=self.selectable and n == self.selected,
                index=n + 1,
                truth=self._panel_truth(truth, name),
                breaker=name in obs.breakers,
                mark=self.panel_mark(name),
            )
        self.query_one(AlertStrip).show(alert_lines(obs, self.config.alerts))
        self.query_one(LogView).show(self.view.blocks_newest_first())
        title, lines = self.side_content()
        self.query_one(SidePane).show(title, lines)
        text, error = self.message_content()
        self.query_one(MessageLine).show(text, error)
        self.draw_bar()
        self.refresh_bindings_if_changed()

    def announce(self, before: Observation | None, obs: Observation) -> None:
        """A toast when a second fault pages the player (the header shows the page too)."""
        if before is not None and obs.page > before.page and not obs.done:
            self.notify(
                "a second incident: new errors since the fix. Diagnose is open again (before any fix).",
                title=f"paged again · page {obs.page}",
                severity="warning",
                timeout=10,
            )

    def refresh_bindings_if_changed(self) -> None:
        """Tell the footer only when a key became (un)available: it rebuilds all its keys on every refresh."""
        if self._binding_actions is None:
            self._binding_actions = [
                parse_action(binding.action)[1:]
                for bindings in self._bindings.key_to_bindings.values()
                for binding in bindings
            ]
        state = tuple(self.check_action(name, params) for name, params in self._binding_actions)
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    @staticmethod
    def _panel_truth(truth: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
        if truth is None:
            return None
        service = dict(truth.get("services", {}).get(name, {}))
        service["root"] = name == truth.get("root_service")
        return service

    def draw_bar(self) -> None:
        self.query_one(ActionBar).show(self.names, self.selected if self.selectable else None, self.bar_actions())

    # -------------------------------------------------------------- replays
    def save_replay(self, recorder: ReplayRecorder | None, replay_dir: Path, announce: bool = True) -> Path | None:
        """Save atomically and tell the user where (a toast unless `announce` is False: the caller shows the
        path itself; the terminal is told on exit either way); a failure is shown, never raised."""
        if recorder is None or not recorder.started:
            return None
        try:
            path = recorder.save_to_dir(replay_dir)
        except OSError as exc:
            self.notify(f"could not save the replay: {exc}", severity="error", timeout=10)
            self.app.note_exit(f"could not save the replay in {replay_dir}: {exc}")  # type: ignore[attr-defined]
            return None
        if announce:
            self.notify(f"replay saved to {path}", title="saved", timeout=4)
        self.app.note_exit(f"replay saved to {path}")  # type: ignore[attr-defined]
        return path

    def save_unsaved(self) -> None:
        """Called when the app quits: keep a half-played episode if at least one step was played."""


def reasoning_lines(reasoning: list[tuple[int, str]]) -> list[SideLine]:
    """Newest first; a run of identical explanations shows once with its step range (wrapping under itself)."""
    runs: list[tuple[int, int, str]] = []
    for step, text in reasoning:
        if runs and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], step, text)
        else:
            runs.append((step, step, text))
    lines: list[SideLine] = []
    for first, last, text in reversed(runs):
        steps = f"{first:02d}" if first == last else f"{first:02d}-{last:02d}"
        lines.append((f"[$text-muted]{steps} [/]", _esc(text)))
    return lines
