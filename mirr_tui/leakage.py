"""How much the first observation's metrics give away: a softmax regression trained to name the root
service (and the (service, mode) pair) from them. Rules v2 wants the metrics to point the way without
settling it; tests/test_leakage.py holds the bands and bench/rules_bench.py prints the figures."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .core import FAULT_MODES, STATUSES, IncidentEnv, Observation


def features(obs: Observation) -> np.ndarray:
    """Every number the first observation shows, scaled (log for the heavy-tailed ones)."""
    row: list[float] = []
    for view in obs.services.values():
        row += [
            np.log1p(view.latency_ms),
            view.error_rate,
            view.cpu / 100,
            view.memory / 100,
            np.log1p(view.rps),
            float(view.stale),
            *(float(view.status == s) for s in STATUSES),
        ]
    return np.asarray(row)


def dataset(env: IncidentEnv, seeds: Iterable[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, root index, root index * modes + mode index) for the first observation of each seed."""
    xs, roots, pairs = [], [], []
    for seed in seeds:
        obs = env.reset(seed=seed)
        truth = env.state
        root = env.names.index(truth.root_service)
        xs.append(features(obs))
        roots.append(root)
        pairs.append(root * len(FAULT_MODES) + FAULT_MODES.index(truth.fault_mode))
    return np.asarray(xs), np.asarray(roots), np.asarray(pairs)


def fit_softmax(x: np.ndarray, y: np.ndarray, classes: int, epochs: int = 400, lr: float = 0.5) -> np.ndarray:
    """Multinomial logistic regression by full-batch gradient descent (L2 1e-3); returns the weights."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros((xb.shape[1], classes))
    onehot = np.eye(classes)[y]
    for _ in range(epochs):
        z = xb @ w
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        w -= lr * (xb.T @ (p - onehot) / len(x) + 1e-3 * w)
    return w


def accuracy(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    xb = np.hstack([x, np.ones((len(x), 1))])
    return float(np.mean(np.argmax(xb @ w, axis=1) == y))


def leak_figures(env: IncidentEnv, train: Iterable[int], test: Iterable[int]) -> dict[str, float]:
    """Held-out accuracy of naming the root service, and the (service, mode) pair, from metrics alone."""
    x, roots, pairs = dataset(env, train)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    xt, roots_t, pairs_t = dataset(env, test)
    x, xt = (x - mean) / std, (xt - mean) / std
    n = len(env.names)
    w_root = fit_softmax(x, roots, n)
    w_pair = fit_softmax(x, pairs, n * len(FAULT_MODES))
    return {"root": accuracy(w_root, xt, roots_t), "root_and_mode": accuracy(w_pair, xt, pairs_t)}
