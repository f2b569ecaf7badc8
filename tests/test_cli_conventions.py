"""Command-line conventions: --version, -h, shell completion, --json lists, no game screen without a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mirr_tui import __version__, agents
from mirr_tui.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def _mirr(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """The real console entry point in a child process, stdin and stdout pipes (no terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "mirr_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def test_version_matches_the_package_metadata():
    from importlib.metadata import version

    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"mirr {__version__}"
    assert version("mirr-tui") == __version__  # pyproject.toml reads the version from mirr_tui/__init__.py
    assert runner.invoke(app, ["-V"]).output == out.output


@pytest.mark.parametrize("argv", [["-h"], ["eval", "-h"], ["agents", "-h"]])
def test_short_help_is_the_same_as_long_help(argv):
    short = runner.invoke(app, argv)
    long = runner.invoke(app, [*argv[:-1], "--help"])
    assert short.exit_code == 0 and short.output == long.output and "Usage: mirr" in short.output


def test_shell_completion_installs_and_completes(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shown = _mirr("--show-completion", "bash", env={"HOME": str(home)})
    assert shown.returncode == 0 and "_MIRR_COMPLETE=complete_bash" in shown.stdout
    installed = _mirr("--install-completion", "bash", env={"HOME": str(home), "SHELL": "/bin/bash"})
    assert installed.returncode == 0, installed.stderr
    script = home / ".bash_completions" / "mirr.sh"
    assert "_mirr_completion" in script.read_text() and str(script) in (home / ".bashrc").read_text()
    # What bash asks when the user presses Tab after `mirr pl` and after `mirr eval --ag`.
    words = _mirr(env={"_MIRR_COMPLETE": "complete_bash", "COMP_WORDS": "mirr pl", "COMP_CWORD": "1"})
    assert words.stdout.split() == ["play"]
    options = _mirr(env={"_MIRR_COMPLETE": "complete_bash", "COMP_WORDS": "mirr eval --ag", "COMP_CWORD": "2"})
    assert options.stdout.split() == ["--agent"]


def test_agents_json_lists_every_agent_with_its_description():
    out = runner.invoke(app, ["agents", "--json"])
    assert out.exit_code == 0
    rows = json.loads(out.output)
    assert [row["name"] for row in rows] == agents.available()
    assert all(row["description"] == agents.describe(row["name"]) for row in rows)


def test_scenarios_json_lists_the_manifest_scenarios(config):
    out = runner.invoke(app, ["scenarios", "--json"])
    assert out.exit_code == 0
    rows = {row["name"]: row for row in json.loads(out.output)}
    assert set(rows) == set(config.scenarios)
    assert rows["checkout-3am"]["service"] == "payment" and rows["checkout-3am"]["mode"] == "bad_deploy"
    assert rows["retry-storm"]["second"] == {"service": "database", "mode": "overloaded"}
    assert rows["dead-store"]["second"] is None


@pytest.mark.parametrize("command", [["play"], ["watch", "--agent", "heuristic"], ["replay"]])
def test_a_game_screen_without_a_terminal_exits_2_with_a_message(command, tmp_path):
    done = _mirr(*command, "--replays", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("mirr: this command opens the game screen and needs a terminal")
    assert done.stdout == ""  # nothing drawn into the pipe
