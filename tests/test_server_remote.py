"""A real `mirr serve` subprocess on 127.0.0.1: the typed client, remote evaluation against local,
and a bounded load-and-faults run (the bench's own code with small numbers). Needs the `server` extra."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("openenv", reason="needs the server extra: pip install -e '.[server]'")
from typer.testing import CliRunner

from mirr_tui import agents
from mirr_tui.cli import app as cli_app
from mirr_tui.client import (
    HiddenStateError,
    MirrClient,
    RemoteError,
    RemoteIncidentEnv,
    SessionState,
    fetch_server_config,
)
from mirr_tui.core import Action, IncidentEnv
from mirr_tui.evaluation import evaluate
from mirr_tui.replay import load_replay, verify_replay

ROOT = Path(__file__).resolve().parent.parent


def _load_bench():
    spec = importlib.util.spec_from_file_location("load_bench", ROOT / "bench" / "load_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_bench"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


@pytest.fixture(scope="module")
def server():
    """A plain `mirr serve`: clients never see the hidden truth."""
    running = bench.start_server(sessions=16)
    try:
        yield running
    finally:
        running.stop()
        running.log.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def referee_server():
    """`mirr serve --referee`: `state` hands out the referee's view (the oracle and remote replays need it)."""
    running = bench.start_server(sessions=8, referee=True)
    try:
        yield running
    finally:
        running.stop()
        running.log.unlink(missing_ok=True)


def test_the_client_plays_one_episode_exactly_like_local_play(referee_server, config):
    server = referee_server
    local = IncidentEnv(config)
    agent = agents.create("heuristic")
    with MirrClient(base_url=server.url).sync() as client:
        result = client.reset(seed=31, episode_id="ep-31")
        expected = local.reset(seed=31, episode_id="ep-31")
        assert result.observation == expected and result.done is False
        agent.reset(result.observation)
        while not result.done:
            move = agent.act(result.observation)
            result = client.step(move)
            expected = local.step(move)
            assert result.observation == expected
            assert (result.reward, result.done) == (expected.reward, expected.done)
        assert client.state() == local.state
        # text and dict moves work too, like IncidentEnv.step
        client.reset(seed=32, episode_id="ep-32")
        local.reset(seed=32, episode_id="ep-32")
        assert client.step("logs payment").observation == local.step("logs payment")
        assert client.step({"type": "diagnose", "service": "auth", "mode": "crashed"}).observation == local.step(
            Action("diagnose", "auth", "crashed")
        )
        with pytest.raises(RuntimeError, match="VALIDATION_ERROR"):
            client.step({"type": "reboot"})
        assert client.state().step_count == 2  # the refused payload spent no step
    assert bench.wait_for_open_sessions(server, 0) == 0


def _comparable(results):
    return [{k: v for k, v in dataclasses.asdict(r).items() if k != "seconds"} for r in results]


def test_remote_and_local_evaluation_are_identical_on_20_seeds(referee_server, config):
    server = referee_server
    seeds = range(20)
    local_summary, local_results = evaluate("heuristic", seeds, env=IncidentEnv(config))
    with RemoteIncidentEnv(server.url) as remote:
        assert remote.config.hash == config.hash
        remote_summary, remote_results = evaluate("heuristic", seeds, env=remote)
    assert _comparable(remote_results) == _comparable(local_results)
    local_dict, remote_dict = local_summary.to_dict(), remote_summary.to_dict()
    local_dict.pop("seconds"), remote_dict.pop("seconds")
    assert remote_dict == local_dict
    assert remote_summary.episodes == 20 and remote_summary.errors == 0


def test_remote_replays_verify_by_local_re_simulation(referee_server, tmp_path):
    from mirr_tui.replay import load_replay, verify_replay

    with RemoteIncidentEnv(referee_server.url) as remote:
        evaluate("heuristic", range(2), env=remote, replay_dir=str(tmp_path))
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 2
    for path in files:
        result = verify_replay(load_replay(path))
        assert result.ok, result.message


def test_the_oracle_reads_the_remote_truth(referee_server, config):
    _, local_results = evaluate("oracle", range(4), env=IncidentEnv(config), difficulty="hard")
    with RemoteIncidentEnv(referee_server.url, difficulty="hard") as remote:
        _, remote_results = evaluate("oracle", range(4), env=remote, difficulty="hard")
    assert _comparable(remote_results) == _comparable(local_results)
    assert all(r.outcome == "recovered" for r in remote_results)


def test_mirr_eval_remote_prints_the_same_table(referee_server, tmp_path):
    runner = CliRunner()
    command = ["eval", "--agent", "heuristic", "-n", "20", "--no-results"]
    local = runner.invoke(cli_app, command)
    remote = runner.invoke(cli_app, [*command, "--remote", referee_server.url.replace("http://", "ws://")])
    assert local.exit_code == 0 and remote.exit_code == 0, remote.output
    assert "heuristic" in remote.stdout and remote.stdout == local.stdout


def test_a_plain_server_keeps_the_truth_from_the_client(server, referee_server):
    with MirrClient(base_url=server.url).sync() as client:
        client.reset(seed=5)
        client.step("logs payment")
        state = client.state()
    assert state == SessionState(state.episode_id, 1) and not hasattr(state, "root_service")
    assert server.info()["referee"] is False and referee_server.info()["referee"] is True
    with RemoteIncidentEnv(server.url) as remote:
        remote.reset(seed=5)
        assert remote.reveals_truth is False
        with pytest.raises(HiddenStateError, match="mirr serve --referee"):
            remote.state  # noqa: B018 - the property is the call under test
    with RemoteIncidentEnv(referee_server.url) as remote:
        remote.reset(seed=5)
        assert remote.reveals_truth is True and remote.state.seed == 5


@pytest.mark.parametrize(("agent", "difficulty"), [("heuristic", None), ("random", "hard"), ("metrics", "hard")])
def test_eval_on_a_plain_server_matches_local_play(server, config, agent, difficulty):
    seeds = range(20)
    local_summary, local_results = evaluate(agent, seeds, difficulty, env=IncidentEnv(config))
    with RemoteIncidentEnv(server.url, difficulty=difficulty) as remote:
        remote_summary, remote_results = evaluate(agent, seeds, difficulty, env=remote)
    assert all(r.root_service is None and r.fault_mode is None for r in remote_results)  # never sent
    hidden = {"root_service", "fault_mode"}
    assert [{k: v for k, v in r.items() if k not in hidden} for r in _comparable(remote_results)] == [
        {k: v for k, v in r.items() if k not in hidden} for r in _comparable(local_results)
    ]
    # right, wrong and missing diagnoses all read correctly from the rows settled at the end
    verdicts = {(r.diagnosed, r.diagnosis_correct) for r in local_results}
    if agent == "random":
        assert verdicts == {(True, False), (False, False)}
    if agent == "metrics":
        assert verdicts == {(True, True), (True, False)}
    local_dict, remote_dict = local_summary.to_dict(), remote_summary.to_dict()
    for data in (local_dict, remote_dict):
        data.pop("seconds")
    assert remote_dict.pop("per_mode") == {} and local_dict.pop("per_mode")
    assert remote_dict == local_dict


def test_mirr_eval_on_a_plain_server_reports_what_it_can_know(server):
    runner = CliRunner()
    command = ["eval", "--agent", "heuristic", "-n", "12", "--seed", "40", "--no-results", "--json"]
    local = json.loads(runner.invoke(cli_app, command).stdout)
    result = runner.invoke(cli_app, [*command, "--remote", server.url])
    assert result.exit_code == 0, result.output
    remote = json.loads(result.stdout)
    for data in (local, remote):
        data.pop("seconds")
    assert remote.pop("per_mode") == {} and local.pop("per_mode")
    assert remote == local
    table = runner.invoke(cli_app, [*command[:-1], "--remote", server.url])
    assert table.exit_code == 0 and "mirr serve --referee" in table.stdout and "success by fault mode" in table.stdout


def test_the_oracle_and_replays_are_refused_by_a_plain_server_before_any_episode(server, tmp_path):
    runner = CliRunner()
    before = server.info()["sessions"]["episodes"]
    result = runner.invoke(cli_app, ["eval", "--agent", "oracle", "-n", "3", "--no-results", "--remote", server.url])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "mirr: the oracle reads the hidden state: start the server with 'mirr serve --referee'\n"
    command = ["eval", "-n", "1", "--no-results", "--remote", server.url, "--save-replays", str(tmp_path / "r")]
    result = runner.invoke(cli_app, command)
    assert result.exit_code == 2
    assert result.stderr == "mirr: replays record the hidden state: start the server with 'mirr serve --referee'\n"
    assert server.info()["sessions"]["episodes"] == before  # refused up front: nothing was played
    # --agent all plays every other agent and says why the oracle sat out
    result = runner.invoke(
        cli_app, ["eval", "--agent", "all", "-n", "2", "--no-results", "--json", "--remote", server.url]
    )
    assert result.exit_code == 0, result.output
    assert "mirr: skipping agent 'oracle': the oracle reads the hidden state" in result.stderr
    played = [s["agent"] for s in json.loads(result.stdout)]
    assert "oracle" not in played and "heuristic" in played
    with RemoteIncidentEnv(server.url) as remote, pytest.raises(ValueError, match="the oracle reads the hidden state"):
        evaluate("oracle", range(1), env=remote)


def test_user_mistakes_get_one_line(server, tmp_path):
    runner = CliRunner()
    closed = f"http://127.0.0.1:{bench.free_port()}"
    result = runner.invoke(cli_app, ["eval", "-n", "1", "--no-results", "--remote", closed])
    assert result.exit_code == 2 and "cannot reach a MIRR server" in result.stderr
    result = runner.invoke(cli_app, ["eval", "-n", "1", "--no-results", "--remote", "ftp://127.0.0.1:1"])
    assert result.exit_code == 2 and "not a server address" in result.stderr
    other = tmp_path / "other.yaml"
    other.write_text((ROOT / "openenv.yaml").read_text().replace("max_steps: 30", "max_steps: 20", 1))
    result = runner.invoke(cli_app, ["eval", "-n", "1", "--no-results", "--remote", server.url, "--config", str(other)])
    assert result.exit_code == 2 and "differs from the openenv.yaml the server" in result.stderr
    result = runner.invoke(cli_app, ["serve", "--port", str(server.port)])
    assert result.exit_code == 2 and "cannot listen on 127.0.0.1" in result.stderr
    with pytest.raises(RemoteError):
        fetch_server_config(closed, timeout=2)


def test_openenv_validate_passes_against_the_running_server(server):
    from openenv.cli._validation import validate_running_environment

    report = validate_running_environment(server.url, timeout_s=10)
    failed = [c for c in report["criteria"] if not c["passed"]]
    assert report["passed"], failed
    assert report["mode"] == "simulation"


def test_bounded_load_with_faults_keeps_serving_and_matches_local_play(server):
    before = server.info()["sessions"]
    faults = bench.inject_faults(server, kills=2, first_seed=50_000)
    assert faults["ok"], faults
    assert faults["session_ending_frames"]["binary"].startswith("SESSION_ERROR")
    load = asyncio.run(bench.run_load(server.url, sessions=8, episodes_per_session=2, first_seed=100))
    assert load.episodes == 16 and load.steps > 0
    for record in load.records:
        assert record.key() == bench.play_local(record.seed).key(), record.seed
    assert bench.wait_for_open_sessions(server, 0) == 0
    after = server.info()["sessions"]
    assert after["created"] >= before["created"] + 2 + 2 + 3 + 8  # killed, dropped, malformed, load sessions
    assert server.process.poll() is None


def test_a_server_that_dies_mid_request_is_a_remote_error_not_a_crash(config):
    import threading

    from websockets.sync.server import serve

    def hang_up(ws):
        ws.recv()  # take the request, never answer
        ws.close()

    with serve(hang_up, "127.0.0.1", 0) as dying:
        threading.Thread(target=dying.serve_forever, daemon=True).start()
        port = dying.socket.getsockname()[1]
        remote = RemoteIncidentEnv(f"http://127.0.0.1:{port}", config=config, timeout=10)
        with remote, pytest.raises(RemoteError, match="lost the connection"):
            remote.reset(seed=1)
        dying.shutdown()


@pytest.mark.parametrize(
    ("status", "body", "message"), [(404, b"nope", "HTTP 404"), (200, b"<html>", "not a manifest")]
)
def test_a_server_that_is_not_mirr_is_named_as_such(status, body, message):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    other = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{other.server_address[1]}"
        with pytest.raises(RemoteError, match=f"is not a MIRR server .*{message}"):
            fetch_server_config(url, timeout=5)
    finally:
        other.shutdown()
        other.server_close()


@pytest.fixture(scope="module")
def secret_server():
    """`mirr serve --secret-seeds --referee`: the server draws every seed and reveals it at the end."""
    running = bench.start_server(sessions=4, referee=True, extra=("--secret-seeds",))
    try:
        yield running
    finally:
        running.stop()
        running.log.unlink(missing_ok=True)


def test_eval_on_a_secret_seed_server_reveals_seeds_that_re_simulate(secret_server, tmp_path):
    """Issue 10 item 13: the server picks the seeds; the results log and replays reveal them afterwards."""
    runner = CliRunner()
    refused = runner.invoke(cli_app, ["eval", "-n", "2", "--no-results", "--remote", secret_server.url])
    assert refused.exit_code == 2 and "add --secret-seeds" in refused.output
    log, folder = tmp_path / "results.jsonl", tmp_path / "replays"
    command = ["eval", "--agent", "reasoner", "-n", "3", "--secret-seeds", "--remote", secret_server.url]
    result = runner.invoke(cli_app, [*command, "--results", str(log), "--save-replays", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(log.read_text())
    seeds = record["seeds"]["revealed"]
    assert record["seeds"]["secret"] is True and len(seeds) == 3 and all(isinstance(s, int) for s in seeds)
    assert len(set(seeds)) == 3 and not set(seeds) & set(range(1000))  # 3 draws in 2**63: never small
    replays = [load_replay(p) for p in sorted(folder.glob("*.json"))]
    assert sorted(r.seed for r in replays) == sorted(seeds) and all(verify_replay(r).ok for r in replays)
    local, _ = evaluate("reasoner", seeds)
    assert {**local.to_dict(), "seconds": 0} == {**record["metrics"], "seconds": 0}  # all but the wall time


def test_eval_over_two_servers_and_several_sessions_each_matches_one_server(server, referee_server, tmp_path):
    """Issue 13 item 6: `--remote A,B --workers 2` spreads episodes over 4 sessions; same table, one log record."""
    runner = CliRunner()
    command = ["eval", "--agent", "heuristic", "-n", "20", "--seed", "100"]
    one = runner.invoke(cli_app, [*command, "--no-results", "--remote", server.url])
    log = tmp_path / "results.jsonl"
    urls = f"{server.url},{referee_server.url.replace('http://', 'ws://')}"
    spread = runner.invoke(cli_app, [*command, "--results", str(log), "--remote", urls, "--workers", "2"])
    assert one.exit_code == 0 and spread.exit_code == 0, spread.output
    assert spread.stdout == one.stdout  # the plain server's table: one of the two keeps the truth
    assert len(log.read_text().splitlines()) == 1
    bad = runner.invoke(cli_app, [*command, "--no-results", "--remote", f"{server.url},http://127.0.0.1:9"])
    assert bad.exit_code == 2 and "127.0.0.1:9" in bad.output


def test_the_server_declines_per_message_compression(server):
    """Issue 13 item 5: compressing every small observation cost more CPU than the step itself."""
    from websockets.sync.client import connect

    with connect(server.url.replace("http://", "ws://") + "/ws") as ws:  # the client offers permessage-deflate
        assert ws.request.headers.get("Sec-WebSocket-Extensions", "").startswith("permessage-deflate")
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
