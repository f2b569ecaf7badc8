"""The TRL environment_factory class: every tool's docstring is in the format transformers' get_json_schema
reads (checked with transformers itself when it is installed, else with the same rules here), its enums
match the manifest, and it plays an incident."""

from __future__ import annotations

import importlib.util
import inspect
import re
import typing

import pytest

from mirr_tui.core import FAULT_MODES, IncidentEnv
from mirr_tui.trl_env import MirrIncident, Mode, Service

TOOLS = [
    name
    for name, member in inspect.getmembers(MirrIncident, inspect.isfunction)
    if not name.startswith("_") and name != "reset"
]


def test_the_tools_are_every_move():
    assert sorted(TOOLS) == sorted(
        ["check_logs", "diagnose", "restart", "rollback", "scale_up", "circuit_break", "wait"]
    )
    assert not callable(MirrIncident().reward)  # an attribute, so TRL does not offer it as a tool


def test_the_enums_are_the_manifest_names(config):
    assert typing.get_args(Service) == config.service_names
    assert typing.get_args(Mode) == FAULT_MODES


def _sections(doc: str) -> tuple[str, dict[str, str], str | None]:
    """Description, Args (name -> text) and Returns of a Google-style docstring, as transformers splits them."""
    doc = inspect.cleandoc(doc)
    description = re.split(r"\n\s*(Args|Returns|Raises):", doc)[0].strip()
    args_block = re.search(r"\n\s*Args:\n(.*?)(\n\s*(Returns|Raises):|\Z)", doc, re.S)
    args = {}
    if args_block:
        for match in re.finditer(
            r"^\s*(\w+)\s*(?:\([^)]*\))?:\s*(.+?)(?=^\s*\w+\s*(?:\([^)]*\))?:|\Z)", args_block.group(1), re.M | re.S
        ):
            args[match.group(1)] = " ".join(match.group(2).split())
    returns = re.search(r"\n\s*Returns:\n\s*(.+)", doc)
    return description, args, returns.group(1).strip() if returns else None


def test_the_format_check_catches_the_old_readme_docstrings():
    # The README sketch's docstrings, which get_json_schema refused: no Args section.
    assert _sections("Read a service's recent logs.")[1:] == ({}, None)
    _, args, returns = _sections(
        "Pick.\n\nArgs:\n    service: The service.\n    mode (str): Its mode,\n        wrapped.\n\nReturns:\n    Text."
    )
    assert args == {"service": "The service.", "mode": "Its mode, wrapped."} and returns == "Text."


@pytest.mark.parametrize("name", TOOLS)
def test_every_tool_docstring_describes_every_parameter(name):
    method = getattr(MirrIncident, name)
    params = [p for p in inspect.signature(method).parameters if p != "self"]
    description, args, returns = _sections(method.__doc__ or "")
    assert description and not description.endswith(":")
    assert sorted(args) == sorted(params), f"{name}: Args must describe exactly {params}"
    assert all(text for text in args.values()) and returns
    hints = typing.get_type_hints(method)
    assert hints["return"] is str and all(p in hints for p in params)
    if importlib.util.find_spec("transformers") is not None:  # TRL's own reader, where it is installed
        from transformers.utils import get_json_schema

        props = get_json_schema(getattr(MirrIncident(url=""), name))["function"]["parameters"].get("properties", {})
        assert sorted(props) == sorted(params)
        if "service" in props:
            assert props["service"]["enum"] == list(typing.get_args(Service))


def test_it_plays_an_incident_to_its_end_and_reports_the_score(config):
    env = MirrIncident(url="")
    board = env.reset(seed=7, scenario="checkout-3am")
    assert "payment" in board and env.reward == 0.0
    env.check_logs("payment")
    env.diagnose("payment", "bad_deploy")
    board = env.rollback("payment")
    while not env._obs.done:
        board = env.wait()
    local = IncidentEnv(config)
    local.reset(seed=7, options={"scenario": "checkout-3am"})
    for move in ("logs payment", "diagnose payment bad_deploy", "rollback payment"):
        expected = local.step(move)
    while not expected.done:
        expected = local.step("wait")
    assert env._obs.done and env._obs.outcome == expected.outcome == "recovered"
    assert env.reward == expected.score > 0
    with pytest.raises(ValueError, match="the incident is over"):
        env.wait()
