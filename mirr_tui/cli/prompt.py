"""`mirr prompt`: what the LLM agent would send for the first step."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import (
    AgentOptionOpt,
    ConfigOpt,
    DifficultyOpt,
    ScenarioOpt,
    app,
    check_incident_options,
    fail,
    load_env_config,
    parse_agent_options,
)


@app.command("prompt")
def prompt_command(
    seed: Annotated[int, typer.Option("--seed", help="Incident seed.", min=0)] = 0,
    scenario: ScenarioOpt = None,
    difficulty: DifficultyOpt = None,
    option: AgentOptionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the request body as JSON, exactly as sent.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Print what the LLM agent would send for the first step (no key needed, nothing is sent)."""
    from mirr_tui.agents.llm import LLMSetupError, preview_request

    from ..core import IncidentEnv

    cfg = load_env_config(config)
    check_incident_options(cfg, scenario, difficulty)
    options = parse_agent_options(option)
    options.pop("api_key", None)
    env = IncidentEnv(cfg, difficulty=difficulty)
    obs = env.reset(seed=seed, options={"scenario": scenario} if scenario else None)
    try:
        settings, body = preview_request(obs, config=cfg, manifest=config, **options)
    except TypeError as exc:
        fail(f"agent 'llm' does not accept these options: {exc}")
    except LLMSetupError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    chars = sum(len(m["content"]) for m in body["messages"])
    params = " ".join(f"{k}={v}" for k, v in body.items() if k not in ("model", "messages", "response_format"))
    typer.echo(f"# POST {settings.endpoint} (nothing was sent)")
    typer.echo(f"# model={body['model']} {params} response_format={body['response_format']['type']}")
    typer.echo(f"# seed {seed} · {obs.difficulty}" + (f" · {scenario}" if scenario else "") + " · first step")
    typer.echo(f"# about {chars // 4:,} prompt tokens ({chars:,} characters / 4)")
    for message in body["messages"]:
        typer.echo(f"=== {message['role']} ===")
        typer.echo(message["content"])
