"""The `mirr` command line. Heavy imports stay inside the commands so `mirr --help` starts fast."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="mirr",
    help="MIRR: five microservices, one hidden fault, 30 steps. Play it, watch agents, compare scores.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SeedOpt = Annotated[int | None, typer.Option("--seed", help="Incident seed (same seed = same incident).", min=0)]
ScenarioOpt = Annotated[str | None, typer.Option("--scenario", help="A named scenario from openenv.yaml.")]
DifficultyOpt = Annotated[
    str | None, typer.Option("--difficulty", help="easy, normal or hard (default from openenv.yaml).")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Another openenv.yaml.", dir_okay=False)]
ReplayDirOpt = Annotated[
    Path, typer.Option("--replays", help="Where replays are saved.", envvar="MIRR_REPLAY_DIR", file_okay=False)
]
AgentOptionOpt = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="Agent option KEY=VALUE (repeatable), e.g. -o model=llama-3.1-8b-instant."),
]


def fail(message: str, code: int = 2) -> None:
    """One clear line on stderr and a non-zero exit: no traceback for user mistakes."""
    typer.echo(f"mirr: {message}", err=True)
    raise typer.Exit(code)


def default_replay_dir() -> Path:
    return Path(os.environ.get("MIRR_REPLAY_DIR", "replays"))


def default_results_file() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mirr" / "results.jsonl"


def load_env_config(config: Path | None) -> Any:
    from .core import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        fail(str(exc))


def check_incident_options(cfg: Any, scenario: str | None, difficulty: str | None) -> None:
    from .core import ConfigError

    try:
        cfg.difficulty(difficulty)
        if scenario:
            cfg.scenario(scenario)
    except ConfigError as exc:
        fail(str(exc))


def parse_agent_options(pairs: list[str] | None) -> dict[str, Any]:
    """`-o key=value` pairs; values that look like numbers or booleans become them."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            fail(f"agent option {pair!r} must look like KEY=VALUE")
        key, value = pair.split("=", 1)
        key = key.strip().replace("-", "_")
        if not key:
            fail(f"agent option {pair!r} has no key")
        options[key] = _coerce(value.strip())
    return options


def _coerce(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def check_agent(name: str, allow_all: bool = False) -> None:
    import agents

    if allow_all and name == "all":
        return
    if name not in agents.available():
        fail(f"unknown agent {name!r} (available: {', '.join(agents.available())})")


# ---------------------------------------------------------------------------------------- TUI
def run_app(mode: str, **kwargs: Any) -> None:
    from .tui.app import make_app

    application = make_app(mode=mode, **kwargs)
    application.run()
    message = getattr(application, "exit_message", None)
    if message:
        typer.echo(message)


@app.command()
def play(
    seed: SeedOpt = None,
    scenario: ScenarioOpt = None,
    difficulty: DifficultyOpt = None,
    replays: ReplayDirOpt = Path("replays"),
    config: ConfigOpt = None,
) -> None:
    """Play an incident by hand in the terminal."""
    cfg = load_env_config(config)
    check_incident_options(cfg, scenario, difficulty)
    _check_writable(replays)  # before the game, not after the player's last move
    run_app("play", seed=seed, scenario=scenario, difficulty=difficulty, replay_dir=replays, config=cfg)


@app.command()
def watch(
    agent: Annotated[str, typer.Option("--agent", help="Agent to watch (see `mirr agents`).")] = "heuristic",
    seed: SeedOpt = None,
    scenario: ScenarioOpt = None,
    difficulty: DifficultyOpt = None,
    speed: Annotated[float, typer.Option("--speed", help="Steps per second.", min=0.1, max=50)] = 2.0,
    option: AgentOptionOpt = None,
    replays: ReplayDirOpt = Path("replays"),
    config: ConfigOpt = None,
) -> None:
    """Watch an agent play live in the same screen."""
    cfg = load_env_config(config)
    check_incident_options(cfg, scenario, difficulty)
    check_agent(agent)
    _check_writable(replays)
    run_app(
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
    replays: ReplayDirOpt = Path("replays"),
) -> None:
    """Step through a saved replay frame by frame (or verify it)."""
    from .replay import ReplayError, load_replay, verify_replay

    if file is None:
        if verify:
            fail("--verify needs a replay FILE")
        run_app("replay", replay_dir=replays)
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
    run_app("replay", replay_path=file, replay_dir=replays)


@app.command()
def scores(
    directory: Annotated[Path | None, typer.Argument(help="Folder of replays (default: replays/).")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Print the tables instead of opening the app.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scoreboard as JSON.")] = False,
) -> None:
    """Human-vs-agent scoreboard from saved replays."""
    from .scores import build_scoreboard

    folder = directory or default_replay_dir()
    if directory is not None and not directory.is_dir():
        fail(f"{directory}: no such folder")
    board = build_scoreboard(folder)
    if as_json:
        typer.echo(json.dumps(_scoreboard_json(board), indent=2))
        return
    if not plain and sys.stdout.isatty() and sys.stdin.isatty():
        run_app("scores", replay_dir=folder)
        return
    _print_scoreboard(board, folder)


def _scoreboard_json(board: Any) -> dict[str, Any]:
    return {
        "players": [
            {
                "player": p.player,
                "kind": p.kind,
                "episodes": p.episodes,
                "success_rate": p.success_rate,
                "diagnosis_accuracy": p.diagnosis_accuracy,
                "mean_score": p.mean_score,
                "best_score": p.best_score,
            }
            for p in board.players
        ],
        "head_to_head": [
            {
                "seed": h.seed,
                "difficulty": h.difficulty,
                "scenario": h.scenario,
                "scores": {k: v[0] for k, v in h.results.items()},
            }
            for h in board.head_to_head
        ],
        "skipped": [{"file": str(path), "reason": reason} for path, reason in board.skipped],
    }


def _console() -> Any:
    """Rich's console; piped output gets 120 columns (Rich's 80 would cut agent names and headers)."""
    from rich.console import Console

    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=120)


def _print_scoreboard(board: Any, folder: Path) -> None:
    from rich.table import Table

    from .scores import PLAYER_COLUMNS, player_cells

    console = _console()
    if not board.players:
        console.print(f"no replays in {folder} yet: play one with `mirr play` or `mirr eval --save-replays {folder}`")
    else:
        table = Table(title=f"MIRR scoreboard ({folder})")
        for column in PLAYER_COLUMNS:
            table.add_column(column, justify="left" if column in ("player", "kind") else "right")
        for p in board.players:
            table.add_row(*player_cells(p))
        console.print(table)
    if board.head_to_head:
        names = board.rival_names
        table = Table(title="head to head (same incident)")
        table.add_column("seed", justify="right")
        table.add_column("incident")
        for name in names:
            table.add_column(name, justify="right")
        for h in board.head_to_head:
            cells = [
                f"[b]{h.cell(name)}[/b]" if h.results.get(name, (None,))[0] == h.best_score else h.cell(name)
                for name in names
            ]
            table.add_row(str(h.seed), h.incident, *cells)
        console.print(table)
    for path, reason in board.skipped:
        console.print(f"[yellow]skipped[/yellow] {path.name}: {reason}")


# ---------------------------------------------------------------------------------------- eval
@app.command("eval")
def eval_command(
    agent: Annotated[
        str, typer.Option("--agent", help="Agent name, or 'all' to compare every offline agent.")
    ] = "heuristic",
    episodes: Annotated[
        int, typer.Option("--episodes", "-n", help="Episodes (one per seed).", min=1, max=1_000_000_000)
    ] = 100,
    seed: Annotated[int, typer.Option("--seed", help="First seed; episodes use seed, seed+1, ...", min=0)] = 0,
    difficulty: DifficultyOpt = None,
    scenario: ScenarioOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (a list with --agent all).")] = False,
    results: Annotated[
        Path | None, typer.Option("--results", help="JSONL results log to append to.", dir_okay=False)
    ] = None,
    no_results: Annotated[bool, typer.Option("--no-results", help="Do not append to the results log.")] = False,
    save_replays: Annotated[
        Path | None, typer.Option("--save-replays", help="Save every episode's replay in this folder.", file_okay=False)
    ] = None,
    option: AgentOptionOpt = None,
    config: ConfigOpt = None,
    remote: Annotated[
        str | None, typer.Option("--remote", help="Play on a `mirr serve` at this URL (http://host:port or ws://...).")
    ] = None,
) -> None:
    """Headless evaluation: success rate, diagnosis accuracy, rewards, per-mode breakdown."""
    import agents

    from .core import IncidentEnv

    cfg = load_env_config(config) if remote is None else _remote_config(remote, config)
    check_incident_options(cfg, scenario, difficulty)
    check_agent(agent, allow_all=True)
    names = [a for a in agents.available() if a not in OFFLINE_EXCLUDED] if agent == "all" else [agent]
    agent_options = parse_agent_options(option)
    if agent == "all" and agent_options:
        fail("-o options belong to one agent; with --agent all every agent plays with its defaults")
    seeds = range(seed, seed + episodes)
    results_log = results or default_results_file()
    summaries = []
    for name in names:
        options = dict(agent_options)
        try:
            agents.create(name, config=cfg, **options)
        except TypeError as exc:
            fail(f"agent {name!r} does not accept these options: {exc}")
        except Exception as exc:  # e.g. a missing API key: one line, before any episode runs
            if agent != "all":
                fail(f"cannot start agent {name!r}: {exc}")
            typer.echo(f"mirr: skipping agent {name!r}: {exc}", err=True)
            continue
        _check_writable(save_replays, append_to=results_log if results is not None and not no_results else None)
        env = IncidentEnv(cfg, difficulty=difficulty) if remote is None else _remote_env(remote, cfg, difficulty)
        try:
            summary, failure = _run_eval(name, seeds, difficulty, env, options, scenario, save_replays, quiet=as_json)
        finally:
            env.close()
        summaries.append(summary)
        if not no_results:
            _append_results(results_log, summary, options, seed, cfg, scenario)
        if failure is not None:  # show and keep what finished, then say why the run stopped
            _show_eval(summaries, as_json)
            fail(f"remote play on {remote} failed: {failure}" if remote else failure)
    _show_eval(summaries, as_json)
    if any(s.episodes < episodes for s in summaries):
        raise typer.Exit(130)


def _show_eval(summaries: list[Any], as_json: bool) -> None:
    if as_json:
        payload = [s.to_dict() for s in summaries]
        typer.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    elif summaries:
        _print_eval(summaries)


def _check_writable(*folders: Path | None, append_to: Path | None = None) -> None:
    """Fail before the first (possibly paid) episode or update rather than after the last one."""
    target: Path | None = None
    try:
        for target in folders:
            if target is not None:
                target.mkdir(parents=True, exist_ok=True)
                if not os.access(target, os.W_OK):
                    raise PermissionError(13, "Permission denied")
        target = append_to
        if append_to is not None:
            append_to.parent.mkdir(parents=True, exist_ok=True)
            with append_to.open("a", encoding="utf-8"):
                pass
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")


def _remote_config(url: str, config: Path | None) -> Any:
    """The server's own openenv.yaml; a different local --config is a mistake worth one line."""
    try:
        from .client import RemoteError, fetch_server_config
    except ModuleNotFoundError as exc:
        fail(f"--remote needs the server extra: pip install -e '.[server]' ({exc})")
    try:
        cfg = fetch_server_config(url)
    except (RemoteError, ValueError) as exc:
        fail(str(exc))
    if config is not None and load_env_config(config).hash != cfg.hash:
        fail(f"{config} differs from the openenv.yaml the server at {url} plays; drop --config to use the server's")
    return cfg


def _remote_env(url: str, cfg: Any, difficulty: str | None) -> Any:
    from .client import RemoteIncidentEnv

    return RemoteIncidentEnv(url, difficulty=difficulty, config=cfg)


# Agents that `--agent all` leaves out because they need a network or a key.
OFFLINE_EXCLUDED = {"llm"}


def _run_eval(
    name: str,
    seeds: range,
    difficulty: str | None,
    env: Any,
    options: dict[str, Any],
    scenario: str | None,
    save_replays: Path | None,
    quiet: bool,
) -> tuple[Any, str | None]:
    """(summary of the finished episodes, why the run stopped early or None)."""
    from contextlib import nullcontext

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .evaluation import evaluate, summarise

    show = not quiet and len(seeds) >= 50 and sys.stderr.isatty()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("success {task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    finished: list[Any] = []
    with Progress(*columns, transient=True) if show else nullcontext() as progress:
        task = progress.add_task(name, total=len(seeds), rate="-") if progress else None

        def tick(result: Any) -> None:
            finished.append(result)
            if progress is not None:
                rate = sum(r.success for r in finished) / len(finished)
                progress.update(task, advance=1, rate=f"{rate:.0%}")

        try:
            summary, _ = evaluate(
                name,
                seeds,
                difficulty,
                env=env,
                agent_options=options,
                scenario=scenario,
                replay_dir=save_replays,
                on_episode=tick,
            )
        except (ConnectionError, RuntimeError, OSError) as exc:  # a server that went away, a full disk
            return summarise(name, finished, difficulty or env.default_difficulty), str(exc)
    return summary, None


def _append_results(
    path: Path, summary: Any, options: dict[str, Any], first_seed: int, cfg: Any, scenario: str | None
) -> None:
    from datetime import UTC, datetime

    from . import __version__

    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "agent": summary.agent,
        "options": {k: v for k, v in options.items() if "key" not in k.lower()},
        "seeds": {"first": first_seed, "count": summary.episodes},
        "difficulty": summary.difficulty,
        "scenario": scenario,
        "config_hash": cfg.hash,
        "env_version": cfg.version,
        "package_version": __version__,
        "metrics": summary.to_dict(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    except OSError as exc:
        typer.echo(f"mirr: warning: could not append to results log {path}: {exc.strerror or exc}", err=True)


def _print_eval(summaries: list[Any]) -> None:
    from rich.table import Table

    console = _console()
    first = summaries[0]
    table = Table(title=f"MIRR eval · {first.episodes} episodes · {first.difficulty}")
    for column in (
        "agent",
        "success",
        "diagnosis",
        "mean reward",
        "median",
        "mean steps",
        "recovered",
        "collapsed",
        "timed out",
    ):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for s in summaries:
        o = s.outcomes
        table.add_row(
            s.agent,
            f"{s.success_rate:.1%}",
            f"{s.diagnosis_accuracy:.1%}",
            f"{s.mean_reward:+.1f}",
            f"{s.median_reward:+.1f}",
            f"{s.mean_steps:.1f}",
            str(o.get("recovered", 0)),
            str(o.get("collapsed", 0)),
            str(o.get("timed_out", 0)),
        )
    console.print(table)
    modes = Table(title="success by fault mode (diagnosis accuracy)", min_width=44)
    modes.add_column("agent")
    mode_names = list(first.per_mode)
    for mode in mode_names:
        modes.add_column(mode, justify="right")
    for s in summaries:
        cells = [
            f"{s.per_mode[m]['success_rate']:.0%} ({s.per_mode[m]['diagnosis_accuracy']:.0%})"
            if m in s.per_mode
            else "-"
            for m in mode_names
        ]
        modes.add_row(s.agent, *cells)
    console.print(modes)
    for s in summaries:
        if s.tokens:
            console.print(
                f"{s.agent}: {s.tokens:,} tokens, {s.tokens / max(1, s.episodes):,.0f} per episode, {s.seconds / max(1, s.episodes):.1f}s per episode"
            )
        if s.errors:
            console.print(f"[yellow]{s.agent}: {s.errors} episode(s) aborted by agent errors[/yellow]")


# ---------------------------------------------------------------------------------------- serve
@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8000,
    sessions: Annotated[int, typer.Option("--sessions", help="Concurrent WebSocket sessions.", min=1)] = 64,
    config: ConfigOpt = None,
) -> None:
    """Serve MIRR as an OpenEnv environment (WebSocket sessions at /ws; needs the server extra)."""
    import socket

    cfg = load_env_config(config)
    try:
        import uvicorn

        from .server import make_app
    except ModuleNotFoundError as exc:
        fail(f"serving needs the server extra: pip install -e '.[server]' ({exc})")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    application = make_app(cfg, sessions=sessions)
    typer.echo(f"mirr: serving {cfg.id} on http://{host}:{port} (WebSocket /ws, {sessions} sessions); Ctrl-C stops")
    uvicorn.run(application, host=host, port=port, log_level="warning", ws_max_size=1 << 20)


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
    from agents.llm import LLMSetupError, preview_request

    from .core import IncidentEnv

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


# ---------------------------------------------------------------------------------------- GRPO
@app.command("train")
def train_command(
    updates: Annotated[
        int, typer.Option("--updates", help="Total GRPO updates (with --resume: the target).", min=1)
    ] = 150,
    group_size: Annotated[int, typer.Option("--group-size", help="Episodes per incident seed (G).", min=2)] = 16,
    prompts: Annotated[int, typer.Option("--prompts", help="Incident seeds per update.", min=1)] = 8,
    seed: Annotated[
        int, typer.Option("--seed", help="Training seed (everything is deterministic from it).", min=0)
    ] = 0,
    out: Annotated[Path, typer.Option("--out", help="Where the trained weights go.", dir_okay=False)] = Path(
        "training_runs/grpo/grpo.npz"
    ),
    log_dir: Annotated[
        Path | None,
        typer.Option(
            "--log-dir", help="Checkpoint, training_log.csv and curves (default: next to --out).", file_okay=False
        ),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint in --log-dir.")] = False,
    difficulty: DifficultyOpt = None,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate.", min=0)] = 0.05,
    epochs: Annotated[int, typer.Option("--epochs", help="Optimisation passes per batch.", min=1)] = 4,
    beta: Annotated[float, typer.Option("--beta", help="KL penalty weight.", min=0)] = 0.04,
    clip: Annotated[float, typer.Option("--clip", help="Ratio clip epsilon.", min=0)] = 0.2,
    ref_every: Annotated[
        int,
        typer.Option(
            "--ref-every", help="Refresh the reference policy every N updates (0 = keep the initial one).", min=0
        ),
    ] = 0,
    eval_every: Annotated[
        int, typer.Option("--eval-every", help="Greedy validation every N updates (0 = never).", min=0)
    ] = 10,
) -> None:
    """Train the `grpo` agent from scratch with GRPO on CPU (seeds >= 1,000,000; eval uses 0-999)."""
    from .training import TrainConfig

    cfg = load_env_config(None)
    check_incident_options(cfg, None, difficulty)
    log_dir = log_dir or out.parent
    checkpoint = log_dir / "checkpoint.npz"
    if resume and not checkpoint.exists():
        fail(f"no checkpoint to resume from in {log_dir} (train without --resume first)")
    _check_writable(out.parent, log_dir)
    config = TrainConfig(
        updates=updates,
        group_size=group_size,
        prompts=prompts,
        epochs=epochs,
        lr=lr,
        clip_eps=clip,
        beta=beta,
        ref_every=ref_every,
        seed=seed,
        difficulty=difficulty,
        eval_every=eval_every,
    )
    try:
        import matplotlib  # noqa: F401

        have_plots = True
    except ImportError:
        have_plots = False
    try:
        state = _run_training(config, out, log_dir, resume)
    except KeyboardInterrupt:
        typer.echo(f"mirr: interrupted; checkpoint saved in {checkpoint}; continue with --resume", err=True)
        raise typer.Exit(130) from None
    except (ValueError, OSError) as exc:
        fail(str(exc))
    last = state.rows[-1] if state.rows else {}
    val = [r for r in state.rows if r.get("val_success") is not None]
    typer.echo(f"trained {state.update} updates in {state.seconds:.0f}s (training time, all sessions)")
    if val:
        typer.echo(
            f"validation (greedy, seeds 500000-500199): success {val[-1]['val_success']:.1%}, "
            f"diagnosis {val[-1]['val_diagnosis']:.1%}"
        )
    elif last:
        typer.echo(f"last batch (sampling): success {last['success_rate']:.1%}")
    typer.echo(f"weights: {out}   log: {log_dir / 'training_log.csv'}   checkpoint: {checkpoint}")
    if have_plots:
        typer.echo(f"curves: {log_dir / 'reward_curve.png'}, {log_dir / 'loss_curve.png'}")
    else:
        typer.echo('curves: not drawn (matplotlib missing: pip install -e ".[plots]"); the CSV has the numbers')
    typer.echo(f"evaluate: mirr eval --agent grpo --episodes 1000 -o weights={out}")


def _run_training(config: Any, out: Path, log_dir: Path, resume: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .training import train

    show = sys.stderr.isatty()
    recent: list[float] = []
    columns = (
        TextColumn("GRPO"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("success {task.fields[rate]} · return {task.fields[ret]} · validation {task.fields[val]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not show) as progress:
        task = progress.add_task("train", total=config.updates, rate="-", ret="-", val="-")

        def tick(row: dict[str, Any]) -> None:
            recent.append(row["success_rate"])
            del recent[:-10]
            fields = {"rate": f"{sum(recent) / len(recent):.0%}", "ret": f"{row['mean_return']:+.1f}"}
            if row.get("val_success") is not None:
                fields["val"] = f"{row['val_success']:.0%}"
                if not show:
                    typer.echo(
                        f"update {row['update']}/{config.updates}: success {fields['rate']} (last 10 updates), "
                        f"return {fields['ret']}, validation {fields['val']}, {row['seconds']:.0f}s",
                        err=True,
                    )
            progress.update(task, completed=row["update"], **fields)

        return train(config, out, log_dir, resume=resume, on_update=tick)


@app.command("export-rollouts")
def export_rollouts_command(
    out: Annotated[Path, typer.Argument(help="The JSONL file to write (replaced atomically).", dir_okay=False)],
    agent: Annotated[str, typer.Option("--agent", help="Agent whose episodes to record.")] = "heuristic",
    episodes: Annotated[
        int, typer.Option("--episodes", "-n", help="Episodes (one per seed).", min=1, max=1_000_000_000)
    ] = 100,
    seed: Annotated[
        int, typer.Option("--seed", help="First seed (default: the training range, disjoint from eval's 0-999).", min=0)
    ] = 1_000_000,
    difficulty: DifficultyOpt = None,
    option: AgentOptionOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write episodes as a chat dataset (one JSON line each) for Hugging Face datasets / TRL."""
    from .rollouts import export_rollouts

    cfg = load_env_config(config)
    check_incident_options(cfg, None, difficulty)
    check_agent(agent)
    options = parse_agent_options(option)
    try:
        import agents

        agents.create(agent, config=cfg, **options)
    except TypeError as exc:
        fail(f"agent {agent!r} does not accept these options: {exc}")
    except Exception as exc:
        fail(f"cannot start agent {agent!r}: {exc}")
    if out.is_dir():
        fail(f"{out} is a folder; give a file name such as rollouts.jsonl")
    stats = {"recovered": 0, "aborted": 0}

    def count(record: dict[str, Any]) -> None:
        stats["recovered"] += record["outcome"] == "recovered"
        stats["aborted"] += record["outcome"] == "aborted"

    try:
        written, interrupted = export_rollouts(
            agent, range(seed, seed + episodes), out, difficulty, cfg, options, on_episode=count
        )
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(
        f"wrote {written} episode(s) of {agent} (seeds {seed}-{seed + written - 1}) to {out}: "
        f"{stats['recovered']} recovered"
        + (f", {stats['aborted']} aborted by agent errors" if stats["aborted"] else "")
    )
    if interrupted:
        raise typer.Exit(130)


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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Usage mistakes that Typer catches itself (`-n 0`, an unknown command)
    get the same one-line `mirr: ...` treatment as ours instead of a multi-line panel."""
    try:
        code = app(args=argv, prog_name="mirr", standalone_mode=False)
    except typer.Abort:
        typer.echo("mirr: interrupted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # Click's usage errors, as vendored by Typer
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `mirr`: show the help, as before
            app(args=["--help"], prog_name="mirr", standalone_mode=False)
            sys.exit(0)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        typer.echo(f"mirr: {message}{hint}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
