"""The play side pane's notebook: what each service's logs showed (a line per service), the player's own
marks (suspect / cleared) and nothing the player did not see. Pure (no Textual): computed from the view.

A digest describes the lines read, never the hidden truth: `payment @3: NullPointerException in
RequestHandler.handle x2 · build v1.17.2` or `orders @2: waiting on payment x3`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from ..core.logs import named_service
from .model import LogEntry

MARKS = ("suspect", "cleared")  # `m` cycles a service: unmarked → suspect → cleared → unmarked
MARK_SIGNS = {"suspect": "?", "cleared": "✓"}
QUIET_LEVELS = ("INFO", "DEBUG")
LOUDNESS = {"FATAL": 3, "ERROR": 2, "WARN": 1}
GIST_WORDS = 6
VERSION = re.compile(r"\bv\d+\.\d+\.\d+\b")
NUMBER = re.compile(r"(?<![\w.])\d[\d,.]*")  # a number on its own (not the 2 of SerializerV2.write)
TRAILING = ("of", "to", "in", "for", "at", "on", "from", "since", "after")


def next_mark(mark: str | None) -> str | None:
    """The mark after `mark` in the cycle (None: unmarked)."""
    if mark is None:
        return MARKS[0]
    index = MARKS.index(mark) + 1
    return MARKS[index] if index < len(MARKS) else None


def gist(text: str) -> str:
    """A log line's gist: its first words, up to a colon, a parenthesis or a number, build names dropped, so
    the same complaint counts once however its numbers vary."""
    head = re.split(r"[:(]", text, maxsplit=1)[0]
    head = VERSION.sub("", head)
    words = NUMBER.sub("#", head).split()
    if any(w.startswith("#") for w in words):  # up to the first number: "heap usage", "request queue depth"
        words = words[: next(n for n, w in enumerate(words) if w.startswith("#"))]
    words = words[:GIST_WORDS]
    while words and words[-1] in TRAILING:
        words.pop()
    short = " ".join(words).rstrip(",;")
    if not short:
        return text[:40] + ("…" if len(text) > 40 else "")
    whole = re.sub(r"\(\s*\)", "", VERSION.sub("", text)).strip().rstrip(",;")  # a build is shown apart
    return short if short == " ".join(whole.split()) else short + "…"  # a cut line says so


def digest(service: str, lines: Sequence[LogEntry], services: Iterable[str]) -> str:
    """What `service`'s logs showed, on one line: who it waits on, its loudest complaints with counts, the
    build it names; `routine` when it only wrote routine lines."""
    others = [name for name in services if name != service]
    waits: Counter[str] = Counter()
    complaints: Counter[str] = Counter()
    severity: dict[str, int] = {}  # a complaint's loudest level: FATAL and ERROR lines come first
    builds: list[str] = []
    for line in lines:
        for build in VERSION.findall(line.text):
            if build not in builds:
                builds.append(build)
        if line.level in QUIET_LEVELS:
            continue
        named = named_service(line.text, others)
        if named:
            waits[named] += 1
        else:
            text = gist(line.text)
            complaints[text] += 1
            severity[text] = max(severity.get(text, 0), LOUDNESS.get(line.level, 0))
    parts = [f"waiting on {name}" + (f" x{n}" if n > 1 else "") for name, n in waits.most_common()]
    loudest = sorted(complaints.items(), key=lambda item: (-severity[item[0]], -item[1]))[:2]
    parts += [text + (f" x{n}" if n > 1 else "") for text, n in loudest]
    if len(complaints) > 2:
        parts.append(f"+{len(complaints) - 2} more")
    if builds:
        parts.append(("builds " if len(builds) > 1 else "build ") + ", ".join(builds))
    return " · ".join(parts) if parts else "routine lines only"


def notebook_lines(
    entries: Sequence[LogEntry], services: Sequence[str], marks: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(head, text) per service read or marked, in service order: `? payment @3/5`, its digest."""
    read: dict[str, list[LogEntry]] = {}
    steps: dict[str, list[int]] = {}
    for entry in entries:
        if entry.kind == "log" and entry.service:
            read.setdefault(entry.service, []).append(entry)
            if entry.step not in steps.setdefault(entry.service, []):
                steps[entry.service].append(entry.step)
    rows = []
    for name in services:
        mark = marks.get(name)
        if name not in read and mark is None:
            continue
        sign = f"{MARK_SIGNS[mark]} " if mark else ""
        at = f" @{'/'.join(map(str, steps[name]))}" if name in steps else ""
        text = digest(name, read[name], services) if name in read else "logs not read yet"
        rows.append((f"{sign}{name}{at}: ", text))
    return rows
