"""The GRPO-trained policy: a linear softmax over 41 actions, in numpy, from observations only.

Actions are {check_logs, restart, rollback, scale_up, diagnose x 4 modes} x 5 services + wait.
`circuit_break` is left out of the policy's moves on purpose: it never fixes anything, recovery is
confirmed only with every breaker closed, and the careful reader reaches ~100% at normal without it,
so the five extra moves would only be more to explore for a policy trained from scratch in minutes.

Every service-action kind k (check_logs, each fix, and diagnose as one kind) scores a service s as
`W[k] . phi(s)`, with the SAME weights for all five services (so what it learns about "a service whose
logs blame nobody" transfers from payment to auth); diagnose-as-m adds `u . xi(s, m)` with one weight
vector shared by the four modes, and wait scores `v . psi` over episode-level features. The features are built from what the player sees:

* metrics and health checks (status, errors, latency, cpu, memory, rps, their trends, stale scrapes);
* the topology in the manifest (the entry point, leaves), which every player is told;
* a bag of log words: per service, how many words of each mode's fixed word list its last logs held in
  lines that name no other service, and how many benign words ("steady", "draining", ...);
* blame pointers: which services each read service's last logs named (a line naming another service
  is a pointer to it, not a signature of the writer);
* its own history on this page: what it read and when, what it diagnosed (`obs.diagnosis`), what it
  fixed and how many steps ago, whether diagnose is still legal, the page number.

No reward row is read (under rules v2 rows that judge the truth are paid only at the end), and nothing
comes from another agent's decision logic.

`mirr train` (mirr_tui/training.py) learns W, v and u with GRPO; the agent loads them from
`agents/weights/grpo.npz` and acts greedily (argmax) unless `greedy=False`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mirr_tui.core import FAULT_MODES, Action, EnvConfig, Observation, load_config

from .base import BaseAgent

SERVICE_KINDS: tuple[str, ...] = (
    "check_logs",
    "restart",
    "rollback",
    "scale_up",
    *(f"diagnose:{mode}" for mode in FAULT_MODES),
)
N_KINDS = len(SERVICE_KINDS)
FEATURE_VERSION = 2  # 2: rules v2, a bag of log words and blame pointers instead of the heuristic's reading
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "grpo.npz"
STATUSES = ("ok", "degraded", "down")
# Fix history of one service on this page: never fixed, fixed once recently, fixed once a while ago, twice or more.
HISTORY = ("never", "recent", "settled", "twice")

# The bag of words: a fixed list of words per fault mode (what on-call engineers grep for), and words that
# say a line is harmless. Counted per line; a line that names another service counts as a blame pointer only.
MODE_WORDS: dict[str, tuple[str, ...]] = {
    "crashed": (
        "sigsegv",
        "segfault",
        "crashloopbackoff",
        "code 139",
        "core dumped",
        "connection refused",
        "readiness probe",
    ),
    "memory_leak": (
        "outofmemoryerror",
        "oomkilled",
        "heap usage",
        "gc overhead",
        "full gc",
        "code 137",
        "memory limit",
    ),
    "overloaded": ("queue depth", "thread pool exhausted", "cpu saturation", "shedding load", "workers busy"),
    "bad_deploy": ("nullpointerexception", "illegalstateexception", "rolled out", "rollout of", "deploy"),
}
BENIGN_WORDS: tuple[str, ...] = ("steady", "draining", "canary clean", "shutdown drain", "replaced")
WORD_CAP = 4.0  # word counts are divided by this and capped at 1

SERVICE_FEATURES: tuple[str, ...] = (
    "bias",
    *(f"status_{s}" for s in STATUSES),
    "stale",
    "error_rate",
    "error_gt_20",
    "ok_but_failing",
    "latency_log",
    "cpu",
    "cpu_gt_85",
    "memory",
    "memory_gt_80",
    "rps_ratio",
    "memory_delta",
    "error_delta",
    "is_entry",
    "is_leaf",
    "read",
    "read_now",
    "read_age",
    *(f"words_{m}" for m in FAULT_MODES),
    "benign_words",
    "blames_other",
    "blamed_by",
    "blamed_unread",
    "entry_unread",
    "read_quiet",
    "words_no_blame",
    *(f"diagnosed_{m}" for m in FAULT_MODES),
    *(f"belief_{b}_{h}" for b in ("none", *FAULT_MODES) for h in HISTORY),
)
GLOBAL_FEATURES: tuple[str, ...] = (
    "g_bias",
    "g_first_step",
    "g_remaining",
    "g_diagnosed",
    "g_can_diagnose",
    "g_page_2",
    "g_any_fix",
    "g_fix_recent",
    "g_fix_settled",
    "g_read_fraction",
    "g_any_words",
    "g_alerts",
    "g_max_error",
    "g_invalid",
)
F_SERVICE = len(SERVICE_FEATURES) + len(GLOBAL_FEATURES)  # phi(s) = service part + global part
F_GLOBAL = len(GLOBAL_FEATURES)
# Mode-relative features of "diagnose s as m", scored with ONE weight vector shared by the four modes,
# so learning "diagnose what the logs show" for one mode carries over to the others. `top` = m has the
# most words in s's own lines (at least one); the products let a linear score say "and".
MATCH_FEATURES: tuple[str, ...] = (
    "words_m",
    "words_other",
    "top_m",
    "top_m_blames_nobody",
    "top_m_blamed_or_entry",
    "top_m_blames_other",
    "read_no_words",
    "metrics_fit_m",
)
F_MATCH = len(MATCH_FEATURES)
_COL = {name: i for i, name in enumerate(SERVICE_FEATURES)}
_BELIEF = _COL["belief_none_never"]
_WORDS = _COL[f"words_{FAULT_MODES[0]}"]
_DIAGNOSED = _COL[f"diagnosed_{FAULT_MODES[0]}"]


def n_actions(n_services: int) -> int:
    return N_KINDS * n_services + 1


def index_to_action(index: int, names: tuple[str, ...]) -> Action:
    """Flat action index -> Action (kind-major: index = kind * n_services + service; last = wait)."""
    n = len(names)
    if index == N_KINDS * n:
        return Action("wait")
    kind, service = SERVICE_KINDS[index // n], names[index % n]
    if kind.startswith("diagnose:"):
        return Action("diagnose", service, kind.split(":", 1)[1])
    return Action(kind, service)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class LogWords:
    """The bag of words of one service's last logs."""

    words: tuple[int, ...]  # per fault mode (FAULT_MODES order), in lines that name no other service
    benign: int
    named: tuple[str, ...]  # services its lines named (blame pointers), one entry per line


@functools.lru_cache(maxsize=64)
def _name_pattern(service: str, known: tuple[str, ...]) -> re.Pattern[str] | None:
    others = [re.escape(name.lower()) for name in known if name != service]
    return re.compile(r"\b(" + "|".join(others) + r")\b") if others else None


def count_words(lines: list[str], service: str, known: tuple[str, ...]) -> LogWords:
    """Count each mode's words and the benign words, and collect the services the lines name."""
    words = [0] * len(FAULT_MODES)
    benign = 0
    named: list[str] = []
    pattern = _name_pattern(service, known)
    for raw in lines:
        text = raw.lower()
        others = pattern.findall(text) if pattern is not None else []
        if others:
            named.extend(others)
            continue
        benign += sum(word in text for word in BENIGN_WORDS)
        for m, mode in enumerate(FAULT_MODES):
            words[m] += sum(word in text for word in MODE_WORDS[mode])
    return LogWords(tuple(words), benign, tuple(named))


@dataclass(slots=True)
class ServiceMemory:
    read_step: int | None = None
    logs: LogWords | None = None
    fixes: int = 0
    last_fix_step: int | None = None
    prev_memory: float | None = None
    prev_error: float | None = None


@dataclass(slots=True)
class _Page:
    number: int = 1
    memory: dict[str, ServiceMemory] = field(default_factory=dict)


class FeatureTracker:
    """Turns the stream of observations of one episode into feature arrays (no hidden state)."""

    def __init__(self, config: EnvConfig) -> None:
        self.names = config.service_names
        self._baseline = {spec.name: spec.baseline for spec in config.services}
        called = {callee for spec in config.services for callee in spec.calls}
        self._entry = {spec.name: spec.name not in called for spec in config.services}
        self._leaf = {spec.name: not spec.calls for spec in config.services}
        self.max_steps = config.rules.max_steps
        self.relapse_after = config.rules.relapse_after
        self.reset()

    def reset(self) -> None:
        self.memory = {name: ServiceMemory() for name in self.names}
        self.page = 1
        self.first = True

    def _new_page(self, page: int) -> None:
        """A second fault paged the player: what was read and fixed belongs to the first incident."""
        self.page = page
        for mem in self.memory.values():
            mem.read_step, mem.logs, mem.fixes, mem.last_fix_step = None, None, 0, None

    def observe(self, obs: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Update the episode memory from `obs`.

        Returns (phi [S, F_SERVICE], psi [F_GLOBAL], xi [S, modes, F_MATCH], mask [A]).
        """
        step = obs.step
        if obs.page != self.page:
            self._new_page(obs.page)
        action = obs.action if obs.valid else None
        if action is not None and action.get("type") in ("restart", "rollback", "scale_up"):
            mem = self.memory.get(str(action.get("service")))
            if mem is not None:
                mem.fixes += 1
                mem.last_fix_step = step
        if obs.logs is not None and obs.logs_service in self.memory:
            mem = self.memory[obs.logs_service]
            mem.read_step = step
            mem.logs = count_words([line.text for line in obs.logs], obs.logs_service, self.names)

        blamed_by = dict.fromkeys(self.names, 0)
        for mem in self.memory.values():
            if mem.logs is not None:
                for callee in set(mem.logs.named):
                    if callee in blamed_by:
                        blamed_by[callee] += 1
        n_read = sum(m.read_step is not None for m in self.memory.values())
        any_words = any(m.logs is not None and sum(m.logs.words) > 0 for m in self.memory.values())
        fix_steps = [m.last_fix_step for m in self.memory.values() if m.last_fix_step is not None]
        since_any = step - max(fix_steps) if fix_steps else None
        max_error = max(view.error_rate for view in obs.services.values())
        diagnosis = obs.diagnosis if obs.diagnosis and obs.diagnosis.get("mode") in FAULT_MODES else None
        psi = np.array(
            [
                1.0,
                float(self.first),
                obs.remaining / self.max_steps,
                float(diagnosis is not None),
                float(obs.can_diagnose),
                float(obs.page >= 2),
                float(bool(fix_steps)),
                float(since_any is not None and since_any < self.relapse_after),
                float(since_any is not None and since_any >= self.relapse_after),
                n_read / len(self.names),
                float(any_words),
                min(len(obs.alerts), 10) / 10,
                max_error,
                float(not obs.valid),
            ],
            dtype=np.float64,
        )
        n_modes = len(FAULT_MODES)
        phi = np.zeros((len(self.names), F_SERVICE), dtype=np.float64)
        xi = np.zeros((len(self.names), n_modes, F_MATCH), dtype=np.float64)
        for i, name in enumerate(self.names):
            view = obs.services[name]
            base = self._baseline[name]
            mem = self.memory[name]
            row = phi[i]
            row[0] = 1.0
            row[1 + STATUSES.index(view.status) if view.status in STATUSES else 1] = 1.0
            row[4] = float(view.stale)
            row[5] = view.error_rate
            row[6] = float(view.error_rate > 0.2)
            row[7] = float(view.status == "ok" and view.error_rate > 0.2)
            row[8] = min(np.log(max(view.latency_ms, 1.0) / base.latency_ms), 5.0) / 5.0
            row[9] = view.cpu / 100
            row[10] = float(view.cpu > 85)
            row[11] = view.memory / 100
            row[12] = float(view.memory > 80)
            row[13] = min(view.rps / base.rps, 2.0) / 2.0
            row[14] = 0.0 if mem.prev_memory is None else np.clip((view.memory - mem.prev_memory) / 10, -1, 1)
            row[15] = 0.0 if mem.prev_error is None else np.clip(view.error_rate - mem.prev_error, -1, 1)
            mem.prev_memory, mem.prev_error = view.memory, view.error_rate
            entry = self._entry[name]
            row[16] = float(entry)
            row[17] = float(self._leaf[name])
            read = mem.read_step is not None
            row[18] = float(read)
            row[19] = float(obs.logs_service == name and obs.logs is not None)
            row[20] = min(step - mem.read_step, 6) / 6 if mem.read_step is not None else 0.0
            logs = mem.logs
            words = np.zeros(n_modes)
            blames = False
            if logs is not None:
                words = np.minimum(np.asarray(logs.words, dtype=np.float64) / WORD_CAP, 1.0)
                row[_WORDS : _WORDS + n_modes] = words
                row[_WORDS + n_modes] = min(logs.benign / 2.0, 1.0)
                blames = bool(logs.named)
            c = _WORDS + n_modes + 1
            row[c] = float(blames)
            row[c + 1] = min(blamed_by[name] / 2.0, 1.0)
            row[c + 2] = float(blamed_by[name] > 0 and not read)
            row[c + 3] = float(entry and not read)
            row[c + 4] = float(read and not blames and not words.any())
            row[c + 5] = float(words.any() and not blames)
            diagnosed_mode = diagnosis["mode"] if diagnosis is not None and diagnosis.get("service") == name else None
            if diagnosed_mode is not None:
                row[_DIAGNOSED + FAULT_MODES.index(diagnosed_mode)] = 1.0
            b = 0 if diagnosed_mode is None else 1 + FAULT_MODES.index(diagnosed_mode)
            if mem.fixes == 0:
                h = 0
            elif mem.fixes >= 2:
                h = 3
            else:
                h = 1 if step - (mem.last_fix_step or 0) < self.relapse_after else 2
            row[_BELIEF + b * len(HISTORY) + h] = 1.0
            row[len(SERVICE_FEATURES) :] = psi
            # The metric fingerprint of each mode (FAULT_MODES order), as the manifest describes it; masked
            # roots make it mislead, so it is one feature among others.
            xi[i, :, -1] = (
                float(view.status == "down" or view.stale),
                float(view.memory > 80 or row[14] > 0.3),
                float(view.cpu > 85),
                float(view.status == "ok" and view.error_rate > 0.1),
            )
            if logs is not None:
                total = words.sum()
                top = words.max()
                blamed_or_entry = blamed_by[name] > 0 or entry
                for m in range(n_modes):
                    is_top = float(words[m] > 0 and words[m] == top)
                    xi[i, m, :-1] = (
                        words[m],
                        total - words[m],
                        is_top,
                        is_top * (not blames),
                        is_top * blamed_or_entry,
                        is_top * blames,
                        float(total == 0),
                    )
        mask = np.ones(n_actions(len(self.names)), dtype=bool)
        if not obs.can_diagnose:  # diagnose is legal only before the first fix of a page, once
            start = DIAGNOSE_START * len(self.names)
            mask[start : start + n_modes * len(self.names)] = False
        self.first = False
        return phi, psi, xi, mask


DIAGNOSE_START = SERVICE_KINDS.index(f"diagnose:{FAULT_MODES[0]}")


N_ROWS = DIAGNOSE_START + 1  # rows of W: check_logs, restart, rollback, scale_up, and ONE row for diagnose


class LinearPolicy:
    """logits[k * S + s] = W[k] . phi[s] for the fixes and check_logs; for "diagnose s as m" it is
    W[diagnose] . phi[s] + u . xi[s, m]: whether to commit on s now is one question for all modes, and
    which mode is answered by mode-relative features with one shared vector (so what the policy learns
    about diagnosing a leak carries over to a bad deploy). logits[wait] = v . psi. Masked actions get -inf."""

    def __init__(self, W: np.ndarray | None = None, v: np.ndarray | None = None, u: np.ndarray | None = None) -> None:
        self.W = np.zeros((N_ROWS, F_SERVICE)) if W is None else np.asarray(W, dtype=np.float64)
        self.v = np.zeros(F_GLOBAL) if v is None else np.asarray(v, dtype=np.float64)
        self.u = np.zeros(F_MATCH) if u is None else np.asarray(u, dtype=np.float64)
        expected = {"W": (N_ROWS, F_SERVICE), "v": (F_GLOBAL,), "u": (F_MATCH,)}
        for key, shape in expected.items():
            if getattr(self, key).shape != shape:
                raise ValueError(f"weights {key} have shape {getattr(self, key).shape}, expected {shape}")

    def params(self) -> dict[str, np.ndarray]:
        return {"W": self.W, "v": self.v, "u": self.u}

    def copy(self) -> LinearPolicy:
        return LinearPolicy(self.W.copy(), self.v.copy(), self.u.copy())

    def logits(self, phi: np.ndarray, psi: np.ndarray, xi: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """phi [..., S, F], psi [..., G], xi [..., S, M, X], mask [..., A] -> masked logits [..., A]."""
        rows = np.einsum("...sf,kf->...ks", phi, self.W)
        match = np.einsum("...smx,x->...ms", xi, self.u)
        diagnose = rows[..., DIAGNOSE_START : DIAGNOSE_START + 1, :] + match
        per_service = np.concatenate([rows[..., :DIAGNOSE_START, :], diagnose], axis=-2)
        flat = per_service.reshape(*per_service.shape[:-2], -1)
        wait = (psi @ self.v)[..., None]
        out = np.concatenate([flat, wait], axis=-1)
        return np.where(mask, out, -np.inf)

    def log_probs(self, phi: np.ndarray, psi: np.ndarray, xi: np.ndarray, mask: np.ndarray) -> np.ndarray:
        z = self.logits(phi, psi, xi, mask)
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    def grad(self, phi: np.ndarray, psi: np.ndarray, xi: np.ndarray, dlogits: np.ndarray) -> dict[str, np.ndarray]:
        """Gradient of sum(dlogits * logits) over the parameters (phi [N,S,F], xi [N,S,M,X], dlogits [N,A])."""
        n, s, m = phi.shape[0], phi.shape[1], xi.shape[2]
        per_service = dlogits[:, : N_KINDS * s].reshape(n, N_KINDS, s)
        diag = per_service[:, DIAGNOSE_START : DIAGNOSE_START + m, :]
        rows = np.concatenate([per_service[:, :DIAGNOSE_START, :], diag.sum(axis=1, keepdims=True)], axis=1)
        return {
            "W": np.einsum("nks,nsf->kf", rows, phi),
            "v": dlogits[:, -1] @ psi,
            "u": np.einsum("nms,nsmx->x", diag, xi),
        }

    def save(self, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
        """Write the weights atomically (temporary file, then rename)."""
        from mirr_tui.atomic import write_atomically

        info = {"feature_version": FEATURE_VERSION, "kinds": SERVICE_KINDS, **(meta or {})}
        meta_array = np.array(json.dumps(info))
        return write_atomically(
            path, lambda handle: np.savez(handle, W=self.W, v=self.v, u=self.u, meta=meta_array), binary=True
        )

    @classmethod
    def load(cls, path: str | Path) -> tuple[LinearPolicy, dict[str, Any]]:
        """Read weights written by `save`; a wrong or corrupt file raises ValueError with the reason."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                W, v, u = data["W"], data["v"], data["u"]
                meta = json.loads(str(data["meta"])) if "meta" in data else {}
        except FileNotFoundError:
            raise ValueError(f"{path}: no such weights file (train one with `mirr train`)") from None
        except Exception as exc:
            raise ValueError(f"{path}: not a GRPO weights file ({type(exc).__name__}: {exc})") from None
        if meta.get("feature_version") != FEATURE_VERSION:
            raise ValueError(
                f"{path}: weights use feature version {meta.get('feature_version')}, this agent needs {FEATURE_VERSION}"
            )
        return cls(W, v, u), meta


class GrpoAgent(BaseAgent):
    """Acts from observations only with weights trained by `mirr train`."""

    name = "grpo"

    def __init__(
        self,
        weights: str | Path | None = None,
        greedy: bool = True,
        seed: int | None = None,
        config: EnvConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config or load_config()
        self.weights = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        self.policy, self.meta = LinearPolicy.load(self.weights)
        self.greedy = bool(greedy)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.tracker = FeatureTracker(self.config)

    def reset(self, observation: Observation) -> None:
        super().reset(observation)
        self.tracker.reset()

    def act(self, obs: Observation) -> Action:
        logp = self.policy.log_probs(*self.tracker.observe(obs))
        probs = np.exp(logp)
        index = int(np.argmax(logp)) if self.greedy else int(self._rng.choice(len(probs), p=probs))
        action = index_to_action(index, self.tracker.names)
        runner_up = np.argsort(logp)[::-1]
        alternative = next(int(i) for i in runner_up if int(i) != index)
        self.last_reasoning = (
            f"policy: {action.to_text()} (p={probs[index]:.2f}); "
            f"next best {index_to_action(alternative, self.tracker.names).to_text()} (p={probs[alternative]:.2f})"
        )
        self.last_details = {"probability": round(float(probs[index]), 4)}
        return action

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "weights": self.weights.name, "greedy": self.greedy}
        if not self.greedy:
            info["seed"] = self.seed
        if "updates" in self.meta:
            info["updates"] = self.meta["updates"]
        return info
