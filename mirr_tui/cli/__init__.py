"""The `mirr` command line. Heavy imports stay inside the commands so `mirr --help` starts fast.

This package holds the Typer `app`, the option types and the helpers every command shares (`fail`,
`load_env_config`, `run_app`...); each command group lives in its own module, imported at the bottom
in the order `mirr --help` lists the commands. Submodules call `run_app` through this package
(`cli.run_app`) so tests can replace it in one place."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="mirr",
    help="MIRR: five microservices, one hidden fault, 30 steps. Play it, watch agents, compare scores.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__  # the one version: pyproject.toml reads it from there (hatch)

        typer.echo(f"mirr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", "-V", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = None,
) -> None:
    """MIRR: five microservices, one hidden fault, 30 steps. Play it, watch agents, compare scores."""


SeedOpt = Annotated[int | None, typer.Option("--seed", help="Incident seed (same seed = same incident).", min=0)]
ScenarioOpt = Annotated[str | None, typer.Option("--scenario", help="A named scenario from openenv.yaml.")]
DifficultyOpt = Annotated[
    str | None, typer.Option("--difficulty", help="easy, normal or hard (default from openenv.yaml).")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Another openenv.yaml.", dir_okay=False)]
ReplayDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--replays",
        help="Where replays are saved (default: replays/ in a checkout, else the user data folder).",
        envvar="MIRR_REPLAY_DIR",
        file_okay=False,
        show_default=False,
    ),
]
AgentOptionOpt = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="Agent option KEY=VALUE (repeatable), e.g. -o model=llama-3.1-8b-instant."),
]


def fail(message: str, code: int = 2) -> None:
    """One clear line on stderr and a non-zero exit: no traceback for user mistakes."""
    typer.echo(f"mirr: {message}", err=True)
    raise typer.Exit(code)


def default_replay_dir() -> Path:
    from ..paths import default_replay_dir

    return default_replay_dir()


def default_results_file() -> Path:
    from ..paths import default_results_file

    return default_results_file()


def replay_folder(replays: Path | None) -> Path:
    """The replays folder of a screen command, with the curated examples in it (copied there once)."""
    from ..paths import add_curated_replays

    folder = replays if replays is not None else default_replay_dir()
    check_writable(folder)  # before the game, not after the player's last move
    add_curated_replays(folder)
    return folder


def load_env_config(config: Path | None) -> Any:
    from ..core import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        fail(str(exc))


def check_incident_options(cfg: Any, scenario: str | None, difficulty: str | None) -> None:
    from ..core import ConfigError

    try:
        cfg.difficulty(difficulty)
        if scenario:
            cfg.scenario(scenario)
    except ConfigError as exc:
        fail(str(exc))


def parse_agent_options(pairs: list[str] | None) -> dict[str, Any]:
    """`-o key=value` pairs; values that look like numbers or booleans become them."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            fail(f"agent option {pair!r} must look like KEY=VALUE")
        key, value = pair.split("=", 1)
        key = key.strip().replace("-", "_")
        if not key:
            fail(f"agent option {pair!r} has no key")
        options[key] = _coerce(value.strip())
    return options


def _coerce(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def check_agent(name: str, allow_all: bool = False) -> None:
    from mirr_tui import agents

    if allow_all and name == "all":
        return
    if name not in agents.available():
        fail(f"unknown agent {name!r} (available: {', '.join(agents.available())})")


def require_terminal() -> None:
    """The game screen needs a terminal on both ends; drawn into a pipe it would hang waiting for keys.
    Textual's web driver (`mirr web`, TEXTUAL_DRIVER set by textual-serve) talks over pipes on purpose."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(
            "this command opens the game screen and needs a terminal (stdin and stdout are not one); "
            "for headless play use `mirr eval`, for a browser `mirr web`"
        )


def run_app(mode: str, **kwargs: Any) -> None:
    from ..tui.app import make_app

    require_terminal()
    application = make_app(mode=mode, **kwargs)
    application.run()
    message = getattr(application, "exit_message", None)
    if message:
        typer.echo(message)
    failure = getattr(application, "failure", None)
    if failure:  # e.g. an agent that could not start: the same line and code as `mirr eval`
        fail(failure)


def rich_console() -> Any:
    """Rich's console; piped output gets 120 columns (Rich's 80 would cut agent names and headers)."""
    from rich.console import Console

    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=120)


def check_writable(*folders: Path | None, append_to: Path | None = None) -> None:
    """Fail before the first (possibly paid) episode or update rather than after the last one."""
    target: Path | None = None
    try:
        for target in folders:
            if target is not None:
                target.mkdir(parents=True, exist_ok=True)
                if not os.access(target, os.W_OK):
                    raise PermissionError(13, "Permission denied")
        target = append_to
        if append_to is not None:
            append_to.parent.mkdir(parents=True, exist_ok=True)
            with append_to.open("a", encoding="utf-8"):
                pass
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Usage mistakes that Typer catches itself (`-n 0`, an unknown command)
    get the same one-line `mirr: ...` treatment as ours instead of a multi-line panel. GROQ_API_KEY and HF_TOKEN
    may come from a `.env` file in the working folder, as in the original MIRR (never over a set variable)."""
    from ..hub import read_dotenv

    read_dotenv(".env")
    try:
        code = app(args=argv, prog_name="mirr", standalone_mode=False)
    except typer.Abort:
        typer.echo("mirr: interrupted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # Click's usage errors, as vendored by Typer
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `mirr`: show the help, as before
            app(args=["--help"], prog_name="mirr", standalone_mode=False)
            sys.exit(0)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        typer.echo(f"mirr: {message}{hint}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


# The command groups register themselves on `app` when imported; the order is the order of `mirr --help`.
from . import screens, scoreboard, evaluate, serve, web, prompt, train, listing  # noqa: E402, F401, I001
from .evaluate import OFFLINE_EXCLUDED, _run_eval  # noqa: E402, F401
