"""`--push-to-hub` on `mirr export-rollouts` and `mirr train`, against huggingface_hub with its HTTP layer
mocked (no network: a fake Hub answers the real client's requests), and the `.env` file."""

from __future__ import annotations

import base64
import json
import os

import pytest
from typer.testing import CliRunner

pytest.importorskip("huggingface_hub", reason="needs the hub extra: pip install -e '.[hub]'")
import httpx2
import huggingface_hub as hub

from mirr_tui.cli import app
from mirr_tui.hub import read_dotenv
from mirr_tui.rollouts import load_rollouts, verify_rollout

runner = CliRunner()


class FakeHub:
    """Answers huggingface_hub's create_repo / preupload / commit calls and keeps what was committed."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.created: list[dict] = []
        self.commits: list[dict] = []
        self.auth: set[str] = set()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        self.requests.append((request.method, path))
        self.auth.add(request.headers.get("authorization", ""))
        if path == "/api/repos/create":
            body = json.loads(request.content)
            self.created.append(body)
            kind = {"dataset": "datasets/", "model": ""}[body.get("type") or "model"]
            return httpx2.Response(
                200, json={"url": f"https://huggingface.co/{kind}{body['organization']}/{body['name']}"}
            )
        if path == "/api/validate-yaml":  # the client checks a card's front matter before committing it
            import yaml

            body = json.loads(request.content)
            yaml.safe_load(body["content"].split("---")[1])
            return httpx2.Response(200, json={"errors": [], "warnings": []})
        if path.endswith("/preupload/main"):
            files = json.loads(request.content)["files"]
            return httpx2.Response(
                200,
                json={"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
            )
        if path.endswith("/commit/main"):
            lines = [json.loads(line) for line in request.content.decode().splitlines() if line.strip()]
            files = {
                item["value"]["path"]: base64.b64decode(item["value"]["content"])
                for item in lines
                if item["key"] == "file"
            }
            header = next(item["value"] for item in lines if item["key"] == "header")
            self.commits.append({"path": path, "files": files, "summary": header["summary"]})
            repo = path.removeprefix("/api/").removesuffix("/commit/main").removeprefix("models/")
            return httpx2.Response(
                200, json={"commitUrl": f"https://huggingface.co/{repo}/commit/{'1' * 40}", "commitOid": "1" * 40}
            )
        return httpx2.Response(404, json={"error": f"fake hub: no route {request.method} {path}"})


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    fake = FakeHub()
    monkeypatch.setenv("HF_TOKEN", "hf_testtoken")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub.set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(fake)))
    yield fake
    hub.set_client_factory(httpx2.Client)
    hub.close_session()


def test_export_rollouts_pushes_a_dataset_with_a_card(fake_hub, tmp_path, config):
    out = tmp_path / "rollouts.jsonl"
    result = runner.invoke(app, ["export-rollouts", str(out), "-n", "3", "--push-to-hub", "someone/mirr-rollouts"])
    assert result.exit_code == 0, result.output
    assert "pushed to https://huggingface.co/datasets/someone/mirr-rollouts" in result.output
    (created,) = fake_hub.created
    assert (created["organization"], created["name"], created["type"]) == ("someone", "mirr-rollouts", "dataset")
    (commit,) = fake_hub.commits
    assert commit["path"] == "/api/datasets/someone/mirr-rollouts/commit/main"
    assert commit["files"]["data/rollouts.jsonl"] == out.read_bytes()
    records = load_rollouts(out)
    assert all(verify_rollout(r, config)[0] for r in records)
    card = commit["files"]["README.md"].decode()
    assert f"rules version {config.version}, config hash {config.hash}" in card
    assert "| agent | heuristic |" in card and "1000000-1000002 (3 episodes)" in card
    counts = {r["outcome"]: sum(x["outcome"] == r["outcome"] for x in records) for r in records}
    assert all(f"| {name} | {n} |" in card for name, n in counts.items())
    assert "Bearer hf_testtoken" in fake_hub.auth and "hf_testtoken" not in result.output


def test_train_pushes_the_weights_curves_and_a_model_card(fake_hub, tmp_path):
    out = tmp_path / "run" / "grpo.npz"
    args = ["train", "--updates", "2", "--group-size", "2", "--prompts", "1", "--eval-every", "2", "--out", str(out)]
    result = runner.invoke(app, [*args, "--push-to-hub", "someone/mirr-grpo"])
    assert result.exit_code == 0, result.output
    (commit,) = fake_hub.commits
    assert commit["path"] == "/api/models/someone/mirr-grpo/commit/main"
    assert commit["files"]["grpo.npz"] == out.read_bytes()
    assert commit["files"]["training_log.csv"] == (out.parent / "training_log.csv").read_bytes()
    card = commit["files"]["README.md"].decode()
    assert "held-out success (greedy, validation seeds 500000-500199)" in card and "| at update | 2 |" in card
    for name in commit["files"]:
        assert name == "README.md" or f"`{name}`" in card


def test_a_push_without_a_token_fails_before_the_work(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no saved login either
    out = tmp_path / "rollouts.jsonl"
    result = runner.invoke(app, ["export-rollouts", str(out), "-n", "1", "--push-to-hub", "someone/x"])
    assert result.exit_code == 2 and "needs a token" in result.output and not out.exists()
    bad = runner.invoke(app, ["export-rollouts", str(out), "-n", "1", "--push-to-hub", "no-slash"])
    assert bad.exit_code == 2 and "needs OWNER/NAME" in bad.output


def test_a_refused_push_is_one_line_and_keeps_the_file(fake_hub, tmp_path, monkeypatch):
    hub.set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(403))))
    out = tmp_path / "rollouts.jsonl"
    result = runner.invoke(app, ["export-rollouts", str(out), "-n", "1", "--push-to-hub", "someone/x"])
    assert result.exit_code == 1 and "the Hub refused the push to someone/x" in result.output
    assert len(load_rollouts(out)) == 1


def test_dotenv_sets_only_the_known_keys_and_never_overrides(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "# keys\nexport GROQ_API_KEY='gsk_from_file'\nHF_TOKEN=hf_from_file  # comment\nOTHER=ignored\nbroken line\n"
    )
    env = {"HF_TOKEN": "hf_already"}
    assert read_dotenv(path, env) == ["GROQ_API_KEY"]
    assert env == {"HF_TOKEN": "hf_already", "GROQ_API_KEY": "gsk_from_file"}
    fresh: dict[str, str] = {}
    assert sorted(read_dotenv(path, fresh)) == ["GROQ_API_KEY", "HF_TOKEN"] and fresh["HF_TOKEN"] == "hf_from_file"
    assert read_dotenv(tmp_path / "missing.env", fresh) == []
    (tmp_path / "bin.env").write_bytes(b"\xff\xfe\x00")
    assert read_dotenv(tmp_path / "bin.env", {}) == []


def test_the_console_script_reads_dotenv_from_the_working_folder(tmp_path):
    import subprocess
    import sys

    (tmp_path / ".env").write_text("GROQ_API_KEY=gsk_dotenv_secret\n")
    env = {k: v for k, v in os.environ.items() if k not in ("GROQ_API_KEY", "MIRR_LLM_API_KEY")}
    code = "import os, sys\nfrom mirr_tui.cli import main\ntry:\n    main(['agents'])\nexcept SystemExit:\n    pass\nprint('KEY', os.environ.get('GROQ_API_KEY'))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert "KEY gsk_dotenv_secret" in done.stdout
    assert done.stdout.count("gsk_dotenv_secret") == 1  # read, not echoed by mirr itself
    assert (tmp_path / ".env").read_text() == "GROQ_API_KEY=gsk_dotenv_secret\n"


def test_dotenv_example_names_the_keys_without_values():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    assert "GROQ_API_KEY=" in text and "HF_TOKEN=" in text
    assert all(
        line.split("=", 1)[1].strip() == "" for line in text.splitlines() if "=" in line and not line.startswith("#")
    )
