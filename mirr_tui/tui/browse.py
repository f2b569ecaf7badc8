"""Screens that browse saved replays: the scoreboard, the replay picker and a plain message screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Footer, Static

from ..core import EnvConfig
from ..replay import ReplayError, load_replay, player_label
from ..scores import PLAYER_COLUMNS, TAG_COLUMNS, Scoreboard, build_scoreboard, player_cells, tag_cells
from .incident import MirrScreen
from .modals import HelpModal, PickReplayModal
from .model import OUTCOME_TEXT
from .replay_screen import ReplayScreen
from .widgets import _esc


def sort_key(value: Any) -> tuple[int, float | str]:
    """Numbers (`+12.5`, `67%`) sort as numbers, everything else as lower-case text after them."""
    text = str(value.plain if hasattr(value, "plain") else value).strip()
    try:
        return (0, float(text.split()[0].rstrip("%")))
    except (ValueError, IndexError):
        return (1, text.lower())


class SortableTable(DataTable):
    """A DataTable that sorts by a clicked header (again: reverse) or by the cursor's column with `s`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "open replay"),
        Binding("s", "sort_column", "sort"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.sorted_by: tuple[str, bool] | None = None

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = self.sorted_by is not None and self.sorted_by == (column, False)
        self.sort(column, key=sort_key, reverse=reverse)
        self.sorted_by = (column, reverse)
        self.mark_sorted()

    def mark_sorted(self) -> None:
        """The sorted column's header ends with ▲ (ascending) or ▼ (descending); the others are plain."""
        for key, column in self.columns.items():
            label = column.label.plain.rstrip(" ▲▼")
            if self.sorted_by is not None and str(key.value) == self.sorted_by[0]:
                label += " ▼" if self.sorted_by[1] else " ▲"
            column.label = Text(label)
            column.content_width = max(column.content_width, column.label.cell_len)
        self._clear_caches()  # the header row is cached with the old labels
        self.refresh()

    def action_sort_column(self) -> None:
        if not self.columns:
            return
        column = list(self.columns)[self.cursor_column if self.cursor_type == "cell" else self._sort_index()]
        self.sort_by(str(column.value))

    def _sort_index(self) -> int:
        # row cursor: `s` cycles through the columns, one per press
        keys = [str(key.value) for key in self.columns]
        if self.sorted_by is None or self.sorted_by[0] not in keys:
            return 0
        index = keys.index(self.sorted_by[0])
        return index if not self.sorted_by[1] else (index + 1) % len(keys)

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))


class BoardScreen(MirrScreen):
    """A screen of tables read from the replay folder: loads on mount, `r` reloads, Enter opens a replay."""

    #: the table that has focus when the screen opens
    first_table = ""

    def __init__(self, config: EnvConfig, replay_dir: Path) -> None:
        super().__init__()
        self.config = config
        self.replay_dir = replay_dir

    def on_mount(self) -> None:
        self.load()
        self.query_one(f"#{self.first_table}", SortableTable).focus()

    def action_reload(self) -> None:
        self.load()

    def load(self) -> None:  # pragma: no cover - each board fills its own tables
        raise NotImplementedError


class ScoresScreen(BoardScreen):
    """Scoreboard and head-to-head per seed; Enter opens a replay."""

    first_table = "players"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "app.focus_next", "switch table", show=True),
        Binding("r", "reload", "reload"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, config: EnvConfig, replay_dir: Path) -> None:
        super().__init__(config, replay_dir)
        self.board: Scoreboard | None = None
        self.row_paths: dict[str, Path | None] = {}
        self.h2h_choices: dict[str, list[tuple[str, Path | None]]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="board"):
            yield Static(id="scores-title", classes="screen-title")
            yield Static("players (enter opens the player's best replay)", classes="table-title")
            yield SortableTable(id="players")
            yield Static("head to head: the same incident (enter picks whose replay to open)", classes="table-title")
            yield SortableTable(id="h2h")
            yield Static("how they fail: the share of finished episodes with each habit", classes="table-title")
            yield SortableTable(id="habits")
            yield Static(id="skipped")
        yield from self.compose_too_small()
        yield Footer(compact=True, show_command_palette=False)

    def load(self) -> None:
        self.board = board = build_scoreboard(self.replay_dir)
        title = f"[b $accent]MIRR scores [/]· {_esc(str(self.replay_dir))} · {len(board.replays)} verified replays"
        self.query_one("#scores-title", Static).update(Content.from_markup(title))
        players = self.query_one("#players", SortableTable)
        players.clear(columns=True)
        for label in PLAYER_COLUMNS:
            players.add_column(label, key=label.split()[0])
        self.row_paths = {}
        for n, p in enumerate(board.players):
            key = f"p{n}"
            self.row_paths[key] = p.best_replay
            players.add_row(*map(Text, player_cells(p)), key=key)
        h2h = self.query_one("#h2h", SortableTable)
        h2h.clear(columns=True)
        names = board.rival_names
        h2h.add_column("seed", key="seed")
        h2h.add_column("incident", key="incident")
        for name in names:
            h2h.add_column(Text(name), key=f"player:{name}")
        self.h2h_choices = {}
        for n, h in enumerate(board.head_to_head):
            key = f"h{n}"
            h2h.add_row(str(h.seed), Text(h.incident), *(Text(h.cell(name)) for name in names), key=key)
            self.h2h_choices[key] = [
                (f"{name}: {h.cell(name)}", path)
                for name, (_, _, path) in sorted(h.results.items(), key=lambda item: -item[1][0])
            ]
        habits = self.query_one("#habits", SortableTable)
        habits.clear(columns=True)
        for n, label in enumerate(TAG_COLUMNS):
            habits.add_column(label, key=f"tag{n}")
        for n, p in enumerate(board.players):
            habits.add_row(*map(Text, tag_cells(p)), key=f"p{n}")  # the same keys: enter opens the best replay
        skipped = self.query_one("#skipped", Static)
        notes = []
        if not board.players:
            notes.append(f"no replays in {self.replay_dir} yet: play one with `mirr play` or `mirr watch`")
        elif not board.head_to_head:
            notes.append("no incident has been played by two players yet: play the seed an agent played")
        notes.extend(f"skipped {path.name}: {reason}" for path, reason in board.skipped)
        notes.extend(f"not counted {path.name} (does not re-simulate): {why}" for path, why in board.unverified)
        skipped.update(Content("\n".join(notes)))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._open_row(event.data_table, str(event.row_key.value))

    def _open_row(self, table: DataTable, key: str) -> None:
        if table.id in ("players", "habits"):
            self.open_replay(self.row_paths.get(key))
            return
        choices = self.h2h_choices.get(key, [])

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.open_replay(path)

        self.app.push_screen(PickReplayModal("whose replay of this incident?", choices), chosen)

    def open_replay(self, path: Path | None) -> None:
        if path is None:
            self.notify("no replay file for this row", severity="warning")
            return
        try:
            replay = load_replay(path)
        except ReplayError as exc:
            self.notify(str(exc), title="cannot open replay", severity="error", timeout=10)
            return
        self.app.push_screen(ReplayScreen(self.config, replay))

    def action_quit(self) -> None:
        self.app.exit()


FILE_WIDTH = 30  # the file column comes last and long names are cut in the middle: score and steps stay on screen


def short_name(name: str, width: int = FILE_WIDTH) -> str:
    """`curated-reasoner-che…-recovered.json`: a long file name cut in the middle."""
    if len(name) <= width:
        return name
    keep = width - 1
    return name[: keep - keep // 2] + "…" + name[len(name) - keep // 2 :]


PICKER_HELP = """\
[b]MIRR replays[/]
Every saved replay in the folder, newest played first (by the time each episode started).

[b]Keys[/]
  ↑/↓ pick a replay · enter opens it (then ←/→ step, t truth, esc back here)
  s sorts by the next column (again: reverse); a click on a header sorts by it
  the sorted column's header shows ▲ (ascending) or ▼ (descending)
  r reloads the folder · ? this help · q quit
"""


class ReplayPickerScreen(BoardScreen):
    """`mirr replay` without a file: the saved replays, newest played first; Enter opens one."""

    first_table = "replays"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "reload"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def action_help(self) -> None:
        self.app.push_screen(HelpModal(PICKER_HELP))

    def __init__(self, config: EnvConfig, replay_dir: Path) -> None:
        super().__init__(config, replay_dir)
        self.paths: dict[str, Path] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="board"):
            yield Static(
                Content.from_markup(
                    f"[b $accent]MIRR replays [/]in {_esc(str(self.replay_dir))} (newest played first · s sorts)"
                ),
                classes="screen-title",
            )
            yield SortableTable(id="replays")
            yield Static(id="skipped")
        yield from self.compose_too_small()
        yield Footer(compact=True, show_command_palette=False)

    def load(self) -> None:
        table = self.query_one("#replays", SortableTable)
        table.clear(columns=True)
        # What a row is about first: at 80 columns the seed (19 digits for a daily) and the incident may scroll.
        for key in ("played", "player", "outcome", "score", "steps", "seed", "incident", "file"):
            table.add_column(key, key=key)
        table.sorted_by = None
        self.paths = {}
        files = sorted(self.replay_dir.glob("*.json")) if self.replay_dir.is_dir() else []
        problems = []
        loaded = []
        for path in files:
            try:
                loaded.append((load_replay(path), path))
            except ReplayError as exc:
                problems.append(f"unreadable {path.name}: {str(exc).removeprefix(str(path)).lstrip(': ')}")
        loaded.sort(key=lambda item: (item[0].started_at, item[1].name), reverse=True)  # newest played first
        for replay, path in loaded:
            s = replay.summary
            self.paths[path.name] = path
            incident = replay.difficulty + (f" · {replay.scenario}" if replay.scenario else "")
            outcome = "abandoned" if replay.abandoned else OUTCOME_TEXT.get(s.get("outcome"), "aborted").lower()
            table.add_row(
                Text(replay.started_at[:16].replace("T", " ")),
                Text(player_label(replay)),
                outcome,
                f"{float(s.get('score', 0.0)):+.1f}",
                str(s.get("steps", len(replay.frames) - 1)),
                str(replay.seed),
                Text(incident),
                Text(short_name(path.name)),
                key=path.name,
            )
        if not files:
            problems.append(f"no replays in {self.replay_dir} yet: play one with `mirr play`")
        self.query_one("#skipped", Static).update(Content("\n".join(problems)))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._open(str(event.row_key.value))

    def _open(self, name: str) -> None:
        path = self.paths.get(name)
        if path is None:
            return
        try:
            replay = load_replay(path)
        except ReplayError as exc:  # changed on disk since the list was read
            self.notify(str(exc), title="cannot open replay", severity="error", timeout=10)
            return
        self.app.push_screen(ReplayScreen(self.config, replay))

    def action_quit(self) -> None:
        self.app.exit()


class MessageScreen(MirrScreen):
    """A clear message instead of a traceback (e.g. a corrupt replay file)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q,escape", "quit", "quit")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="board", classes="message-board"):
            yield Static(Content.from_markup(f"[b $error]{_esc(self.title_text)}[/]"), classes="screen-title")
            yield Static(Content(self.message), id="message-text")
        yield from self.compose_too_small()
        yield Footer(compact=True, show_command_palette=False)

    def action_quit(self) -> None:
        self.app.exit()
