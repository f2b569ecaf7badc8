"""Small helpers shared by tests (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations


def play_until_done(env, action="wait", limit=40):
    """Repeat `action` until the episode ends; returns the last observation."""
    obs = env.observation
    for _ in range(limit):
        if obs.done:
            break
        obs = env.step(action)
    return obs


def clear_llm_environment(monkeypatch):
    """Tests never see the developer's keys, base URLs or MIRR_LLM_* settings."""
    from mirr_tui.agents.llm_settings import DEFAULTS

    for name in (
        "GROQ_API_KEY",
        "MIRR_LLM_API_KEY",
        "GROQ_BASE_URL",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        *(f"MIRR_LLM_{k.upper()}" for k in DEFAULTS),
    ):
        monkeypatch.delenv(name, raising=False)
