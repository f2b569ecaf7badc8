"""Which saved replays the scoreboard may count: each file's re-simulation verdict, cached.

Counting a replay means trusting its summary, so the scoreboard re-simulates every file as `mirr replay
--verify` does. That costs milliseconds a file; the verdict is kept in the user cache folder under the
file's content hash and a fingerprint of the rules and the code that re-simulates, so an unchanged file
is never re-simulated twice and any edit to the file, to openenv.yaml or to the simulator is a miss.
With the verdict the cache keeps the file's header (everything but the frames) and its failure tags
(mirr_tui.tags), so a warm scoreboard hashes each file's bytes and parses nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .atomic import write_atomically
from .core import EnvConfig, load_config
from .paths import cache_dir
from .replay import Replay, VerifyResult, replay_from_header, replay_header, verify_replay
from .tags import TAGS, replay_tags

CACHE_FILE = "verdicts.json"
CACHE_FORMAT = "mirr-verdicts/2"  # 2: entries are [ok, message, header, tags]
MAX_ENTRIES = 50_000  # oldest dropped first; a verdict is ~150 bytes
MAX_CACHE_BYTES = 32 * 1024 * 1024


_FINGERPRINTS: dict[str, str] = {}


def simulator_fingerprint(config: EnvConfig) -> str:
    """What a verdict depends on besides the file: the rules (config hash) and the re-simulating code."""
    if config.hash not in _FINGERPRINTS:
        digest = hashlib.sha256(config.hash.encode())
        package = Path(__file__).parent
        for source in [*sorted((package / "core").glob("*.py")), package / "replay.py"]:
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
        _FINGERPRINTS[config.hash] = digest.hexdigest()[:20]
    return _FINGERPRINTS[config.hash]


class VerdictCache:
    """`verdict(replay)` re-simulates once per file content; `save()` writes new verdicts atomically.

    An unreadable, foreign or oversized cache file is ignored (and replaced on save); a cache folder
    that cannot be written only costs speed, never a result.
    """

    def __init__(self, path: str | Path | None = None, config: EnvConfig | None = None) -> None:
        self.path = Path(path) if path is not None else cache_dir() / CACHE_FILE
        self.config = config or load_config()
        self.fingerprint = simulator_fingerprint(self.config)
        self.entries: dict[str, list[Any]] = self._read()
        self.hits = self.misses = 0
        self._dirty = False

    def _read(self) -> dict[str, list[Any]]:
        try:
            if self.path.stat().st_size > MAX_CACHE_BYTES:
                return {}
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return {}
        if (
            not isinstance(data, dict)
            or data.get("format") != CACHE_FORMAT
            or not isinstance(data.get("entries"), dict)
        ):
            return {}
        return {
            key: value
            for key, value in data["entries"].items()
            if isinstance(value, list) and len(value) == 4 and isinstance(value[0], bool) and isinstance(value[1], str)
        }

    def lookup(self, digest: str, path: Path) -> tuple[VerifyResult, Replay, list[str]] | None:
        """The cached verdict on a file with these bytes, its frameless Replay and its failure tags, or None."""
        key = f"{self.fingerprint}:{digest}"
        cached = self.entries.get(key)
        replay = replay_from_header(cached[2], path, digest) if cached else None
        tags = cached[3] if cached else None
        if replay is None or not isinstance(tags, list) or not set(map(str, tags)) <= set(TAGS):
            self.entries.pop(key, None)  # a malformed entry is re-verified, not trusted
            return None
        self.hits += 1
        return VerifyResult(cached[0], cached[1]), replay, tags

    def verdict(self, replay: Replay) -> VerifyResult:
        return self.check(replay)[0]

    def check(self, replay: Replay) -> tuple[VerifyResult, list[str]]:
        """Re-simulate `replay` and tag it (or recall both for these bytes)."""
        services = self.config.service_names
        if replay.digest is None:  # not read from a file: nothing to key it by
            result = verify_replay(replay, self.config)
            return result, replay_tags(replay, services).tags if result.ok else []
        key = f"{self.fingerprint}:{replay.digest}"
        cached = self.entries.get(key)
        if cached is not None:
            self.hits += 1
            return VerifyResult(cached[0], cached[1]), list(cached[3])
        self.misses += 1
        result = verify_replay(replay, self.config)
        tags = replay_tags(replay, services).tags if result.ok else []  # a file that does not verify is not counted
        self.entries.pop(key, None)
        self.entries[key] = [result.ok, result.message, replay_header(replay), tags]
        self._dirty = True
        return result, tags

    def save(self) -> None:
        if not self._dirty:
            return
        entries = self.entries
        if len(entries) > MAX_ENTRIES:
            entries = dict(list(entries.items())[-MAX_ENTRIES:])
        text = json.dumps({"format": CACHE_FORMAT, "entries": entries}, separators=(",", ":"))
        try:
            write_atomically(self.path, lambda handle: handle.write(text))
        except OSError:
            return
        self.entries = entries
        self._dirty = False
