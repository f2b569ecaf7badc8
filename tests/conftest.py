from __future__ import annotations

import pytest

from mirr_tui.core import IncidentEnv, load_config


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture
def env(config):
    return IncidentEnv(config)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """The scoreboard caches verdicts in the user cache folder: tests keep theirs apart."""
    monkeypatch.setenv("MIRR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
