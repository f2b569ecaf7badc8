"""`mirr serve` before and after, in one run: start-up time, idle RSS, server CPU per step, step latency.

"Before" is another checkout of the project (a `git worktree` of an older commit), run with this venv by
putting its folder first on PYTHONPATH. Both servers are started alternately, `--rounds` times each; in
each round one WebSocket client plays `--steps` waits (resetting at each episode's end) and the server
process's CPU time (user + system, from /proc) is read before and after.

    git worktree add /tmp/mirr-before <rev>
    .venv/bin/python bench/server_bench.py --before /tmp/mirr-before [--steps 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start(checkout: Path) -> tuple[subprocess.Popen, int, float]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(checkout), "ENABLE_WEB_INTERFACE": "false"}
    command = [sys.executable, "-m", "mirr_tui.cli", "serve", "--host", HOST, "--port", str(port)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the server writes to it for as long as it runs
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=checkout, stdout=log, stderr=subprocess.STDOUT)
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server in {checkout} exited: {log.read()[-2000:].decode(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1) as reply:
                if json.load(reply).get("status") == "healthy":
                    return process, port, time.perf_counter() - began
        except OSError:
            time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def play(port: int, steps: int) -> list[float]:
    from websockets.sync.client import connect

    latencies = []
    with connect(f"ws://{HOST}:{port}/ws", compression=None, max_size=None) as ws:
        ws.send(json.dumps({"type": "reset", "data": {"seed": 1}}))
        ws.recv()
        for n in range(steps):
            began = time.perf_counter()
            ws.send(json.dumps({"type": "step", "data": {"type": "wait"}}))
            reply = json.loads(ws.recv())
            latencies.append(time.perf_counter() - began)
            if reply["data"].get("done"):
                ws.send(json.dumps({"type": "reset", "data": {"seed": n}}))
                ws.recv()
        ws.send(json.dumps({"type": "close"}))
    return latencies


def measure(checkout: Path, steps: int) -> dict[str, float]:
    process, port, startup = start(checkout)
    try:
        time.sleep(1.0)
        idle = rss_mib(process.pid)
        play(port, 200)  # warm-up
        before = cpu_seconds(process.pid)
        latencies = play(port, steps)
        cpu = cpu_seconds(process.pid) - before
    finally:
        process.terminate()
        process.wait(timeout=10)
    latencies.sort()
    return {
        "startup_s": startup,
        "idle_rss_mib": idle,
        "cpu_ms_per_step": 1000 * cpu / steps,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the older commit")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for label, checkout in (("before", args.before.resolve()), ("after", ROOT)):
            runs[label].append(measure(checkout, args.steps))
    print(f"medians of {args.rounds} alternating rounds, {args.steps} steps each, one WebSocket client:")
    for key in ("startup_s", "idle_rss_mib", "cpu_ms_per_step", "p50_ms", "p99_ms"):
        old = statistics.median(r[key] for r in runs["before"])
        new = statistics.median(r[key] for r in runs["after"])
        print(f"  {key:16s} before {old:8.2f}   after {new:8.2f}   ({new / old:.2f}x)")


if __name__ == "__main__":
    main()
