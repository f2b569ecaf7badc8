"""The scoreboard: per-player results and head-to-head seeds, read from saved replays."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .replay import Replay, ReplayError, content_digest, parse_replay, player_label, read_replay_bytes
from .tags import SHORT, TAGS
from .verdicts import VerdictCache


@dataclass(slots=True)
class PlayerScore:
    player: str
    kind: str  # human | agent
    episodes: int  # finished ones: every rate and score below is over these
    success_rate: float
    diagnosis_accuracy: float
    mean_score: float
    best_score: float
    best_replay: Path | None
    abandoned: int = 0  # quit mid-episode: counted apart, never a loss
    tags: dict[str, int] = field(default_factory=dict)  # failure tag -> finished episodes that carry it


PLAYER_COLUMNS = ("player", "kind", "episodes", "success", "diagnosis", "mean score", "best", "abandoned")
_OUTCOME_WORDS = {"recovered": "recovered", "collapsed": "collapsed", "timed_out": "timed out", "aborted": "aborted"}


def player_cells(player: PlayerScore) -> tuple[str, ...]:
    """One scoreboard row as text, in PLAYER_COLUMNS order (the CLI table and the app share it)."""
    if not player.episodes:  # only abandoned runs: no rate to show
        return (player.player, player.kind, "0", "-", "-", "-", "-", str(player.abandoned))
    return (
        player.player,
        player.kind,
        str(player.episodes),
        f"{player.success_rate:.0%}",
        f"{player.diagnosis_accuracy:.0%}",
        f"{player.mean_score:+.1f}",
        f"{player.best_score:+.1f}",
        str(player.abandoned),
    )


TAG_COLUMNS = ("player", *SHORT.values())


def tag_cells(player: PlayerScore) -> tuple[str, ...]:
    """One row of the "how they fail" table: the share of finished episodes with each tag."""
    if not player.episodes:
        return (player.player, *("-" for _ in TAGS))
    return (player.player, *(f"{player.tags.get(tag, 0) / player.episodes:.0%}" for tag in TAGS))


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
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # unreadable files, with the reason
    replays: list[Replay] = field(default_factory=list)  # the counted ones (headers: frames may not be loaded)
    unverified: list[tuple[Path, str]] = field(default_factory=list)  # readable, but the frames disagree

    @property
    def rival_names(self) -> list[str]:
        """Every player who appears in a head-to-head, sorted (the head-to-head table's columns)."""
        return sorted({name for h in self.head_to_head for name in h.results})


def build_scoreboard(directory: str | Path, cache: VerdictCache | None = None) -> Scoreboard:
    """Read every `*.json` in `directory` (not recursive) and count only the replays that verify.

    Unreadable files are listed in `skipped`, files whose frames do not re-simulate to what they claim
    (an edited score, seed or outcome) in `unverified`; neither is fatal. Verdicts are cached by content.
    """
    directory = Path(directory)
    replays: list[Replay] = []
    skipped: list[tuple[Path, str]] = []
    unverified: list[tuple[Path, str]] = []
    tagged: dict[Path, list[str]] = {}
    if directory.is_dir():
        verdicts = cache or VerdictCache()
        for path in sorted(directory.glob("*.json")):
            try:
                raw = read_replay_bytes(path)
                known = verdicts.lookup(content_digest(raw), path)
                if known is None:
                    replay = parse_replay(raw, path)
                    result, tags = verdicts.check(replay)
                else:
                    result, replay, tags = known
            except ReplayError as exc:
                skipped.append((path, str(exc).removeprefix(f"{path}: ").removeprefix(str(path) + " ")))
                continue
            if result.ok:
                replays.append(replay)
                tagged[path] = tags
            else:
                unverified.append((path, result.message))
        verdicts.save()
    board = scoreboard_from(replays, skipped, tagged)
    board.unverified = unverified
    return board


def scoreboard_from(
    replays: list[Replay],
    skipped: list[tuple[Path, str]] | None = None,
    tagged: dict[Path, list[str]] | None = None,
) -> Scoreboard:
    """The board from verified replays; `tagged` maps a replay's path to its failure tags (mirr_tui.tags)."""
    tagged = tagged or {}
    by_player: dict[str, list[Replay]] = defaultdict(list)
    for replay in replays:
        by_player[player_label(replay)].append(replay)
    players = []
    for label, every_run in by_player.items():
        runs = [r for r in every_run if not r.abandoned]
        scores = [float(r.summary.get("score", 0.0)) for r in runs]
        best = max(runs, key=lambda r: float(r.summary.get("score", 0.0))) if runs else None
        finished = max(len(runs), 1)
        players.append(
            PlayerScore(
                player=label,
                kind="human" if every_run[0].is_human else "agent",
                episodes=len(runs),
                success_rate=sum(r.summary.get("outcome") == "recovered" for r in runs) / finished,
                diagnosis_accuracy=sum(bool(r.summary.get("diagnosis_correct")) for r in runs) / finished,
                mean_score=statistics.fmean(scores) if scores else 0.0,
                best_score=max(scores, default=0.0),
                best_replay=best.path if best else every_run[-1].path,
                abandoned=len(every_run) - len(runs),
                tags=dict(Counter(tag for r in runs for tag in tagged.get(r.path, []))),
            )
        )
    players.sort(key=lambda p: (not p.episodes, -p.mean_score, p.player))

    by_incident: dict[tuple[int, str, str | None], list[Replay]] = defaultdict(list)
    for replay in replays:
        if replay.abandoned:
            continue
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


@dataclass(slots=True)
class PersonalBest:
    """A player's best score on one kind of incident: `what` is `this seed`, `checkout-3am`, `daily 2026-12-02`."""

    what: str
    score: float
    tries: int
    path: Path | None


def personal_bests(
    replays: list[Replay], player: str, seed: int, difficulty: str, scenario: str | None, daily: str | None = None
) -> list[PersonalBest]:
    """The player's bests, from verified finished replays: on this seed (same difficulty and scenario), on
    this scenario (any seed), and on this daily incident. A kind they never played is left out."""
    mine = [r for r in replays if player_label(r) == player and not r.abandoned]
    kinds = [("this seed", lambda r: (r.seed, r.difficulty, r.scenario) == (seed, difficulty, scenario))]
    if scenario:
        kinds.append((scenario, lambda r: r.scenario == scenario))
    if daily:
        kinds.append((f"daily {daily}", lambda r: r.player.get("daily") == daily))
    bests = []
    for what, matches in kinds:
        runs = [r for r in mine if matches(r)]
        if runs:
            best = max(runs, key=lambda r: float(r.summary.get("score", 0.0)))
            bests.append(PersonalBest(what, float(best.summary.get("score", 0.0)), len(runs), best.path))
    return bests


def best_text(bests: list[PersonalBest], score: float) -> str:
    """`your best on this seed: +38.0 (3 tries) · new best`, for the end summary; empty if none."""
    if not bests:
        return ""
    parts = [f"on {b.what}: {b.score:+.1f} ({b.tries} {'try' if b.tries == 1 else 'tries'})" for b in bests]
    beaten = score > bests[0].score if bests[0].what == "this seed" else False
    return "your best " + " · ".join(parts) + (" · a new best on this seed" if beaten else "")
