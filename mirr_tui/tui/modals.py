"""Modal screens: diagnose picker, end-of-episode summary, help, replay picker for one incident."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from ..core.config import EnvConfig, FaultModeSpec
from ..postmortem import PostMortem, quiet_text
from .model import OUTCOME_TEXT, ROW_LABELS, format_count, format_money
from .summary import EpisodeSummary, row_runs
from .widgets import _esc

SERVICE_KEYS = Binding.Group("service", compact=True)


def mode_prompt(name: str, spec: FaultModeSpec, width: int | None = None) -> Content:
    """`name  fix: X` over the mode's signature, indented by two, wrapped under itself at `width`."""
    head = Content.from_markup(f"[b]{_esc(name)}  [/][$text-muted]fix: {_esc(spec.fix)}[/]")
    signature = Content.from_markup(f"[$text-muted i]{_esc(spec.signature)}[/]")
    lines = signature.wrap(width - 2) if width and width > 12 else [signature]
    return Content("\n").join([head, *(Content.assemble(("  ", "$text-muted"), line) for line in lines)])


class DiagnoseModal(ModalScreen[tuple[str, str] | None]):
    """Pick the fault mode (each with its signature as a hint) for the selected service."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n + 1), f"select({n})", "service", group=SERVICE_KEYS, key_display=str(n + 1)) for n in range(5)),
        # Priority bindings act as each key arrives, in typing order: a key typed right after enter then
        # reaches the board instead of a dialog that is still closing.
        Binding("up", "move('up')", "mode", priority=True, show=False),
        Binding("down", "move('down')", "mode", priority=True, show=False),
        Binding("enter", "commit", "commit", priority=True),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, config: EnvConfig, selected: int) -> None:
        super().__init__()
        self.services = config.service_names
        self.selected = selected
        self.modes = dict(config.fault_modes)
        self.rewards = config.rewards

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(id="diagnose-title", classes="dialog-title")
            options = [Option(mode_prompt(name, spec), id=name) for name, spec in self.modes.items()]
            yield OptionList(*options, id="modes")
            # The signatures are what a loud root shows; a quiet one hides them on its own panel.
            yield Static(
                Content.from_markup("[$text-muted]the logs decide: a quiet root's panel can look calm or just stale[/]")
            )
            yield Static(
                Content.from_markup(
                    "[$text-muted]enter commits (once per page, before any fix; judged at the end:"
                    f" right {signed(self.rewards.correct_diagnosis)}, wrong {signed(self.rewards.wrong_diagnosis)})"
                    " · 1-5 change service · esc cancels[/]"
                )
            )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._draw_title()
        self.query_one(OptionList).focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self._wrap_signatures)  # once the list has its width

    def _wrap_signatures(self) -> None:
        """Each signature wraps under itself (two columns in), at the list's width."""
        modes = self.query_one("#modes", OptionList)
        width = modes.scrollable_content_region.width - 1  # the option's own padding
        for name, spec in self.modes.items():
            modes.replace_option_prompt(name, mode_prompt(name, spec, width))

    def _draw_title(self) -> None:
        self.query_one("#diagnose-title", Static).update(
            Content.from_markup(f"Diagnose [b $accent]{_esc(self.services[self.selected])}[/]: which fault mode?")
        )

    def action_select(self, index: int) -> None:
        if 0 <= index < len(self.services):
            self.selected = index
            self._draw_title()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_move(self, direction: str) -> None:
        modes = self.query_one("#modes", OptionList)
        modes.action_cursor_up() if direction == "up" else modes.action_cursor_down()

    def action_commit(self) -> None:
        modes = self.query_one("#modes", OptionList)
        if modes.highlighted is not None:
            self.dismiss((self.services[self.selected], str(modes.get_option_at_index(modes.highlighted).id)))

    @on(OptionList.OptionSelected, "#modes")
    def _chosen(self, event: OptionList.OptionSelected) -> None:  # a mouse click
        self.dismiss((self.services[self.selected], str(event.option.id)))


def _indent(width: int) -> str:
    """Leading spaces as a run of their own (italic spaces look like any spaces), so the text after them
    starts its own run at its own column in SVG screenshots."""
    return f"[i]{' ' * width}[/]"


def _right(markup: str, value: str, width: int) -> str:
    """`markup` padded so that `value`, written right after it, ends at column `width` (the padding trails
    the label's run instead of leading the value's)."""
    shown = Content.from_markup(markup).cell_length
    return markup + " " * max(1, width - shown - len(value))


EVIDENCE_LABELS = {"metric": "metric", "alert": "alert", "caller": "caller", "log": "its log", "pointer": "pointer"}


def post_mortem_markup(pm: PostMortem) -> list[str]:
    """The post-mortem section of the summary: per fault, what it was and when it showed, the right fix,
    every wrong-fix row with its step and why it did not help, then the lessons."""
    lines = ["[b]post-mortem[/] [$text-muted](what it was, when it showed, what would have fixed it)[/]"]
    for fault in pm.faults:
        lines.append(f"{_indent(2)}[b]{_esc(fault.verdict())}[/]")
        evidence = [
            e
            for e in (
                fault.first_metric,
                fault.first_alert,
                fault.first_caller_alert,
                fault.first_pointer,
                fault.first_log,
            )
            if e
        ]
        for item in sorted(evidence, key=lambda e: e.step):
            label = f"{EVIDENCE_LABELS[item.kind]:<9}"
            lines.append(f"{_indent(4)}[$text-muted]{f'step {item.step}':<11}{label} [/]{_esc(item.text)}")
        if fault.first_log is None:
            read = (
                f"read at step {'/'.join(map(str, fault.logs_read_at))}: no signature line yet"
                if fault.logs_read_at
                else "never read"
            )
            lines.append(f"{_indent(4)}[$text-muted]{'':<11}{'its log':<9} [/][$warning]{_esc(read)}[/]")
        for run in fault.wrong_runs():
            times = f" x{run.count}" if run.count > 1 else ""
            effect = f" [$error]({_esc(run.effect)})[/]" if run.effect else ""
            lines.append(
                f"{_indent(4)}[$text-muted]{run.steps:<11}[/][b]{_esc(run.move)}{times}[/] [$error]{run.value:+.1f}[/]"
                f" [$text-muted]wrong fix:[/] {_esc(run.why)}{effect}"
            )
    lessons = pm.lessons()
    if lessons:
        lines.append(f"{_indent(2)}[b]lessons[/]")
        lines.extend(f"{_indent(4)}· {_esc(lesson)}" for lesson in lessons)
    return lines


def hanging(lines: Sequence[str], width: int) -> Content:
    """Markup lines as one Content; at a known `width` each long line wraps under its own text (its leading
    indent plus two), not at column 0."""
    rows: list[Content] = []
    for markup in lines:
        line = Content.from_markup(markup)
        plain = line.plain
        indent = len(plain) - len(plain.lstrip(" "))
        if width <= 0 or line.cell_length <= width:
            rows.append(line)
            continue
        hang = min(indent + 2, width // 2)
        first = line.wrap(width)[0]
        rows.append(first)
        cut = len(first.plain.rstrip())
        rest = line[cut:]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip(" ")) :]  # the words after the first line
        for part in rest.wrap(width - hang):
            rows.append(Content.assemble((" " * hang, "i"), part))
    return Content("\n").join(rows)


class SummaryModal(ModalScreen[str | None]):
    """The end of an episode: outcome, score by reward row, the truth, a timeline, other agents' scores."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "choose('new')", "new incident"),
        Binding("escape", "choose(None)", "look at the board"),
        Binding("q", "choose('quit')", "quit"),
    ]

    def __init__(self, summary: EpisodeSummary, player: str, allow_new: bool = True, note: str = "") -> None:
        super().__init__()
        self.summary = summary
        self.player = player
        self.allow_new = allow_new
        self.note = note
        self._width = 0  # the body's width once known: long lines then wrap under their own indent

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="dialog -summary"):
            yield Static(self._title(), classes="dialog-title")
            yield Static(self._body(), id="summary-body")
        yield Footer(compact=True, show_command_palette=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        wants_new = action == "choose" and bool(parameters) and parameters[0] == "new"
        return not (wants_new and not self.allow_new)

    def _title(self) -> Content:
        s = self.summary
        style = "$success" if s.outcome == "recovered" else "$error"
        return Content.from_markup(
            f"[b {style}]{OUTCOME_TEXT.get(s.outcome, str(s.outcome))} [/]· {_esc(self.player)} scored "
            f"[b]{s.score:+.1f} [/]on seed {s.seed}"
        )

    def _body(self) -> Content:
        # No text run may start with a space (some SVG viewers drop leading spaces and shift the text):
        # indents are runs of their own (`_indent`), padding goes at the end of the run before.
        s = self.summary
        lines: list[str] = []
        teach_first = s.post_mortem is not None and s.outcome != "recovered"  # a loss: what went wrong first
        if teach_first:
            lines.extend([*post_mortem_markup(s.post_mortem), ""])
        lines.append("[b]score, settled at the end[/] [$text-muted](each row with the step it belongs to)[/]")
        for row, value, first, last, count in row_runs(s.rows):
            style = "$success" if value > 0 else "$error" if value < 0 else "$text-muted"
            at = f"step {first:>2}" if first is not None else "       "
            if count > 1:
                at = f"steps {first}-{last}"
            label = ROW_LABELS.get(row, row) + (f" x{count}" if count > 1 else "")
            lines.append(
                f"{_indent(2)}[$text-muted]{at:<7}  [/]{_right(_esc(label), f'{value:+.1f}', 32)}"
                f"[{style}]{value:+.1f}[/]"
            )
        if not s.rows:
            lines.append(f"{_indent(2)}(no rewards paid)")
        lines.append(f"{_indent(11)}{_right('total', f'{s.score:+.1f}', 32)}[b]{s.score:+.1f}[/]")
        if s.impact:
            failed = format_count(float(s.impact.get("failed_requests", 0)))
            cost = format_money(float(s.impact.get("cost", 0.0)), s.currency)
            lines.append(
                f"[b]user impact [/]{failed} failed requests · about {_esc(cost)} lost "
                "[$text-muted](information, not score)[/]"
            )
        lines.append("")
        whose = "your" if self.allow_new else "its"  # a person plays; an agent is watched
        several = len(s.started) > 1
        for n, fault in enumerate(s.faults):
            label = f"incident {n + 1}" if len(s.faults) > 1 else "root cause"
            # masked: its metrics looked like another mode; silent: it looked healthier than its victims
            notes = [
                t for t, on in (("masked metrics", fault.masked), (quiet_text(fault.mode, True), fault.silent)) if on
            ]
            if fault.phase == "pending":
                notes.append("was waiting: it never started")
            elif several:
                notes.append(f"paged at step {fault.started_at}")
            notes_text = f" [$text-muted]({', '.join(notes)})[/]" if notes else ""
            lines.append(f"[b]{label:<11}[/]{_esc(fault.cause)}{notes_text}")
            if fault.phase == "pending":
                continue
            if fault.diagnosis is None:
                verdict = "not diagnosed"
            else:
                d = fault.diagnosis
                mark = "[b $success]right[/]" if fault.diagnosis_correct else "[b $error]wrong[/]"
                at = f" at step {fault.diagnosis_step}" if fault.diagnosis_step is not None else ""
                verdict = f"{whose} diagnosis {_esc(d['service'])}/{_esc(d['mode'])}{at} ({mark})"
            fixed = f"fixed at step {fault.fix_step}" if fault.fix_step is not None else "[$error]never fixed[/]"
            lines.append(f"{_indent(11)}{verdict} · {fixed}")
        lines.append(f"[b]timeline   [/]{_esc(s.timeline())}")
        if s.habits:
            lines.append(f"[b]habits     [/][$warning]{_esc(' · '.join(s.habits))}[/]")
        if s.bests:
            lines.append(f"[b]bests      [/]{_esc(s.bests)}")
        if s.share_card:
            lines.append("")
            lines.append("[b]share[/] [$text-muted](copied to the clipboard where the terminal allows)[/]")
            lines.extend(f"{_indent(2)}{_esc(line)}" for line in s.share_card.splitlines())
        if s.post_mortem is not None and not teach_first:
            lines.append("")
            lines.extend(post_mortem_markup(s.post_mortem))
        if s.comparisons:
            lines.append("")
            lines.append("[b]same incident, other players[/]")
            players = [(name, score, outcome) for name, (score, outcome) in s.comparisons.items()]
            players = [p for p in players if p[0] != self.player] + [(self.player, s.score, s.outcome)]
            for name, score, outcome in players:
                outcome_text = _esc(OUTCOME_TEXT.get(outcome, str(outcome))).lower()
                lines.append(f"{_indent(2)}{_right(_esc(name), f'{score:+.1f}', 18)}{score:+.1f}  {outcome_text}")
        if self.note:
            lines.append("")
            lines.append(f"[$text-muted]{_esc(self.note)}[/]")
        return hanging(lines, self._width)

    def on_resize(self) -> None:
        if not self.query("#summary-body"):  # a resize can arrive before the body is composed
            return
        body = self.query_one("#summary-body", Static)
        width = body.content_region.width or self.query_one("#dialog").scrollable_content_region.width
        if width != self._width and width > 20:
            self._width = width
            body.update(self._body())

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question before something that ends an episode in progress (quit, a new incident)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no", key_display="n/esc"),
    ]

    def __init__(self, question: str, detail: str, yes: str, no: str = "keep playing") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog -confirm"):
            yield Static(Content.from_markup(f"[b]{_esc(self.question)}[/]"), classes="dialog-title")
            yield Static(Content(self.detail), id="confirm-detail")
            yield Static(
                Content.from_markup(
                    f"[b $accent]y[/] {_esc(self.yes)} · [b $accent]n[/] or [b $accent]esc[/] {_esc(self.no)}"
                )
            )
        yield Footer(compact=True, show_command_palette=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


# Paragraphs are single lines (the dialog wraps them at any width); list items stay short (< 70 columns).
# How each mode's fix behaves beyond the fix itself (the fix comes from openenv.yaml).
FIX_NOTES = {"memory_leak": "it relapses once: restart again", "bad_deploy": "a restart makes it worse"}


def signed(value: float) -> str:
    """A reward as the help and the diagnose dialog print it: +8, -4, +0.5."""
    return f"{value:+g}"


def help_text(config: EnvConfig) -> str:
    """The game's rules and keys (markup), every number read from the manifest."""
    rules, rewards = config.rules, config.rewards
    noises = sorted(round(d.noise * 100) for d in config.difficulties.values())
    noise = f"±{noises[0]}%" if noises[0] == noises[-1] else f"±{noises[0]}-{noises[-1]}% by difficulty"
    fixes = "\n".join(
        f"  {name} → {spec.fix.replace('_', ' ')}" + (f" ({FIX_NOTES[name]})" if name in FIX_NOTES else "")
        for name, spec in config.fault_modes.items()
    )
    return HELP_TEMPLATE.format(
        services=len(config.services),
        max_steps=rules.max_steps,
        noise=noise,
        cascade_start=rules.cascade_start,
        confirm_steps=rules.confirm_steps,
        fixes=fixes,
        right=signed(rewards.correct_diagnosis),
        wrong=signed(rewards.wrong_diagnosis),
        fix=signed(rewards.correct_fix),
        lucky=signed(rewards.lucky_fix),
        wrong_fix=signed(rewards.wrong_fix),
        invalid=signed(rewards.invalid),
        collapse=signed(rewards.collapse),
        timeout=signed(rewards.timeout),
        recovery=signed(rewards.recovery_diagnosed),
        undiagnosed=signed(rewards.recovery_undiagnosed),
        per_step=signed(rewards.efficiency_per_step),
    )


HELP_TEMPLATE = """\
[b]MIRR in brief[/]
{services} services, a hidden fault, {max_steps} steps. Every action costs one step. \
Metrics are noisy ({noise}), health checks can lie (a bad deploy answers ok), a metrics scrape can fail \
(the panel says [reverse] stale [/] and shows frozen last values), and a sick service hurts its callers one hop \
per step: the worst-looking service is often a victim, and the root can look healthier than its victims. \
A bystander can carry a harmless anomaly (a batch-job cpu spike, a steady high heap, canary errors, a flapping \
replica whose scrape goes stale) with real-looking signature lines, so a stale panel is not always the root. \
From step {cascade_start} an untreated fault cascades; total failure ends the episode. \
At hard a second fault can follow a few steps after the first is fixed: you are [b]paged again[/] \
(the header says PAGE 2) and it has its own diagnosis and fix.

[b]How to win [/]read logs (they name the upstream a victim waits on, and the root cause's signature): \
follow who blames whom from the gateway down, and trust a signature only where a victim blames that service \
(the gateway has no callers: read it first), \
[b]diagnose [/]once per page [b]before any fix[/] (service + mode; after the first fix it is no longer \
possible), apply the mode's fix, then [b]wait [/]until all five services stay healthy for {confirm_steps} steps. \
A [b]circuit breaker[/] (c) in front of a sick service stops the retry storm while you think; it fixes \
nothing, and recovery needs every breaker closed again (c again, or a fix of that service).

[b]Fixes[/]
{fixes}

[b]Rewards[/] diagnoses and fixes are judged against the hidden truth [b]at the end[/]: \
during the episode the header shows only what was paid so far (invalid actions).
  diagnosis {right} / {wrong} · right fix {fix} ({lucky} without a right diagnosis)
  wrong fix {wrong_fix} · invalid action {invalid} · collapse {collapse} · timeout {timeout}
  recovery {recovery} with every diagnosis right ({undiagnosed} otherwise), {per_step} per unused step
  user impact (failed requests, lost revenue) is information, not score

[b]Keys[/]
  1-5, ←/→ or a click pick a service · m mark it suspect/cleared
  l logs · d diagnose · r restart · b rollback · s scale up
  c breaker · w wait · n new · q quit (mid-episode: asks first)
  : or / type a command (tab completes, → takes the suggestion)
  a every alert · PgUp/PgDn scroll the log · e the end summary
  v (under 110 columns) the side pane in the log's place, and back
  watch: space pause · . one step · +/- speed · c cancel the reply
  replay: ←/→ step · home/end · space play · t truth · p fork
"""


class AlertsModal(ModalScreen[None]):
    """Every alert of the step on screen (the strip shows what fits)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,a,q", "close", "close", key_display="esc")]

    def __init__(self, alerts: Sequence[str]) -> None:
        super().__init__()
        self.alerts = tuple(alerts)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="dialog -alerts"):
            yield Static(f"alerts ({len(self.alerts)})", classes="dialog-title")
            yield Static(Content("\n".join(self.alerts) or "none"), id="alerts-list")
        yield Footer(compact=True, show_command_palette=False)

    def action_close(self) -> None:
        self.dismiss(None)


class HelpModal(ModalScreen[None]):
    """The game's rules and keys, or another screen's own help text (markup)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark", "close", "close", key_display="esc")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="dialog -help"):
            yield Static(Content.from_markup(self.text))
        yield Footer(compact=True, show_command_palette=False)

    def action_close(self) -> None:
        self.dismiss(None)


class PickReplayModal(ModalScreen[Path | None]):
    """Choose whose replay of one incident to open (head-to-head rows)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, choices: Sequence[tuple[str, Path | None]]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = [(label, path) for label, path in choices if path is not None]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(
                *(Option(Text(label), id=str(n)) for n, (label, _) in enumerate(self.choices)), id="choices"
            )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected, "#choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(str(event.option.id))][1])
