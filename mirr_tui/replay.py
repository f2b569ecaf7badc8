"""Replays: the one reader and writer of the saved-episode format (SPEC section 9).

A replay holds the environment identity and config hash, the seed and options, the player, every
frame (the input given to `step`, the reward, the observation as shown, the hidden truth, and the
agent's reasoning) and a summary. Saving is atomic; loading validates; `verify_replay` re-simulates.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .atomic import write_atomically
from .core import Action, EnvConfig, IncidentEnv, Observation, load_config

FORMAT = "mirr-replay"
VERSION = 2  # 2: rules v2 (rows paid at the end, commit before fix, compound faults, breakers, impact)
RULES = {1: "rules v1", 2: "rules v2"}
MAX_BYTES = 20 * 1024 * 1024  # far above any episode (30 frames); a bigger file is not read
_SECRET_KEYS = re.compile(r"key|token_secret|authorization|password", re.IGNORECASE)


class ReplayError(ValueError):
    """A file that is not a readable MIRR replay; the message says why."""


@dataclass(slots=True)
class ReplayFrame:
    step: int
    input: Any  # exactly what was passed to env.step (action object, dict or text); None at reset
    reward: float
    observation: dict[str, Any]
    truth: dict[str, Any]
    reasoning: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def obs(self) -> Observation:
        return Observation.from_dict(self.observation)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "step": self.step,
            "input": self.input,
            "reward": self.reward,
            "observation": self.observation,
            "truth": self.truth,
        }
        if self.reasoning is not None:
            data["reasoning"] = self.reasoning
        if self.details:
            data["details"] = self.details
        return data


@dataclass(slots=True)
class Replay:
    env: dict[str, Any]
    seed: int
    scenario: str | None
    difficulty: str
    options: dict[str, Any]
    player: dict[str, Any]
    started_at: str
    frames: list[ReplayFrame]
    summary: dict[str, Any]
    error: str | None = None
    path: Path | None = None
    digest: str | None = None  # sha256 of the file's bytes when loaded from one (the verdict cache's key)
    forked_from: dict[str, Any] | None = None  # {"file": name, "frame": k}: taken over from another replay

    @property
    def player_name(self) -> str:
        return str(self.player.get("name", "?"))

    @property
    def is_human(self) -> bool:
        return self.player.get("kind") == "human"

    @property
    def abandoned(self) -> bool:
        """Saved before the episode ended (the player quit or started another) with no agent error."""
        return bool(self.summary.get("abandoned")) and not self.error

    def to_dict(self) -> dict[str, Any]:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "env": self.env,
            "seed": self.seed,
            "scenario": self.scenario,
            "difficulty": self.difficulty,
            "options": self.options,
            "player": self.player,
            "started_at": self.started_at,
            "frames": [frame.to_dict() for frame in self.frames],
            "summary": self.summary,
        }
        if self.error:
            data["error"] = self.error
        if self.forked_from:
            data["forked_from"] = self.forked_from
        return data


def summary_of(frames: list[ReplayFrame]) -> dict[str, Any]:
    last = frames[-1]
    obs, truth = last.observation, last.truth
    faults = truth.get("faults") or []
    first = faults[0] if faults and isinstance(faults[0], dict) else {}
    impact = obs.get("impact") or {}
    summary: dict[str, Any] = {
        "outcome": obs.get("outcome"),
        "score": obs.get("score", 0.0),
        "diagnosis": truth.get("diagnosis") if faults else obs.get("diagnosis"),
        "diagnosis_correct": bool(truth.get("diagnosis_correct")),
        "steps": obs.get("step", 0),
        "root_service": first.get("service", truth.get("root_service")),
        "fault_mode": first.get("mode", truth.get("fault_mode")),
        "faults": [{"service": f.get("service"), "mode": f.get("mode")} for f in faults if isinstance(f, dict)],
        "failed_requests": impact.get("failed_requests", 0),
        "cost": impact.get("cost", 0.0),
    }
    if not obs.get("done"):  # saved mid-episode: only then is the key written, so v2 files stay valid
        summary["abandoned"] = True
    return summary


def player_label(replay: Replay) -> str:
    """Who played it, with the model for an LLM, and for a take-over where it forked from:
    `llm (qwen2.5-coder)`, `human (fork @11)`. The scoreboard counts each label apart, so a take-over (which
    may follow a look at the truth) never pools with the player's own tries."""
    label = replay.player_name
    if model := replay.player.get("model"):
        label += f" ({model})"
    if fork := replay.forked_from:
        label += f" (fork @{fork['frame']})"
    return label


class ReplayRecorder:
    """Collects frames while an episode runs; `save()` writes them atomically."""

    def __init__(
        self, player_kind: str = "human", player_name: str = "human", player_details: dict[str, Any] | None = None
    ) -> None:
        self.player = {"kind": player_kind, "name": player_name, **scrub_secrets(player_details or {})}
        self.player["name"] = player_name
        self.frames: list[ReplayFrame] = []
        self.error: str | None = None
        self.forked_from: dict[str, Any] | None = None
        self._env_info: dict[str, Any] = {}
        self._meta: dict[str, Any] = {}

    def start(self, env: IncidentEnv, obs: Observation) -> None:
        state = env.state
        cfg = env.config
        self._env_info = {"id": cfg.id, "version": cfg.version, "config_hash": cfg.hash}
        self._meta = {
            "seed": state.seed,
            "scenario": state.scenario,
            "difficulty": state.difficulty,
            "options": {"service": state.root_service, "mode": state.fault_mode, "difficulty": state.difficulty},
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if state.scenario:
            self._meta["options"]["scenario"] = state.scenario
        self.frames = [ReplayFrame(0, None, 0.0, _jsonable(obs.to_dict()), state.to_dict())]
        self.error = None

    def record(
        self,
        action_input: Any,
        obs: Observation,
        state: Any,
        reasoning: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.frames.append(
            ReplayFrame(
                step=obs.step,
                input=_input_record(action_input),
                reward=obs.reward,
                observation=_jsonable(obs.to_dict()),
                truth=state.to_dict(),
                reasoning=reasoning,
                details=scrub_secrets(details or {}),
            )
        )

    def note_error(self, message: str) -> None:
        self.error = message

    @property
    def started(self) -> bool:
        return bool(self.frames)

    def finish(self) -> Replay:
        if not self.frames:
            raise ReplayError("nothing recorded: start() was never called")
        return Replay(
            env=self._env_info,
            seed=self._meta["seed"],
            scenario=self._meta["scenario"],
            difficulty=self._meta["difficulty"],
            options=self._meta["options"],
            player=self.player,
            started_at=self._meta["started_at"],
            frames=list(self.frames),
            summary=summary_of(self.frames),
            error=self.error,
            forked_from=self.forked_from,
        )

    def save_to_dir(self, directory: str | Path) -> Path:
        replay = self.finish()
        path = Path(directory) / replay_filename(replay)
        return save_replay(replay, path)


def replay_filename(replay: Replay) -> str:
    stamp = replay.started_at.replace("-", "").replace(":", "").split("+")[0]
    who = re.sub(r"[^A-Za-z0-9_.-]+", "-", replay.player_name)[:40] or "player"
    return f"{stamp}-{who}-seed{replay.seed}.json"


def save_replay(replay: Replay, path: str | Path) -> Path:
    """Write atomically (temporary file in the same folder, then rename); never overwrite another run."""
    text = json.dumps(replay.to_dict(), indent=1, ensure_ascii=False)
    replay.path = write_atomically(path, lambda handle: handle.write(text), overwrite=False)
    return replay.path


def load_replay(path: str | Path) -> Replay:
    """Read and validate a replay file; raises ReplayError with a clear reason."""
    return parse_replay(read_replay_bytes(path), path)


def read_replay_bytes(path: str | Path) -> bytes:
    """A replay file's bytes: regular files only (a FIFO or /dev/zero would hang), at most MAX_BYTES."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ReplayError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ReplayError(f"{path}: is a folder, not a replay file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device (/dev/zero) would hang or never end
        raise ReplayError(f"{path}: not a regular file")
    if info.st_size > MAX_BYTES:
        raise ReplayError(f"{path}: too large for a replay ({info.st_size:,} bytes; at most {MAX_BYTES:,})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read ({exc})") from None
    if len(raw) > MAX_BYTES:
        raise ReplayError(f"{path}: too large for a replay (over {MAX_BYTES:,} bytes)")
    return raw


def parse_replay(raw: bytes, path: str | Path) -> Replay:
    """Validate a replay file's bytes (as read by `read_replay_bytes`) into a Replay."""
    path = Path(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReplayError(f"{path}: cannot read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayError(f"{path} is not a MIRR replay (not valid JSON: {exc.msg} at line {exc.lineno})") from None
    except (RecursionError, ValueError) as exc:  # nested too deep, or an integer past Python's digit limit
        raise ReplayError(f"{path} is not a MIRR replay (unreadable JSON: {type(exc).__name__})") from None
    replay = replay_from_dict(data, source=str(path))
    replay.path = path
    replay.digest = content_digest(raw)
    return replay


def content_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def replay_from_dict(data: Any, source: str = "replay") -> Replay:
    if not isinstance(data, dict):
        raise ReplayError(f"{source} is not a MIRR replay (top level is not an object)")
    if data.get("format") != FORMAT:
        raise ReplayError(f'{source} is not a MIRR replay (missing "format": "{FORMAT}")')
    version = data.get("version")
    if isinstance(version, int) and version in RULES and version != VERSION:  # a list is unhashable
        raise ReplayError(
            f"{source}: replay version {version} was played under {RULES[version]}; this MIRR plays"
            f" {RULES[VERSION]} (replay version {VERSION}) and cannot re-simulate it"
        )
    if version != VERSION:
        raise ReplayError(f"{source}: unsupported replay version {version!r} (this MIRR reads version {VERSION})")
    for key, kind in (("env", dict), ("seed", int), ("player", dict), ("frames", list), ("summary", dict)):
        if key not in data:
            raise ReplayError(f'{source} is not a MIRR replay (missing "{key}")')
        if not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
            raise ReplayError(f'{source}: "{key}" must be {kind.__name__}')
    if not data["frames"]:
        raise ReplayError(f"{source}: the replay has no frames")
    frames = []
    for n, raw in enumerate(data["frames"]):
        if not isinstance(raw, dict):
            raise ReplayError(f"{source}: frame {n} is not an object")
        for key in ("step", "observation", "truth"):
            if key not in raw:
                raise ReplayError(f'{source}: frame {n} is missing "{key}"')
        try:
            Observation.from_dict(raw["observation"])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # OverflowError: 1e309
            raise ReplayError(
                f"{source}: frame {n} has a malformed observation ({type(exc).__name__}: {exc})"
            ) from None
        if not isinstance(raw["truth"], dict) or "root_service" not in raw["truth"]:
            raise ReplayError(f"{source}: frame {n} has a malformed truth record")
        if not _is_number(raw["step"], integer=True) or not _is_number(raw.get("reward", 0.0)):
            raise ReplayError(f'{source}: frame {n} has a non-numeric "step" or "reward"')
        if not isinstance(raw.get("details") or {}, dict) or not isinstance(raw.get("reasoning") or "", str):
            raise ReplayError(f'{source}: frame {n} has malformed "details" or "reasoning"')
        frames.append(
            ReplayFrame(
                step=raw["step"],
                input=raw.get("input"),
                reward=float(raw.get("reward", 0.0)),
                observation=raw["observation"],
                truth=raw["truth"],
                reasoning=raw.get("reasoning"),
                details=raw.get("details") or {},
            )
        )
    _check_header(data, source)
    return Replay(
        env=data["env"],
        seed=data["seed"],
        scenario=data.get("scenario"),
        difficulty=str(data.get("difficulty", "normal")),
        options=data.get("options") or {},
        player=data["player"],
        started_at=str(data.get("started_at", "")),
        frames=frames,
        summary=data["summary"],
        error=data.get("error"),
        forked_from=_forked_from(data.get("forked_from"), source),
    )


def _forked_from(value: Any, source: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("file"), str)
        or not _is_number(value.get("frame"), integer=True)
        or len(value["file"]) > 500
    ):
        raise ReplayError(f'{source}: "forked_from" must be {{"file": name, "frame": number}}')
    return {"file": value["file"], "frame": value["frame"]}


HEADER_KEYS = (
    "env", "seed", "scenario", "difficulty", "options", "player", "started_at", "summary", "error", "forked_from"
)  # fmt: skip


def replay_header(replay: Replay) -> dict[str, Any]:
    """Everything but the frames: what the scoreboard reads (kept in the verdict cache)."""
    return {key: getattr(replay, key) for key in HEADER_KEYS}


def replay_from_header(header: Any, path: Path, digest: str) -> Replay | None:
    """A frameless Replay from `replay_header`'s dict, or None if it is not one."""
    if not isinstance(header, dict) or set(header) != set(HEADER_KEYS):
        return None
    kinds = {"env": dict, "seed": int, "player": dict, "summary": dict, "difficulty": str, "started_at": str}
    if any(not isinstance(header[k], t) or isinstance(header[k], bool) for k, t in kinds.items()):
        return None
    try:
        _check_header(header, str(path))
        forked_from = _forked_from(header["forked_from"], str(path))
    except ReplayError:
        return None
    return Replay(**{**header, "forked_from": forked_from}, frames=[], path=path, digest=digest)


def _is_number(value: Any, integer: bool = False) -> bool:
    kinds = int if integer else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool)


def _check_header(data: dict[str, Any], source: str) -> None:
    """The fields the scoreboard reads must have their types, so one bad file never breaks a listing."""
    if not isinstance(data.get("options") or {}, dict):
        raise ReplayError(f'{source}: "options" must be an object')
    for key in ("scenario", "difficulty", "started_at", "error"):
        if not isinstance(data.get(key) or "", str):
            raise ReplayError(f'{source}: "{key}" must be a string')
    summary = data["summary"]
    if not _is_number(summary.get("score", 0.0)) or not math.isfinite(summary.get("score", 0.0)):
        raise ReplayError(f'{source}: "summary.score" must be a finite number')
    for key in ("outcome", "root_service", "fault_mode"):
        if not isinstance(summary.get(key) or "", str):
            raise ReplayError(f'{source}: "summary.{key}" must be a string')


@dataclass(slots=True)
class VerifyResult:
    ok: bool
    message: str
    frame: int | None = None


def verify_replay(replay: Replay, config: EnvConfig | None = None) -> VerifyResult:
    """Re-simulate from seed + inputs; every observation, reward and truth must match exactly."""
    config = config or load_config()
    if replay.env.get("config_hash") not in (None, config.hash):
        return VerifyResult(
            False,
            f"recorded with a different openenv.yaml (config {replay.env.get('config_hash')}, this one {config.hash})",
            0,
        )
    try:
        env, obs = restart_recorded(replay, config)
    except ValueError as exc:
        return VerifyResult(False, f"cannot start the recorded incident: {exc}", 0)
    for frame in replay.frames:
        if frame.step != 0:
            obs = env.step(frame.input)
        got = _jsonable(obs.to_dict())
        if obs.done and (frame.observation.get("metadata") or {}).get("seed") == replay.seed:
            got["metadata"]["seed"] = replay.seed  # a --secret-seeds server reveals the seed at the end
        if got != frame.observation:
            return VerifyResult(
                False,
                f"frame {frame.step}: observation differs ({_first_difference(frame.observation, got)})",
                frame.step,
            )
        if obs.reward != frame.reward:
            return VerifyResult(
                False, f"frame {frame.step}: reward {obs.reward} != recorded {frame.reward}", frame.step
            )
        if _jsonable(env.state.to_dict()) != frame.truth:
            return VerifyResult(False, f"frame {frame.step}: hidden state differs", frame.step)
    # The scoreboard reads the header and summary, so they must agree with the re-simulated frames.
    claimed = {"difficulty": replay.difficulty, "scenario": replay.scenario}
    actual = {"difficulty": env.state.difficulty, "scenario": env.state.scenario}
    summary = summary_of(replay.frames)
    keys = [*summary, *({"abandoned"} - set(summary))]  # a finished run claiming abandoned would hide a loss
    claimed |= {f"summary.{key}": replay.summary.get(key) for key in keys}
    actual |= {f"summary.{key}": summary.get(key) for key in keys}
    for key, value in actual.items():
        if claimed[key] != value:
            return VerifyResult(False, f"{key} is {claimed[key]!r} but the frames say {value!r}", None)
    return VerifyResult(True, f"OK: {len(replay.frames)} frames re-simulated identically (seed {replay.seed})")


def restart_recorded(replay: Replay, config: EnvConfig) -> tuple[IncidentEnv, Observation]:
    """A fresh env reset to the replay's incident (its seed, options and recorded episode id)."""
    env = IncidentEnv(config)
    options = {k: v for k, v in replay.options.items() if k in ("service", "mode", "scenario", "difficulty")}
    # The episode id is random (it must not name the incident), so the recorded one is reused.
    recorded_id = (replay.frames[0].observation.get("metadata") or {}).get("episode_id")
    obs = env.reset(seed=replay.seed, episode_id=recorded_id if isinstance(recorded_id, str) else None, options=options)
    return env, obs


def fork_replay(
    replay: Replay, frame: int, recorder: ReplayRecorder, config: EnvConfig | None = None
) -> tuple[IncidentEnv, list[Observation]]:
    """Take over `replay` at frame `frame`: re-simulate its moves up to there into a fresh env and into
    `recorder` (the same inputs, reasoning and details, so the new replay verifies from step 0), which notes
    `forked_from`. Returns the env, ready for the next move, and the observations 0..frame.
    ReplayError if the recording does not re-simulate (another openenv.yaml, an edited file)."""
    config = config or load_config()
    if not 0 <= frame < len(replay.frames):
        raise ReplayError(f"frame {frame} is not in this replay (0..{len(replay.frames) - 1})")
    if replay.env.get("config_hash") not in (None, config.hash):
        raise ReplayError("cannot take over: the replay was recorded with a different openenv.yaml")
    try:
        env, obs = restart_recorded(replay, config)
    except ValueError as exc:
        raise ReplayError(f"cannot take over: {exc}") from None
    recorder.start(env, obs)
    seen = [obs]
    for recorded in replay.frames[1 : frame + 1]:
        obs = env.step(recorded.input)
        if _jsonable(obs.to_dict()) != recorded.observation:
            raise ReplayError(f"cannot take over: frame {recorded.step} does not re-simulate as recorded")
        recorder.record(recorded.input, obs, env.state, reasoning=recorded.reasoning, details=recorded.details)
        seen.append(obs)
    name = replay.path.name if replay.path is not None else "(unsaved replay)"
    recorder.forked_from = {"file": name, "frame": frame}
    return env, seen


def _first_difference(expected: Any, got: Any, path: str = "") -> str:
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in sorted(set(expected) | set(got), key=str):
            if expected.get(key) != got.get(key):
                return _first_difference(expected.get(key), got.get(key), f"{path}.{key}" if path else str(key))
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for i, (a, b) in enumerate(zip(expected, got, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
    return f"{path or 'value'}: recorded {expected!r}, got {got!r}"


def _input_record(value: Any) -> Any:
    if isinstance(value, Action):
        return value.to_dict()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return {"unserialisable": repr(value)[:200]}


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data))


def scrub_secrets(details: dict[str, Any]) -> dict[str, Any]:
    """Drop anything that looks like a credential, at any depth, before it reaches a file."""
    return _jsonable(_without_secrets(details)) if details else {}


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_secrets(item)
            for key, item in value.items()
            if not (_SECRET_KEYS.search(str(key)) and "tokens" not in str(key))
        }
    if isinstance(value, list | tuple):
        return [_without_secrets(item) for item in value]
    return value
