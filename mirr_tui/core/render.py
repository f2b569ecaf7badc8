"""The observation as compact text: what LLM agents read and what logs print."""

from __future__ import annotations

from .types import Observation


def render_observation(obs: Observation, max_steps: int | None = None) -> str:
    """A few dozen lines: header, one row per service, alerts, last action, logs if read."""
    total = max_steps if max_steps is not None else obs.step + obs.remaining
    diag = f"{obs.diagnosis['service']}/{obs.diagnosis['mode']}" if obs.diagnosis else "none"
    score = f"score {obs.score:+.1f}" if obs.done else f"paid so far {obs.score:+.1f} (verdicts settle at the end)"
    window = "open" if obs.can_diagnose else "closed"
    page = f" · page {obs.page}" if obs.page > 1 else ""
    lines = [
        f"step {obs.step}/{total} ({obs.remaining} left) · {obs.difficulty}{page} · {score} · diagnosis: {diag}"
        f" (diagnose {window})"
    ]
    if obs.story:
        lines.append(f"scenario: {obs.story}")
    lines.append(f"{'service':<9} {'check':<9} {'err%':>6} {'p95ms':>7} {'cpu%':>6} {'mem%':>6} {'rps':>7}")
    for name, view in obs.services.items():
        lines.append(
            f"{name:<9} {view.status:<9} {view.error_rate * 100:>6.1f} {view.latency_ms:>7.0f} {view.cpu:>6.1f} {view.memory:>6.1f} {view.rps:>7.1f}"
            + ("  (stale scrape)" if view.stale else "")
            + ("  (breaker open)" if name in obs.breakers else "")
        )
    lines.append("alerts: " + ("; ".join(obs.alerts) if obs.alerts else "none"))
    if obs.action is not None:
        shown = obs.action.get("raw") if "raw" in obs.action else " ".join(str(v) for v in obs.action.values())
        paid = f" -> reward {obs.reward:+.1f}" if obs.reward else ""
        lines.append(f"last action: {shown}{paid}; {obs.message}")
    else:
        lines.append(obs.message)
    if obs.logs is not None:
        lines.append(f"logs of {obs.logs_service} (step {obs.step}):")
        lines.extend(f"  {line.level:<5} {line.text}" for line in obs.logs)
    if obs.impact:
        lines.append(
            f"user impact: {obs.impact.get('failed_requests', 0):,} failed requests, ~${obs.impact.get('cost', 0):,.0f}"
        )
    if obs.done:
        rows = ", ".join(f"{e.row} {e.value:+g}" + (f" @{e.step}" if e.step is not None else "") for e in obs.rewards)
        lines.append(f"episode over: {obs.outcome}, final score {obs.score:+.1f} ({rows})")
    return "\n".join(lines)
