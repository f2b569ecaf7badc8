"""Every headless command and its errors, through Typer's runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mirr_tui import agents
from mirr_tui.cli import _run_eval, app
from mirr_tui.cli.evaluate import Spread
from mirr_tui.core import Action, IncidentEnv, load_config
from mirr_tui.evaluation import diagnosis_verdict, run_episode
from mirr_tui.replay import load_replay

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def run(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


@pytest.fixture
def results(tmp_path):
    return tmp_path / "results.jsonl"


def test_help_lists_the_commands():
    out = run("--help").output
    for command in ("play", "watch", "replay", "scores", "eval", "agents", "scenarios"):
        assert command in out


def test_eval_json_has_the_contract_fields(results):
    out = run("eval", "--agent", "heuristic", "--episodes", 6, "--seed", 10, "--json", "--results", results)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    for key in (
        "agent",
        "episodes",
        "success_rate",
        "diagnosis_accuracy",
        "mean_reward",
        "mean_steps",
        "median_reward",
        "outcomes",
        "per_mode",
        "mean_failed_requests",
        "mean_cost",
    ):
        assert key in data
    assert data["agent"] == "heuristic" and data["episodes"] == 6
    assert data["mean_failed_requests"] > 0 and data["mean_cost"] > 0  # user impact: shown, not rewarded
    record = json.loads(results.read_text().splitlines()[-1])
    assert record["agent"] == "heuristic" and record["seeds"] == {"first": 10, "count": 6}
    assert record["config_hash"] and record["package_version"] and record["difficulty"] == "normal"
    assert record["metrics"]["success_rate"] == data["success_rate"]


def test_eval_is_reproducible(results):
    args = ("eval", "--agent", "random", "-n", 5, "--seed", 3, "--json", "--results", results)
    first, second = (json.loads(run(*args).output) for _ in range(2))
    first.pop("seconds"), second.pop("seconds")  # wall time is the only thing allowed to differ
    assert first == second


def test_eval_all_compares_every_offline_agent_in_one_table(results):
    out = run("eval", "--agent", "all", "-n", 4, "--results", results, "--difficulty", "hard")
    assert out.exit_code == 0, out.output
    for name in ("random", "naive", "heuristic", "oracle"):
        assert name in out.output
    assert "hard" in out.output and "success by fault mode" in out.output
    from mirr_tui import agents
    from mirr_tui.cli import OFFLINE_EXCLUDED

    compared = [name for name in agents.available() if name not in OFFLINE_EXCLUDED]
    assert len(results.read_text().splitlines()) == len(compared) >= 4


def test_eval_saves_replays_that_verify(tmp_path, results):
    folder = tmp_path / "runs"
    out = run(
        "eval", "--agent", "oracle", "-n", 2, "--save-replays", folder, "--results", results, "--scenario", "slow-bleed"
    )
    assert out.exit_code == 0, out.output
    files = sorted(folder.glob("*.json"))
    assert len(files) == 2
    verified = run("replay", files[0], "--verify")
    assert verified.exit_code == 0 and "OK" in verified.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("eval", "--agent", "nope"), "unknown agent 'nope'"),
        (("eval", "--difficulty", "insane"), "unknown difficulty 'insane'"),
        (("eval", "--scenario", "nope"), "unknown scenario 'nope'"),
        (("eval", "--agent", "random", "-o", "speed"), "must look like KEY=VALUE"),
        (("eval", "--agent", "random", "-o", "colour=blue"), "does not accept these options"),
        (("watch", "--agent", "nope"), "unknown agent 'nope'"),
        (("play", "--scenario", "nope"), "unknown scenario 'nope'"),
        (("replay", "--verify"), "--verify needs a replay FILE"),
        (("replay", "missing.json", "--verify"), "missing.json: no such file"),
        (("scores", "no-such-folder"), "no-such-folder: no such folder"),
        (("eval", "--config", "missing.yaml"), "cannot read"),
        (("eval", "--agent", "all", "-o", "greedy=false"), "-o options belong to one agent"),
    ],
)
def test_user_mistakes_print_one_line_and_exit_2(args, message, results):
    out = run(*args, "--results", results) if args[0] == "eval" else run(*args)
    assert out.exit_code == 2, out.output
    assert message in out.output
    assert "Traceback" not in out.output


def test_replay_verify_detects_tampering(tmp_path):
    source = next((ROOT / "replays").glob("curated-heuristic-checkout-3am-*.json"))
    data = json.loads(source.read_text())
    data["frames"][2]["reward"] = 99
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    out = run("replay", tampered, "--verify")
    assert out.exit_code == 1 and "MISMATCH" in out.output and "frame 2" in out.output


def test_replay_of_a_corrupt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "mirr-replay", "version": 7}')
    out = run("replay", bad)
    assert out.exit_code == 2 and "unsupported replay version 7" in out.output


def test_scores_plain_and_json(tmp_path):
    for path in (ROOT / "replays").glob("curated-*.json"):
        shutil.copy(path, tmp_path)
    (tmp_path / "broken.json").write_text("{oops")
    plain = run("scores", tmp_path, "--plain")
    assert plain.exit_code == 0, plain.output
    assert "reasoner" in plain.output and "heuristic" in plain.output and "naive" in plain.output
    assert "head to head" in plain.output and "skipped" in plain.output and "broken.json" in plain.output
    data = json.loads(run("scores", tmp_path, "--json").output)
    players = {p["player"]: p for p in data["players"]}
    assert players["reasoner"]["episodes"] == 5 and players["reasoner"]["success_rate"] == 1.0
    assert players["naive"]["success_rate"] == 0.0 and players["heuristic"]["success_rate"] == 0.0
    assert data["head_to_head"][0]["seed"] == 7  # checkout-3am, seed 7: reasoner and naive
    assert data["skipped"][0]["file"].endswith("broken.json")


def test_scores_on_an_empty_folder(tmp_path):
    out = run("scores", tmp_path, "--plain")
    assert out.exit_code == 0 and "no replays" in out.output


def test_agents_and_scenarios_lists():
    assert "heuristic" in run("agents").output
    out = run("scenarios").output
    assert "checkout-3am" in out and "payment/bad_deploy" in out


def test_eval_all_skips_an_agent_that_cannot_start(results, monkeypatch):
    from mirr_tui import agents

    monkeypatch.setitem(agents._REGISTRY, "needs-key", ("mirr_tui.agents.oracle", "NoSuchClass", "cannot be built"))
    out = run("eval", "--agent", "all", "-n", 2, "--results", results)
    assert out.exit_code == 0, out.output
    assert "skipping agent 'needs-key'" in out.output and "heuristic" in out.output
    single = run("eval", "--agent", "needs-key", "-n", 2, "--results", results)
    assert single.exit_code == 2 and "cannot start agent 'needs-key'" in single.output


def test_eval_table_keeps_agent_names_and_headers_when_piped(results):
    out = run("eval", "--agent", "heuristic", "-n", "2", "--results", results)
    assert out.exit_code == 0
    assert "│ heuristic │" in out.output and "success" in out.output and "…" not in out.output
    assert "success by fault mode (diagnosis accuracy)" in out.output  # the title is not wrapped either


@pytest.mark.parametrize("flag", ["--save-replays", "--results"])
def test_an_unwritable_output_fails_before_any_episode(tmp_path, flag):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    log = tmp_path / "log.jsonl"
    args = ["--results", log] if flag == "--save-replays" else []
    out = run("eval", "-n", "2", flag, blocker / "x", *args)
    assert out.exit_code == 2, out.output
    assert f"cannot write {blocker / 'x'}" in out.output and "Traceback" not in out.output
    assert not log.exists()  # nothing ran


def test_eval_refuses_an_episode_count_it_cannot_count(results):
    out = run("eval", "-n", 10**20, "--results", results)
    assert out.exit_code == 2 and "Traceback" not in out.output


class ServerThatDies(IncidentEnv):
    """A stand-in for a remote env whose server goes away after `episodes` resets."""

    def __init__(self, episodes):
        super().__init__()
        self.left = episodes

    def reset(self, *args, **kwargs):
        self.left -= 1
        return super().reset(*args, **kwargs)

    def step(self, action):
        if self.left < 0:
            raise ConnectionError("lost the connection")
        return super().step(action)


def test_an_env_failure_is_not_an_agent_error_and_eval_keeps_the_finished_episodes():
    with pytest.raises(ConnectionError):
        run_episode(ServerThatDies(0), agents.create("reasoner"), seed=1)
    spread = Spread(load_config(), [], 1, True, None, None, None, env=ServerThatDies(3))
    summary, failure = _run_eval("reasoner", range(10), {}, spread, quiet=True)
    assert failure == "lost the connection"
    assert summary.episodes == 3 and summary.errors == 0 and summary.success_rate == 1.0


def test_diagnosis_verdict_reads_the_rows_settled_at_the_end(config):
    from helpers import play_until_done

    env = IncidentEnv(config)
    first = env.reset(seed=9, options={"scenario": "checkout-3am"})
    right = env.step(Action("diagnose", "payment", "bad_deploy"))
    fix = env.step(Action("rollback", "payment"))
    assert diagnosis_verdict([first, right, fix]) is None  # decided, not yet paid: nobody can tell
    end = play_until_done(env)
    assert diagnosis_verdict([first, right, fix, end]) is True and env.state.diagnosis_correct
    env.reset(seed=9, options={"scenario": "checkout-3am"})
    env.step(Action("diagnose", "orders", "bad_deploy"))
    assert diagnosis_verdict([play_until_done(env, "rollback payment")]) is False


def test_diagnosis_verdict_needs_every_page_diagnosed(config):
    from helpers import play_until_done

    env = IncidentEnv(config)
    obs = [env.reset(seed=4, options={"scenario": "retry-storm"})]
    obs += [env.step("diagnose payment bad_deploy"), env.step("rollback payment")]
    while obs[-1].page == 1:
        obs.append(env.step("wait"))
    obs += [env.step("scale_up database"), play_until_done(env)]  # the second fault fixed, never diagnosed
    assert diagnosis_verdict(obs) is False and not env.state.diagnosis_correct


@pytest.mark.parametrize("command", [["play"], ["watch"], ["replay"]])
def test_mirr_replay_dir_moves_the_replays_of_every_screen(monkeypatch, tmp_path, command):
    seen = {}
    monkeypatch.setattr("mirr_tui.cli.run_app", lambda mode, **kwargs: seen.update(kwargs))
    out = runner.invoke(app, command, env={"MIRR_REPLAY_DIR": str(tmp_path)})
    assert out.exit_code == 0, out.output
    assert seen["replay_dir"] == tmp_path


@pytest.mark.parametrize("command", ["play", "watch"])
def test_an_unwritable_replays_folder_is_refused_before_the_game(monkeypatch, tmp_path, command):
    started = []
    monkeypatch.setattr("mirr_tui.cli.run_app", lambda mode, **kwargs: started.append(mode))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = run(command, "--replays", blocker / "replays")
    assert out.exit_code == 2 and "cannot write" in out.output and started == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "-n", "0"], "Invalid value for '--episodes'"),
        (["eval", "--episodes", "x"], "Invalid value for '--episodes'"),
        (["bogus"], "No such command 'bogus'"),
        (["eval", "--nope"], "No such option: --nope"),
    ],
)
def test_typer_usage_errors_are_one_line_too(argv, message, capsys):
    from mirr_tui.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("mirr: ") and message in err and len(err.strip().splitlines()) == 1


def test_main_passes_exit_codes_through(capsys, tmp_path):
    from mirr_tui.cli import main

    with pytest.raises(SystemExit) as ok:
        main(["agents"])
    assert ok.value.code == 0 and "heuristic" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        main(["replay", str(tmp_path / "missing.json"), "--verify"])
    assert bad.value.code == 2 and "no such file" in capsys.readouterr().err


def test_a_cut_last_line_in_the_results_log_does_not_swallow_the_next_record(results):
    results.write_text('{"agent": "random", "ok": 1}\n{"agent": "heuris', encoding="utf-8")  # a disk filled up
    out = run("eval", "--agent", "random", "-n", 1, "--results", results)
    assert out.exit_code == 0, out.output
    lines = results.read_text(encoding="utf-8").splitlines()
    assert lines[0] == '{"agent": "random", "ok": 1}' and lines[1] == '{"agent": "heuris'
    assert json.loads(lines[2])["agent"] == "random" and len(lines) == 3
    assert results.read_text(encoding="utf-8").endswith("\n")


def test_serve_can_restart_on_a_port_whose_sockets_sit_in_time_wait():
    import socket

    from mirr_tui.cli.serve import listen_problem

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server side closes first: its end of the connection waits in TIME_WAIT
    server.close()
    client.close()
    assert listen_problem("127.0.0.1", port) is None
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        assert listen_problem("127.0.0.1", busy.getsockname()[1])  # a live listener still blocks it
    finally:
        busy.close()


def test_sigterm_stops_an_evaluation_like_ctrl_c_and_keeps_what_finished(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    log = tmp_path / "results.jsonl"
    mirr = Path(sys.executable).with_name("mirr")
    runs = tmp_path / "runs"
    command = [str(mirr), "eval", "--agent", "reasoner", "-n", "1000000", "--json", "--results", str(log)]
    proc = subprocess.Popen(
        [*command, "--save-replays", str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not (runs.is_dir() and any(runs.glob("*.json"))) and time.monotonic() < deadline:
        time.sleep(0.1)  # until an episode has finished: the evaluation is under way
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert json.loads(out)["episodes"] > 0
    record = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert record["agent"] == "reasoner" and record["seeds"]["count"] > 0


def test_results_log_masks_url_credentials_and_secret_keys():
    """Issue 10 item 7: -o base_url=http://user:SECRET@host/v1 wrote SECRET into results.jsonl."""
    from mirr_tui.cli.evaluate import _loggable_options

    logged = _loggable_options(
        {"base_url": "http://user:SECRET@host/v1", "api_token": "T0K", "Password": "pw", "model": "m", "n": 3}
    )
    assert "SECRET" not in str(logged) and "T0K" not in str(logged) and "pw" not in str(logged.values())
    assert logged == {"base_url": "http://user:***@host/v1", "model": "m", "n": 3}


def test_hostile_replay_files_are_skipped_with_a_reason_not_a_crash_or_a_hang(tmp_path):
    import os

    source = next((ROOT / "replays").glob("curated-reasoner-checkout-3am-*.json"))
    good = json.loads(source.read_text())
    marked = dict(good, player={**good["player"], "name": "[/bold]x"})
    (tmp_path / "markup.json").write_text(json.dumps(marked))
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (tmp_path / "digits.json").write_text('{"format": "mirr-replay", "version": 2, "seed": ' + "7" * 5000 + "}")
    nan = json.loads(source.read_text())
    nan["summary"]["score"] = float("nan")
    (tmp_path / "nan.json").write_text(json.dumps(nan))  # json writes the NaN literal
    os.mkfifo(tmp_path / "fifo.json")
    os.symlink("/dev/zero", tmp_path / "zero.json")
    out = run("scores", tmp_path, "--plain")
    assert out.exit_code == 0, out.output
    assert "[/bold]x" in out.output  # shown as text, not parsed as markup
    for name, reason in [
        ("deep.json", "unreadable JSON"),
        ("digits.json", "unreadable JSON"),
        ("nan.json", "finite"),
        ("fifo.json", "not a regular file"),
        ("zero.json", "not a regular file"),
    ]:
        assert name in out.output and reason in " ".join(out.output.split()), (name, out.output)
    assert "+nan" not in out.output and "+inf" not in out.output
    verify = run("replay", tmp_path / "fifo.json", "--verify")
    assert verify.exit_code == 2 and "not a regular file" in verify.output


def test_eval_secret_seeds_are_unguessable_the_same_for_every_agent_and_revealed_afterwards(tmp_path, results):
    """Issue 10 item 13: `--secret-seeds` plays incidents from the whole seed space and logs them at the end."""
    folder = tmp_path / "runs"
    out = run("eval", "--agent", "all", "-n", 3, "--secret-seeds", "--results", results, "--save-replays", folder)
    assert out.exit_code == 0, out.output
    records = [json.loads(line) for line in results.read_text().splitlines()]
    revealed = [r["seeds"]["revealed"] for r in records]
    assert len(records) == len(agents.available()) - 1  # every offline agent
    assert all(seeds == revealed[0] for seeds in revealed) and len(set(revealed[0])) == 3
    assert not set(revealed[0]) & set(range(1000)) and all(r["seeds"]["secret"] for r in records)
    heuristic = next(r for r in records if r["agent"] == "heuristic")
    again = json.loads(
        run("eval", "--agent", "heuristic", "-n", 1, "--json", "--no-results", "--seed", revealed[0][0]).output
    )
    first = [load_replay(p) for p in folder.glob("*heuristic*.json") if load_replay(p).seed == revealed[0][0]]
    assert first and first[0].summary["score"] == again["mean_reward"]
    assert heuristic["metrics"]["episodes"] == 3
    mixed = run("eval", "--secret-seeds", "--seed", 4, "--no-results")
    assert mixed.exit_code == 2 and "drop --seed" in mixed.output


def test_eval_workers_spread_episodes_over_processes_with_the_serial_results(tmp_path, results):
    """Issue 13 item 6: `--workers N` plays in N local processes; the table, JSON and replays are the serial run's."""
    serial = run("eval", "--agent", "reasoner", "-n", 24, "--seed", 50, "--json", "--no-results")
    folder = tmp_path / "runs"
    spread = run(
        "eval", "--agent", "reasoner", "-n", 24, "--seed", 50, "--json", "--workers", 2,
        "--results", results, "--save-replays", folder,
    )  # fmt: skip
    assert serial.exit_code == 0 and spread.exit_code == 0, spread.output
    one, two = json.loads(serial.output), json.loads(spread.output)
    assert {**one, "seconds": 0} == {**two, "seconds": 0}
    assert len(results.read_text().splitlines()) == 1  # one record for the run, not one per worker
    replays = sorted(load_replay(p).seed for p in folder.glob("*.json"))
    assert replays == list(range(50, 74))
    table = run("eval", "--agent", "naive", "-n", 12, "--no-results")
    assert run("eval", "--agent", "naive", "-n", 12, "--no-results", "--workers", 3).output == table.output
