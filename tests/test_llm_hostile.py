"""A hostile model server (issue 10 items 6-8): huge or pathological replies, an echoed key, base-URL variables.

All offline: replies come from a fake chat function or an httpx.MockTransport.
"""

from __future__ import annotations

import json

import httpx
import pytest

from mirr_tui.agents.llm import (
    MAX_RAW,
    MAX_REASONING,
    LLMAgent,
    Reply,
    ReplyError,
    parse_reply,
    resolve_settings,
)
from mirr_tui.agents.llm_settings import mask_url
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import evaluate

from helpers import clear_llm_environment

KEY = "gsk_hostile_key_0123456789abcdef"
SERVICES = ["gateway", "auth", "orders", "payment", "database"]
WAIT = {"type": "wait"}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    clear_llm_environment(monkeypatch)


def completion(content: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "x",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        },
    )


class Server:
    """A MockTransport handler answering `script(request)`; records requests."""

    def __init__(self, script) -> None:
        self.script = script
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.script(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def chat_of(*texts: str):
    replies = list(texts)

    def chat(messages):
        return Reply(text=replies.pop(0) if replies else json.dumps({"reasoning": "w", "action": WAIT}))

    return chat


def one_step(agent: LLMAgent):
    obs = IncidentEnv().reset(seed=0)
    agent.reset(obs)
    return agent.act(obs)


# ------------------------------------------------------------------------------------ item 6: size and shape
def test_a_huge_reasoning_is_clipped_and_the_replay_stays_small(tmp_path):
    huge = "x" * 5_000_000
    server = Server(lambda request: completion(json.dumps({"reasoning": huge, "action": WAIT})))
    options = {"api_key": KEY, "transport": server.transport()}
    _, results = evaluate("llm", [0], agent_options=options, scenario="checkout-3am", replay_dir=tmp_path)
    (replay,) = tmp_path.iterdir()
    assert results[0].steps >= 5
    assert replay.stat().st_size < 200_000 * results[0].steps // 5  # no step carries megabytes


def test_reasoning_and_raw_kept_per_step_are_bounded():
    huge = "y" * 1_000_000
    agent = LLMAgent(chat=chat_of(json.dumps({"reasoning": huge, "action": WAIT}), "no json " * 100_000, "z" * 10**6))
    obs = IncidentEnv().reset(seed=0)
    agent.reset(obs)
    agent.act(obs)
    assert len(agent.last_reasoning) <= MAX_REASONING
    obs = IncidentEnv().reset(seed=0)
    agent.act(obs)  # two unusable replies: fallback
    assert agent.last_details["fallback"] is True
    assert len(agent.last_details["raw"]) <= MAX_RAW and len(agent.last_details["raw_first"]) <= MAX_RAW
    assert all(len(r.reasoning or "") <= MAX_REASONING for r in agent.transcript.steps)


def test_an_unknown_service_quoting_a_huge_value_gives_a_short_error():
    with pytest.raises(ReplyError) as caught:
        parse_reply(json.dumps({"action": {"type": "restart", "service": "s" * 100_000}}), SERVICES)
    assert len(str(caught.value)) <= 300


@pytest.mark.parametrize(
    "text",
    [
        "[" * 50_000 + "]" * 50_000,
        '{"reasoning": ' + "[" * 50_000 + "]" * 50_000 + ', "action": {"type": "wait"}}',
        '{"reasoning": "r", "action": {"type": "wait"}, "n": ' + "9" * 6000 + "}",
        'sure: {"reasoning": "r", "n": ' + "9" * 6000 + ', "action": {"type": "wait"}}',
    ],
    ids=["deep", "deep-inside", "giant-int", "giant-int-in-prose"],
)
def test_pathological_json_is_an_unusable_reply_not_a_crash(text):
    with pytest.raises(ReplyError):
        parse_reply(text, SERVICES)


def test_a_pathological_reply_is_reasked_then_falls_back_to_wait():
    deep = "[" * 50_000 + "]" * 50_000
    giant = '{"action": {"type": "wait"}, "n": ' + "9" * 6000 + "}"
    agent = LLMAgent(chat=chat_of(deep, giant))
    action = one_step(agent)
    assert action.type == "wait" and agent.last_details["fallback"] is True and agent.last_details["reasked"]


# ------------------------------------------------------------------------------------ item 7: an echoed key
def test_a_server_echoing_the_authorization_header_does_not_get_the_key_saved(tmp_path):
    def echo(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        if len(server.requests) % 3 == 1:  # every third step: two unusable echoes, then fallback
            return completion(f"you sent {auth}")
        return completion(json.dumps({"reasoning": f"your header was {auth}", "action": WAIT}))

    server = Server(echo)
    options = {"api_key": KEY, "transport": server.transport()}
    evaluate("llm", [0], agent_options=options, scenario="checkout-3am", replay_dir=tmp_path)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    (replay,) = tmp_path.iterdir()
    text = replay.read_text()
    assert "Bearer ***" in text and KEY not in text and KEY[:-4] not in text


def test_the_key_is_scrubbed_from_reasoning_and_details():
    agent = LLMAgent(api_key=KEY, chat=chat_of(f"Bearer {KEY}", f"{KEY}!", "x"))
    one_step(agent)
    assert KEY not in json.dumps(agent.last_details) and KEY not in (agent.last_reasoning or "")
    assert agent.last_details["raw"] == "***!" and KEY not in json.dumps(agent.describe())


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://user:SECRET@host/v1", "http://user:***@host/v1"),
        ("https://user:p@ss@host:8000/v1?x=1", "https://user:***@host:8000/v1?x=1"),
        ("http://TOKEN@host/v1", "http://***@host/v1"),
        ("http://host/v1/a@b", "http://host/v1/a@b"),
        ("https://api.groq.com", "https://api.groq.com"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_describe_masks_only_the_password_in_base_url():
    agent = LLMAgent(base_url="http://bob:hunter2@gpu:8000/v1", chat=chat_of())
    assert agent.describe()["base_url"] == "http://bob:***@gpu:8000/v1"
    assert agent.settings.endpoint == "http://bob:***@gpu:8000/v1/chat/completions"


# ------------------------------------------------------------------------------------ item 8: base-URL variables
def test_groq_base_url_is_honoured_the_way_the_sdk_reads_it_with_the_groq_key():
    server = Server(lambda request: completion(json.dumps({"reasoning": "r", "action": WAIT})))
    environ = {"GROQ_BASE_URL": "https://proxy.example/groq", "GROQ_API_KEY": KEY}
    one_step(LLMAgent(environ=environ, transport=server.transport()))
    assert str(server.requests[0].url) == "https://proxy.example/groq/openai/v1/chat/completions"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # the user pointed the Groq key there


def test_openai_base_url_is_honoured_and_never_gets_the_groq_key():
    server = Server(lambda request: completion(json.dumps({"reasoning": "r", "action": WAIT})))
    environ = {"OPENAI_BASE_URL": "http://gpu:8000/v1", "GROQ_API_KEY": KEY, "OPENAI_API_KEY": "sk-openai"}
    one_step(LLMAgent(environ=environ, transport=server.transport()))
    assert str(server.requests[0].url) == "http://gpu:8000/v1/chat/completions"
    assert server.requests[0].headers["authorization"] == "Bearer sk-openai"
    server.requests.clear()
    one_step(
        LLMAgent(environ={"OPENAI_BASE_URL": "http://gpu:8000/v1", "GROQ_API_KEY": KEY}, transport=server.transport())
    )
    assert KEY not in server.requests[0].headers.get("authorization", "")


def test_base_url_precedence(tmp_path):
    manifest = tmp_path / "openenv.yaml"
    manifest.write_text("llm:\n  base_url: http://from-yaml/v1\n", encoding="utf-8")
    every = {
        "MIRR_LLM_BASE_URL": "http://mirr/v1",
        "GROQ_BASE_URL": "http://groq-proxy",
        "OPENAI_BASE_URL": "http://openai/v1",
        "GROQ_API_KEY": KEY,
    }

    def url(environ, **options):
        return resolve_settings(options, environ=environ, manifest=manifest).base_url

    assert url(every, base_url="http://option/v1") == "http://option/v1"
    assert url(every) == "http://mirr/v1"
    assert url({k: v for k, v in every.items() if k != "MIRR_LLM_BASE_URL"}) == "http://groq-proxy/openai/v1"
    assert url({"OPENAI_BASE_URL": "http://openai/v1"}) == "http://openai/v1"
    assert url({}) == "http://from-yaml/v1"
    # MIRR_LLM_BASE_URL wins over GROQ_BASE_URL, so the Groq key does not follow it there
    assert resolve_settings(environ=every, manifest=manifest).api_key == "unused"
    assert resolve_settings(environ={**every, "MIRR_LLM_API_KEY": "m"}, manifest=manifest).api_key == "m"
