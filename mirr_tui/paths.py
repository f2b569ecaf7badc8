"""Where MIRR keeps its files: the replays folder, the results log, the curated replays it ships.

Inside a checkout of the repository (the working folder holds `openenv.yaml` and `mirr_tui/`) replays go to
`replays/` as they always have; anywhere else to the user data folder that platformdirs names
(`~/.local/share/mirr` on Linux, honouring XDG_DATA_HOME; `~/Library/Application Support/mirr` on macOS;
`%LOCALAPPDATA%\\mirr` on Windows). `MIRR_REPLAY_DIR` overrides both. platformdirs comes with textual.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from platformdirs import user_cache_path, user_data_path

from .atomic import write_atomically

APP = "mirr"
PACKAGE_DIR = Path(__file__).resolve().parent
CURATED_GLOB = "curated-*.json"


def data_dir() -> Path:
    """The user data folder (not created here)."""
    return user_data_path(APP, appauthor=False)


def cache_dir() -> Path:
    """`$MIRR_CACHE_DIR`, else the user cache folder (`~/.cache/mirr` on Linux): the scoreboard's verdicts."""
    override = os.environ.get("MIRR_CACHE_DIR")
    return Path(override) if override else user_cache_path(APP, appauthor=False)


def in_checkout(folder: Path | None = None) -> bool:
    """The folder (default: the working folder) is the root of a MIRR checkout."""
    root = Path.cwd() if folder is None else folder
    return (root / "openenv.yaml").is_file() and (root / "mirr_tui").is_dir()


def default_replay_dir() -> Path:
    """MIRR_REPLAY_DIR, else `replays/` in a checkout, else `<user data folder>/replays`."""
    override = os.environ.get("MIRR_REPLAY_DIR")
    if override:
        return Path(override)
    return Path("replays") if in_checkout() else data_dir() / "replays"


def default_results_file() -> Path:
    return data_dir() / "results.jsonl"


def curated_replays() -> list[Path]:
    """The curated example replays: shipped in the wheel (mirr_tui/curated/), else the checkout's replays/."""
    shipped = PACKAGE_DIR / "curated"
    folder = shipped if shipped.is_dir() else PACKAGE_DIR.parent / "replays"
    return sorted(folder.glob(CURATED_GLOB))


def add_curated_replays(folder: Path) -> list[Path]:
    """Copy the curated replays the folder lacks into it (atomically), so the picker shows them after a
    `pip install`; returns the copies made. Never overwrites, and a folder that cannot be written is left as
    it is (the game itself reports an unwritable replays folder)."""
    made: list[Path] = []
    for source in curated_replays():
        target = folder / source.name
        if target.exists() or target.resolve() == source.resolve():
            continue
        try:
            with source.open("rb") as handle:
                write_atomically(target, lambda out, src=handle: shutil.copyfileobj(src, out), binary=True)
        except OSError:
            break
        made.append(target)
    return made
