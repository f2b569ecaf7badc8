from __future__ import annotations

import numpy as np
import pytest

from mirr_tui.atomic import write_atomically


def test_text_and_binary_writes_land_whole(tmp_path):
    text = write_atomically(tmp_path / "a.txt", lambda h: h.write("one\ntwo\n"))
    assert text.read_text() == "one\ntwo\n"
    arrays = write_atomically(tmp_path / "w.npz", lambda h: np.savez(h, w=np.arange(3)), binary=True)
    assert arrays.name == "w.npz" and np.load(arrays)["w"].tolist() == [0, 1, 2]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "weights.npz"
    target.write_bytes(b"old")

    def explode(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, explode, binary=True)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.npz"]


def test_no_overwrite_picks_a_new_name(tmp_path):
    first = write_atomically(tmp_path / "r.json", lambda h: h.write("1"), overwrite=False)
    second = write_atomically(tmp_path / "r.json", lambda h: h.write("2"), overwrite=False)
    assert (first.name, second.name) == ("r.json", "r-1.json")
    assert first.read_text() == "1" and second.read_text() == "2"


def test_stale_temporaries_of_a_killed_writer_are_cleaned_on_the_next_write(tmp_path):
    import os
    import time

    from mirr_tui.atomic import write_atomically

    stale = tmp_path / ".run.json.0123abcd.tmp"  # what a kill -9 mid-write leaves
    fresh = tmp_path / ".other.json.89abcdef.tmp"  # a writer still at work
    foreign = tmp_path / ".notes.tmp"  # not ours by name
    for path in (stale, fresh, foreign):
        path.write_text("partial")
    old = time.time() - 600
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    write_atomically(tmp_path / "next.json", lambda handle: handle.write("{}"))
    assert not stale.exists() and fresh.exists() and foreign.exists()
    assert (tmp_path / "next.json").read_text() == "{}"
