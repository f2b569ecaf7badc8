"""`mirr eval`: headless evaluation of agents, locally or on a remote `mirr serve`."""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ..seeds import secret_seed
from . import (
    AgentOptionOpt,
    ConfigOpt,
    DifficultyOpt,
    ScenarioOpt,
    app,
    check_agent,
    check_incident_options,
    check_writable,
    default_results_file,
    fail,
    load_env_config,
    parse_agent_options,
    rich_console,
)


@app.command("eval")
def eval_command(
    agent: Annotated[
        str, typer.Option("--agent", help="Agent name, or 'all' to compare every offline agent.")
    ] = "heuristic",
    episodes: Annotated[
        int, typer.Option("--episodes", "-n", help="Episodes (one per seed).", min=1, max=1_000_000_000)
    ] = 100,
    seed: Annotated[
        int | None, typer.Option("--seed", help="First seed (default 0); episodes use seed, seed+1, ...", min=0)
    ] = None,
    secret_seeds: Annotated[
        bool,
        typer.Option(
            "--secret-seeds",
            help="Play incidents from secret seeds no agent can guess (on a `mirr serve --secret-seeds` server,"
            " the server draws them); each is revealed in the replay and the results log afterwards.",
        ),
    ] = False,
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
        str | None,
        typer.Option(
            "--remote",
            help="Play on a `mirr serve` at this URL (http://host:port or ws://...); several, comma-separated,"
            " share the episodes.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Episodes in parallel: local processes, or sessions per --remote server. Same results.",
            min=1,
            max=256,
        ),
    ] = 1,
) -> None:
    """Headless evaluation: success rate, diagnosis accuracy, rewards, per-mode breakdown."""
    from mirr_tui import agents

    from ..evaluation import truth_needed

    urls = [url.strip() for url in remote.split(",") if url.strip()] if remote is not None else []
    if remote is not None and not urls:
        fail("--remote needs a URL (or several, comma-separated)")
    cfg = load_env_config(config) if not urls else _remote_config(urls, config)
    referee = not urls or all(_remote_flag(url, "referee") for url in urls)
    if not referee and save_replays is not None:
        fail(truth_needed(None, recording=True))
    check_incident_options(cfg, scenario, difficulty)
    check_agent(agent, allow_all=True)
    names = [a for a in agents.available() if a not in OFFLINE_EXCLUDED] if agent == "all" else [agent]
    agent_options = parse_agent_options(option)
    if agent == "all" and agent_options:
        fail("-o options belong to one agent; with --agent all every agent plays with its defaults")
    if secret_seeds and seed is not None:
        fail("--secret-seeds draws every seed; drop --seed")
    draws = {_remote_flag(url, "secret_seeds") for url in urls}
    if len(draws) > 1:
        fail("some of these servers draw secret seeds and some do not: use servers started alike")
    server_draws = draws == {True}
    if server_draws and not secret_seeds:
        fail(f"{remote} draws secret seeds (mirr serve --secret-seeds): add --secret-seeds, and drop --seed")
    if server_draws and scenario:
        fail(f"{remote} draws secret seeds, so it lets a client choose only the difficulty: drop --scenario")
    first = seed or 0
    seeds: Sequence[int | None] = range(first, first + episodes)
    if secret_seeds:  # drawn once, so with --agent all every agent meets the same incidents
        seeds = [None] * episodes if server_draws else [secret_seed() for _ in range(episodes)]
    results_log = results or default_results_file()
    summaries = []
    with _terminate_as_interrupt():  # a kill stops it like Ctrl-C: what finished is kept and logged
        for name in names:
            options = dict(agent_options)
            try:
                instance = agents.create(name, config=cfg, **options)
            except TypeError as exc:
                fail(f"agent {name!r} does not accept these options: {exc}")
            except Exception as exc:  # e.g. a missing API key: one line, before any episode runs
                if agent != "all":
                    fail(f"cannot start agent {name!r}: {exc}")
                typer.echo(f"mirr: skipping agent {name!r}: {exc}", err=True)
                continue
            problem = None if referee else truth_needed(instance)
            if problem is not None:  # the oracle on a server that keeps the truth to itself
                if agent != "all":
                    fail(problem)
                typer.echo(f"mirr: skipping agent {name!r}: {problem}", err=True)
                continue
            check_writable(save_replays, append_to=results_log if results is not None and not no_results else None)
            spread = Spread(cfg, urls, workers, referee, difficulty, scenario, save_replays)
            summary, failure = _run_eval(name, seeds, options, spread, quiet=as_json)
            summaries.append(summary)
            if not no_results:
                _append_results(results_log, summary, options, None if secret_seeds else first, cfg, scenario)
            if failure is not None:  # show and keep what finished, then say why the run stopped
                _show_eval(summaries, as_json)
                fail(f"remote play on {', '.join(urls)} failed: {failure}" if urls else failure)
    _show_eval(summaries, as_json)
    if any(s.episodes < episodes for s in summaries):
        raise typer.Exit(130)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a `kill`, a CI timeout, a container stop) stops an evaluation like Ctrl-C."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding app): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _show_eval(summaries: list[Any], as_json: bool) -> None:
    if as_json:
        payload = [s.to_dict() for s in summaries]
        typer.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    elif summaries:
        _print_eval(summaries)


def _remote_config(urls: list[str], config: Path | None) -> Any:
    """The servers' own openenv.yaml (every server must play the same one); a different local --config is a
    mistake worth one line."""
    try:
        from ..client import RemoteError, fetch_server_config
    except ModuleNotFoundError as exc:
        fail(f"--remote needs the server extra: pip install -e '.[server]' ({exc})")
    configs = []
    for url in urls:
        try:
            configs.append(fetch_server_config(url))
        except (RemoteError, ValueError) as exc:
            fail(str(exc))
    cfg = configs[0]
    for url, other in zip(urls[1:], configs[1:], strict=True):
        if other.hash != cfg.hash:
            fail(f"{url} plays a different openenv.yaml than {urls[0]} (config {other.hash}, not {cfg.hash})")
    if config is not None and load_env_config(config).hash != cfg.hash:
        fail(f"{config} differs from the openenv.yaml the server at {urls[0]} plays; drop --config to use the server's")
    return cfg


def _remote_flag(url: str, flag: str) -> bool:
    """A flag of the server's GET /mirr: `referee` (`mirr serve --referee`: it hands out the hidden state) or
    `secret_seeds` (`mirr serve --secret-seeds`: it picks every seed itself). A server that answers badly is
    one `mirr:` line."""
    from .. import client

    probe = {"referee": client.server_is_referee, "secret_seeds": client.server_draws_secret_seeds}[flag]
    try:
        return probe(url)
    except (client.RemoteError, ValueError) as exc:
        fail(str(exc))


def _remote_env(url: str, cfg: Any, difficulty: str | None, referee: bool) -> Any:
    from ..client import RemoteIncidentEnv

    return RemoteIncidentEnv(url, difficulty=difficulty, config=cfg, referee=referee)


# Agents that `--agent all` leaves out because they need a network or a key.
OFFLINE_EXCLUDED = {"llm"}


@dataclass(frozen=True)
class Spread:
    """Where an evaluation's episodes are played: one local env, local processes, or server sessions."""

    cfg: Any
    urls: list[str]
    workers: int
    referee: bool
    difficulty: str | None
    scenario: str | None
    save_replays: Path | None
    env: Any = None  # one env to play on instead of a new IncidentEnv (a test's server that dies)

    def play(self, name: str, seeds: Sequence[int | None], options: dict[str, Any], tick: Any) -> list[Any]:
        """The finished episodes in seed order (RemoteFailure from parallel if a server went away)."""
        from mirr_tui import agents

        from ..core import IncidentEnv
        from ..evaluation import evaluate, incident_options
        from ..parallel import play_in_processes, play_on_servers, sessions_per_server

        reset_options = incident_options(self.difficulty, self.scenario)
        if not self.urls and self.workers == 1:
            env = self.env or IncidentEnv(self.cfg, difficulty=self.difficulty)
            try:
                _, results = evaluate(
                    name,
                    seeds,
                    self.difficulty,
                    env=env,
                    agent_options=options,
                    scenario=self.scenario,
                    replay_dir=self.save_replays,
                    on_episode=tick,
                )
            finally:
                env.close()
            return results
        if not self.urls:
            return play_in_processes(
                name,
                seeds,
                self.workers,
                str(self.cfg.source),
                self.difficulty,
                options,
                reset_options,
                self.save_replays,
                on_episode=tick,
            )
        factories = [
            functools.partial(_remote_env, url, self.cfg, self.difficulty, self.referee)
            for url in sessions_per_server(self.urls, self.workers)
        ]
        return play_on_servers(
            name,
            seeds,
            factories,
            lambda: agents.create(name, config=self.cfg, **options),
            reset_options,
            self.save_replays,
            on_episode=tick,
        )

    @property
    def default_difficulty(self) -> str:
        return self.cfg.difficulty(self.difficulty).name


def _run_eval(
    name: str, seeds: Sequence[int | None], options: dict[str, Any], spread: Spread, quiet: bool
) -> tuple[Any, str | None]:
    """(summary of the finished episodes, why the run stopped early or None)."""
    from contextlib import nullcontext

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..evaluation import summarise
    from ..parallel import RemoteFailure

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
            results = spread.play(name, seeds, options, tick)
        except RemoteFailure as exc:
            return summarise(name, exc.results, spread.default_difficulty), str(exc)
        except (ConnectionError, RuntimeError, OSError) as exc:  # a server that went away, a full disk
            return summarise(name, finished, spread.default_difficulty), str(exc)
    return summarise(name, results, spread.default_difficulty), None


_SECRET_WORDS = ("key", "secret", "token", "password", "passwd", "auth", "credential", "cookie")


def _loggable_options(options: dict[str, Any]) -> dict[str, Any]:
    """Agent options as the results log keeps them: secret-looking keys dropped, URL credentials masked."""
    from mirr_tui.agents.llm_settings import mask_url

    return {
        k: mask_url(v) if isinstance(v, str) else v
        for k, v in options.items()
        if not any(word in k.lower() for word in _SECRET_WORDS)
    }


def _append_results(
    path: Path, summary: Any, options: dict[str, Any], first_seed: int | None, cfg: Any, scenario: str | None
) -> None:
    """One JSON line per agent run. Secret seeds (`first_seed` None) are listed, revealed now the run is over."""
    from datetime import UTC, datetime

    from .. import __version__

    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "agent": summary.agent,
        "options": _loggable_options(options),
        "seeds": (
            {"first": first_seed, "count": summary.episodes}
            if first_seed is not None
            else {"secret": True, "count": summary.episodes, "revealed": summary.seeds}
        ),
        "difficulty": summary.difficulty,
        "scenario": scenario,
        "config_hash": cfg.hash,
        "env_version": cfg.version,
        "package_version": __version__,
        "metrics": summary.to_dict(),
    }
    try:
        append_record(path, json.dumps(record))
    except OSError as exc:
        typer.echo(f"mirr: warning: could not append to results log {path}: {exc.strerror or exc}", err=True)


def append_record(path: Path, line: str) -> None:
    """Append one JSON line in a single write. A file whose last line was cut (a full disk, a kill) gets a
    newline first, so the cut line stays alone and this record is whole."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        lead = b""
        if size:
            with path.open("rb") as handle:
                handle.seek(size - 1)
                lead = b"" if handle.read(1) == b"\n" else b"\n"
        data = lead + line.encode("utf-8") + b"\n"
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(28, f"only {written} of {len(data)} bytes written")
    finally:
        os.close(fd)


def _print_eval(summaries: list[Any]) -> None:
    from rich.table import Table

    console = rich_console()
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
        "failed req",
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
            f"{s.mean_failed_requests:,.0f}",
        )
    console.print(table)
    cost = ", ".join(f"{s.agent} ${s.mean_cost:,.0f}" for s in summaries)
    console.print(f"user impact per episode (failed requests at the gateway; estimated cost, not reward): {cost}")
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
    if mode_names or not first.episodes:
        console.print(modes)
    else:  # a remote server without --referee never says which fault an episode had
        console.print("success by fault mode: hidden by the server (start it with 'mirr serve --referee' to see it)")
    for s in summaries:
        if s.tokens:
            console.print(
                f"{s.agent}: {s.tokens:,} tokens, {s.tokens / max(1, s.episodes):,.0f} per episode, {s.seconds / max(1, s.episodes):.1f}s per episode"
            )
        if s.errors:
            console.print(f"[yellow]{s.agent}: {s.errors} episode(s) aborted by agent errors[/yellow]")
