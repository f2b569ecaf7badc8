"""Load and faults on loopback: concurrent sessions playing full heuristic episodes against a
`mirr serve` this script starts on 127.0.0.1, clients killed mid-episode, malformed frames.

Prints episodes/s, p50/p99 step latency (client round trip), the server's RSS before and after,
whether every episode matched local play exactly, and whether the server freed every session.
Bounded: fixed counts and timeouts; it stops the server it started. Only ever 127.0.0.1.

    .venv/bin/python bench/load_bench.py [--sessions 64] [--episodes 4] [--kills 8] [--json]

tests/test_server_remote.py drives the same functions with small numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"  # never any other address
ROOT = Path(__file__).resolve().parent.parent
CALL_TIMEOUT = 30.0  # seconds for any single request; a hung server fails the run instead of hanging it


# ---------------------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def http_json(port: int, path: str, timeout: float = 5.0) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never goes via a proxy
    with opener.open(f"http://{HOST}:{port}{path}", timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def info(self) -> dict[str, Any]:
        return http_json(self.port, "/mirr")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(
    sessions: int,
    port: int | None = None,
    ready_timeout: float = 90.0,
    referee: bool = False,
    extra: tuple[str, ...] = (),
) -> Server:
    """`mirr serve` on 127.0.0.1 in a subprocess (`--referee` with referee=True, then any `extra` arguments);
    returns once /health answers."""
    port = port or free_port()
    log = Path(tempfile.mkstemp(prefix="mirr-serve-", suffix=".log")[1])
    command = [sys.executable, "-m", "mirr_tui.cli", "serve", "--host", HOST, "--port", str(port)]
    command += ["--sessions", str(sessions)] + (["--referee"] if referee else []) + list(extra)
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)
    server = Server(process, port, log)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mirr serve exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if http_json(port, "/health", timeout=1.0).get("status") == "healthy":
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"mirr serve did not answer /health within {ready_timeout:.0f}s: {log.read_text()[-2000:]}")


def wait_for_open_sessions(server: Server, expected: int, timeout: float = 15.0) -> int:
    """Poll GET /mirr until `expected` environments are open (the server frees sessions asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        count = server.info()["sessions"]["open"]
        if count == expected or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------- episodes
@dataclass
class EpisodeRecord:
    seed: int
    outcome: str | None
    score: float
    steps: int
    diagnosis_correct: bool
    digest: str  # sha256 of every observation of the episode, in order

    def key(self) -> tuple:
        return (self.seed, self.outcome, self.score, self.steps, self.diagnosis_correct, self.digest)


def _digest(observations: list[Any]) -> str:
    # through the core's own from_dict, so 0 and 0.0 (equal values) hash alike
    from mirr_tui.core import Observation

    canonical = [Observation.from_dict(obs.to_dict()).to_dict() for obs in observations]
    for obs in canonical:  # the episode id is random by design (rules v2): everything else must match
        obs.pop("metadata", None)
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def play_local(seed: int) -> EpisodeRecord:
    """The reference: the same agent on a local IncidentEnv."""
    from mirr_tui import agents
    from mirr_tui.core import IncidentEnv

    env, agent = IncidentEnv(), agents.create("heuristic")
    obs = env.reset(seed=seed)
    agent.reset(obs)
    seen = [obs]
    while not obs.done:
        obs = env.step(agent.act(obs))
        seen.append(obs)
    truth = env.state
    return EpisodeRecord(seed, obs.outcome, obs.score, obs.step, truth.diagnosis_correct, _digest(seen))


async def play_session(url: str, seeds: list[int], latencies: list[float]) -> list[EpisodeRecord]:
    """One WebSocket session (a MirrClient) playing a heuristic episode per seed."""
    from mirr_tui import agents
    from mirr_tui.client import MirrClient
    from mirr_tui.evaluation import diagnosis_verdict

    records = []
    async with MirrClient(base_url=url, message_timeout_s=CALL_TIMEOUT) as client:
        agent = agents.create("heuristic")
        for seed in seeds:
            result = await client.reset(seed=seed)
            obs = result.observation
            agent.reset(obs)
            seen = [obs]
            while not obs.done:
                move = agent.act(obs)
                started = time.perf_counter()
                result = await client.step(move)
                latencies.append(time.perf_counter() - started)
                obs = result.observation
                seen.append(obs)
            # a plain server keeps the truth; the reward rows say whether the diagnosis was right
            correct = bool(diagnosis_verdict(seen))
            records.append(EpisodeRecord(seed, obs.outcome, obs.score, obs.step, correct, _digest(seen)))
    return records


@dataclass
class LoadResult:
    sessions: int
    episodes: int
    seconds: float
    steps: int
    p50_ms: float
    p99_ms: float
    records: list[EpisodeRecord] = field(repr=False, default_factory=list)

    @property
    def episodes_per_second(self) -> float:
        return self.episodes / self.seconds if self.seconds else 0.0


async def run_load(url: str, sessions: int, episodes_per_session: int, first_seed: int = 0) -> LoadResult:
    """`sessions` concurrent sessions, each playing `episodes_per_session` full episodes."""
    latencies: list[float] = []
    plan = [[first_seed + s * episodes_per_session + e for e in range(episodes_per_session)] for s in range(sessions)]
    started = time.perf_counter()
    batches = await asyncio.gather(*(play_session(url, seeds, latencies) for seeds in plan))
    seconds = time.perf_counter() - started
    records = sorted((r for batch in batches for r in batch), key=lambda r: r.seed)
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    return LoadResult(sessions, len(records), seconds, len(latencies), pct(0.50), pct(0.99), records)


# ---------------------------------------------------------------------------------------- faults
def ws_url(url: str) -> str:
    return url.replace("http://", "ws://", 1) + "/ws"


async def abort_mid_episode(url: str, seed: int, steps: int = 3) -> None:
    """Reset, play a few moves, then drop the TCP connection with no close frame."""
    from websockets.asyncio.client import connect

    ws = await connect(ws_url(url), proxy=None, open_timeout=CALL_TIMEOUT)
    await ws.send(json.dumps({"type": "reset", "data": {"seed": seed}}))
    await asyncio.wait_for(ws.recv(), CALL_TIMEOUT)
    for _ in range(steps):
        await ws.send(json.dumps({"type": "step", "data": {"type": "wait"}}))
        await asyncio.wait_for(ws.recv(), CALL_TIMEOUT)
    ws.transport.abort()


# A client process that plays a few moves, says so, then waits to be killed (SIGKILL, no goodbye).
_DOOMED_CLIENT = """
import json, sys, time
from websockets.sync.client import connect
ws = connect(sys.argv[1], proxy=None, open_timeout=30)
ws.send(json.dumps({"type": "reset", "data": {"seed": int(sys.argv[2])}})); ws.recv(timeout=30)
for _ in range(3):
    ws.send(json.dumps({"type": "step", "data": {"type": "wait"}})); ws.recv(timeout=30)
print("mid-episode", flush=True)
time.sleep(120)
"""


def kill_clients_mid_episode(url: str, count: int, first_seed: int = 10_000) -> int:
    """Start `count` client processes, SIGKILL each once it is mid-episode; returns how many were killed."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _DOOMED_CLIENT, ws_url(url), str(first_seed + i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(count)
    ]
    killed = 0
    for proc in procs:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # bounded: the child exits (EOF) if it cannot connect
            killed += line.strip() == "mid-episode"
        finally:
            proc.kill()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
    return killed


MALFORMED: list[tuple[str, str | dict[str, Any]]] = [
    ("INVALID_JSON", "{not json"),
    ("INVALID_JSON", ""),
    ("UNKNOWN_TYPE", {"type": "teleport"}),
    ("UNKNOWN_TYPE", {"data": {}}),
    ("VALIDATION_ERROR", {"type": "step", "data": {"type": "reboot", "service": "payment"}}),
    ("VALIDATION_ERROR", {"type": "step", "data": {"type": "restart", "service": ["payment"]}}),
    ("VALIDATION_ERROR", {"type": "step", "data": {"type": "wait", "extra": 1}}),
    ("VALIDATION_ERROR", {"type": "step", "data": None}),
    ("VALIDATION_ERROR", {"type": "reset", "data": "seed=1"}),
    ("EXECUTION_ERROR", {"type": "reset", "data": {"seed": "seven"}}),
    ("EXECUTION_ERROR", {"type": "reset", "data": {"seed": 1, "options": {"mode": "gremlins"}}}),
]


async def send_malformed(url: str) -> dict[str, Any]:
    """Every malformed frame on one live session, then a normal move to prove the session survived;
    then the two frames OpenEnv answers by ending the session (binary, oversized) on their own
    connections. Returns what the server answered."""
    from websockets.asyncio.client import connect

    answers: list[tuple[str, str]] = []
    async with connect(ws_url(url), proxy=None, open_timeout=CALL_TIMEOUT) as ws:
        await ws.send(json.dumps({"type": "reset", "data": {"seed": 77}}))
        await asyncio.wait_for(ws.recv(), CALL_TIMEOUT)
        for expected, frame in MALFORMED:
            await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
            reply = json.loads(await asyncio.wait_for(ws.recv(), CALL_TIMEOUT))
            answers.append((expected, reply.get("data", {}).get("code", reply.get("type"))))
        await ws.send(json.dumps({"type": "step", "data": {"type": "wait"}}))
        after = json.loads(await asyncio.wait_for(ws.recv(), CALL_TIMEOUT))
    survived = after.get("type") == "observation" and after["data"]["observation"]["step"] == 1
    ended = {}
    frames = {"binary": b"\x00\x01binary", "oversized": json.dumps({"type": "step", "data": {"pad": "x" * (2 << 20)}})}
    for name, frame in frames.items():
        outcome = "no answer"
        try:
            async with connect(ws_url(url), proxy=None, open_timeout=CALL_TIMEOUT, max_size=None) as ws:
                await ws.send(frame)
                reply = json.loads(await asyncio.wait_for(ws.recv(), CALL_TIMEOUT))
                outcome = reply.get("data", {}).get("code", "?")
                await asyncio.wait_for(ws.recv(), CALL_TIMEOUT)  # the server then closes
                outcome += ", session kept"
        except Exception as exc:  # the expected ending: the server closed this one connection
            code = getattr(getattr(exc, "rcvd", None), "code", None)
            outcome += f", then closed ({code or type(exc).__name__})"
        ended[name] = outcome
    return {"answers": answers, "survived": survived, "ended": ended}


# ---------------------------------------------------------------------------------------- the run
def run(sessions: int, episodes: int, kills: int, rounds: int = 2, server: Server | None = None) -> dict[str, Any]:
    """Load rounds with faults between them; every round replays the same seeds, so every round
    must match local play and the server's memory after round 1 shows whether anything leaks."""
    own = server is None
    server = server or start_server(sessions=sessions + kills + 4)
    try:
        asyncio.run(run_load(server.url, 1, 1, first_seed=999_000))  # warm-up: imports, first allocations
        rss = [server.rss_kib()]
        results: list[LoadResult] = []
        faults: list[dict[str, Any]] = []
        for index in range(rounds):
            if index:
                faults.append(inject_faults(server, kills, first_seed=10_000 * index))
            results.append(asyncio.run(run_load(server.url, sessions, episodes, first_seed=0)))
            rss.append(server.rss_kib())
        open_at_end = wait_for_open_sessions(server, 0)
        alive = server.process.poll() is None and http_json(server.port, "/health")["status"] == "healthy"
        local = {seed: play_local(seed).key() for seed in range(sessions * episodes)}
        mismatches = sorted({r.seed for result in results for r in result.records if r.key() != local[r.seed]})
        return {
            "sessions": sessions,
            "episodes": sum(r.episodes for r in results),
            "steps": sum(r.steps for r in results),
            "episodes_per_second": round(statistics.median(r.episodes_per_second for r in results), 1),
            "p50_ms": round(statistics.median(r.p50_ms for r in results), 2),
            "p99_ms": round(statistics.median(r.p99_ms for r in results), 2),
            "rounds": [_round(r) for r in results],
            "faults": faults,
            "faults_ok": all(f["ok"] for f in faults),
            "open_sessions_at_end": open_at_end,
            "server_alive": alive,
            "rss_kib": rss,  # after warm-up, then after each round
            "identical_to_local": not mismatches,
            "mismatched_seeds": mismatches,
            "server_counts": server.info()["sessions"],
        }
    finally:
        if own:
            server.stop()


def inject_faults(server: Server, kills: int, first_seed: int) -> dict[str, Any]:
    """Kill client processes and drop sockets mid-episode, send malformed frames; then check the
    server still answers and freed every one of those sessions."""
    killed = kill_clients_mid_episode(server.url, kills, first_seed=first_seed)

    async def drop_and_garble() -> dict[str, Any]:
        await asyncio.gather(*(abort_mid_episode(server.url, first_seed + kills + i) for i in range(kills)))
        return await send_malformed(server.url)

    malformed = asyncio.run(drop_and_garble())
    open_after = wait_for_open_sessions(server, 0)
    answers_ok = all(expected == got for expected, got in malformed["answers"])
    return {
        "clients_killed": killed,
        "sockets_aborted": kills,
        "malformed_frames": len(malformed["answers"]),
        "malformed_answers_ok": answers_ok,
        "session_survived_malformed": malformed["survived"],
        "session_ending_frames": malformed["ended"],
        "open_sessions_after": open_after,
        "ok": killed == kills and answers_ok and malformed["survived"] and open_after == 0,
    }


def _round(result: LoadResult) -> dict[str, Any]:
    data = asdict(result)
    data.pop("records")
    data["episodes_per_second"] = round(result.episodes_per_second, 1)
    data["seconds"] = round(result.seconds, 2)
    data["p50_ms"], data["p99_ms"] = round(result.p50_ms, 2), round(result.p99_ms, 2)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=64, help="concurrent WebSocket sessions")
    parser.add_argument("--episodes", type=int, default=4, help="full heuristic episodes per session per round")
    parser.add_argument("--rounds", type=int, default=5, help="load rounds (faults are injected between rounds)")
    parser.add_argument("--kills", type=int, default=8, help="client processes killed and sockets aborted per fault")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    report = run(args.sessions, args.episodes, args.kills, rounds=args.rounds)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"MIRR load on {HOST} ({os.cpu_count()} CPUs shared by client and server)")
    for i, r in enumerate(report["rounds"], 1):
        print(
            f"  round {i}: {r['sessions']} sessions x {r['episodes'] // r['sessions']} = {r['episodes']} episodes, "
            f"{r['steps']} steps in {r['seconds']:.2f}s: {r['episodes_per_second']:.0f} episodes/s, "
            f"step p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms"
        )
    for i, f in enumerate(report["faults"], 1):
        print(
            f"  faults {i}: {f['clients_killed']} client processes SIGKILLed and {f['sockets_aborted']} sockets "
            f"dropped mid-episode, {f['malformed_frames']} malformed frames (right error: {f['malformed_answers_ok']}, "
            f"session survived: {f['session_survived_malformed']}); open sessions after: {f['open_sessions_after']}"
        )
    if report["faults"]:
        print(f"  frames that end their own session: {report['faults'][0]['session_ending_frames']}")
    rss = " -> ".join(f"{kib / 1024:.1f}" for kib in report["rss_kib"])
    print(f"  server RSS MiB (after warm-up, then after each round): {rss}")
    print(
        f"  median of rounds: {report['episodes_per_second']:.0f} episodes/s, step p50 {report['p50_ms']:.1f} ms, "
        f"p99 {report['p99_ms']:.1f} ms; open sessions at the end: {report['open_sessions_at_end']}; "
        f"server alive: {report['server_alive']}"
    )
    print(
        f"  identical to local play: {report['identical_to_local']} "
        f"({report['episodes']} episodes compared observation by observation)"
    )


if __name__ == "__main__":
    main()
