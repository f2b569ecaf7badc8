from __future__ import annotations

import pytest

from mirr_tui.core import IncidentEnv, load_config


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture
def env(config):
    return IncidentEnv(config)
