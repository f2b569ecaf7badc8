"""The incident screen (shared by play, watch and replay) and its three uses."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.suggester import Suggester
from textual.timer import Timer
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from ..core import FAULT_MODES, Action, EnvConfig, IncidentEnv, InvalidAction, Observation
from ..replay import Replay, ReplayRecorder
from .modals import SERVICE_KEYS, DiagnoseModal, HelpModal, SummaryModal
from .model import (
    EpisodeSummary,
    IncidentView,
    ReplayCursor,
    compare_agents,
    describe_action,
    scrubber,
    summarise,
    topology_tiers,
)
from .widgets import (
    ActionBar,
    AlertStrip,
    IncidentHeader,
    LogView,
    MessageLine,
    ServicePanel,
    SideLine,
    SidePane,
    _esc,
)

MIN_SIZE = (80, 24)
# Screen classes by terminal size (Textual applies them to every screen, modals included).
HORIZONTAL_BREAKPOINTS = [(0, "-w-tiny"), (MIN_SIZE[0], "-w-compact"), (110, "-w-full")]
VERTICAL_BREAKPOINTS = [(0, "-h-tiny"), (MIN_SIZE[1], "-h-compact"), (36, "-h-full")]
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 50.0)


class MirrScreen(Screen):
    """Base: responsive classes, and a clear message when the terminal is too small."""

    def compose_too_small(self) -> ComposeResult:
        yield Static(
            f"MIRR needs a bigger terminal: resize to at least {MIN_SIZE[0]}x{MIN_SIZE[1]} (ctrl+q quits)",
            id="too-small",
        )

    def action_help(self) -> None:
        self.app.push_screen(HelpModal())

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

    # -------------------------------------------------------------- drawing
    def header_label(self) -> str:
        return self.label

    def header_extra(self) -> str:
        return ""

    def header_extra_short(self) -> str:
        """The extra part when the terminal is narrow (defaults to the long one)."""
        return ""

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

    def draw(self) -> None:
        obs = self.view.obs
        if obs is None:
            return
        max_steps = self.config.rules.max_steps
        self.query_one(IncidentHeader).show(
            label=self.header_label(),
            seed=obs.seed,
            difficulty=obs.difficulty,
            scenario=obs.scenario,
            step=obs.step,
            max_steps=max_steps,
            remaining=obs.remaining,
            score=obs.score,
            diagnosis=obs.diagnosis,
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
            )
        self.query_one(AlertStrip).show(obs.alerts)
        self.query_one(LogView).show(self.view.blocks_newest_first())
        title, lines = self.side_content()
        self.query_one(SidePane).show(title, lines)
        text, error = self.message_content()
        self.query_one(MessageLine).show(text, error)
        self.draw_bar()
        self.refresh_bindings_if_changed()

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
    def save_replay(self, recorder: ReplayRecorder | None, replay_dir: Path) -> Path | None:
        """Save atomically and tell the user where; a failure is shown, never raised."""
        if recorder is None or not recorder.started:
            return None
        try:
            path = recorder.save_to_dir(replay_dir)
        except OSError as exc:
            self.notify(f"could not save the replay: {exc}", severity="error", timeout=10)
            self.app.note_exit(f"could not save the replay in {replay_dir}: {exc}")  # type: ignore[attr-defined]
            return None
        self.notify(f"replay saved to {path}", title="saved", timeout=6)
        self.app.note_exit(f"replay saved to {path}")  # type: ignore[attr-defined]
        return path

    def save_unsaved(self) -> None:
        """Called when the app quits: keep a half-played episode if at least one step was played."""


def _mean_health(truth: dict[str, Any]) -> float:
    services = truth.get("services") or {}
    return sum(float(s.get("health", 0.0)) for s in services.values()) / max(1, len(services))


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


# =============================================================================== play
class ActionSuggester(Suggester):
    """Completes the words of a command: action, service, mode."""

    ACTION_WORDS = ("logs", "diagnose", "restart", "rollback", "scale_up", "wait")

    def __init__(self, services: tuple[str, ...], modes: tuple[str, ...]) -> None:
        super().__init__(use_cache=True, case_sensitive=False)
        self.services = services
        self.modes = modes

    async def get_suggestion(self, value: str) -> str | None:
        words = value.split(" ")
        position = len(words) - 1
        partial = words[-1]
        if not partial and position == 0:
            return None
        head = words[0] if position else ""
        if position == 0:
            choices: tuple[str, ...] = self.ACTION_WORDS
        elif position == 1 and head != "wait":
            choices = self.services
        elif position == 2 and head in ("diagnose", "diag"):
            choices = self.modes
        else:
            return None
        for choice in choices:
            if choice.startswith(partial) and choice != partial:
                return value[: len(value) - len(partial)] + choice
        return None


def complete_command(text: str, services: tuple[str, ...], modes: tuple[str, ...]) -> str:
    """Expand each word that is the prefix of exactly one action, service or mode word (its position's)."""
    words = text.split()
    choices_at = [ActionSuggester.ACTION_WORDS, services, modes]
    for n, word in enumerate(words[:3]):
        matches = [choice for choice in choices_at[n] if choice.startswith(word.lower())]
        if len(matches) == 1:
            words[n] = matches[0]
    return " ".join(words)


SERVICE_BINDINGS: list[BindingType] = [
    *(Binding(str(n + 1), f"select({n})", "service", group=SERVICE_KEYS) for n in range(5)),
    Binding("left", "cycle(-1)", "service", group=SERVICE_KEYS, key_display="←"),
    Binding("right", "cycle(1)", "service", group=SERVICE_KEYS, key_display="→"),
]
GAME_ACTIONS = ("check_logs", "diagnose", "restart", "rollback", "scale_up", "wait")


class PlayScreen(IncidentScreen):
    """A person plays the incident with keys or typed commands."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *SERVICE_BINDINGS,
        Binding("l", "act('check_logs')", "logs"),
        Binding("d", "diagnose", "diagnose"),
        Binding("r", "act('restart')", "restart"),
        Binding("b", "act('rollback')", "rollback"),
        Binding("s", "act('scale_up')", "scale up"),
        Binding("w", "act('wait')", "wait"),
        Binding("colon,slash", "command", "command", key_display=":"),
        Binding("escape", "close_command", "close", show=False),
        Binding("n", "new_incident", "new"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(
        self,
        config: EnvConfig,
        *,
        seed: int | None,
        scenario: str | None,
        difficulty: str | None,
        replay_dir: Path,
        player_name: str,
    ) -> None:
        super().__init__(config)
        self.seed = seed
        self.scenario = scenario
        self.difficulty = difficulty
        self.replay_dir = replay_dir
        self.player_name = player_name
        self.env = IncidentEnv(config, difficulty=difficulty)
        self.recorder: ReplayRecorder | None = None
        self.saved: Path | None = None
        self.summary_shown = False
        self.command_error: str | None = None

    def compose_bar(self) -> ComposeResult:
        yield Input(
            placeholder="restart payment · logs auth · diagnose payment bad_deploy · wait   (→ completes, esc closes)",
            suggester=ActionSuggester(self.names, FAULT_MODES),
            id="command",
            compact=True,
            disabled=True,
        )
        yield ActionBar(id="actionbar")

    def on_mount(self) -> None:
        self.start_incident(self.seed)

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.scenario:
            options["scenario"] = self.scenario
        if self.difficulty:
            options["difficulty"] = self.difficulty
        return options

    def start_incident(self, seed: int | None) -> None:
        self.seed = seed if seed is not None else random.randrange(1, 100_000)
        obs = self.env.reset(seed=self.seed, options=self.options or None)
        self.recorder = ReplayRecorder(player_kind="human", player_name=self.player_name)
        self.recorder.start(self.env, obs)
        self.saved = None
        self.summary_shown = False
        self.command_error = None
        self.view = IncidentView(self.names)
        self.view.apply(obs)
        self.draw()

    @property
    def steps_played(self) -> int:
        return len(self.recorder.frames) - 1 if self.recorder else 0

    # -------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        done = self.view.done
        if action in ("act", "command", "diagnose") and done:
            return None
        if action == "diagnose" and self.view.obs is not None and self.view.obs.diagnosis is not None:
            return None
        if action == "close_command":
            return self.query_one("#command", Input).has_class("-open")
        return True

    def bar_actions(self) -> list[tuple[str, str, bool]]:
        done = self.view.done
        diagnosed = self.view.obs is not None and self.view.obs.diagnosis is not None
        return [
            ("l", "logs", not done),
            ("d", "diagnose", not done and not diagnosed),
            ("r", "restart", not done),
            ("b", "rollback", not done),
            ("s", "scale up", not done),
            ("w", "wait", not done),
        ]

    def message_content(self) -> tuple[str, bool]:
        if self.command_error:
            return f"not an action (no step spent): {self.command_error}", True
        return super().message_content()

    def action_select(self, index: int) -> None:
        if 0 <= index < len(self.names):
            self.selected = index
            self.draw()

    def action_cycle(self, delta: int) -> None:
        self.action_select((self.selected + delta) % len(self.names))

    def action_act(self, kind: str) -> None:
        if kind == "wait":
            self.take(Action("wait"))
        else:
            self.take(Action(kind, self.names[self.selected]))  # type: ignore[arg-type]

    def action_diagnose(self) -> None:
        def chosen(result: tuple[str, str] | None) -> None:
            if result is not None:
                service, mode = result
                self.selected = self.names.index(service)
                self.take(Action("diagnose", service, mode))

        self.app.push_screen(DiagnoseModal(self.names, self.selected, self.config.fault_modes), chosen)

    def action_command(self) -> None:
        command = self.query_one("#command", Input)
        command.disabled = False
        command.add_class("-open")
        command.focus()
        self.refresh_bindings()

    def action_close_command(self) -> None:
        command = self.query_one("#command", Input)
        command.remove_class("-open")
        command.value = ""
        command.disabled = True
        self.set_focus(None)
        self.command_error = None
        self.draw()

    @on(Input.Submitted, "#command")
    def _command_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.action_close_command()
            return
        try:
            Action.parse(text)
        except InvalidAction as exc:  # a typo costs nothing; the env judges well-formed actions
            completed = complete_command(text, self.names, FAULT_MODES)
            try:
                Action.parse(completed)
            except InvalidAction:
                self.command_error = str(exc)
                self.draw()
                return
            text = completed  # "diag auth bad" plays what the completion showed
        self.action_close_command()
        self.take(text)

    def take(self, action_input: Action | str) -> None:
        """Play one step through the env (which explains and scores invalid actions)."""
        if self.view.done or self.recorder is None:
            return
        self.command_error = None
        obs = self.env.step(action_input)
        self.recorder.record(action_input, obs, self.env.state)
        self.view.apply(obs)
        self.draw()
        if not obs.valid:
            self.notify(obs.error or "invalid action", title="invalid action (-1)", severity="error")
        if obs.done:
            self.finish()

    def finish(self) -> None:
        self.saved = self.save_replay(self.recorder, self.replay_dir)
        self.show_summary()

    def show_summary(self) -> None:
        if self.summary_shown:
            return
        self.summary_shown = True
        self._compare_then_summarise(self.recorder, self.view, self.env.state.to_dict())

    @work(thread=True, group="summary")
    def _compare_then_summarise(self, episode: object, view: IncidentView, truth: dict[str, Any]) -> None:
        """Play the other agents on this seed off the UI thread (the last step draws at once)."""
        try:
            comparisons = compare_agents(self.config, int(truth["seed"]), self.options or None)
        except Exception:  # comparisons are a nicety; the summary still opens
            comparisons = {}
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._open_summary, episode, summarise(view, truth, comparisons))

    def _open_summary(self, episode: object, summary: EpisodeSummary) -> None:
        if episode is not self.recorder or not self.is_attached:  # a new incident started meanwhile
            return

        def closed(choice: str | None) -> None:
            if choice == "new":
                self.action_new_incident()
            elif choice == "quit":
                self.app.exit()

        self.app.push_screen(SummaryModal(summary, self.player_name), closed)

    def action_new_incident(self) -> None:
        self.save_unsaved()
        self.start_incident(None)

    def save_unsaved(self) -> None:
        if self.saved is None and self.steps_played > 0:
            self.saved = self.save_replay(self.recorder, self.replay_dir)

    def action_quit(self) -> None:
        self.app.exit()


# =============================================================================== watch
class WatchScreen(IncidentScreen):
    """An agent plays in a worker thread; the screen shows each step as its message arrives."""

    label = "watch"
    selectable = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause", "pause/play"),
        Binding("full_stop", "step_once", "one step", key_display="."),
        Binding("plus,equals_sign", "speed(1)", "faster", key_display="+"),
        Binding("minus", "speed(-1)", "slower", key_display="-"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    class AgentStepped(Message):
        def __init__(self, obs: Observation, action: Any, reasoning: str | None) -> None:
            super().__init__()
            self.obs = obs
            self.action = action
            self.reasoning = reasoning

    class AgentFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class AgentFinished(Message):
        def __init__(self, truth: dict[str, Any], comparisons: dict[str, tuple[float, str]]) -> None:
            super().__init__()
            self.truth = truth
            self.comparisons = comparisons

    def __init__(
        self,
        config: EnvConfig,
        *,
        agent_name: str,
        agent_options: dict[str, Any] | None,
        seed: int | None,
        scenario: str | None,
        difficulty: str | None,
        speed: float,
        replay_dir: Path,
    ) -> None:
        super().__init__(config)
        self.agent_name = agent_name
        self.agent_options = dict(agent_options or {})
        self.seed = seed if seed is not None else random.randrange(1, 100_000)
        self.options = {k: v for k, v in (("scenario", scenario), ("difficulty", difficulty)) if v}
        self.speed = speed
        self.replay_dir = replay_dir
        self.env = IncidentEnv(config, difficulty=difficulty)
        self.recorder = ReplayRecorder(player_kind="agent", player_name=agent_name)
        self.agent: Any = None
        self.paused = False
        self.error: str | None = None
        self.finished = False
        self.saved: Path | None = None
        self._wake = threading.Event()
        self._step_requested = False

    def on_mount(self) -> None:
        obs = self.env.reset(seed=self.seed, options=self.options or None)
        self.view.apply(obs)
        try:
            self.agent = self._create_agent()
        except Exception as exc:  # a missing key or bad option is shown in the app, not raised
            # The recorder is never started: no episode was played, so nothing is saved (an empty run would
            # count as a loss on the scoreboard; `mirr eval` likewise refuses before the first episode).
            self._fail(f"cannot start agent {self.agent_name!r}: {type(exc).__name__}: {exc}")
            self.draw()
            return
        self.recorder = ReplayRecorder(
            player_kind="agent", player_name=self.agent_name, player_details=self.agent.describe()
        )
        self.recorder.start(self.env, obs)
        self.draw()
        self.run_agent()

    def _create_agent(self) -> Any:
        import agents

        agent = agents.create(self.agent_name, config=self.env.config, **self.agent_options)
        if getattr(agent, "needs_env", False):
            agent.attach(self.env)
        return agent

    def header_label(self) -> str:
        return f"watch {self.agent_name}"

    def header_extra(self) -> str:
        if self.finished:
            return "[$text-muted]finished[/]"
        state = "[b $warning]⏸ paused[/]" if self.paused else "[$success]▶[/]"
        return f"{state} {self.speed:g}/s"

    def header_extra_short(self) -> str:
        if self.finished:
            return "[$text-muted]done[/]"
        return f"{'[b $warning]⏸[/]' if self.paused else '[$success]▶[/]'} {self.speed:g}/s"

    def side_content(self) -> tuple[str, list[SideLine]]:
        lines: list[SideLine] = []
        if self.error:
            lines.append(f"[b $error]agent error: {_esc(self.error)}[/]")
        lines.extend(reasoning_lines(self.view.reasoning))
        if not lines:
            lines.append("[$text-muted](the agent has not explained a move yet)[/]")
        return f"{self.agent_name}'s reasoning", lines

    def message_content(self) -> tuple[str, bool]:
        if self.error:
            return f"the agent stopped: {self.error}", True
        text, error = super().message_content()
        if self.view.reasoning and self.view.reasoning[-1][0] == self.view.step:
            text = f"{text} · {self.agent_name}: {self.view.reasoning[-1][1]}"  # visible even without the side pane
        return text, error

    def bar_actions(self) -> list[tuple[str, str, bool]]:
        running = not self.finished
        return [
            ("space", "resume" if self.paused else "pause", running),
            (".", "one step", running and self.paused),
            ("+/-", f"speed {self.speed:g}/s", running),
        ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pause", "speed") and self.finished:
            return None
        if action == "step_once" and (self.finished or not self.paused):
            return None
        return True

    # -------------------------------------------------------------- the agent's thread
    def _wait_for_turn(self, deadline: float) -> bool:
        """Sleep until the next step is due (or a single step is asked for); False if cancelled."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            if self._step_requested:
                self._step_requested = False
                return True
            if not self.paused:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return True
                self._wake.wait(min(remaining, 0.25))
            else:
                self._wake.wait(0.25)
            self._wake.clear()
        return False

    @work(thread=True, exclusive=True, group="agent")
    def run_agent(self) -> None:
        agent = self.agent
        obs = self.env.observation
        try:
            agent.reset(obs)
        except Exception as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            return
        while not obs.done:
            if not self._wait_for_turn(time.monotonic() + 1.0 / self.speed):
                return
            try:
                action = agent.act(obs)
            except Exception as exc:
                self._fail(f"{type(exc).__name__}: {exc}")
                return
            if get_current_worker().is_cancelled:  # the app quit while the agent was thinking
                return
            obs = self.env.step(action)
            details = dict(getattr(agent, "last_details", None) or {})
            reasoning = getattr(agent, "last_reasoning", None)
            self.recorder.record(action, obs, self.env.state, reasoning=reasoning, details=details)
            self.post_message(self.AgentStepped(obs, action, reasoning))
        truth = self.env.state.to_dict()
        try:
            comparisons = compare_agents(self.config, self.seed, self.options or None)
        except Exception:  # comparisons are a nicety; never lose the episode over them
            comparisons = {}
        self.post_message(self.AgentFinished(truth, comparisons))

    def _fail(self, error: str) -> None:
        self.recorder.note_error(error)
        self.post_message(self.AgentFailed(error))

    @on(AgentStepped)
    def _stepped(self, message: AgentStepped) -> None:
        self.view.apply(message.obs, message.reasoning)
        self.draw()

    @on(AgentFailed)
    def _failed(self, message: AgentFailed) -> None:
        self.error = message.error
        self.finished = True
        self.notify(message.error, title="agent error", severity="error", timeout=10)
        self.saved = self.save_replay(self.recorder, self.replay_dir)
        self.draw()

    @on(AgentFinished)
    def _finished(self, message: AgentFinished) -> None:
        self.finished = True
        self.saved = self.save_replay(self.recorder, self.replay_dir)
        self.draw()
        summary = summarise(self.view, message.truth, message.comparisons)

        def closed(choice: str | None) -> None:
            if choice == "quit":
                self.app.exit()

        self.app.push_screen(SummaryModal(summary, self.agent_name, allow_new=False), closed)

    # -------------------------------------------------------------- keys
    def action_pause(self) -> None:
        self.paused = not self.paused
        self._wake.set()
        self.draw()

    def action_step_once(self) -> None:
        self._step_requested = True
        self._wake.set()

    def action_speed(self, direction: int) -> None:
        faster = [s for s in SPEEDS if s > self.speed]
        slower = [s for s in SPEEDS if s < self.speed]
        if direction > 0 and faster:
            self.speed = faster[0]
        elif direction < 0 and slower:
            self.speed = slower[-1]
        self._wake.set()
        self.draw()

    def save_unsaved(self) -> None:
        for worker in self.workers:
            worker.cancel()
        self._wake.set()
        if self.saved is None and len(self.recorder.frames) > 1:
            self.saved = self.save_replay(self.recorder, self.replay_dir)

    def action_quit(self) -> None:
        self.app.exit()


# =============================================================================== replay
class ReplayScreen(IncidentScreen):
    """Step through a saved replay; the view for frame k is rebuilt from frames 0..k."""

    selectable = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "back"),
        Binding("right", "move(1)", "forward"),
        Binding("home", "jump('start')", "first"),
        Binding("end", "jump('end')", "last"),
        Binding("space", "play", "play/pause"),
        Binding("t", "truth", "truth"),
        Binding("escape", "back", "back"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, config: EnvConfig, replay: Replay, speed: float = 2.0) -> None:
        super().__init__(config)
        self.replay = replay
        self.cursor = ReplayCursor(len(replay.frames))
        self.observations = [frame.obs for frame in replay.frames]
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

    def header_label(self) -> str:
        return f"replay · {self.replay.player_name}"

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
            lines.append(
                f"[$accent]mean health {_mean_health(truth):.2f} · confirm streak {truth.get('confirm_streak', 0)}[/]"
            )
        if self.replay.error:
            lines.append(f"[b $error]recorded error: {_esc(self.replay.error)}[/]")
        frame_input = self.frame.input
        if frame_input is not None:
            shown = describe_action(frame_input) if isinstance(frame_input, dict) else str(frame_input)
            lines.append(f"input at step {self.frame.step}: [b]{_esc(shown)}[/]")
        lines.extend(reasoning_lines(self.view.reasoning))
        if len(lines) == 0:
            lines.append("[$text-muted](no reasoning recorded)[/]")
        return f"{self.replay.player_name}", lines

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
        return True

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
