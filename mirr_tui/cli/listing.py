"""`mirr agents` and `mirr scenarios`: what `--agent` and `--scenario` accept."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import ConfigOpt, app, load_env_config

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON list on stdout instead of a table.")]


@app.command("agents")
def list_agents(as_json: JsonOpt = False) -> None:
    """List the agents `--agent` accepts."""
    from mirr_tui import agents

    if as_json:
        typer.echo(json.dumps([{"name": n, "description": agents.describe(n)} for n in agents.available()]))
        return
    for name in agents.available():
        typer.echo(f"{name:10} {agents.describe(name)}")


@app.command("scenarios")
def list_scenarios(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List the named scenarios in openenv.yaml."""
    cfg = load_env_config(config)
    if as_json:
        rows = [
            {
                "name": s.name,
                "service": s.service,
                "mode": s.mode,
                "story": s.story,
                "second": {"service": s.second[0], "mode": s.second[1]} if s.second else None,
            }
            for s in cfg.scenarios.values()
        ]
        typer.echo(json.dumps(rows))
        return
    for scenario in cfg.scenarios.values():
        typer.echo(f"{scenario.name:14} {scenario.service}/{scenario.mode}: {scenario.story}")
