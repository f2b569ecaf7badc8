"""Widgets of the incident screen. Each renders the data it is given and never touches the env."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from rich.segment import Segment
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import Static

from ..core import ServiceView
from ..core.config import AlertThresholds
from .model import (
    OUTCOME_TEXT,
    LogEntry,
    budget_bar,
    format_count,
    format_metric,
    format_money,
    metric_scale,
    over_limit,
    sparkline,
)

LABELS = {"error_rate": "err", "latency_ms": "p95", "cpu": "cpu", "memory": "mem", "rps": "rps"}
LEVEL_STYLE = {"ERROR": "$error", "FATAL": "b $error", "WARN": "$warning", "INFO": "", "DEBUG": "$text-muted"}


# Spaces between columns are a run of their own (italic spaces look like any spaces): the text after them
# then starts its own run at its own column, where some SVG viewers would drop a run's leading spaces.
GAP = "i"


def _esc(text: str) -> str:
    return Content(text).markup  # escapes markup characters in player-visible text


class IncidentHeader(Widget):
    """Seed, difficulty, page, step and budget, score (settled or not), diagnosis and user impact on one line."""

    DEFAULT_CSS = "IncidentHeader { height: 1; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields: dict[str, Any] = {}

    def show(
        self,
        *,
        label: str,
        seed: int | None,
        difficulty: str,
        scenario: str | None,
        step: int,
        max_steps: int,
        remaining: int,
        score: float,
        settled: bool,
        page: int,
        diagnosis: Mapping[str, str] | None,
        impact: Mapping[str, float],
        currency: str,
        outcome: str | None,
        extra: str = "",
        extra_short: str = "",
    ) -> None:
        fields = {
            "label": label,
            "seed": seed,
            "difficulty": difficulty,
            "scenario": scenario,
            "step": step,
            "max_steps": max_steps,
            "remaining": remaining,
            "score": score,
            "settled": settled,
            "page": page,
            "diagnosis": dict(diagnosis) if diagnosis else None,
            "impact": dict(impact),
            "currency": currency,
            "outcome": outcome,
            "extra": extra,
            "extra_short": extra_short,
        }
        if fields != self.fields:
            self.fields = fields
            self.refresh()

    def render(self) -> Content:
        f = self.fields
        if not f:
            return Content("MIRR")
        room = self.content_region.width
        for level in range(len(HEADER_LEVELS)):
            content = self._header(level)
            if content.cell_length <= room:
                return content
        return content  # the most compact form, clipped with an ellipsis by CSS

    def _header(self, level: int) -> Content:
        """The header at one level of detail: 0 = everything, higher = shorter words, fewer extras."""
        form = HEADER_LEVELS[level]
        f = self.fields
        seed = "?" if f["seed"] is None else f["seed"]
        words = form.words
        incident = f"seed {seed}"
        if form.difficulty:
            incident += f" · {f['difficulty']}" if words else f" {f['difficulty']}"
        if form.scenario and f["scenario"]:
            incident += f" · {f['scenario']}"
        diagnosis = f["diagnosis"]
        diag = f"{diagnosis['service']}/{diagnosis['mode']}" if diagnosis else ("none" if words else "undiagnosed")
        step = f"{f['step']}/{f['max_steps']}" if form.terse >= 1 else f"step {f['step']}/{f['max_steps']}"
        parts = [
            f"[b $accent]MIRR [/]{_esc(f['label'])}" if form.brand else f"[b $accent]{_esc(f['label'])}[/]",
            _esc(incident),
        ]
        if f["page"] > 1:  # a second fault paged the player: its own diagnosis and fix
            parts.append(
                f"[b reverse $warning] PAGE {f['page']} [/]" if words else f"[b reverse $warning]p{f['page']}[/]"
            )
        parts += [
            f"{step} {budget_bar(f['remaining'], f['max_steps'], 10)}" if form.bar else step,
            _score_markup(f["score"], f["settled"], form.score),
            f"diag: [b]{_esc(diag)}[/]" if words else f"[b]{_esc(diag)}[/]",
            _impact_markup(f["impact"], f["currency"], form.impact),
        ]
        if f["outcome"]:
            parts.append(f"[b reverse]{OUTCOME_TEXT.get(f['outcome'], f['outcome'])}[/]")
        extra = f["extra_short"] if form.terse >= 3 and f["extra_short"] else f["extra"]
        if extra:
            parts.append(extra)
        return Content.from_markup(_join_markup([part for part in parts if part], form.separator))


def _score_markup(score: float, settled: bool, form: int) -> str:
    """The settled score at the end; before it, what was paid so far (invalid moves) and that it is not the score."""
    if settled:
        style = "$success" if score > 0 else "$error" if score < 0 else ""
        return f"[b {style}]{score:+.1f}[/]" if form >= 2 else f"score [b {style}]{score:+.1f}[/]"
    paid = f"[b $error]{score:+g}[/]" if score < 0 else f"[b]{score:+g}[/]"
    if form == 0:
        return f"score settles at the end [$text-muted](paid so far[/] {paid}[$text-muted])[/]"
    if form == 1:
        return f"paid {paid} [$text-muted](settles at end)[/]"
    return f"{paid} [$text-muted]so far[/]"


def _impact_markup(impact: Mapping[str, float], currency: str, form: int) -> str:
    """User impact (information, not reward): failed requests and their estimated cost."""
    if not impact:
        return ""
    failed = float(impact.get("failed_requests", 0))
    cost = format_money(float(impact.get("cost", 0.0)), currency)
    style = "$warning" if failed > 0 else "$text-muted"
    if form == 0:
        return f"[{style}]users: {format_count(failed)} failed · {_esc(cost)} lost[/]"
    if form == 1:
        return f"[{style}]{format_count(failed)} failed {_esc(cost)}[/]"
    if form == 2:
        return f"[{style}]{_esc(cost)} lost[/]"
    return f"[{style}]{_esc(cost)}[/]"


class HeaderForm(NamedTuple):
    """One level of detail of the header; the levels are tried in order until one fits the width."""

    brand: bool  # "MIRR play" rather than "play"
    bar: bool  # the step budget bar
    scenario: bool
    difficulty: bool
    words: bool  # "seed 3 · normal", "diag: x", "PAGE 2" rather than terser forms
    separator: str
    terse: int  # 1 = "3/30" for "step 3/30", 3 = the short extra (watch) too
    score: int  # 0, 1, 2: shorter ways to say what was paid so far (or the settled score)
    impact: int  # 0, 1, 2, 3: shorter ways to say the user impact


HEADER_LEVELS = (
    HeaderForm(True, True, True, True, True, "  ", 0, 0, 0),
    HeaderForm(True, True, True, True, True, "  ", 0, 1, 0),
    HeaderForm(False, False, True, True, True, "  ", 0, 1, 0),
    HeaderForm(False, False, True, True, True, "  ", 0, 1, 1),
    HeaderForm(False, False, True, True, False, " ", 0, 1, 1),
    HeaderForm(False, False, False, True, False, " ", 0, 2, 1),
    HeaderForm(False, False, False, True, False, " ", 1, 2, 2),
    HeaderForm(False, False, False, False, False, " ", 1, 2, 2),
    HeaderForm(False, False, False, False, False, " ", 2, 2, 3),
    HeaderForm(False, False, False, False, False, " ", 3, 2, 3),
)


def _join_markup(parts: Sequence[str], separator: str) -> str:
    """Join markup parts; a separator after a styled part goes inside its style (unless reversed), so no
    text run starts with a space (some SVG viewers drop leading spaces and glue the words together)."""
    out = []
    for n, part in enumerate(parts):
        if n < len(parts) - 1:
            opening = part[part.rfind("[", 0, len(part) - 3) :] if part.endswith("[/]") else ""
            if opening and "reverse" not in opening:
                part = part[:-3] + separator + "[/]"
            else:
                part += separator
        out.append(part)
    return "".join(out)


class ServicePanel(Widget):
    """One service: health-check status, noisy metrics with sparklines, stale scrape and open breaker badges,
    optional hidden truth."""

    DEFAULT_CSS = "ServicePanel { height: auto; }"

    class Clicked(Message):
        """A click on the panel (play selects its service)."""

        def __init__(self, service: str) -> None:
            super().__init__()
            self.service = service

    def on_click(self) -> None:
        self.post_message(self.Clicked(self.service))

    def __init__(self, service: str, calls: Sequence[str], thresholds: AlertThresholds) -> None:
        super().__init__(id=f"panel-{service}", classes="panel")
        self.service = service
        self.calls = tuple(calls)
        self.thresholds = thresholds
        self.view: ServiceView | None = None
        self.history: Mapping[str, Sequence[float]] = {}
        self.truth: Mapping[str, Any] | None = None
        self.border_subtitle = f"calls {', '.join(self.calls)}" if self.calls else "calls nothing"
        self._titles: tuple[str | None, str | None] = (None, self.border_subtitle)
        self._strips: list[Strip] | None = None  # the metric lines, made on the first render_line after show()
        self._rich_styles: dict[Any, Any] = {}  # style text -> rich style over the panel's own (None: that style)

    def show(
        self,
        view: ServiceView | None,
        history: Mapping[str, Sequence[float]],
        *,
        selected: bool,
        index: int,
        truth: Mapping[str, Any] | None = None,
        breaker: bool = False,
        mark: str | None = None,
    ) -> None:
        self.view, self.history, self.truth = view, history, truth
        status = view.status if view else "ok"
        stale = bool(view and view.stale)
        for name in ("ok", "degraded", "down"):
            self.set_class(status == name, f"-{name}")
        self.set_class(selected, "-selected")
        self.set_class(bool(truth and truth.get("root")), "-root")
        self.set_class(stale, "-stale")
        self.set_class(breaker, "-breaker")
        marker = "▸ " if selected else ""
        title = f"{marker}{index} {self.service} · {status}"
        if stale:
            title += " [reverse] stale [/]"  # the scrape failed: frozen last values (and its last health check)
        if breaker:
            title += " [b reverse] breaker open [/]"
        if mark is not None:  # the player's own note: suspect or cleared
            title += f" [b $warning]? {mark}[/]" if mark == "suspect" else f" [$success]✓ {mark}[/]"
        if truth is not None:
            root = ""
            if truth.get("root"):
                root = " · ROOT CAUSE" if truth.get("faulty") else " · root, fixed"
            subtitle = f"true health {float(truth.get('health', 0.0)):.2f}{root}"
        else:
            subtitle = f"calls {', '.join(self.calls)}" if self.calls else "calls nothing"
        # Setting a border title parses it as markup and repaints: only when it changes.
        if title != self._titles[0]:
            self.border_title = title
        if subtitle != self._titles[1]:
            self.border_subtitle = subtitle
        self._titles = (title, subtitle)
        # Only the metric lines: the border (re-rendered by the title setters or a state change) stays cached.
        self._strips = None
        self.refresh(Region(0, 0, *self.content_size))

    def _alerting(self, metric: str, value: float) -> bool:
        return over_limit(metric, value, self.thresholds)  # as shown: red exactly when the strip alerts

    def _cell(self, metric: str, width: int) -> list[str | tuple[str, str]]:
        """One metric as Content parts (assembled, not parsed: this runs for every panel on every step)."""
        assert self.view is not None
        value = float(getattr(self.view, metric))
        text = f"{LABELS[metric]} {format_metric(metric, value)}"
        stale = self.view.stale  # frozen values: dimmed, never alarming, their sparkline too
        style = "$text-muted" if stale else "b $error" if self._alerting(metric, value) else ""
        parts: list[str | tuple[str, str]] = [(text, style) if style else text]
        used = len(text)
        spark_room = width - len(text) - 1
        values = list(self.history.get(metric, ()))
        if spark_room >= 3 and values:
            values = values[-spark_room:]
            low, high, log = metric_scale(metric, values)
            parts += [" ", (sparkline(values, low, high, log), "$text-disabled" if stale else "$accent")]
            used += 1 + len(values)
        parts.append((" " * max(0, width - used), GAP))
        return parts

    def _rows(self) -> list[list[str | tuple[str, str]]]:
        """The metric lines as Content parts: err and p95, cpu and mem, rps."""
        width = max(20, self.size.width)
        half = (width - 1) // 2
        # Compact layouts clip this to the first two lines in CSS (the panel height), not here.
        return [
            [*self._cell("error_rate", half), (" ", GAP), *self._cell("latency_ms", half)],
            [*self._cell("cpu", half), (" ", GAP), *self._cell("memory", half)],
            self._cell("rps", half),
        ]

    def render(self) -> Content:
        if self.view is None:
            return Content("waiting for the first observation")
        return Content("\n").join(Content.assemble(*row) for row in self._rows())

    def render_line(self, y: int) -> Strip:
        """The lines of `render()`, made straight from their parts: the panels redraw on every step, and Content's
        wrapping and span division cost more than the five panels' own work (the same cells, one line each)."""
        if self.view is None:
            return super().render_line(y)
        if self._strips is None or self._rich_styles.get(None) != self.visual_style:  # new values, or a new style
            self._strips = self._line_strips()
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)

    def _line_strips(self) -> list[Strip]:
        base = self.visual_style
        styles = self._rich_styles
        if styles.get(None) != base:  # the panel's own style changed (state class, theme): parse again
            styles.clear()
            styles[None] = base
        width = self.size.width
        strips = []
        for row in self._rows():
            # As Content renders them: unstyled text runs together, each styled part is a run of its own.
            segments: list[Segment] = []
            plain = ""
            for part in row:
                if isinstance(part, str) or not part[1]:
                    plain += part if isinstance(part, str) else part[0]
                    continue
                if plain:
                    segments.append(Segment(plain, base.rich_style))
                    plain = ""
                text, style = part
                rich = styles.get(style)
                if rich is None:
                    rich = styles[style] = (base + self._get_style(style)).rich_style
                segments.append(Segment(text, rich))
            if plain:
                segments.append(Segment(plain, base.rich_style))
            strips.append(Strip(segments).crop(0, width))  # the styles cache pads it, as it pads Content
        return strips

    def on_resize(self) -> None:
        self._strips = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None


class AlertStrip(Static):
    """The alerts raised from the noisy metrics this step, on the lines the layout gives them (two, one when
    compact); a list that does not fit ends with `… +N more (a)`, and `a` opens the full list."""

    shown: tuple[tuple[str, ...], int, int] | None = None
    alerts: tuple[str, ...] = ()
    _lines = 0

    def show(self, alerts: Sequence[str]) -> None:
        self.alerts = tuple(alerts)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    @property
    def room(self) -> int:
        """How many lines the layout gives the strip (its max-height)."""
        height = self.styles.max_height
        return max(1, int(height.value)) if height is not None else 2

    def _draw(self) -> None:
        width = self.content_region.width
        key = (self.alerts, width, self.room)
        if key == self.shown:
            return
        self.shown = key
        content = fit_alerts(self.alerts, width, self.room) if width > 0 else Content("")
        # A new layout only when the strip needs another number of lines (one or two).
        lines = len(content.wrap(width)) if width > 0 else 0
        self.update(content, layout=lines != self._lines)
        self._lines = lines


def pack_alerts(alerts: Sequence[str], width: int, room: int) -> tuple[list[list[str]], int]:
    """Whole alerts packed into at most `room` lines of `width` (a line breaks between alerts, never inside
    one), the first after the `alerts (N): ` head; returns (lines, how many alerts were left out). When some
    are left out, the last line keeps room for `· … +K more (a)`."""
    head = len(f"alerts ({len(alerts)}): ")
    lines: list[list[str]] = [[]]
    used = head
    for alert in alerts:
        text = alert if len(alert) <= width - 1 else alert[: width - 2] + "…"
        extra = len(text) + (3 if lines[-1] else 0)
        if used + extra > width:
            if len(lines) == room:
                break
            lines.append([])
            used, extra = 0, len(text)
        lines[-1].append(text)
        used += extra
    shown = sum(len(line) for line in lines)
    if shown < len(alerts):
        while True:
            rest = len(alerts) - shown
            tag = len(f" · … +{rest} more (a)")
            last = lines[-1]
            length = (head if len(lines) == 1 else 0) + sum(len(t) for t in last) + 3 * max(0, len(last) - 1)
            if length + tag <= width or not last:
                break
            last.pop()
            shown -= 1
    return lines, len(alerts) - shown


def fit_alerts(alerts: Sequence[str], width: int, room: int) -> Content:
    """As many alerts as fit in `room` lines of `width`, whole; the rest counted after `…` (`a` lists all)."""
    if not alerts:
        return Content.from_markup("[$success]alerts: none[/]")
    lines, rest = pack_alerts(alerts, width, room)
    parts: list[str | tuple[str, str]] = [(f"alerts ({len(alerts)}): ", "b $warning")]
    for n, line in enumerate(lines):  # assembled, not parsed: this runs on most steps
        if n:
            parts.append("\n")
        parts.append(" · ".join(line))
    if rest:
        parts.append((f"{' · ' if lines[-1] else ''}… +{rest} more (a)", "b $warning"))
    return Content.assemble(*parts)


class LogView(ScrollView, can_focus=False):
    """Every action result and every log line read, newest step first.

    Draws only the visible lines (line API) from strips wrapped once per entry and width, so a step
    costs the new entries, not the whole log. Long lines wrap under the message column.
    """

    ALLOW_SELECT = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shown: tuple[LogEntry, ...] | None = None
        self._lines: list[Strip] = []
        self._wrapped: dict[LogEntry | None, list[Strip]] = {}
        self._wrap_width = 0

    @property
    def plain_lines(self) -> list[str]:
        """The wrapped lines as text (for tests)."""
        return [strip.text for strip in self._lines]

    def show(self, blocks: Sequence[Sequence[LogEntry]]) -> None:
        entries = tuple(entry for block in blocks for entry in block)
        if entries == self.shown:
            return
        self.shown = entries
        self._wrapped = {entry: self._wrapped[entry] for entry in entries if entry in self._wrapped}
        self._build()
        self.scroll_home(animate=False)

    def on_resize(self) -> None:
        self._build()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._wrapped.clear()  # the theme changed: colours are baked into the strips
        if self.is_mounted:
            self.call_later(self._build)

    def _build(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0:
            return
        if width != self._wrap_width:
            self._wrapped.clear()
            self._wrap_width = width
        lines: list[Strip] = []
        for entry in self.shown or (None,):
            lines.extend(self._entry_strips(entry, width))
        self._lines = lines
        size = Size(width, len(lines))
        if size != self.virtual_size:
            # The box keeps its size, so no screen layout: only the scrollbars follow (as Textual does in
            # `_size_updated(layout=False)`); the scrollbar appearing still asks for a layout by itself.
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)
        self.refresh(Region(0, 0, *self.content_size))  # the lines, not the border

    def _entry_strips(self, entry: LogEntry | None, width: int) -> list[Strip]:
        strips = self._wrapped.get(entry)
        if strips is None:
            prefix, body = entry_parts(entry) if entry is not None else (Content(""), Content("(nothing yet)"))
            indent = min(prefix.cell_length, width // 2)
            style = self.visual_style
            lead = Visual.to_strips(self, prefix, indent, 1, style, pad=True)[0] if indent else Strip([])
            blank = Strip.blank(indent, style.rich_style)
            body_strips = Visual.to_strips(self, body, width - indent, None, style, pad=True)
            body_strips = body_strips or [Strip.blank(width - indent, style.rich_style)]
            strips = [Strip.join([lead if n == 0 else blank, line]) for n, line in enumerate(body_strips)]
            self._wrapped[entry] = strips
        return strips

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        strip = self._lines[index]  # built at this width: no crop unless scrolled sideways
        if scroll_x or strip.cell_length != width:
            strip = strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)
        return strip


def entry_parts(entry: LogEntry) -> tuple[Content, Content]:
    """(prefix, message) of one log line; wrapped message lines are indented by the prefix's width."""
    prefix, body = _entry_markup(entry)
    return _markup(prefix), _markup(body)


@lru_cache(maxsize=4096)
def _markup(markup: str) -> Content:
    return Content.from_markup(markup)


def _entry_markup(entry: LogEntry) -> tuple[str, str]:
    step = f"[$text-muted]{entry.step:02d} [/]"
    reward = ""
    if entry.reward:
        reward = f" [b {'$success' if entry.reward > 0 else '$error'}]{entry.reward:+g}[/]"
    if entry.kind == "page":
        return f"{step}[b $warning]⚑[/] ", f"[b $warning]{_esc(entry.text)}[/]"
    if entry.kind == "settle":
        style = "$success" if entry.reward > 0 else "$error" if entry.reward < 0 else ""
        return f"{step}[b $accent]★[/] ", f"[b]{_esc(entry.text)} · total [/][b {style}]{entry.reward:+g}[/]"
    if entry.kind == "invalid":
        return f"{step}[b $error]✗[/] ", f"[b $error]invalid: {_esc(entry.text)}[/]{reward}"
    if entry.kind == "action":
        return f"{step}[b $accent]▶[/] ", f"[b]{_esc(entry.text)}[/]{reward}"
    level = LEVEL_STYLE.get(entry.level, "")
    # The space after the level is inside its style, so the message's run starts with its first letter.
    level_text = f"[{level}]{entry.level:<5} [/]" if level else f"{entry.level:<5} "
    # "·" keeps step and service apart in every renderer (some SVG viewers drop leading spaces).
    return f"[$text-muted]{entry.step:02d} · [/]{_esc(entry.service or ''):<9}{level_text}", _esc(entry.text)


SideLine = str | tuple[str, str]  # markup, or (prefix, body) markup: the body wraps under itself


class SidePane(VerticalScroll, can_focus=False):
    """Notes (play), the agent's reasoning (watch) or the frame's reasoning and truth (replay)."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="side-body")

    shown: tuple[SideLine, ...] | None = None
    _lines = -1
    _width = 0

    def show(self, title: str, lines: Sequence[SideLine]) -> None:
        if title != self.border_title:
            self.border_title = title
        if tuple(lines) == self.shown:
            return
        self.shown = tuple(lines)
        self._draw()

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._width:
            self._draw()

    def _draw(self) -> None:
        body = self.query_one("#side-body", Static)
        width = self.scrollable_content_region.width  # the body's width (100%), known before the body's own
        self._width = width
        rows: list[Content] = []
        for line in self.shown or ():
            if isinstance(line, str) or width <= 0:
                rows.append(Content.from_markup(line if isinstance(line, str) else "".join(line)))
                continue
            prefix, text = Content.from_markup(line[0]), Content.from_markup(line[1])
            indent = min(prefix.cell_length, width // 2)
            for n, part in enumerate(text.wrap(max(1, width - indent))):
                # The indent is a run of its own (styled, invisible) so SVG viewers keep its width.
                rows.append(Content.assemble(prefix if n == 0 else (" " * indent, "$text-muted"), part))
        content = Content("\n").join(rows)
        lines = len(content.wrap(width)) if width > 0 else -1
        body.update(content, layout=lines != self._lines or lines < 0)  # re-layout only for another height
        self._lines = lines


class MessageLine(Static):
    """The result of the last action; errors in the error colour. A long one wraps (up to three lines), so
    an explanation such as the list of actions is never cut."""

    _lines = 1
    _text = ""

    def show(self, text: str, error: bool = False) -> None:
        self.set_class(error, "-error")
        self._text = text
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        content = Content(self._text)
        width = self.content_region.width
        lines = min(3, len(content.wrap(width))) if width > 0 else 1
        self.update(content, layout=lines != self._lines)  # a new layout only for another height
        self._lines = lines


class ActionBar(Widget):
    """The selected service and the actions available now (struck through when not possible)."""

    DEFAULT_CSS = "ActionBar { height: 1; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_names: tuple[str, ...] = ()
        self.selected: int | None = None
        self.actions: tuple[tuple[str, str, bool], ...] = ()
        self.text: Content | None = None

    def show(
        self, service_names: Sequence[str], selected: int | None, actions: Sequence[tuple[str, str, bool]]
    ) -> None:
        shown = (tuple(service_names), selected, tuple(actions))
        if self.text is None and shown == (self.service_names, self.selected, self.actions):
            return
        self.service_names, self.selected, self.actions = shown
        self.text = None
        self.refresh()

    def show_text(self, text: Content) -> None:
        """Free content instead of the action list (the replay scrubber)."""
        if self.text is None or (text.plain, text.spans) != (self.text.plain, self.text.spans):
            self.text = text
            self.refresh()

    def render(self) -> Content:
        if self.text is not None:
            return self.text
        parts: list[str] = []
        if self.selected is not None and self.service_names:
            if self.size.width >= 110:  # room for every service as a numbered chip
                parts.append(
                    " ".join(
                        f"[b reverse $accent] {n + 1} {name} [/]"
                        if n == self.selected
                        else f"[$text-muted]{n + 1} [/]{name}"
                        for n, name in enumerate(self.service_names)
                    )
                )
            else:
                parts.append(f"[b reverse $accent] ▸ {self.selected + 1} {self.service_names[self.selected]} [/]")
        room = self.content_region.width
        # The first that fits: at 80 columns every action still shows (with shorter words if need be).
        for short, separator in ((False, " · "), (False, "  "), (False, " "), (True, " ")):
            keys = []
            for key, label, enabled in self.actions:
                label = SHORT_LABELS.get(label, label) if short else label
                if enabled:
                    keys.append(f"[b $accent]{_esc(key)} [/]{_esc(label)}")
                else:
                    keys.append(f"[$text-muted strike]{_esc(key)} {_esc(label)}[/]")
            content = Content.from_markup("  ".join([*parts, separator.join(keys)]))
            if content.cell_length <= room:
                break
        return content


SHORT_LABELS = {"diagnose": "diag", "scale up": "scale"}
