"""The GRPO-trained policy: a linear softmax over 41 actions, in numpy, from observations only.

Actions are {check_logs, restart, rollback, scale_up, diagnose x 4 modes} x 5 services + wait.
Every service-action "kind" k scores a service s as `W[k] . phi(s)`, with the SAME weights for all
five services (so what it learns about "a service whose logs show a heap signature" transfers from
payment to auth), and wait scores `v . psi` over episode-level features. `phi(s)` is built from the
noisy metrics, the logs this agent has read (via the heuristic's `read_signature`), the reward rows
the environment showed, and the agent's own history (diagnosis, fixes, steps since a fix).

`mirr train` (mirr_tui/training.py) learns W and v with GRPO; the agent loads them from
`agents/weights/grpo.npz` and acts greedily (argmax) unless `greedy=False`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mirr_tui.core import FAULT_MODES, Action, EnvConfig, Observation, load_config

from .base import BaseAgent
from .heuristic import read_signature

SERVICE_KINDS: tuple[str, ...] = (
    "check_logs",
    "restart",
    "rollback",
    "scale_up",
    *(f"diagnose:{mode}" for mode in FAULT_MODES),
)
N_KINDS = len(SERVICE_KINDS)
FEATURE_VERSION = 1
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "grpo.npz"
STATUSES = ("ok", "degraded", "down")
# Fix history of one service: never fixed, fixed 1-3 steps ago (once), fixed 4+ steps ago (once), twice or more.
HISTORY = ("never", "recent", "settled", "twice")

SERVICE_FEATURES: tuple[str, ...] = (
    "bias",
    *(f"status_{s}" for s in STATUSES),
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
    "read",
    "read_now",
    *(f"sig_{m}" for m in FAULT_MODES),
    "points_elsewhere",
    "pointed_to",
    "read_nothing",
    *(f"diagnosed_{m}" for m in FAULT_MODES),
    "fix_wrong",
    "fix_paid",
    *(f"belief_{b}_{h}" for b in ("none", *FAULT_MODES) for h in HISTORY),
)
GLOBAL_FEATURES: tuple[str, ...] = (
    "g_bias",
    "g_first_step",
    "g_remaining",
    "g_diagnosed",
    "g_diagnosis_correct",
    "g_diagnosis_wrong",
    "g_any_fix",
    "g_fix_recent",
    "g_fix_settled",
    "g_signature_found",
    "g_read_fraction",
    "g_alerts",
    "g_max_error",
    "g_invalid",
)
assert len(SERVICE_FEATURES) == 30 + len(HISTORY) * 5, "observe() writes features by position"
F_SERVICE = len(SERVICE_FEATURES) + len(GLOBAL_FEATURES)  # phi(s) = service part + global part
F_GLOBAL = len(GLOBAL_FEATURES)
# Mode-relative features of "diagnose s as m", scored with ONE weight vector shared by the four modes,
# so learning "diagnose what the logs show" for one mode carries over to the others.
MATCH_FEATURES: tuple[str, ...] = ("logs_show_m", "logs_show_other", "read_no_signature")
F_MATCH = len(MATCH_FEATURES)


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


@dataclass(slots=True)
class ServiceMemory:
    read: bool = False
    signature: str | None = None
    callee: str | None = None
    fixes: int = 0
    last_fix_step: int | None = None
    fix_wrong: bool = False
    fix_paid: bool = False
    prev_memory: float | None = None
    prev_error: float | None = None


class FeatureTracker:
    """Turns the stream of observations of one episode into feature arrays (no hidden state)."""

    def __init__(self, config: EnvConfig) -> None:
        self.names = config.service_names
        self._baseline = {spec.name: spec.baseline for spec in config.services}
        self.max_steps = config.rules.max_steps
        self.relapse_after = config.rules.relapse_after
        self.reset()

    def reset(self) -> None:
        self.memory = {name: ServiceMemory() for name in self.names}
        self.diagnosis: dict[str, str] | None = None
        self.diagnosis_correct: bool | None = None
        self.first = True

    def observe(self, obs: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Update the episode memory from `obs`.

        Returns (phi [S, F_SERVICE], psi [F_GLOBAL], xi [S, modes, F_MATCH], mask [A]).
        """
        step = obs.step
        action = obs.action if obs.valid else None
        if action is not None and action.get("type") in ("restart", "rollback", "scale_up"):
            mem = self.memory.get(str(action.get("service")))
            if mem is not None:
                mem.fixes += 1
                mem.last_fix_step = step
                rows = {event.row for event in obs.rewards}
                mem.fix_wrong = "wrong_fix" in rows
                mem.fix_paid = mem.fix_paid or bool(rows & {"correct_fix", "lucky_fix"})
        for event in obs.rewards:
            if event.row == "correct_diagnosis":
                self.diagnosis_correct = True
            elif event.row == "wrong_diagnosis":
                self.diagnosis_correct = False
        self.diagnosis = obs.diagnosis
        if obs.logs is not None and obs.logs_service in self.memory:
            mem = self.memory[obs.logs_service]
            mem.read = True
            mem.signature, mem.callee = read_signature([line.text for line in obs.logs])

        pointed = {m.callee for m in self.memory.values() if m.callee is not None}
        n_read = sum(m.read for m in self.memory.values())
        any_signature = any(m.signature is not None for m in self.memory.values())
        fix_steps = [m.last_fix_step for m in self.memory.values() if m.last_fix_step is not None]
        since_any = step - max(fix_steps) if fix_steps else None
        max_error = max(view.error_rate for view in obs.services.values())
        psi = np.array(
            [
                1.0,
                float(self.first),
                obs.remaining / self.max_steps,
                float(obs.diagnosis is not None),
                float(self.diagnosis_correct is True),
                float(self.diagnosis_correct is False),
                float(bool(fix_steps)),
                float(since_any is not None and since_any < self.relapse_after),
                float(since_any is not None and since_any >= self.relapse_after),
                float(any_signature),
                n_read / len(self.names),
                min(len(obs.alerts), 10) / 10,
                max_error,
                float(not obs.valid),
            ],
            dtype=np.float64,
        )
        phi = np.zeros((len(self.names), F_SERVICE), dtype=np.float64)
        xi = np.zeros((len(self.names), len(FAULT_MODES), F_MATCH), dtype=np.float64)
        for i, name in enumerate(self.names):
            view = obs.services[name]
            base = self._baseline[name]
            mem = self.memory[name]
            row = phi[i]
            row[0] = 1.0
            row[1 + STATUSES.index(view.status) if view.status in STATUSES else 1] = 1.0
            row[4] = view.error_rate
            row[5] = float(view.error_rate > 0.2)
            row[6] = float(view.status == "ok" and view.error_rate > 0.2)
            row[7] = min(np.log(max(view.latency_ms, 1.0) / base.latency_ms), 5.0) / 5.0
            row[8] = view.cpu / 100
            row[9] = float(view.cpu > 85)
            row[10] = view.memory / 100
            row[11] = float(view.memory > 80)
            row[12] = min(view.rps / base.rps, 2.0) / 2.0
            row[13] = 0.0 if mem.prev_memory is None else np.clip((view.memory - mem.prev_memory) / 10, -1, 1)
            row[14] = 0.0 if mem.prev_error is None else np.clip(view.error_rate - mem.prev_error, -1, 1)
            mem.prev_memory, mem.prev_error = view.memory, view.error_rate
            row[15] = float(mem.read)
            row[16] = float(obs.logs_service == name and obs.logs is not None)
            if mem.signature is not None:
                row[17 + FAULT_MODES.index(mem.signature)] = 1.0
                xi[i, :, 1] = 1.0
                xi[i, FAULT_MODES.index(mem.signature), :2] = (1.0, 0.0)
            elif mem.read:
                xi[i, :, 2] = 1.0
            row[21] = float(mem.callee is not None)
            row[22] = float(name in pointed)
            row[23] = float(mem.read and mem.signature is None and mem.callee is None)
            diagnosed_here = self.diagnosis is not None and self.diagnosis.get("service") == name
            if diagnosed_here and self.diagnosis["mode"] in FAULT_MODES:
                row[24 + FAULT_MODES.index(self.diagnosis["mode"])] = 1.0
            row[28] = float(mem.fix_wrong)
            row[29] = float(mem.fix_paid)
            belief = self.diagnosis["mode"] if diagnosed_here else mem.signature
            b = 0 if belief not in FAULT_MODES else 1 + FAULT_MODES.index(belief)
            if mem.fixes == 0:
                h = 0
            elif mem.fixes >= 2:
                h = 3
            else:
                h = 1 if step - (mem.last_fix_step or 0) < self.relapse_after else 2
            row[30 + b * len(HISTORY) + h] = 1.0
            row[len(SERVICE_FEATURES) :] = psi
        mask = np.ones(n_actions(len(self.names)), dtype=bool)
        if obs.diagnosis is not None:  # a second diagnosis is invalid by the rules
            start = SERVICE_KINDS.index(f"diagnose:{FAULT_MODES[0]}") * len(self.names)
            mask[start : start + 4 * len(self.names)] = False
        self.first = False
        return phi, psi, xi, mask


DIAGNOSE_START = SERVICE_KINDS.index(f"diagnose:{FAULT_MODES[0]}")


class LinearPolicy:
    """logits[k * S + s] = W[k] . phi[s] (+ u . xi[s, m] when kind k diagnoses mode m);
    logits[wait] = v . psi. Masked actions get -inf."""

    def __init__(self, W: np.ndarray | None = None, v: np.ndarray | None = None, u: np.ndarray | None = None) -> None:
        self.W = np.zeros((N_KINDS, F_SERVICE)) if W is None else np.asarray(W, dtype=np.float64)
        self.v = np.zeros(F_GLOBAL) if v is None else np.asarray(v, dtype=np.float64)
        self.u = np.zeros(F_MATCH) if u is None else np.asarray(u, dtype=np.float64)
        expected = {"W": (N_KINDS, F_SERVICE), "v": (F_GLOBAL,), "u": (F_MATCH,)}
        for key, shape in expected.items():
            if getattr(self, key).shape != shape:
                raise ValueError(f"weights {key} have shape {getattr(self, key).shape}, expected {shape}")

    def params(self) -> dict[str, np.ndarray]:
        return {"W": self.W, "v": self.v, "u": self.u}

    def copy(self) -> LinearPolicy:
        return LinearPolicy(self.W.copy(), self.v.copy(), self.u.copy())

    def logits(self, phi: np.ndarray, psi: np.ndarray, xi: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """phi [..., S, F], psi [..., G], xi [..., S, M, X], mask [..., A] -> masked logits [..., A]."""
        per_service = np.einsum("...sf,kf->...ks", phi, self.W)
        match = np.einsum("...smx,x->...ms", xi, self.u)
        per_service[..., DIAGNOSE_START : DIAGNOSE_START + match.shape[-2], :] += match
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
        return {
            "W": np.einsum("nks,nsf->kf", per_service, phi),
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
