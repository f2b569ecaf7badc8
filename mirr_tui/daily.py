"""The daily incident: one seed, difficulty and story a day, the same for everyone, one counted try each.

The date alone decides the incident (a hash of it), so two players anywhere meet the same one without a
server. The story sets the scene from the pager's side (the customer-facing symptom) and never names the
service or the fault, unlike the scenario blurbs. The share card says how the run went without giving
anything away: one symbol per kind of move, never a service or a mode.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from typing import Any

from .seeds import MAX_SEED

# Monday to Sunday: the week gets harder, the weekend is the real test.
DIFFICULTY_BY_WEEKDAY = ("easy", "normal", "normal", "normal", "hard", "hard", "hard")
# Every incident pages at 03:00 (the first log line says so): a story set at 23:59 contradicted it.
TIMES = ("03:00",)
OPENINGS = (
    "{time} on a {weekday}: the pager fires. Checkout conversion has fallen {drop}% in ten minutes.",
    "{time}, {weekday}. Support has {tickets} new tickets saying the site hangs at checkout.",
    "{time} on a {weekday}: the status page is still green, but revenue per minute is down {drop}%.",
    "{weekday}, {time}. A partner's integration is retrying against your API and your error budget is melting.",
    "{time} on a {weekday}: the on-call channel lights up. Customers report failed checkouts, {tickets} so far.",
)
CLOSINGS = (
    "The health checks say everything is fine. They have said that before.",
    "Nobody touched anything tonight. Or so the channel says.",
    "You have thirty steps before this becomes a full outage.",
    "The dashboards are noisy; the logs cost time. Choose what to read.",
)
# One symbol per kind of move: the card shows the shape of a run, never its services or modes.
MOVE_SYMBOLS = {
    "check_logs": "🔍",
    "diagnose": "🩺",
    "restart": "🔁",
    "rollback": "⏪",
    "scale_up": "📈",
    "circuit_break": "🔌",
    "wait": "⏳",
}
INVALID_SYMBOL = "✖"
OUTCOME_SYMBOLS = {"recovered": "✅", "collapsed": "💥", "timed_out": "⌛"}


@dataclass(frozen=True, slots=True)
class DailyIncident:
    date: Date
    seed: int
    difficulty: str
    story: str

    @property
    def key(self) -> str:
        return self.date.isoformat()


def _draw(day: Date, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"mirr-daily:{day.isoformat()}:{salt}".encode()).digest()[:8], "big")


def daily_incident(day: Date) -> DailyIncident:
    weekday = day.strftime("%A")
    fields = {
        "time": TIMES[_draw(day, "time") % len(TIMES)],
        "weekday": weekday,
        "drop": 20 + _draw(day, "drop") % 60,
        "tickets": 12 + _draw(day, "tickets") % 200,
    }
    opening = OPENINGS[_draw(day, "opening") % len(OPENINGS)].format(**fields)
    story = f"{opening} {CLOSINGS[_draw(day, 'closing') % len(CLOSINGS)]}"
    return DailyIncident(day, _draw(day, "seed") % MAX_SEED, DIFFICULTY_BY_WEEKDAY[day.weekday()], story)


def share_card(replay: Any) -> str:
    """Three lines to paste anywhere: the date, the moves as symbols, the outcome, score and steps."""
    moves = []
    for frame in replay.frames[1:]:
        action = frame.observation.get("action") or {}
        valid = frame.observation.get("valid", True)
        moves.append(MOVE_SYMBOLS.get(action.get("type"), INVALID_SYMBOL) if valid else INVALID_SYMBOL)
    summary = replay.summary
    outcome = summary.get("outcome")
    ending = "abandoned" if replay.abandoned else str(outcome or "unfinished").replace("_", " ")
    symbol = OUTCOME_SYMBOLS.get(outcome or "", "🏳")
    day = replay.player.get("daily", "?")
    practice = " (practice)" if replay.player.get("practice") else ""
    return "\n".join(
        [
            f"MIRR daily {day} · {replay.difficulty}{practice}",
            "".join(moves) or "(no moves)",
            f"{symbol} {ending} in {summary.get('steps', len(replay.frames) - 1)} steps · {summary.get('score', 0.0):+.1f}",
        ]
    )


@dataclass(frozen=True, slots=True)
class DailyResult:
    player: str
    score: float
    outcome: str | None
    steps: int
    tries: int
    path: Path | None


def daily_board(replays: list[Any]) -> dict[str, list[DailyResult]]:
    """date -> each player's counted try (their first, even if left unfinished: a peek is a try), best score
    first. Practice runs only add to `tries`."""
    by_day: dict[str, dict[str, list[Any]]] = {}
    for replay in replays:
        day = replay.player.get("daily")
        if isinstance(day, str):
            by_day.setdefault(day, {}).setdefault(replay.player_name, []).append(replay)
    board: dict[str, list[DailyResult]] = {}
    for day, players in sorted(by_day.items(), reverse=True):
        rows = []
        for name, runs in players.items():
            counted = _counted_try(runs) or min(runs, key=lambda r: r.started_at)  # only practice: the first
            s = counted.summary
            outcome = "abandoned" if counted.abandoned else s.get("outcome")
            score = float(s.get("score", 0.0))
            rows.append(DailyResult(name, score, outcome, int(s.get("steps", 0)), len(runs), counted.path))
        board[day] = sorted(rows, key=lambda r: (-r.score, r.steps, r.player))
    return board


def first_try(replays: list[Any], day: str, player: str) -> Any | None:
    """The counted daily replay of `player` on `day`, if they have played it (a run left unfinished counts)."""
    return _counted_try([r for r in replays if r.player.get("daily") == day and r.player_name == player])


def _counted_try(runs: list[Any]) -> Any | None:
    """One player's runs of one day: the first that is not practice counts."""
    tries = [r for r in runs if not r.player.get("practice")]
    return min(tries, key=lambda r: r.started_at) if tries else None
