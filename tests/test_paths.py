"""Data folders: replays/ in a checkout, the platformdirs user data folder elsewhere, the curated replays
shipped in the wheel and copied into a fresh replays folder so the picker shows them."""

from __future__ import annotations

import tomllib
from importlib.metadata import requires
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mirr_tui.cli import app
from mirr_tui.paths import add_curated_replays, curated_replays, data_dir, default_replay_dir, default_results_file

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working folder outside any checkout, a private user data folder, no MIRR_REPLAY_DIR."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("MIRR_REPLAY_DIR", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_outside_a_checkout_replays_and_results_go_to_the_user_data_folder(elsewhere):
    assert data_dir() == elsewhere / "data" / "mirr"
    assert default_replay_dir() == elsewhere / "data" / "mirr" / "replays"
    assert default_results_file() == elsewhere / "data" / "mirr" / "results.jsonl"


def test_inside_a_checkout_replays_stay_in_replays(elsewhere, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert default_replay_dir() == Path("replays")
    monkeypatch.setenv("MIRR_REPLAY_DIR", str(elsewhere / "mine"))
    assert default_replay_dir() == elsewhere / "mine"


def test_curated_replays_are_copied_once_and_never_overwritten(tmp_path):
    shipped = curated_replays()
    assert len(shipped) >= 5
    folder = tmp_path / "replays"
    made = add_curated_replays(folder)
    assert sorted(p.name for p in made) == sorted(p.name for p in shipped)
    assert all((folder / p.name).read_bytes() == p.read_bytes() for p in shipped)
    edited = folder / shipped[0].name
    edited.write_text("{}")
    assert add_curated_replays(folder) == [] and edited.read_text() == "{}"
    assert add_curated_replays(ROOT / "replays") == []  # the checkout's own copies are the sources


def test_an_unwritable_folder_gets_no_copies_and_no_crash(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert add_curated_replays(blocker / "replays") == []


def test_the_picker_of_a_fresh_install_shows_the_curated_replays(elsewhere, monkeypatch):
    seen = {}
    monkeypatch.setattr("mirr_tui.cli.run_app", lambda mode, **kwargs: seen.update(kwargs))
    out = CliRunner().invoke(app, ["replay"])
    assert out.exit_code == 0, out.output
    folder = elsewhere / "data" / "mirr" / "replays"
    assert seen["replay_dir"] == folder
    assert sorted(p.name for p in folder.glob("curated-*.json")) == sorted(p.name for p in curated_replays())


def test_the_wheel_ships_every_curated_replay():
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    shipped = {src: dst for src, dst in build["force-include"].items() if "curated-" in src}
    in_repo = sorted(f"replays/{p.name}" for p in (ROOT / "replays").glob("curated-*.json"))
    assert sorted(shipped) == in_repo  # a new curated replay needs its line in pyproject.toml
    assert all(dst == "mirr_tui/curated/" + Path(src).name for src, dst in shipped.items())


def test_platformdirs_comes_with_textual():
    assert any(r.lower().startswith("platformdirs") for r in requires("textual") or [])
