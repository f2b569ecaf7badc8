"""Widgets of the incident screen. Each renders the data it is given and never touches the env."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from ..core import ServiceView
from ..core.config import AlertThresholds
from .model import OUTCOME_TEXT, LogEntry, budget_bar, format_metric, metric_scale, sparkline

LABELS = {"error_rate": "err", "latency_ms": "p95", "cpu": "cpu", "memory": "mem", "rps": "rps"}
LEVEL_STYLE = {"ERROR": "$error", "FATAL": "b $error", "WARN": "$warning", "INFO": "", "DEBUG": "$text-muted"}


def _esc(text: str) -> str:
    return Content(text).markup  # escapes markup characters in player-visible text


class IncidentHeader(Widget):
    """Seed, difficulty, story, step and budget, score and committed diagnosis on one line."""

    DEFAULT_CSS = "IncidentHeader { height: 1; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields: dict[str, Any] = {}

    def show(
        self,
        *,
        label: str,
        seed: int,
        difficulty: str,
        scenario: str | None,
        step: int,
        max_steps: int,
        remaining: int,
        score: float,
        diagnosis: Mapping[str, str] | None,
        outcome: str | None,
        extra: str = "",
    ) -> None:
        self.fields = {
            "label": label,
            "seed": seed,
            "difficulty": difficulty,
            "scenario": scenario,
            "step": step,
            "max_steps": max_steps,
            "remaining": remaining,
            "score": score,
            "diagnosis": diagnosis,
            "outcome": outcome,
            "extra": extra,
        }
        self.refresh()

    def render(self) -> Content:
        f = self.fields
        if not f:
            return Content("MIRR")
        wide = self.size.width >= 110  # at 80 columns: no brand, no budget bar, short words
        incident = f"seed {f['seed']} · {f['difficulty']}" + (f" · {f['scenario']}" if f["scenario"] else "")
        diagnosis = f["diagnosis"]
        diag = f"{diagnosis['service']}/{diagnosis['mode']}" if diagnosis else "none"
        score = f["score"]
        score_style = "$success" if score > 0 else "$error" if score < 0 else ""
        step = f"step {f['step']}/{f['max_steps']}"
        parts = [
            f"[b $accent]MIRR[/] {_esc(f['label'])}" if wide else f"[b $accent]{_esc(f['label'])}[/]",
            _esc(incident),
            f"{step} {budget_bar(f['remaining'], f['max_steps'], 10)}" if wide else step,
            f"score [b {score_style}]{score:+.1f}[/]",
            f"diag: [b]{_esc(diag)}[/]" if wide else f"[b]{_esc(diag if diagnosis else 'undiagnosed')}[/]",
        ]
        if f["outcome"]:
            parts.append(f"[b reverse]{OUTCOME_TEXT.get(f['outcome'], f['outcome'])}[/]")
        if f["extra"]:
            parts.append(f["extra"])
        return Content.from_markup(("  " if wide else " ").join(parts))


class ServicePanel(Widget):
    """One service: health-check status, noisy metrics with sparklines, optional hidden truth."""

    DEFAULT_CSS = "ServicePanel { height: auto; }"

    def __init__(self, service: str, calls: Sequence[str], thresholds: AlertThresholds) -> None:
        super().__init__(id=f"panel-{service}", classes="panel")
        self.service = service
        self.calls = tuple(calls)
        self.thresholds = thresholds
        self.view: ServiceView | None = None
        self.history: Mapping[str, Sequence[float]] = {}
        self.truth: Mapping[str, Any] | None = None
        self.border_subtitle = f"calls {', '.join(self.calls)}" if self.calls else "calls nothing"

    def show(
        self,
        view: ServiceView | None,
        history: Mapping[str, Sequence[float]],
        *,
        selected: bool,
        index: int,
        truth: Mapping[str, Any] | None = None,
    ) -> None:
        self.view, self.history, self.truth = view, history, truth
        status = view.status if view else "ok"
        for name in ("ok", "degraded", "down"):
            self.set_class(status == name, f"-{name}")
        self.set_class(selected, "-selected")
        self.set_class(bool(truth and truth.get("root")), "-root")
        marker = "▸ " if selected else ""
        self.border_title = f"{marker}{index} {self.service} · {status}"
        if truth is not None:
            root = ""
            if truth.get("root"):
                root = " · ROOT CAUSE" if truth.get("faulty") else " · root, fixed"
            self.border_subtitle = f"true health {float(truth.get('health', 0.0)):.2f}{root}"
        else:
            self.border_subtitle = f"calls {', '.join(self.calls)}" if self.calls else "calls nothing"
        self.refresh()

    def _alerting(self, metric: str, value: float) -> bool:
        limit = getattr(self.thresholds, metric, None)
        return limit is not None and value > limit

    def _cell(self, metric: str, width: int) -> str:
        assert self.view is not None
        value = float(getattr(self.view, metric))
        text = f"{LABELS[metric]} {format_metric(metric, value)}"
        style = "b $error" if self._alerting(metric, value) else ""
        cell = f"[{style}]{_esc(text)}[/]" if style else _esc(text)
        spark_room = width - len(text) - 1
        values = list(self.history.get(metric, ()))
        if spark_room >= 3 and values:
            values = values[-spark_room:]
            low, high, log = metric_scale(metric, values)
            cell += f" [$accent]{sparkline(values, low, high, log)}[/]"
            text += " " + "x" * len(values)
        return cell + " " * max(0, width - len(text))

    def render(self) -> Content:
        if self.view is None:
            return Content("waiting for the first observation")
        width = max(20, self.size.width)
        half = (width - 1) // 2
        # Compact layouts clip this to the first two lines in CSS (the panel height), not here.
        lines = [
            self._cell("error_rate", half) + " " + self._cell("latency_ms", half),
            self._cell("cpu", half) + " " + self._cell("memory", half),
            self._cell("rps", half),
        ]
        return Content.from_markup("\n".join(lines))


class AlertStrip(Static):
    """The alerts raised from the noisy metrics this step."""

    shown: tuple[str, ...] | None = None

    def show(self, alerts: Sequence[str]) -> None:
        if tuple(alerts) == self.shown:
            return
        self.shown = tuple(alerts)
        if not alerts:
            self.update(Content.from_markup("[$success]alerts: none[/]"))
            return
        body = " · ".join(_esc(a) for a in alerts)
        self.update(Content.from_markup(f"[b $warning]alerts ({len(alerts)}):[/] {body}"))


class LogView(VerticalScroll, can_focus=False):
    """Every action result and every log line read, newest step first."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="log-body")

    shown: tuple[LogEntry, ...] | None = None

    def show(self, blocks: Sequence[Sequence[LogEntry]]) -> None:
        entries = tuple(entry for block in blocks for entry in block)
        if entries == self.shown:
            return
        self.shown = entries
        body = self.query_one("#log-body", Static)
        body.update(Content("\n").join(_entry_content(e) for e in entries) if entries else Content("(nothing yet)"))
        self.scroll_home(animate=False)


@lru_cache(maxsize=4096)
def _entry_content(entry: LogEntry) -> Content:
    """Entries never change once written, so each is parsed once."""
    return Content.from_markup(_entry_markup(entry))


def _entry_markup(entry: LogEntry) -> str:
    step = f"[$text-muted]{entry.step:02d}[/]"
    reward = ""
    if entry.reward:
        reward = f" [b {'$success' if entry.reward > 0 else '$error'}]{entry.reward:+g}[/]"
    if entry.kind == "page":
        return f"{step} [b $warning]⚑ {_esc(entry.text)}[/]"
    if entry.kind == "invalid":
        return f"{step} [b $error]✗ invalid: {_esc(entry.text)}[/]{reward}"
    if entry.kind == "action":
        return f"{step} [b $accent]▶[/] [b]{_esc(entry.text)}[/]{reward}"
    level = LEVEL_STYLE.get(entry.level, "")
    level_text = f"[{level}]{entry.level:<5}[/]" if level else f"{entry.level:<5}"
    return f"{step}   {_esc(entry.service or ''):<9}{level_text} {_esc(entry.text)}"


class SidePane(VerticalScroll, can_focus=False):
    """Notes (play), the agent's reasoning (watch) or the frame's reasoning and truth (replay)."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="side-body")

    shown: tuple[str, ...] | None = None

    def show(self, title: str, markup_lines: Sequence[str]) -> None:
        self.border_title = title
        if tuple(markup_lines) == self.shown:
            return
        self.shown = tuple(markup_lines)
        body = self.query_one("#side-body", Static)
        body.update(Content.from_markup("\n".join(markup_lines)) if markup_lines else Content(""))


class MessageLine(Static):
    """The result of the last action; errors in the error colour."""

    def show(self, text: str, error: bool = False) -> None:
        self.set_class(error, "-error")
        self.update(Content(text), layout=False)  # always one line


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
        self.service_names, self.selected, self.actions = tuple(service_names), selected, tuple(actions)
        self.text = None
        self.refresh()

    def show_text(self, text: Content) -> None:
        """Free content instead of the action list (the replay scrubber)."""
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
                        else f"[$text-muted]{n + 1}[/] {name}"
                        for n, name in enumerate(self.service_names)
                    )
                )
            else:
                parts.append(f"[b reverse $accent] ▸ {self.selected + 1} {self.service_names[self.selected]} [/]")
        keys = []
        for key, label, enabled in self.actions:
            if enabled:
                keys.append(f"[b $accent]{_esc(key)}[/] {_esc(label)}")
            else:
                keys.append(f"[$text-muted strike]{_esc(key)} {_esc(label)}[/]")
        parts.append(" · ".join(keys))
        return Content.from_markup("  ".join(parts))
