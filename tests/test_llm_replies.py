"""Recorded model replies replayed through the real HTTP client (issue 14 item 11).

Each file in tests/fixtures/llm_replies/ holds the raw HTTP bodies a server sent, in order, and what the
agent must make of them. Files whose `source` starts with "real:" were captured from Qwen2.5-Coder-1.5B
served by llama-cpp-python (`bench/llm_local.py --record FILE`); "hand-made:" ones rebuild the shapes
issue 14 describes from the run it reports (which kept no raw bodies). A local HTTP server sends the
bodies byte for byte, so the groq client, the transport and the agent handle them exactly as live.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mirr_tui.agents.llm import LLMAgent
from mirr_tui.core import IncidentEnv
from mirr_tui.replay import ReplayRecorder

from helpers import clear_llm_environment
from llm_server import FakeModelServer

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "llm_replies").glob("*.json"))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    clear_llm_environment(monkeypatch)


def test_there_are_real_and_hand_made_fixtures():
    sources = [json.loads(path.read_text())["source"] for path in FIXTURES]
    assert any(s.startswith("real:") for s in sources) and any(s.startswith("hand-made") for s in sources)
    assert all(s.startswith(("real:", "hand-made")) for s in sources)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_a_recorded_reply_is_handled_as_pinned(path):
    fixture = json.loads(path.read_text())
    replies = list(fixture["replies"])
    served: list[int] = []

    def respond(body):
        reply = replies[min(len(served), len(replies) - 1)]
        served.append(1)
        return reply["status"], reply["body"]

    expect = fixture["expect"]
    with FakeModelServer(respond) as server:
        options = {"base_url": server.base_url, "model": "qwen2.5-coder-1.5b-instruct-q4_k_m", "retries": 0}
        agent = LLMAgent(**options, **fixture.get("options", {}))
        env = IncidentEnv(difficulty=fixture.get("difficulty", "normal"))
        obs = env.reset(seed=fixture.get("seed", 0))
        agent.reset(obs)
        for move in fixture.get("before", []):
            obs = env.step(move)
        recorder = ReplayRecorder(player_kind="agent", player_name="llm")
        recorder.start(env, obs)
        action = agent.act(obs)
        obs = env.step(action)
        recorder.record(action, obs, env.state, reasoning=agent.last_reasoning, details=agent.last_details)
    details = agent.last_details
    assert action.to_dict() == expect["action"]
    assert obs.action == expect["action"]  # recorded as the move, valid or not
    assert details["fallback"] is expect["fallback"]
    assert bool(details.get("reasked")) is expect.get("reasked", False)
    if "valid" in expect:
        assert obs.valid is expect["valid"]
    if "requests" in expect:
        assert len(server.bodies) == expect["requests"]
    for key in ("finish_reason", "response_format", "parse_error"):
        if key in expect:
            assert details[key] == expect[key]
    if "raw_max" in expect:
        assert len(details["raw"]) <= expect["raw_max"] and len(details["raw_first"]) <= expect["raw_max"]
    if details["fallback"]:
        assert agent.last_reasoning.startswith("(fallback")
    answered = [fixture["replies"][min(i, len(fixture["replies"]) - 1)] for i in range(len(server.bodies))]
    usage = [json.loads(r["body"])["usage"]["total_tokens"] for r in answered if r["status"] == 200]
    assert details["total_tokens"] == sum(usage)  # the server's own usage fields, summed over the calls
    assert "Action(" not in json.dumps(recorder.frames[-1].to_dict())


def test_a_real_clipped_copy_is_not_fed_back_to_the_model():
    """Issue 14 defect 1 with the model's own words: the old history quoted reasoning clipped with '...' and
    the model copied it. The agent no longer quotes any reasoning back, so the copy stops at one reply."""
    fixture = json.loads((FIXTURES[0].parent / "real_ellipsis_copy_of_clipped_history.json").read_text())
    body = fixture["replies"][0]["body"]
    copied = json.loads(json.loads(body)["choices"][0]["message"]["content"])["reasoning"]
    assert "cal..." in copied
    with FakeModelServer(lambda request: (200, body)) as server:
        agent = LLMAgent(base_url=server.base_url, model="m", retries=0, response_format="json")
        env = IncidentEnv()
        obs = env.reset(seed=0)
        agent.reset(obs)
        for _ in range(3):
            obs = env.step(agent.act(obs))
        later = [b["messages"][1]["content"] for b in server.bodies[1:]]
    assert agent.last_reasoning == copied  # kept in the replay as the model wrote it
    assert later and not any("cal..." in text or "The logs indicate" in text for text in later)
