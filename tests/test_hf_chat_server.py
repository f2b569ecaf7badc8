"""mirr_tui.hf_chat_server: the OpenAI-compatible endpoint the GRPO notebook evaluates its model through.
A tiny random model stands in for a trained one; the LLM agent talks to it over real HTTP."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

pytest.importorskip("transformers", reason="the train extra: pip install -e '.[train]'")

from mirr_tui.agents.llm import LLMAgent
from mirr_tui.core import IncidentEnv
from mirr_tui.hf_chat_server import ChatModel, make_server
from mirr_tui.trl_grpo import tiny_model


@pytest.fixture(scope="module")
def served():
    model, tokenizer = tiny_model(['{"reasoning": "r", "action": {"type": "wait"}}', "gateway payment orders"] * 20)
    chat = ChatModel(model, tokenizer, "tiny")
    server = make_server(chat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield chat, f"http://{host}:{port}/v1"
    server.shutdown()
    server.server_close()


def _post(url: str, body: bytes | dict) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_completion_carries_real_usage_counts(served):
    chat, url = served
    messages = [{"role": "user", "content": "gateway payment"}]
    status, reply = _post(f"{url}/chat/completions", {"messages": messages, "max_tokens": 5, "temperature": 0})
    assert status == 200
    prompt = chat.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)
    usage = reply["usage"]
    assert usage["prompt_tokens"] == len(prompt["input_ids"])
    assert 0 <= usage["completion_tokens"] <= 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert reply["choices"][0]["finish_reason"] in ("stop", "length")
    assert reply["model"] == "tiny"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user"}]}, "string content"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 10**6}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "numbers"),
        ({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}}, "schema"),
    ],
)
def test_a_request_it_cannot_serve_is_a_400_that_says_why(served, body, says):
    status, reply = _post(f"{served[1]}/chat/completions", body)
    assert status == 400 and says in reply["error"]["message"]


def test_unknown_paths_are_404_and_the_model_is_listed(served):
    assert _post(f"{served[1]}/completions", {"prompt": "x"})[0] == 404
    with urllib.request.urlopen(f"{served[1]}/models", timeout=10) as response:
        assert [m["id"] for m in json.loads(response.read())["data"]] == ["tiny"]


def test_the_llm_agent_plays_against_it_falling_back_from_a_schema_to_json_mode(served, config):
    agent = LLMAgent(base_url=served[1], model="tiny", max_tokens=16, temperature=0, timeout=60, config=config)
    env = IncidentEnv(config)
    obs = env.reset(seed=0)
    agent.reset(obs)
    for _ in range(2):
        obs = env.step(agent.act(obs))
    assert agent.last_details["response_format"] == "json_object"  # both schema forms were refused
    assert agent.last_details["prompt_tokens"] > 0
    assert obs.step == 2  # an unusable reply is a fallback wait, never a crash
