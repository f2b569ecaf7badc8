"""The observation as compact text: what LLM agents read and what logs print."""

from __future__ import annotations

from .types import Observation


def render_observation(obs: Observation, max_steps: int | None = None) -> str:
    """A few dozen lines: header, one row per service, alerts, last action, logs if read."""
    total = max_steps if max_steps is not None else obs.step + obs.remaining
    diag = f"{obs.diagnosis['service']}/{obs.diagnosis['mode']}" if obs.diagnosis else "none"
    lines = [
        f"step {obs.step}/{total} ({obs.remaining} left) · {obs.difficulty} · score {obs.score:+.1f} · diagnosis: {diag}"
    ]
    if obs.story:
        lines.append(f"scenario: {obs.story}")
    lines.append(f"{'service':<9} {'check':<9} {'err%':>6} {'p95ms':>7} {'cpu%':>6} {'mem%':>6} {'rps':>7}")
    for name, view in obs.services.items():
        lines.append(
            f"{name:<9} {view.status:<9} {view.error_rate * 100:>6.1f} {view.latency_ms:>7.0f} {view.cpu:>6.1f} {view.memory:>6.1f} {view.rps:>7.1f}"
        )
    lines.append("alerts: " + ("; ".join(obs.alerts) if obs.alerts else "none"))
    if obs.action is not None:
        shown = obs.action.get("raw") if "raw" in obs.action else " ".join(str(v) for v in obs.action.values())
        lines.append(f"last action: {shown} -> reward {obs.reward:+.1f}; {obs.message}")
    else:
        lines.append(obs.message)
    if obs.logs is not None:
        lines.append(f"logs of {obs.logs_service} (step {obs.step}):")
        lines.extend(f"  {line.level:<5} {line.text}" for line in obs.logs)
    if obs.done:
        lines.append(f"episode over: {obs.outcome}, final score {obs.score:+.1f}")
    return "\n".join(lines)
