"""`mirr agents` and `mirr scenarios`: what `--agent` and `--scenario` accept."""

from __future__ import annotations

import typer

from . import ConfigOpt, app, load_env_config


@app.command("agents")
def list_agents() -> None:
    """List the agents `--agent` accepts."""
    import agents

    for name in agents.available():
        typer.echo(f"{name:10} {agents.describe(name)}")


@app.command("scenarios")
def list_scenarios(config: ConfigOpt = None) -> None:
    """List the named scenarios in openenv.yaml."""
    cfg = load_env_config(config)
    for scenario in cfg.scenarios.values():
        typer.echo(f"{scenario.name:14} {scenario.service}/{scenario.mode}: {scenario.story}")
