"""Rollouts as a chat dataset: one episode per JSONL line, the format Hugging Face `datasets` and TRL read.

Each line: {"messages": [system, user, assistant, user, assistant, ...], "seed", "difficulty", "agent",
"rewards" (one per step), "score", "outcome", "diagnosis_correct", "steps", "truth", "env", "format"}.
system = the rules in brief (the LLM agent's prompt), user = `render_observation(obs)` before each
move, assistant = `{"reasoning": ..., "action": {...}}` as JSON text. `verify_rollout` re-plays a
line through the environment, so a dataset can be checked against the rules that produced it.

`seed` is the one the episode runner started the incident with: observations carry no seed (rules v2),
so a record keeps it from the runner, never from what the player saw.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from .atomic import write_atomically
from .core import Action, EnvConfig, IncidentEnv, InvalidAction, coerce_action, render_observation
from .replay import scrub_secrets

FORMAT = "mirr-rollouts/1"
DEFAULT_FIRST_SEED = 1_000_000  # the training range: evaluation uses 0-999


class RolloutError(ValueError):
    """A rollouts file or line that cannot be read; the message says where and why."""


def rollout_episode(
    env: IncidentEnv, agent: Any, seed: int, system: str, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Play one episode and return its dataset record."""
    obs = env.reset(seed=seed, options=options)
    if getattr(agent, "needs_env", False):
        agent.attach(env)
    max_steps = env.config.rules.max_steps
    messages: list[dict[str, str]] = [{"role": "system", "content": system}]
    rewards: list[float] = []
    error = None
    try:
        agent.reset(obs)
        while not obs.done:
            shown_obs = render_observation(obs, max_steps)
            action = agent.act(obs)  # may raise: then this step's user turn is left out too
            shown = action.to_dict() if isinstance(action, Action) else action
            reasoning = getattr(agent, "last_reasoning", None) or ""
            messages.append({"role": "user", "content": shown_obs})
            messages.append({"role": "assistant", "content": json.dumps({"reasoning": reasoning, "action": shown})})
            obs = env.step(action)
            rewards.append(obs.reward)
    except Exception as exc:  # an agent failure ends the episode; it must not end the export
        error = f"{type(exc).__name__}: {exc}"
    state = env.state
    record: dict[str, Any] = {
        "format": FORMAT,
        "messages": messages,
        "seed": seed,
        "difficulty": state.difficulty,
        "scenario": state.scenario,
        "agent": scrub_secrets(agent.describe())
        if hasattr(agent, "describe")
        else {"name": getattr(agent, "name", "?")},
        "rewards": rewards,
        "score": state.score,
        "outcome": state.outcome or "aborted",
        "diagnosis_correct": state.diagnosis_correct,
        "steps": state.step_count,
        "truth": {"root_service": state.root_service, "fault_mode": state.fault_mode},
        "env": {"id": env.config.id, "version": env.config.version, "config_hash": env.config.hash},
        "error": error,  # always present, so every line has the same columns for `datasets`
    }
    return record


def export_rollouts(
    agent_name: str,
    seeds: Iterable[int],
    out: str | Path,
    difficulty: str | None = None,
    config: EnvConfig | None = None,
    agent_options: dict[str, Any] | None = None,
    on_episode: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[int, bool]:
    """Write one line per episode to `out` atomically. Returns (episodes written, interrupted by Ctrl-C).

    On Ctrl-C the finished episodes are still written (never a half-written file).
    """
    from mirr_tui import agents
    from mirr_tui.agents.llm import system_prompt

    env = IncidentEnv(config, difficulty=difficulty)
    agent = agents.create(agent_name, config=env.config, **(agent_options or {}))
    system = system_prompt(env.config)
    options = {"difficulty": difficulty} if difficulty else None
    written = 0
    interrupted = False

    def write(handle: TextIO) -> None:
        # Each episode goes to the temporary file as it finishes: memory stays flat, and an unwritable
        # folder fails before the first (possibly paid) episode instead of after the last.
        nonlocal written, interrupted
        try:
            for seed in seeds:
                record = rollout_episode(env, agent, int(seed), system, options)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                written += 1
                if on_episode is not None:
                    on_episode(record)
        except KeyboardInterrupt:
            interrupted = True

    write_atomically(out, write)
    return written, interrupted


def write_jsonl(records: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Atomic JSONL write: a temporary file in the same folder, then rename."""

    def write(handle: TextIO) -> None:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    return write_atomically(path, write)


def load_rollouts(path: str | Path) -> list[dict[str, Any]]:
    """Read a rollouts file; a malformed line raises RolloutError naming the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RolloutError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RolloutError(f"{path}: cannot read ({exc})") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RolloutError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
            raise RolloutError(f'{path}:{number}: not a MIRR rollout (missing "messages")')
        records.append(record)
    return records


def assistant_actions(record: dict[str, Any]) -> list[Action]:
    """The actions of a record's assistant turns, in order (RolloutError if one is unreadable)."""
    actions = []
    for message in record["messages"]:
        if message.get("role") != "assistant":
            continue
        try:
            actions.append(coerce_action(json.loads(message["content"])["action"]))
        except (json.JSONDecodeError, KeyError, TypeError, InvalidAction) as exc:
            raise RolloutError(f"seed {record.get('seed')}: unreadable assistant turn ({exc})") from None
    return actions


def verify_rollout(record: dict[str, Any], config: EnvConfig | None = None) -> tuple[bool, str]:
    """Re-play a record from its seed and actions: every user turn, reward and the outcome must match."""
    env = IncidentEnv(config)
    options = {"difficulty": record.get("difficulty")} if record.get("difficulty") else {}
    if record.get("scenario"):
        options["scenario"] = record["scenario"]
    obs = env.reset(seed=int(record["seed"]), options=options or None)
    max_steps = env.config.rules.max_steps
    users = [m["content"] for m in record["messages"] if m.get("role") == "user"]
    try:
        actions = assistant_actions(record)
    except RolloutError as exc:
        return False, str(exc)
    if len(users) != len(actions) or len(actions) != len(record.get("rewards", [])):
        return (
            False,
            f"{len(users)} user turns, {len(actions)} assistant turns, {len(record.get('rewards', []))} rewards",
        )
    for step, (user, action, reward) in enumerate(zip(users, actions, record["rewards"])):
        if render_observation(obs, max_steps) != user:
            return False, f"observation before step {step + 1} differs"
        obs = env.step(action)
        if obs.reward != reward:
            return False, f"reward at step {step + 1}: recorded {reward}, re-played {obs.reward}"
    state = env.state
    if (state.outcome or "aborted") != record.get("outcome") or state.score != record.get("score"):
        return (
            False,
            f"outcome {state.outcome}/{state.score} differs from {record.get('outcome')}/{record.get('score')}",
        )
    return True, f"{len(actions)} steps re-played, {record.get('outcome')}"
