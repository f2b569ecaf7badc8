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
