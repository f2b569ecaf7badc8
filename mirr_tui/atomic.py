"""Atomic file writes: a temporary file beside the target, then a rename, so a reader never sees half a file."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomically(
    path: str | Path, write: Callable[[Any], None], overwrite: bool = True, binary: bool = False
) -> Path:
    """Call `write(handle)` on a temporary file beside `path`, then give it that name; returns the name.

    The handle is text (UTF-8), or bytes with `binary=True` (numpy's savez, matplotlib's savefig).
    With `overwrite=False` an existing file is never replaced: the name gains `-1`, `-2`, ...
    On any error (Ctrl-C included) the temporary file is removed and the target is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path.parent)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
            return path
        return _publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_OURS = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")  # the names _create_temporary gives
STALE_AFTER_S = 60.0


def clean_stale_temporaries(folder: Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Remove temporary files of ours that a killed writer (kill -9) left behind: our name pattern, a plain
    file, untouched for over a minute (a live writer's file is younger). Returns how many went."""
    removed = 0
    cutoff = time.time() - older_than_s
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not _OURS.match(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def _create_temporary(path: Path) -> tuple[int, Path]:
    # os.open with 0o666 lets the umask decide the permissions (mkstemp would leave the final file 0600).
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def _publish(tmp: Path, path: Path) -> Path:
    """Give `tmp` the first free name among path, path-1, path-2, ... with no window to overwrite one."""
    n = 0
    while True:
        final = path if n == 0 else path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
        try:
            os.link(tmp, final)  # unlike a rename, fails when `final` exists
        except FileExistsError:
            continue
        except OSError:  # a filesystem without hard links: check, then rename
            if final.exists():
                continue
            os.replace(tmp, final)
            return final
        tmp.unlink()
        return final
