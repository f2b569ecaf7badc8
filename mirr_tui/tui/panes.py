"""The lower half of the incident screen: the log, the side pane, the message line and the action bar.
Each renders the data it is given and never touches the env (the board above is in widgets.py)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import Static

from .model import LogEntry
from .widgets import LEVEL_STYLE, _esc


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
