"""The training run's record: `training_log.csv` (one row per update) and the two PNG curves (matplotlib, the
`plots` extra), both written atomically."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .atomic import write_atomically

CSV_FIELDS = (
    "update",
    "episodes",
    "mean_return",
    "success_rate",
    "diagnosis_accuracy",
    "mean_steps",
    "loss",
    "surrogate",
    "kl",
    "entropy",
    "clip_fraction",
    "val_success",
    "val_diagnosis",
    "seconds",
)


def write_log(rows: list[dict[str, Any]], path: Path) -> Path:
    """The raw numbers behind the curves, one row per update (atomic write)."""

    def write(handle: Any) -> None:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row.get(k)) for k in CSV_FIELDS})

    return write_atomically(path, write)


def _fmt(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else ("" if value is None else value)


def plot_curves(rows: list[dict[str, Any]], log_dir: Path) -> list[Path]:
    """reward_curve.png and loss_curve.png; returns [] when matplotlib (the `plots` extra) is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    if not rows:
        return []
    updates = [r["update"] for r in rows]
    val = [(r["update"], r["val_success"]) for r in rows if r.get("val_success") is not None]
    val_diagnosis = [(r["update"], r["val_diagnosis"]) for r in rows if r.get("val_diagnosis") is not None]
    fig, (ax_r, ax_s) = plt.subplots(1, 2, figsize=(11, 4))
    ax_r.plot(updates, [r["mean_return"] for r in rows], color="tab:blue", alpha=0.35, label="batch mean")
    ax_r.plot(updates, _smooth([r["mean_return"] for r in rows]), color="tab:blue", label="smoothed")
    ax_r.set_xlabel("GRPO update")
    ax_r.set_ylabel("episode return (sampling)")
    ax_r.set_title("return")
    ax_r.legend()
    ax_s.plot(updates, _smooth([r["success_rate"] for r in rows]), label="training success (sampling)")
    ax_s.plot(
        updates, _smooth([r["diagnosis_accuracy"] for r in rows]), alpha=0.6, label="training diagnosis (sampling)"
    )
    if val:
        ax_s.plot(*zip(*val), marker="o", markersize=3, label="validation success (greedy)")
    if val_diagnosis:
        ax_s.plot(*zip(*val_diagnosis), marker="s", markersize=3, label="validation diagnosis (greedy)")
    ax_s.set_ylim(0, 1.02)
    ax_s.set_xlabel("GRPO update")
    ax_s.set_title("success rate and diagnosis accuracy")
    ax_s.legend()
    fig.tight_layout()
    reward_path = log_dir / "reward_curve.png"
    write_atomically(reward_path, lambda handle: fig.savefig(handle, dpi=110, format="png"), binary=True)
    plt.close(fig)

    fig, (ax_l, ax_k) = plt.subplots(1, 2, figsize=(11, 4))
    ax_l.plot(updates, [r["loss"] for r in rows], alpha=0.4, color="tab:red", label="loss = -(surrogate - beta KL)")
    ax_l.plot(updates, _smooth([r["loss"] for r in rows]), color="tab:red", label="loss, smoothed")
    ax_l.plot(updates, [-r["surrogate"] for r in rows], alpha=0.6, color="tab:gray", label="-surrogate")
    ax_l.axhline(0, color="black", linewidth=0.5)
    ax_l.set_xlabel("GRPO update")
    ax_l.set_title("GRPO loss (last epoch of each update)")
    ax_l.legend()
    ax_k.plot(updates, [r["entropy"] for r in rows], label="policy entropy (nats)")
    ax_k.plot(updates, [r["kl"] for r in rows], label="KL to reference (nats)")
    ax_k.set_xlabel("GRPO update")
    ax_k.set_title("entropy and KL")
    ax_k.legend()
    fig.tight_layout()
    loss_path = log_dir / "loss_curve.png"
    write_atomically(loss_path, lambda handle: fig.savefig(handle, dpi=110, format="png"), binary=True)
    plt.close(fig)
    return [reward_path, loss_path]


def _smooth(values: list[float], window: int = 10) -> list[float]:
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
