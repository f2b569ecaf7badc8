"""The board of the incident screen: header, service panels, alert strip (the panes below are in panes.py).
Each renders the data it is given and never touches the env."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from rich.segment import Segment
from textual.content import Content
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from ..core import ServiceView
from ..core.config import AlertThresholds
from .model import (
    OUTCOME_TEXT,
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
    # The step budget bar outlasts the brand and the long impact (a player missed it from step 1 at 120 columns).
    HeaderForm(False, True, True, True, True, "  ", 0, 1, 0),
    HeaderForm(False, True, True, True, True, "  ", 0, 1, 1),
    HeaderForm(False, True, True, True, True, " ", 0, 1, 2),
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
