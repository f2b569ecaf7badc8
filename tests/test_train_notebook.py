"""docs/train_grpo.ipynb runs end to end on a CPU: a tiny random model and a tokenizer trained in the notebook
(MIRR_NOTEBOOK_TINY=1), two GRPO steps through TRL, the reward curve, and `mirr eval --agent llm` against
the trained model served on 127.0.0.1. No hub, no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

for module in ("trl", "peft", "nbclient"):
    pytest.importorskip(module, reason="the train extra and the dev tools: pip install -e '.[dev,train]'")

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from mirr_tui.replay import load_replay, verify_replay  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "train_grpo.ipynb"


def test_the_notebook_trains_draws_the_curve_and_evaluates_the_model(tmp_path, monkeypatch):
    monkeypatch.setenv("MIRR_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("MIRR_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    out = tmp_path / "out"
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    assert (out / "reward_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert any("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))
    printed = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert "   1  " in printed and "   2  " in printed  # a reward logged for each of the two steps

    results = json.loads((out / "eval.json").read_text())
    assert set(results) == {"mirr-grpo", "naive"}
    assert all(r["episodes"] == 1 for r in results.values())
    assert results["mirr-grpo"]["agent"] == "llm" and results["mirr-grpo"]["tokens"] > 0  # it asked the server
    replays = sorted((out / "replays").glob("*.json"))
    assert len(replays) == 2
    for replay in replays:
        verdict = verify_replay(load_replay(replay))
        assert verdict.ok, verdict.message
    assert (out / "model" / "config.json").exists()
