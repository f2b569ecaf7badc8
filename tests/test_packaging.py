"""Published metadata: tested ranges (no exact pins in the user-facing extras), the license and URLs."""

from __future__ import annotations

import tomllib
from importlib.metadata import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_user_facing_extras_use_ranges_not_pins():
    for extra in ("server", "gym", "plots"):
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
