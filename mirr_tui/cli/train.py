"""`mirr train` (GRPO on CPU) and `mirr export-rollouts` (episodes as a chat dataset)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from . import (
    AgentOptionOpt,
    ConfigOpt,
    DifficultyOpt,
    app,
    check_agent,
    check_incident_options,
    check_writable,
    fail,
    load_env_config,
    parse_agent_options,
)

PushOpt = Annotated[
    str | None,
    typer.Option(
        "--push-to-hub",
        metavar="OWNER/NAME",
        help="Also publish to the Hugging Face Hub, with a card (needs the hub extra and HF_TOKEN).",
    ),
]


@app.command("train")
def train_command(
    updates: Annotated[
        int, typer.Option("--updates", help="Total GRPO updates (with --resume: the target).", min=1)
    ] = 300,
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
    lr_final: Annotated[
        float,
        typer.Option("--lr-final", help="The learning rate falls linearly to lr x this by the last update.", min=0),
    ] = 0.1,
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
    push_to_hub: PushOpt = None,
    scalar: Annotated[
        bool,
        typer.Option(
            "--scalar",
            help="Play one episode at a time through IncidentEnv (the trainer before the batched env; slower).",
        ),
    ] = False,
) -> None:
    """Train the `grpo` agent from scratch with GRPO on CPU (seeds >= 1,000,000; eval uses 0-999)."""
    from ..training import TrainConfig

    cfg = load_env_config(None)
    check_incident_options(cfg, None, difficulty)
    log_dir = log_dir or out.parent
    checkpoint = log_dir / "checkpoint.npz"
    if resume and not checkpoint.exists():
        fail(f"no checkpoint to resume from in {log_dir} (train without --resume first)")
    check_writable(out.parent, log_dir)
    _check_push(push_to_hub)
    config = TrainConfig(
        updates=updates,
        group_size=group_size,
        prompts=prompts,
        epochs=epochs,
        lr=lr,
        lr_final=lr_final,
        clip_eps=clip,
        beta=beta,
        ref_every=ref_every,
        seed=seed,
        difficulty=difficulty,
        eval_every=eval_every,
        batched=not scalar,
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
    if push_to_hub:
        from ..hub import model_card

        files = {out.name: out}
        for name in ("training_log.csv", "reward_curve.png", "loss_curve.png"):
            if (log_dir / name).is_file():
                files[name] = log_dir / name
        card = model_card(cfg, state.update, state.seconds, val[-1] if val else None, sorted(files))
        _push(push_to_hub, "model", files, card, f"mirr train: {state.update} GRPO updates")


def _run_training(config: Any, out: Path, log_dir: Path, resume: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..training import train

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
    push_to_hub: PushOpt = None,
) -> None:
    """Write episodes as a chat dataset (one JSON line each) for Hugging Face datasets / TRL."""
    from ..rollouts import export_rollouts

    cfg = load_env_config(config)
    check_incident_options(cfg, None, difficulty)
    check_agent(agent)
    options = parse_agent_options(option)
    try:
        from mirr_tui import agents

        agents.create(agent, config=cfg, **options)
    except TypeError as exc:
        fail(f"agent {agent!r} does not accept these options: {exc}")
    except Exception as exc:
        fail(f"cannot start agent {agent!r}: {exc}")
    if out.is_dir():
        fail(f"{out} is a folder; give a file name such as rollouts.jsonl")
    _check_push(push_to_hub)
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
    if push_to_hub:
        from ..hub import dataset_card, outcome_counts
        from ..rollouts import load_rollouts

        seeds = range(seed, seed + written)
        card = dataset_card(cfg, agent, seeds, cfg.difficulty(difficulty).name, outcome_counts(load_rollouts(out)))
        _push(push_to_hub, "dataset", {f"data/{out.name}": out}, card, f"mirr export-rollouts: {written} episodes")


def _check_push(repo_id: str | None) -> None:
    if repo_id is None:
        return
    from ..hub import HubError, check_push_possible

    try:
        check_push_possible(repo_id)
    except HubError as exc:
        fail(str(exc))


def _push(repo_id: str, repo_type: str, files: dict[str, Path], card: str, message: str) -> None:
    from ..hub import HubError, push_files

    try:
        url = push_files(repo_id, repo_type, files, card, message)
    except HubError as exc:
        fail(str(exc), code=1)
    typer.echo(f"pushed to {url}")
