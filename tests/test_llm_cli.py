"""`mirr prompt` and `mirr eval --agent llm` from the command line, without a key or a network."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mirr_tui.cli import app
from mirr_tui.core import IncidentEnv, render_observation

from helpers import clear_llm_environment

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_key(monkeypatch, tmp_path):
    clear_llm_environment(monkeypatch)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # an eval that did start would log here, not in $HOME


def test_prompt_prints_the_first_request_without_a_key():
    result = runner.invoke(app, ["prompt", "--seed", "5", "--scenario", "checkout-3am"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("# POST https://api.groq.com/openai/v1/chat/completions (nothing was sent)")
    assert "model=llama-3.3-70b-versatile" in out and "max_completion_tokens=2048" in out
    assert "response_format=json_object" in out and "prompt tokens" in out
    assert "=== system ===" in out and "=== user ===" in out
    obs = IncidentEnv().reset(seed=5, options={"scenario": "checkout-3am"})
    assert render_observation(obs, 30) in out


def test_prompt_json_is_the_exact_request_body_and_follows_options():
    args = ["prompt", "--json", "--difficulty", "hard", "-o", "model=openai/gpt-oss-20b", "-o", "temperature=0"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"model", "messages", "temperature", "max_completion_tokens", "response_format"}
    assert body["model"] == "openai/gpt-oss-20b" and body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "· hard ·" in body["messages"][1]["content"]


def test_prompt_for_a_local_server_shows_its_endpoint():
    result = runner.invoke(app, ["prompt", "-o", "base_url=http://localhost:11434/v1", "-o", "model=qwen2.5:7b"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# POST http://localhost:11434/v1/chat/completions")
    assert "max_tokens=512" in result.stdout and "response_format=json_schema" in result.stdout  # local defaults


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "temperature=hot"], "mirr: llm option temperature='hot' (option -o temperature) must be a number"),
        (["-o", "colour=blue"], "mirr: agent 'llm' does not accept these options"),
        (["--scenario", "nope"], "mirr: unknown scenario 'nope'"),
    ],
)
def test_prompt_mistakes_are_one_line(args, message):
    result = runner.invoke(app, ["prompt", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_eval_llm_without_a_key_stops_before_any_episode_with_one_line(tmp_path):
    result = runner.invoke(app, ["eval", "--agent", "llm", "-n", "2", "--save-replays", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert result.stderr == (
        "mirr: cannot start agent 'llm': GROQ_API_KEY is not set: export GROQ_API_KEY=... "
        "(get one at console.groq.com) or pass -o base_url=... for a local server\n"
    )
    assert not (tmp_path / "r").exists() and not (tmp_path / "mirr").exists()


def test_eval_all_leaves_the_llm_out():
    result = runner.invoke(app, ["eval", "--agent", "all", "-n", "1", "--json", "--no-results"])
    assert result.exit_code == 0, result.output
    assert "llm" not in {entry["agent"] for entry in json.loads(result.stdout)}


def test_prompt_reads_the_llm_defaults_of_another_manifest(tmp_path):
    from mirr_tui.core.config import default_config_path

    manifest = tmp_path / "openenv.yaml"
    text = default_config_path().read_text(encoding="utf-8")
    manifest.write_text(text.replace("model: llama-3.3-70b-versatile", "model: llama-3.1-8b-instant"))
    result = runner.invoke(app, ["prompt", "--config", str(manifest), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"] == "llama-3.1-8b-instant"
