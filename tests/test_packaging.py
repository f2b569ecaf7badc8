"""Published metadata: tested ranges (no exact pins in the user-facing extras), the license and URLs."""

from __future__ import annotations

import tomllib
from importlib.metadata import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_user_facing_extras_use_ranges_not_pins():
    for extra in ("server", "gym", "plots", "train"):
        for requirement in PROJECT["optional-dependencies"][extra]:
            assert "==" not in requirement, requirement
            assert ">=" in requirement, f"{requirement}: give the lowest tested version"
    assert "gymnasium>=1.1,<2" in PROJECT["optional-dependencies"]["gym"]  # `mirr-tui[gym] gymnasium==1.2.0` resolves


def test_license_and_urls_are_published():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert all(url.startswith("https://") for url in PROJECT["urls"].values())
    installed = metadata("mirr-tui")
    assert installed["License-Expression"] == "MIT"
    assert any(url.startswith("Original MIRR, https://") for url in installed.get_all("Project-URL") or [])


def test_the_wheel_leaves_the_import_name_agents_to_others(tmp_path):
    """Issue 11 item 7: installed beside openai-agents (which owns `agents`), MIRR must not import it."""
    import os
    import subprocess
    import sys
    import zipfile

    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("mirr_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("agents/")], "the wheel must not own the top-level `agents`"
    assert "mirr_tui/agents/__init__.py" in names and "mirr_tui/agents/weights/grpo.npz" in names
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    other = tmp_path / "other" / "agents"  # stands in for openai-agents, whose import fails without openai
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("raise ImportError('openai-agents: cannot import AsyncOpenAI from openai')\n")
    env = {**os.environ, "PYTHONPATH": f"{other.parent}{os.pathsep}{target}"}
    code = "import mirr_tui, sys; print(mirr_tui.__file__)"
    where = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert where.stdout.strip().startswith(str(target)), where.stdout + where.stderr  # the wheel, not the checkout
    command = [sys.executable, "-m", "mirr_tui.cli", "eval", "--agent", "heuristic", "-n", "2", "--no-results"]
    played = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert played.returncode == 0 and "heuristic" in played.stdout, played.stderr[-2000:]
    theirs = subprocess.run(
        [sys.executable, "-c", "import agents"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert "openai-agents" in theirs.stderr  # `import agents` is theirs
