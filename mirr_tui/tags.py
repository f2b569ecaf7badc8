"""Failure tags: how a finished trajectory went wrong, computed from its observations alone.

A tag names a habit, not a verdict on the answer, so a human's and an agent's runs on the same seeds can
be told apart by *how* they fail. Each tag comes with the steps it was seen at. Only what the player saw is
used (observations: the moves made, the logs read, the page number), never the hidden truth, except for
`against_evidence`, which compares the diagnosis with what the player's own reads had shown.

- `fixed_blind`: a restart / rollback / scale_up before any diagnosis on that page.
- `reread`: the same service's logs read again with no fix or page in between, and the read showed no pointer
  and no signature its earlier reads had not (a step spent to learn nothing; logs are a sample of lines).
- `ignored_pointer`: a log read named a service the player then never read nor diagnosed.
- `against_evidence`: the diagnosis named a service or mode the player's reads contradicted: the service's own
  logs pointed elsewhere, or showed another mode's signature and none of the diagnosed one.
- `gave_up`: the episode ended (not recovered) on three or more waits in a row.
- `looped`: the same fix on the same service three times or more on one page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

TAGS: dict[str, str] = {
    "fixed_blind": "fixed before diagnosing",
    "reread": "re-read the same log",
    "ignored_pointer": "ignored a blame pointer",
    "against_evidence": "diagnosed against the evidence seen",
    "gave_up": "gave up waiting",
    "looped": "looped",
}
SHORT: dict[str, str] = {  # table headers
    "fixed_blind": "fixed blind",
    "reread": "re-read",
    "ignored_pointer": "ignored pointer",
    "against_evidence": "against evidence",
    "gave_up": "gave up",
    "looped": "looped",
}
FIXES = ("restart", "rollback", "scale_up")


@dataclass(slots=True)
class Tagging:
    """The tags of one trajectory: tag -> the steps it was seen at (first step first)."""

    steps: dict[str, list[int]] = field(default_factory=dict)

    @property
    def tags(self) -> list[str]:
        return [tag for tag in TAGS if tag in self.steps]

    def add(self, tag: str, step: int) -> None:
        self.steps.setdefault(tag, []).append(step)

    def describe(self) -> list[str]:
        """One line per tag: `fixed before diagnosing (step 2)`, `re-read the same log (steps 3, 5)`."""
        out = []
        for tag in self.tags:
            at = self.steps[tag]
            where = f"step {at[0]}" if len(at) == 1 else "steps " + ", ".join(map(str, at))
            out.append(f"{TAGS[tag]} ({where})")
        return out


def tag_trajectory(observations: Sequence[dict[str, Any]], services: Sequence[str]) -> Tagging:
    """Tags for one finished episode, from its observations as dicts (a replay's frames, in order)."""
    from mirr_tui.agents.reasoner import read_lines  # the reference reader of blame pointers and signatures

    known = set(services)
    tagging = Tagging()
    page, diagnosed = 1, False
    read_since_change: dict[str, set[str]] = {}  # service -> what its reads showed since the last change
    pointers: dict[str, int] = {}  # named service -> step it was first named
    looked: set[str] = set()  # services read or diagnosed
    readings: dict[str, Any] = {}
    fixes: Counter[tuple[int, str | None, str | None]] = Counter()
    waits = 0
    for obs in observations[1:]:
        step = int(obs.get("step", 0))
        action = obs.get("action") if isinstance(obs.get("action"), dict) else {}  # a crafted file may hold anything
        kind, service = action.get("type"), action.get("service")
        if obs.get("page", 1) != page:  # a second fault: reading starts afresh
            page, diagnosed = obs.get("page", 1), False
            read_since_change.clear()
        waits = waits + 1 if kind == "wait" else 0
        if kind == "check_logs" and obs.get("valid", True) and service:
            looked.add(service)
            lines = [str(line.get("text", "")) for line in obs.get("logs") or [] if isinstance(line, dict)]
            reading = read_lines(lines, known - {service})
            shown = {f"blames {named}" for named in reading.blames} | {m for m, n in reading.hits.items() if n}
            if service in read_since_change and shown <= read_since_change[service]:
                tagging.add("reread", step)
            read_since_change.setdefault(service, set()).update(shown)
            readings[service] = reading
            for named in reading.blames:
                pointers.setdefault(named, step)
        elif kind == "diagnose" and obs.get("valid", True):
            diagnosed = True
            looked.add(service)
            mode = action.get("mode")
            reading = readings.get(service)
            if reading is not None and (
                reading.blamed is not None or (reading.mode is not None and reading.mode != mode)
            ):
                tagging.add("against_evidence", step)
        elif kind in FIXES and obs.get("valid", True):
            if not diagnosed:
                tagging.add("fixed_blind", step)
            fixes[(page, kind, service)] += 1
            if fixes[(page, kind, service)] == 3:
                tagging.add("looped", step)
            read_since_change.clear()
    for named, step in sorted(pointers.items(), key=lambda item: item[1]):
        if named not in looked:
            tagging.add("ignored_pointer", step)
    last = observations[-1] if observations else {}
    if last.get("done") and last.get("outcome") != "recovered" and waits >= 3:
        tagging.add("gave_up", int(last.get("step", 0)))
    return tagging


def replay_tags(replay: Any, services: Sequence[str]) -> Tagging:
    """Tags for a saved replay (frames loaded); an unfinished one gets no `gave_up`."""
    return tag_trajectory([frame.observation for frame in replay.frames], services)
