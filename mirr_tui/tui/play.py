"""Play: a person plays the incident with keys or typed commands."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input
from textual.worker import get_current_worker

from ..core import FAULT_MODES, Action, EnvConfig, IncidentEnv, InvalidAction
from ..daily import DailyIncident, share_card
from ..postmortem import build_post_mortem
from ..replay import Replay, ReplayRecorder, fork_replay
from ..scores import best_text, build_scoreboard, personal_bests
from ..tags import tag_trajectory
from .command import CommandInput, complete_command
from .incident import LOG_BINDINGS, IncidentScreen
from .modals import SERVICE_KEYS, ConfirmModal, DiagnoseModal, SummaryModal
from .model import IncidentView
from .notebook import next_mark, notebook_lines
from .panes import ActionBar, SideLine
from .summary import EpisodeSummary, compare_agents, episode_summary
from .widgets import ServicePanel, _esc

SERVICE_BINDINGS: list[BindingType] = [
    *(Binding(str(n + 1), f"select({n})", "service", group=SERVICE_KEYS) for n in range(5)),
    # The arrows are in the help, not the footer: at 80 columns the footer has room for every other key.
    Binding("left", "cycle(-1)", "service", group=SERVICE_KEYS, key_display="←", show=False),
    Binding("right", "cycle(1)", "service", group=SERVICE_KEYS, key_display="→", show=False),
]
MARK_BINDING = Binding("m", "mark", "service", group=SERVICE_KEYS, tooltip="mark the service suspect / cleared")
MOVE_KEYS = Binding.Group("moves", compact=True)
GAME_ACTIONS = ("check_logs", "diagnose", "restart", "rollback", "scale_up", "circuit_break", "wait")


class PlayScreen(IncidentScreen):
    """A person plays the incident with keys or typed commands."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *SERVICE_BINDINGS,
        MARK_BINDING,
        # One footer group: the action bar above spells each move out, so the footer fits 80 columns.
        Binding("l", "act('check_logs')", "moves", group=MOVE_KEYS, tooltip="read the selected service's logs"),
        Binding("d", "diagnose", "moves", group=MOVE_KEYS, tooltip="diagnose the selected service"),
        Binding("r", "act('restart')", "moves", group=MOVE_KEYS, tooltip="restart"),
        Binding("b", "act('rollback')", "moves", group=MOVE_KEYS, tooltip="rollback"),
        Binding("s", "act('scale_up')", "moves", group=MOVE_KEYS, tooltip="scale up"),
        Binding("c", "act('circuit_break')", "moves", group=MOVE_KEYS, tooltip="circuit breaker"),
        Binding("w", "act('wait')", "moves", group=MOVE_KEYS, tooltip="wait one step"),
        # Priority: it acts as the key arrives, so the keys typed right after it reach the command line.
        Binding("colon", "command(':')", "type", key_display=":", priority=True),  # type a command
        Binding("slash", "command('/')", "type", show=False, priority=True),
        Binding("escape", "close_command", "close", show=False),
        Binding("n", "new_incident", "new"),
        Binding("e", "summary", "summary"),
        *LOG_BINDINGS,
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
        daily: DailyIncident | None = None,
        practice: bool = False,
        fork: tuple[Replay, int] | None = None,
    ) -> None:
        super().__init__(config)
        self.fork = fork  # (replay, frame): play on from that frame of a replay (`p` in mirr replay)
        self.forked_at = 0  # steps that came with the fork (not the player's)
        if fork is not None:
            seed, scenario, difficulty = fork[0].seed, fork[0].scenario, fork[0].difficulty
        self.daily = daily  # today's incident (`mirr daily`): its seed, difficulty and story
        self.practice = practice  # the day's counted try was played already
        if daily is not None:
            seed, scenario, difficulty = daily.seed, None, daily.difficulty
        self.seed = seed
        self.scenario = scenario
        self.difficulty = difficulty
        self.replay_dir = replay_dir
        self.player_name = player_name
        self.env = IncidentEnv(config, difficulty=difficulty)
        self.recorder: ReplayRecorder | None = None
        self.saved: Path | None = None
        self.summary_shown = False
        self.summary: EpisodeSummary | None = None  # the end's summary, to reopen with `e`
        self.notice: str | None = None  # shown on the message line until the next move
        self.marks: dict[str, str] = {}  # the player's own suspicions: service -> "suspect" | "cleared"
        self._notebook: tuple[tuple[object, ...], list[tuple[str, str]]] | None = None
        self.command_error: str | None = None

    def compose_bar(self) -> ComposeResult:
        yield CommandInput(
            self.names,
            FAULT_MODES,
            placeholder="logs auth · diagnose payment bad_deploy · rollback payment · break payment · wait"
            "   (tab completes, esc closes)",
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
        details = {"daily": self.daily.key, **({"practice": True} if self.practice else {})} if self.daily else {}
        self.recorder = ReplayRecorder(player_kind="human", player_name=self.player_name, player_details=details)
        if self.fork is not None:
            replay, frame = self.fork
            self.env, seen = fork_replay(replay, frame, self.recorder, self.config)
            self.forked_at = frame
        else:
            obs = self.env.reset(seed=self.seed, options=self.options or None)
            self.recorder.start(self.env, obs)
            seen, self.forked_at = [obs], 0
        self.saved = None
        self.summary_shown = False
        self.summary = None
        self.marks = {}
        self.command_error = None
        # The last incident's toasts (posted, so cleared after them) do not follow the player into this one.
        self.app.call_later(self.app.clear_notifications)
        self.view = IncidentView.rebuild(self.names, seen)
        if self.fork is not None:
            self.notice = f"taken over from {self.fork[0].player_name}'s replay at step {self.forked_at}: your move"
        if self.daily is not None:  # the story sets the scene on the message line until the first move
            practice = " (practice: today's counted try is played)" if self.practice else ""
            self.notice = f"daily {self.daily.key}{practice} · {self.daily.story}"
        self.draw()

    @property
    def incident_seed(self) -> int | None:
        return self.seed

    @property
    def steps_played(self) -> int:
        return len(self.recorder.frames) - 1 if self.recorder else 0

    # -------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        done = self.view.done
        if action in ("act", "command", "diagnose") and done:
            return False  # the episode is over: off the footer (the action bar strikes them out)
        if action == "summary":
            return self.summary is not None
        if action == "diagnose" and self.view.obs is not None and not self.view.obs.can_diagnose:
            return None  # one diagnosis per page, before its first fix
        if action == "close_command":
            return self.query_one("#command", Input).has_class("-open")
        return super().check_action(action, parameters)

    def header_label(self) -> str:
        return f"daily {self.daily.key}" if self.daily is not None else self.label

    def bar_actions(self) -> list[tuple[str, str, bool]]:
        done = self.view.done
        can_diagnose = self.view.obs is not None and self.view.obs.can_diagnose
        return [
            ("l", "logs", not done),
            ("d", "diagnose", not done and can_diagnose),
            ("r", "restart", not done),
            ("b", "rollback", not done),
            ("s", "scale up", not done),
            ("c", "breaker", not done),
            ("w", "wait", not done),
        ]

    def message_content(self) -> tuple[str, bool]:
        if self.command_error:
            return self.command_error, True
        if self.notice and self.steps_played == self.forked_at:  # until the first move of ours
            return self.notice, False
        return super().message_content()

    def action_select(self, index: int) -> None:
        if 0 <= index < len(self.names):
            self.selected = index
            self.draw()

    def action_mark(self) -> None:
        """`m`: the selected service becomes suspect, then cleared, then unmarked (free: not a move)."""
        name = self.names[self.selected]
        mark = next_mark(self.marks.get(name))
        if mark is None:
            self.marks.pop(name, None)
        else:
            self.marks[name] = mark
        self.draw()

    def panel_mark(self, name: str) -> str | None:
        return self.marks.get(name)

    def side_content(self) -> tuple[str, list[SideLine]]:
        """The notebook: the diagnosis and fixes so far, then a line per service read or marked."""
        notes = self.view.notes()
        key = (id(self.view), len(self.view.entries), tuple(self.marks.items()))
        if self._notebook is None or self._notebook[0] != key:  # only when a log was read or a mark changed
            self._notebook = (key, notebook_lines(self.view.entries, self.names, self.marks))
        rows = self._notebook[1]
        lines: list[SideLine] = []
        for note in notes:
            if note.startswith("logs read:") and rows:
                lines.append("[b]logs (l) · marks (m)[/]")
                lines.extend((f"[b]{_esc(head)}[/]", _esc(text)) for head, text in rows)
            else:
                lines.append(_esc(note))
        return "notebook", lines

    @on(ServicePanel.Clicked)
    def _panel_clicked(self, event: ServicePanel.Clicked) -> None:
        self.action_select(self.names.index(event.service))

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

        self.app.push_screen(DiagnoseModal(self.config, self.selected), chosen)

    def action_command(self, key: str = ":") -> None:
        command = self.query_one("#command", Input)
        if command.has_class("-open"):  # already typing: `:` and `/` are just characters there
            command.insert_text_at_cursor(key)
            return
        command.disabled = False
        command.add_class("-open")
        self.set_focus(command)  # now, not after the keys already typed: they belong to the command line
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
            action = Action.parse(text)
        except InvalidAction as exc:  # a typo costs nothing; the env judges well-formed actions
            completed = complete_command(text, self.names, FAULT_MODES)
            try:
                action = Action.parse(completed)
            except InvalidAction:
                self.command_error = f"not an action (no step spent): {exc}"
                self.draw()
                return
            text = completed  # "diag auth bad" plays what the completion showed
        unknown = self._unknown_name(action)
        if unknown is not None:  # a typo in a name costs nothing either (the env would charge an invalid move)
            self.command_error = f"not an action (no step spent): {unknown}"
            self.draw()
            return
        closed = self.view.diagnose_closed_reason() if action.type == "diagnose" else None
        if closed is not None:  # a move the rules do not allow now: explained, like the struck-out key
            self.action_close_command()  # retyping will not help: the keys go back to the game (`?` is help)
            self.command_error = f"not possible now (no step spent): {closed}"
            self.notify(closed, title="diagnose is not possible now", severity="warning")
            self.draw()
            return
        self.action_close_command()
        self.take(text)

    def _unknown_name(self, action: Action) -> str | None:
        if action.service is not None and action.service not in self.names:
            return f"unknown service {action.service!r}: use one of {', '.join(self.names)}"
        return None

    def on_key(self, event: events.Key) -> None:
        """`d` while diagnose is closed: the key is struck out, and pressing it says why (free, no step)."""
        if event.key != "d" or self.query_one("#command", Input).has_class("-open") or self.view.done:
            return
        closed = self.view.diagnose_closed_reason()
        if closed is not None:
            event.stop()
            self.command_error = f"not possible now (no step spent): {closed}"
            self.draw()

    def take(self, action_input: Action | str) -> None:
        """Play one step through the env (which explains and scores invalid actions)."""
        if self.view.done or self.recorder is None:
            return
        self.command_error = None
        self.app.clear_notifications()  # a toast tells of the step before (a page, an invalid move): not this one
        before = self.view.obs
        obs = self.env.step(action_input)
        self.recorder.record(action_input, obs, self.env.state)
        self.view.apply(obs)
        self.draw()
        self.announce(before, obs)
        if not obs.valid:
            self.notify(obs.error or "invalid action", title="invalid action (-1)", severity="error")
        if obs.done:
            self.finish()

    def finish(self) -> None:
        self.app.clear_notifications()  # toasts of the episode (a page long ago) would cover the board under the summary
        # No toast over the log: the summary says where the replay went (and the terminal on exit).
        self.saved = self.save_replay(self.recorder, self.replay_dir, announce=False)
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
            summary = episode_summary(view, truth, comparisons, self.config.impact.currency)
            truths = [frame.truth for frame in getattr(episode, "frames", ())] or [truth]
            summary.post_mortem = build_post_mortem(self.config, view.observations, truths)
            self._add_player_notes(summary, episode, view)
            self.app.call_from_thread(self._open_summary, episode, summary)

    def _add_player_notes(self, summary: EpisodeSummary, episode: Any, view: IncidentView) -> None:
        """Habits (failure tags), personal bests and, for the daily incident, the share card (worker thread)."""
        summary.habits = tag_trajectory([o.to_dict() for o in view.observations], self.names).describe()
        try:
            board = build_scoreboard(self.replay_dir)
            earlier = [r for r in board.replays if r.path != self.saved]
            daily = self.daily.key if self.daily else None
            bests = personal_bests(
                earlier, self.player_name, summary.seed, self.env.state.difficulty, self.scenario, daily
            )
            summary.bests = best_text(bests, summary.score)
            fork = episode.forked_from if isinstance(episode, ReplayRecorder) else None
            if fork:  # played on from someone's frame (maybe after a look at the truth): not one of their tries
                taken = f"a take-over of {fork['file']} at step {fork['frame']}: on the board apart from your own tries"
                summary.bests = " · ".join(part for part in (taken, summary.bests) if part)
        except OSError:  # the replay folder went away: bests are a nicety
            summary.bests = ""
        if self.daily is not None and isinstance(episode, ReplayRecorder):
            summary.share_card = share_card(episode.finish())
            self.app.call_from_thread(self.app.copy_to_clipboard, summary.share_card)
            self.app.call_from_thread(self.app.note_exit, summary.share_card)

    def _open_summary(self, episode: object, summary: EpisodeSummary) -> None:
        if episode is not self.recorder or not self.is_attached:  # a new incident started meanwhile
            return

        self.summary = summary
        self.refresh_bindings()
        self.action_summary()

    def action_summary(self) -> None:
        """Open the end's summary (again: escape only closed it)."""
        if self.summary is None:
            return

        def closed(choice: str | None) -> None:
            if choice == "new":
                self.action_new_incident()
            elif choice == "quit":
                self.app.exit()

        note = f"replay saved to {self.saved}" if self.saved is not None else ""
        self.app.push_screen(SummaryModal(self.summary, self.player_name, note=note), closed)

    @property
    def mid_episode(self) -> bool:
        """At least one step of ours played and the episode not over: leaving now abandons it."""
        return self.steps_played > self.forked_at and not self.view.done

    def confirm_leaving(self, question: str, yes: str, then: Any) -> None:
        """Ask before abandoning an episode in progress (y does it; n or escape keeps playing)."""
        if not self.mid_episode:
            then()
            return
        detail = (
            f"Step {self.view.step} of {self.config.rules.max_steps}, not over yet: leaving now abandons this"
            " incident (its half-played replay is kept)."
        )
        self.app.push_screen(ConfirmModal(question, detail, yes), lambda sure: then() if sure else None)

    def action_new_incident(self) -> None:
        self.confirm_leaving("Start a new incident?", "new incident", self._new_incident)

    def _new_incident(self) -> None:
        self.save_unsaved()
        saved = self.saved
        self.daily = None  # the next incident is a random one, not the day's
        self.fork = None
        self.start_incident(None)
        self.notice = f"the last incident's replay is saved to {saved}" if saved is not None else None
        self.draw()

    def save_unsaved(self) -> None:
        if self.saved is None and self.steps_played > self.forked_at:  # a take-over with no move of ours: nothing
            self.saved = self.save_replay(self.recorder, self.replay_dir)

    def action_quit(self) -> None:
        self.confirm_leaving("Quit MIRR?", "quit", self.app.exit)
