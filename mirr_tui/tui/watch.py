"""Watch: an agent plays in a worker thread and the screen follows it."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import get_current_worker

from ..core import EnvConfig, IncidentEnv, Observation
from ..postmortem import build_post_mortem
from ..replay import Replay, ReplayRecorder, fork_replay
from .incident import LOG_BINDINGS, IncidentScreen, reasoning_lines
from .modals import ConfirmModal, SummaryModal
from .model import IncidentView
from .panes import SideLine
from .summary import EpisodeSummary, compare_agents, episode_summary
from .widgets import _esc

SPEED_KEYS = Binding.Group("speed", compact=False)  # "+ - speed": one footer entry, so 80 columns hold every key
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 50.0)


class WatchScreen(IncidentScreen):
    """An agent plays in a worker thread; the screen shows each step as its message arrives."""

    label = "watch"
    selectable = False
    BINDINGS: ClassVar[list[BindingType]] = [
        # One key, two footer entries: the one shown says what space does now.
        Binding("space", "pause", "pause"),
        Binding("space", "resume", "resume"),
        Binding("full_stop", "step_once", "one step", key_display="."),
        Binding("plus,equals_sign", "speed(1)", "speed", key_display="+", group=SPEED_KEYS),
        Binding("minus", "speed(-1)", "speed", key_display="-", group=SPEED_KEYS),
        Binding("c", "cancel_reply", "cancel reply"),
        Binding("e", "summary", "summary"),
        *LOG_BINDINGS,
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    class AgentStepped(Message):
        def __init__(
            self, obs: Observation, action: Any, reasoning: str | None, details: dict[str, Any] | None = None
        ) -> None:
            super().__init__()
            self.obs = obs
            self.action = action
            self.reasoning = reasoning
            self.details = details or {}

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
        fork: tuple[Replay, int] | None = None,
    ) -> None:
        super().__init__(config)
        self.fork = fork  # (replay, frame): the agent plays on from that frame of a replay
        if fork is not None:
            seed, scenario, difficulty = fork[0].seed, fork[0].scenario, fork[0].difficulty
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
        self.summary: EpisodeSummary | None = None  # the end's summary, to reopen with `e`
        self._wake = threading.Event()
        self._step_requested = False
        self.waited: int | None = None  # whole seconds the request in flight has waited (agents with a model)
        self.answer: str = ""  # what the last model reply cost: "1,650 tokens in 14 s"

    def on_mount(self) -> None:
        if self.fork is None:
            obs = self.env.reset(seed=self.seed, options=self.options or None)
            self.view.apply(obs)
        try:
            self.agent = self._create_agent()
        except Exception as exc:  # a missing key or bad option is shown in the app, not raised
            # The recorder is never started: no episode was played, so nothing is saved (an empty run would
            # count as a loss on the scoreboard; `mirr eval` likewise refuses before the first episode).
            # Worded as `mirr eval` words it; the app exits with its code (2) and prints it on stderr.
            failure = f"cannot start agent {self.agent_name!r}: {exc}"
            self.app.failure = failure  # type: ignore[attr-defined]
            self._fail(failure)
            self.draw()
            return
        self.recorder = ReplayRecorder(
            player_kind="agent", player_name=self.agent_name, player_details=self.agent.describe()
        )
        if self.fork is not None:  # handed over mid-episode: the agent starts from the frame on screen
            self.env, seen = fork_replay(self.fork[0], self.fork[1], self.recorder, self.config)
            self.view = IncidentView.rebuild(self.names, seen)
            if getattr(self.agent, "needs_env", False):
                self.agent.attach(self.env)
        else:
            self.recorder.start(self.env, obs)
        self.draw()
        self.set_interval(0.5, self._show_waiting)
        self.run_agent()

    def _show_waiting(self) -> None:
        """Say that a request is in flight and for how long (the LLM agent's `waiting_since`)."""
        since = getattr(self.agent, "waiting_since", None)
        waited = None if since is None or self.finished else int(time.monotonic() - since)
        if waited != self.waited:
            self.waited = waited
            self.draw()

    def _create_agent(self) -> Any:
        from mirr_tui import agents

        agent = agents.create(self.agent_name, config=self.env.config, **self.agent_options)
        if getattr(agent, "needs_env", False):
            agent.attach(self.env)
        return agent

    @property
    def incident_seed(self) -> int | None:
        return self.seed

    def header_label(self) -> str:
        return f"watch {self.agent_name}"

    def header_extra(self) -> str:
        if self.finished:
            return "[$text-muted]finished[/]"
        state = "[b $warning]⏸ paused[/]" if self.paused else "[$success]▶[/]"
        waiting = f" · [$warning]⏳ model {self.waited} s[/]" if self.waited is not None else ""
        return f"{state} {self.speed:g}/s{waiting}"

    def header_extra_short(self) -> str:
        if self.finished:
            return "[$text-muted]done[/]"
        if self.paused:
            return "[b $warning]⏸ paused[/]"  # the speed stays in the action bar
        if self.waited is not None:
            return f"[$warning]⏳ {self.waited} s[/]"
        return f"[$success]▶[/] {self.speed:g}/s"

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
        if self.waited is not None:
            return f"waiting for the model ({self.waited} s) · c cancels the reply", False
        text, error = super().message_content()
        if self.answer:
            text = f"{text} · {self.answer}"
        if self.view.reasoning and self.view.reasoning[-1][0] == self.view.step:
            text = f"{text} · {self.agent_name}: {self.view.reasoning[-1][1]}"  # visible even without the side pane
        return text, error

    def bar_actions(self) -> list[tuple[str, str, bool]]:
        if self.error:
            return [("q", "quit", True)]  # nothing left to pause, step or speed up
        if self.finished:
            return [("e", "summary", self.summary is not None), ("q", "quit", True)]
        return [
            ("space", "resume" if self.paused else "pause", True),
            (".", "one step", self.paused),
            ("+/-", f"speed {self.speed:g}/s", True),
        ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pause", "resume", "speed", "step_once") and self.finished:
            return False  # over (or never started): off the footer, not just greyed
        if action in ("pause", "resume"):
            return self.paused == (action == "resume")
        if action == "step_once" and not self.paused:
            return None
        if action == "summary":
            return self.summary is not None
        if action == "cancel_reply":  # hidden for agents without a model, dimmed while no request is in flight
            if getattr(self.agent, "cancel", None) is None:
                return False
            return True if self.waited is not None else None
        return super().check_action(action, parameters)

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
            self.post_message(self.AgentStepped(obs, action, reasoning, details))
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
        before = self.view.obs
        self.waited = None
        self.answer = _cost(message.details)
        self.view.apply(message.obs, message.reasoning)
        self.draw()
        self.announce(before, message.obs)

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
        self.app.clear_notifications()  # the episode's toasts (a page long ago) would cover the board and the log
        self.saved = self.save_replay(self.recorder, self.replay_dir, announce=False)  # the summary says where
        self.summary = episode_summary(self.view, message.truth, message.comparisons, self.config.impact.currency)
        truths = [frame.truth for frame in self.recorder.frames] or [message.truth]
        self.summary.post_mortem = build_post_mortem(self.config, self.view.observations, truths)
        self.draw()
        self.action_summary()

    def action_summary(self) -> None:
        """Open the end's summary (again: escape only closed it)."""
        if self.summary is None:
            return

        def closed(choice: str | None) -> None:
            if choice == "quit":
                self.app.exit()

        note = f"replay saved to {self.saved}" if self.saved is not None else ""
        self.app.push_screen(SummaryModal(self.summary, self.agent_name, allow_new=False, note=note), closed)

    # -------------------------------------------------------------- keys
    def action_resume(self) -> None:
        self.action_pause()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._wake.set()
        self.draw()

    def action_cancel_reply(self) -> None:
        """Give up on a runaway reply: the agent waits this step and the replay marks it cancelled."""
        cancel = getattr(self.agent, "cancel", None)
        if cancel is not None and cancel():
            self.notify("the model's reply was cancelled; the agent waits this step", title="cancelled", timeout=6)

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
        """Quit; while the agent is mid-episode, ask first (the agent holds still while the question is open)."""
        if self.finished or len(self.recorder.frames) <= 1:
            self.app.exit()
            return
        was_paused, self.paused = self.paused, True
        self.draw()
        detail = (
            f"{self.agent_name} is at step {self.view.step} of {self.config.rules.max_steps}, not done yet: quitting"
            " now abandons this run (its half-played replay is kept)."
        )

        def answered(sure: bool | None) -> None:
            if sure:
                self.app.exit()
                return
            self.paused = was_paused
            self._wake.set()
            self.draw()

        self.app.push_screen(ConfirmModal("Quit MIRR?", detail, "quit", "keep watching"), answered)


def _cost(details: dict[str, Any]) -> str:
    """'1,650 tokens in 14 s' for a step an agent paid for with a model call; '' otherwise."""
    if details.get("cancelled"):
        return "reply cancelled"
    if not details.get("calls"):
        return ""
    return f"{int(details.get('total_tokens', 0) or 0):,} tokens in {float(details.get('latency_s', 0) or 0):.0f} s"
