"""Evaluation spread out: `mirr eval` serial, `--workers N` local processes, and `--remote A,B` over two local
`mirr serve` instances (with 1 and with several sessions each). Prints episodes/s per way and whether every
way printed the same results as the serial run (wall time aside).

    .venv/bin/python bench/spread_bench.py [--episodes 2000] [--agent heuristic] [--workers 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIRR = [sys.executable, "-m", "mirr_tui.cli"]


def _load_bench():
    spec = importlib.util.spec_from_file_location("load_bench", ROOT / "bench" / "load_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_bench"] = module
    spec.loader.exec_module(module)
    return module


def timed_eval(args: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([*MIRR, "eval", *args, "--json", "--no-results"], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result = json.loads(done.stdout)
    result.pop("seconds", None)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--agent", default="heuristic")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    base = ["--agent", args.agent, "-n", str(args.episodes)]
    bench = _load_bench()
    servers = [bench.start_server(sessions=16), bench.start_server(sessions=16)]
    try:
        urls = ",".join(server.url for server in servers)
        ways = [
            ("serial (one process)", base),
            (f"--workers {args.workers} (local processes)", [*base, "--workers", str(args.workers)]),
            ("--remote one server", [*base, "--remote", servers[0].url]),
            ("--remote two servers", [*base, "--remote", urls]),
            ("--remote two servers --workers 4", [*base, "--remote", urls, "--workers", "4"]),
        ]
        reference = None
        for label, command in ways:
            seconds, result = timed_eval(command)
            if "--remote" in command:  # a plain server: the same table without the per-mode breakdown
                result.pop("per_mode", None)
            reference = reference or {"local": result}
            key = "remote" if "--remote" in command else "local"
            same = reference.setdefault(key, result) == result
            print(f"{label:36s} {args.episodes / seconds:8.0f} episodes/s  ({seconds:.1f} s)  same results: {same}")
    finally:
        for server in servers:
            server.stop()
            server.log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
