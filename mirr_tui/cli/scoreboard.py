"""`mirr scores`: the human-vs-agent scoreboard, as a screen, tables or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

import mirr_tui.cli as cli

from . import app, default_replay_dir, fail, rich_console


@app.command()
def scores(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Folder of replays (default: replays/ in a checkout, else the user data folder)."),
    ] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Print the tables instead of opening the app.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scoreboard as JSON.")] = False,
    daily: Annotated[bool, typer.Option("--daily", help="The daily incidents' boards, one per date.")] = False,
    replays: Annotated[
        Path | None,
        typer.Option(
            "--replays", help="The folder, as `play` and `watch` name it (same as the argument).", show_default=False
        ),
    ] = None,
) -> None:
    """Human-vs-agent scoreboard from saved replays (only those that re-simulate are counted)."""
    from ..scores import build_scoreboard

    if directory is not None and replays is not None and directory != replays:
        fail(f"two folders given ({directory} and --replays {replays}): give one")
    directory = directory or replays
    folder = directory or default_replay_dir()
    if directory is not None and not directory.is_dir():
        fail(f"{directory}: no such folder")
    board = build_scoreboard(folder)
    if daily:
        _print_daily(board, folder, as_json)
        return
    if as_json:
        typer.echo(json.dumps(_scoreboard_json(board), indent=2))
        return
    if not plain and sys.stdout.isatty() and sys.stdin.isatty():
        cli.run_app("scores", replay_dir=folder)
        return
    _print_scoreboard(board, folder)


def _scoreboard_json(board: Any) -> dict[str, Any]:
    return {
        "players": [
            {
                "player": p.player,
                "kind": p.kind,
                "episodes": p.episodes,
                "success_rate": p.success_rate,
                "diagnosis_accuracy": p.diagnosis_accuracy,
                "mean_score": p.mean_score,
                "best_score": p.best_score,
                "abandoned": p.abandoned,
                "tags": p.tags,
            }
            for p in board.players
        ],
        "head_to_head": [
            {
                "seed": h.seed,
                "difficulty": h.difficulty,
                "scenario": h.scenario,
                "scores": {k: v[0] for k, v in h.results.items()},
            }
            for h in board.head_to_head
        ],
        "skipped": [{"file": str(path), "reason": reason} for path, reason in board.skipped],
        "unverified": [{"file": str(path), "reason": reason} for path, reason in board.unverified],
    }


def _print_scoreboard(board: Any, folder: Path) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..scores import PLAYER_COLUMNS, TAG_COLUMNS, player_cells, tag_cells

    console = rich_console()
    if not board.players:
        console.print(f"no replays in {folder} yet: play one with `mirr play` or `mirr eval --save-replays {folder}`")
    else:
        table = Table(title=f"MIRR scoreboard ({folder})")
        for column in PLAYER_COLUMNS:
            table.add_column(column, justify="left" if column in ("player", "kind") else "right")
        for p in board.players:
            table.add_row(*(escape(cell) for cell in player_cells(p)))
        console.print(table)
    if any(p.episodes for p in board.players):
        table = Table(title="how they fail (share of finished episodes with each habit)")
        for column in TAG_COLUMNS:
            table.add_column(column, justify="left" if column == "player" else "right")
        for p in board.players:
            table.add_row(*(escape(cell) for cell in tag_cells(p)))
        console.print(table)
    if board.head_to_head:
        names = board.rival_names
        table = Table(title="head to head (same incident)")
        table.add_column("seed", justify="right")
        table.add_column("incident")
        for name in names:
            table.add_column(escape(name), justify="right")
        for h in board.head_to_head:
            cells = [
                f"[b]{escape(h.cell(name))}[/b]"
                if h.results.get(name, (None,))[0] == h.best_score
                else escape(h.cell(name))
                for name in names
            ]
            table.add_row(str(h.seed), escape(h.incident), *cells)
        console.print(table)
    for path, reason in board.skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(path.name)}: {escape(reason)}")
    for path, reason in board.unverified:
        console.print(f"[red]not counted[/red] {escape(path.name)} (does not re-simulate): {escape(reason)}")


def _print_daily(board: Any, folder: Path, as_json: bool) -> None:
    """Each date's board: every player's counted (first) try, best first; verified replays only."""
    from dataclasses import asdict

    from rich.markup import escape
    from rich.table import Table

    from ..daily import daily_board

    days = daily_board(board.replays)
    if as_json:
        listing = {day: [{**asdict(row), "path": str(row.path)} for row in rows] for day, rows in days.items()}
        typer.echo(json.dumps(listing, indent=2))
        return
    console = rich_console()
    if not days:
        console.print(f"no daily incident in {folder} yet: play today's with `mirr daily`")
    for day, rows in days.items():
        table = Table(title=f"daily {day}")
        for column in ("player", "score", "outcome", "steps", "tries"):
            table.add_column(column, justify="left" if column in ("player", "outcome") else "right")
        for row in rows:
            outcome = str(row.outcome or "?").replace("_", " ")
            table.add_row(escape(row.player), f"{row.score:+.1f}", outcome, str(row.steps), str(row.tries))
        console.print(table)
