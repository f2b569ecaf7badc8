"""Evaluation spread out: over local processes (`mirr eval --workers N`) or several `mirr serve` instances
(`mirr eval --remote URL1,URL2,...`, each with `--workers` sessions).

Every episode depends only on its seed, so the results are the local serial run's, whatever the spread:
they are gathered back in seed order and summarised once (one results-log record). Ctrl-C, or a server
that goes away, stops the run and keeps every episode that finished.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from .evaluation import EpisodeResult, play_and_save

OnEpisode = Callable[[EpisodeResult], None]


# ----------------------------------------------------------------------------------------- processes
_WORKER: dict[str, Any] = {}


def _start_worker(config_source: str, difficulty: str | None, agent_name: str, agent_options: dict[str, Any]) -> None:
    from mirr_tui import agents

    from .core import IncidentEnv, load_config

    config = load_config(config_source)
    _WORKER["env"] = IncidentEnv(config, difficulty=difficulty)
    _WORKER["agent"] = agents.create(agent_name, config=config, **agent_options)
    _WORKER["name"] = agent_name


def _play_chunk(seeds: list[int | None], options: dict[str, Any] | None, replay_dir: str | None) -> list[EpisodeResult]:
    env, agent, name = _WORKER["env"], _WORKER["agent"], _WORKER["name"]
    results: list[EpisodeResult] = []
    try:
        for seed in seeds:
            results.append(play_and_save(env, agent, name, seed, options, replay_dir))
    except KeyboardInterrupt:  # Ctrl-C reaches the workers too: keep what this chunk finished
        pass
    return results


def play_in_processes(
    agent_name: str,
    seeds: Sequence[int | None],
    workers: int,
    config_source: str,
    difficulty: str | None,
    agent_options: dict[str, Any],
    options: dict[str, Any] | None,
    replay_dir: str | Path | None,
    on_episode: OnEpisode | None = None,
) -> list[EpisodeResult]:
    """Play every seed in `workers` processes; the finished episodes in seed order.

    Seeds go out in chunks (a few per worker, so short episodes do not drown in messages); a chunk's
    results come back together. On Ctrl-C the chunks not started are cancelled and those running finish.
    """
    chunk = max(1, min(64, len(seeds) // (workers * 8) or 1))
    chunks = [list(seeds[i : i + chunk]) for i in range(0, len(seeds), chunk)]
    folder = None if replay_dir is None else str(replay_dir)
    done: dict[int, list[EpisodeResult]] = {}
    context = multiprocessing.get_context("spawn")  # no inherited threads or open sockets
    initargs = (config_source, difficulty, agent_name, dict(agent_options))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=initargs) as pool:
        pending = {pool.submit(_play_chunk, part, options, folder): n for n, part in enumerate(chunks)}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    n = pending.pop(future)
                    done[n] = future.result()
                    for result in done[n]:
                        if on_episode is not None:
                            on_episode(result)
        except KeyboardInterrupt:
            for future in pending:
                future.cancel()
            for future, n in pending.items():
                if not future.cancelled():
                    with contextlib.suppress(KeyboardInterrupt, Exception):  # the worker was interrupted too
                        done[n] = future.result()
    return [result for n in sorted(done) for result in done[n]]


# ----------------------------------------------------------------------------------------- servers
class RemoteFailure(RuntimeError):
    """A server went away mid-run; `results` holds the episodes that finished, in seed order."""

    def __init__(self, message: str, results: list[EpisodeResult]) -> None:
        super().__init__(message)
        self.results = results


def play_on_servers(
    agent_name: str,
    seeds: Sequence[int | None],
    make_env: Sequence[Callable[[], Any]],
    make_agent: Callable[[], Any],
    options: dict[str, Any] | None,
    replay_dir: str | Path | None,
    on_episode: OnEpisode | None = None,
) -> list[EpisodeResult]:
    """Play every seed over one session per `make_env` (threads: the server does the env's work), each
    with its own agent; the finished episodes in seed order. Raises RemoteFailure if a server fails."""
    queue = iter(enumerate(seeds))
    lock = threading.Lock()
    stop = threading.Event()
    done: dict[int, EpisodeResult] = {}
    failures: list[str] = []

    def session(factory: Callable[[], Any]) -> None:
        try:
            env = factory()
        except Exception as exc:
            failures.append(str(exc))
            stop.set()
            return
        try:
            agent = make_agent()
            while not stop.is_set():
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                n, seed = item
                result = play_and_save(env, agent, agent_name, seed, options, replay_dir)
                with lock:
                    done[n] = result
                    if on_episode is not None:
                        on_episode(result)
        except (ConnectionError, RuntimeError, OSError) as exc:
            failures.append(str(exc))
            stop.set()
        finally:
            env.close()

    threads = [threading.Thread(target=session, args=(f,), daemon=True) for f in make_env]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(0.1)
    except KeyboardInterrupt:
        stop.set()  # every session finishes the episode it is playing
        for thread in threads:
            thread.join()
    results = [done[n] for n in sorted(done)]
    if failures:
        raise RemoteFailure(failures[0], results)
    return results


def sessions_per_server(urls: Sequence[str], workers: int) -> list[str]:
    """`workers` sessions on each server, interleaved so the first seeds go to every server at once."""
    return [url for _, url in itertools.product(range(workers), urls)]
