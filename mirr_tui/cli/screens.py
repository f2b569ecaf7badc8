"""`mirr play`, `mirr watch` and `mirr replay`: the commands that open the game screen."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import mirr_tui.cli as cli

from . import (
    AgentOptionOpt,
    ConfigOpt,
    DifficultyOpt,
    ReplayDirOpt,
    ScenarioOpt,
    SeedOpt,
    app,
    check_agent,
    check_incident_options,
    fail,
    load_env_config,
    parse_agent_options,
    replay_folder,
)


@app.command()
def play(
    seed: SeedOpt = None,
    scenario: ScenarioOpt = None,
    difficulty: DifficultyOpt = None,
    replays: ReplayDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Play an incident by hand in the terminal."""
    cfg = load_env_config(config)
    check_incident_options(cfg, scenario, difficulty)
    replays = replay_folder(replays)
    cli.run_app("play", seed=seed, scenario=scenario, difficulty=difficulty, replay_dir=replays, config=cfg)


@app.command()
def watch(
    agent: Annotated[str, typer.Option("--agent", help="Agent to watch (see `mirr agents`).")] = "heuristic",
    seed: SeedOpt = None,
    scenario: ScenarioOpt = None,
    difficulty: DifficultyOpt = None,
    speed: Annotated[float, typer.Option("--speed", help="Steps per second.", min=0.1, max=50)] = 2.0,
    option: AgentOptionOpt = None,
    replays: ReplayDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Watch an agent play live in the same screen."""
    cfg = load_env_config(config)
    check_incident_options(cfg, scenario, difficulty)
    check_agent(agent)
    replays = replay_folder(replays)
    cli.run_app(
        "watch",
        seed=seed,
        scenario=scenario,
        difficulty=difficulty,
        agent=agent,
        agent_options=parse_agent_options(option),
        speed=speed,
        replay_dir=replays,
        config=cfg,
    )


@app.command()
def replay(
    file: Annotated[Path | None, typer.Argument(help="A saved replay; omit to pick one from --replays.")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Re-simulate and check every frame; no screen.")] = False,
    replays: ReplayDirOpt = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="`p` hands the episode to this agent instead of you.")
    ] = None,
    option: AgentOptionOpt = None,
) -> None:
    """Step through a saved replay frame by frame (or verify it); `p` takes over from the frame on screen."""
    from ..replay import ReplayError, load_replay, verify_replay

    if agent is not None:
        check_agent(agent)
    takeover = {"agent": agent, "agent_options": parse_agent_options(option)}
    if file is None:
        if verify:
            fail("--verify needs a replay FILE")
        cli.run_app("replay", replay_dir=replay_folder(replays), **takeover)
        return
    try:
        loaded = load_replay(file)
    except ReplayError as exc:
        fail(str(exc))
    if verify:
        result = verify_replay(loaded)
        if not result.ok:
            fail(f"{file}: MISMATCH: {result.message}", code=1)
        typer.echo(f"{file}: {result.message}")
        return
    cli.run_app("replay", replay_path=file, replay_dir=replay_folder(replays), **takeover)


@app.command()
def daily(
    day: Annotated[
        str | None, typer.Option("--date", help="The day's incident to play (YYYY-MM-DD; default: today).")
    ] = None,
    print_seed: Annotated[
        bool, typer.Option("--print-seed", help="Print the day's seed, difficulty and story instead of playing.")
    ] = False,
    replays: ReplayDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The daily incident: the same for everyone on a date, one counted try, a share card at the end."""
    import datetime
    import os

    from ..daily import daily_incident, first_try
    from ..scores import build_scoreboard

    try:
        when = datetime.date.fromisoformat(day) if day else datetime.date.today()
    except ValueError:
        fail(f"--date {day!r} is not a date: use YYYY-MM-DD")
    incident = daily_incident(when)
    if print_seed:
        typer.echo(f"daily {incident.key}: seed {incident.seed}, {incident.difficulty}\n{incident.story}")
        return
    cfg = load_env_config(config)
    replays = replay_folder(replays)
    player = os.environ.get("USER") or "human"
    played = first_try(build_scoreboard(replays).replays, incident.key, player)
    if played is not None:
        s = played.summary
        ended = "left unfinished" if played.abandoned else str(s.get("outcome")).replace("_", " ")
        typer.echo(
            f"mirr: {player} played the {incident.key} incident already ({s.get('score', 0.0):+.1f}, {ended});"
            " this run is practice and does not count",
            err=True,
        )
    cli.run_app("play", replay_dir=replays, config=cfg, player_name=player, daily=incident, practice=played is not None)
