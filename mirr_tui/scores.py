"""The scoreboard: per-player results and head-to-head seeds, read from saved replays."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .replay import Replay, ReplayError, load_replay


@dataclass(slots=True)
class PlayerScore:
    player: str
    kind: str  # human | agent
    episodes: int
    success_rate: float
    diagnosis_accuracy: float
    mean_score: float
    best_score: float
    best_replay: Path | None


PLAYER_COLUMNS = ("player", "kind", "episodes", "success", "diagnosis", "mean score", "best")
_OUTCOME_WORDS = {"recovered": "recovered", "collapsed": "collapsed", "timed_out": "timed out", "aborted": "aborted"}


def player_cells(player: PlayerScore) -> tuple[str, ...]:
    """One scoreboard row as text, in PLAYER_COLUMNS order (the CLI table and the app share it)."""
    return (
        player.player,
        player.kind,
        str(player.episodes),
        f"{player.success_rate:.0%}",
        f"{player.diagnosis_accuracy:.0%}",
        f"{player.mean_score:+.1f}",
        f"{player.best_score:+.1f}",
    )


def result_text(score: float, outcome: str | None) -> str:
    """`+48.5 recovered`: one player's result on one incident."""
    return f"{score:+.1f} {_OUTCOME_WORDS.get(outcome or '', '?')}"


@dataclass(slots=True)
class HeadToHead:
    """One incident (seed, difficulty, scenario) that several players have played."""

    seed: int
    difficulty: str
    scenario: str | None
    root_service: str | None
    fault_mode: str | None
    results: dict[str, tuple[float, str | None, Path | None]]  # player -> (best score, outcome, replay)

    @property
    def incident(self) -> str:
        return self.difficulty + (f" · {self.scenario}" if self.scenario else "")

    @property
    def best_score(self) -> float:
        return max(score for score, _, _ in self.results.values())

    def cell(self, player: str) -> str:
        """That player's result on this incident, or `-` if they have not played it."""
        if player not in self.results:
            return "-"
        score, outcome, _ = self.results[player]
        return result_text(score, outcome)


@dataclass(slots=True)
class Scoreboard:
    players: list[PlayerScore]
    head_to_head: list[HeadToHead]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    replays: list[Replay] = field(default_factory=list)

    @property
    def rival_names(self) -> list[str]:
        """Every player who appears in a head-to-head, sorted (the head-to-head table's columns)."""
        return sorted({name for h in self.head_to_head for name in h.results})


def player_label(replay: Replay) -> str:
    name = replay.player_name
    model = replay.player.get("model")
    return f"{name} ({model})" if model else name


def build_scoreboard(directory: str | Path) -> Scoreboard:
    """Read every `*.json` in `directory` (not recursive). Unreadable files are listed, not fatal."""
    directory = Path(directory)
    replays: list[Replay] = []
    skipped: list[tuple[Path, str]] = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            try:
                replays.append(load_replay(path))
            except ReplayError as exc:
                skipped.append((path, str(exc).removeprefix(f"{path}: ").removeprefix(str(path) + " ")))
    return scoreboard_from(replays, skipped)


def scoreboard_from(replays: list[Replay], skipped: list[tuple[Path, str]] | None = None) -> Scoreboard:
    by_player: dict[str, list[Replay]] = defaultdict(list)
    for replay in replays:
        by_player[player_label(replay)].append(replay)
    players = []
    for label, runs in by_player.items():
        scores = [float(r.summary.get("score", 0.0)) for r in runs]
        best = max(runs, key=lambda r: float(r.summary.get("score", 0.0)))
        players.append(
            PlayerScore(
                player=label,
                kind="human" if runs[0].is_human else "agent",
                episodes=len(runs),
                success_rate=sum(r.summary.get("outcome") == "recovered" for r in runs) / len(runs),
                diagnosis_accuracy=sum(bool(r.summary.get("diagnosis_correct")) for r in runs) / len(runs),
                mean_score=statistics.fmean(scores),
                best_score=max(scores),
                best_replay=best.path,
            )
        )
    players.sort(key=lambda p: (-p.mean_score, p.player))

    by_incident: dict[tuple[int, str, str | None], list[Replay]] = defaultdict(list)
    for replay in replays:
        by_incident[(replay.seed, replay.difficulty, replay.scenario)].append(replay)
    head_to_head = []
    for (seed, difficulty, scenario), runs in sorted(
        by_incident.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
    ):
        if len({player_label(r) for r in runs}) < 2:
            continue
        results: dict[str, tuple[float, str | None, Path | None]] = {}
        for run in runs:
            label = player_label(run)
            score = float(run.summary.get("score", 0.0))
            if label not in results or score > results[label][0]:
                results[label] = (score, run.summary.get("outcome"), run.path)
        head_to_head.append(
            HeadToHead(
                seed,
                difficulty,
                scenario,
                runs[0].summary.get("root_service"),
                runs[0].summary.get("fault_mode"),
                results,
            )
        )
    return Scoreboard(players, head_to_head, list(skipped or []), replays)
