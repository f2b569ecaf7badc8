"""The real groq client path, offline: httpx.MockTransport stands in for the server.

Whole episodes run through `mirr_tui.evaluation.run_episode` on a real IncidentEnv; the mock checks
what goes over the wire (model, messages, JSON mode, where the key is) and answers like Groq does.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import groq
import httpx
import pytest

from mirr_tui.agents.heuristic import HeuristicAgent
from mirr_tui.agents.llm import LLMAgent, LLMError, OpenAICompatTransport
from mirr_tui.core import IncidentEnv, render_observation
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayRecorder, load_replay, verify_replay

from helpers import clear_llm_environment

KEY = "gsk_test_key_0123456789abcdef"  # a made-up key: it must show up only in the Authorization header
CHECKOUT = {"scenario": "checkout-3am"}  # payment / bad_deploy


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    clear_llm_environment(monkeypatch)


@pytest.fixture
def sleeps(monkeypatch):
    """The SDK's retry pauses, recorded instead of slept (groq sleeps with time.sleep)."""
    recorded: list[float] = []
    monkeypatch.setattr(groq._base_client.time, "sleep", recorded.append)
    return recorded


def completion(content: str | None, prompt_tokens: int = 900, completion_tokens: int = 40, finish: str = "stop"):
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "llama-3.3-70b-versatile",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


def error(status: int, message: str, headers: dict[str, str] | None = None, **extra):
    body = {"error": {"message": message, "type": "invalid_request_error", **extra}}
    return httpx.Response(status, json=body, headers=headers)


class FakeGroq:
    """A MockTransport handler: answers with `script(request_body)` and records every request."""

    def __init__(self, script: Callable[[dict], httpx.Response]) -> None:
        self.script = script
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.script(json.loads(request.content))

    @property
    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def client(self, **kwargs) -> groq.Groq:
        """The form the SDK documents for tests: Groq(http_client=httpx.Client(transport=MockTransport))."""
        return groq.Groq(api_key=KEY, http_client=httpx.Client(transport=self.transport()), **kwargs)


def answer(action: dict, reasoning: str = "evidence says so") -> httpx.Response:
    return completion(json.dumps({"reasoning": reasoning, "action": action}))


def scripted_player(moves: list[dict]) -> Callable[[dict], httpx.Response]:
    """Play `moves` in order, then wait. Moves are chosen by step, read off the prompt's render."""

    def script(body: dict) -> httpx.Response:
        user = body["messages"][-1]["content"]
        step = int(user.split("Current observation:\n", 1)[1].split("step ", 1)[1].split("/", 1)[0])
        return answer(moves[step] if step < len(moves) else {"type": "wait"}, f"step {step} of the plan")

    return script


GOOD_CHECKOUT_PLAY = [
    {"type": "check_logs", "service": "payment"},
    {"type": "diagnose", "service": "payment", "mode": "bad_deploy"},
    {"type": "rollback", "service": "payment"},
]


# ------------------------------------------------------------------------------------ whole episodes
def test_a_model_that_plays_well_recovers_and_the_replay_keeps_everything_but_the_key(tmp_path):
    server = FakeGroq(scripted_player(GOOD_CHECKOUT_PLAY))
    agent = LLMAgent(api_key=KEY, transport=server.transport())
    env = IncidentEnv()
    recorder = ReplayRecorder(player_kind="agent", player_name="llm", player_details=agent.describe())
    result = run_episode(env, agent, seed=11, options=CHECKOUT, recorder=recorder)

    assert result.outcome == "recovered" and result.diagnosis_correct and result.error is None
    assert result.tokens == 940 * result.steps  # usage summed per step from the server's usage fields
    path = recorder.save_to_dir(tmp_path)
    text = path.read_text()
    assert KEY not in text
    replay = load_replay(path)
    assert verify_replay(replay).ok
    assert replay.player["model"] == "llama-3.3-70b-versatile"
    frame = replay.frames[2]
    assert frame.reasoning == "step 1 of the plan"
    assert frame.details["model"] == "llama-3.3-70b-versatile" and frame.details["total_tokens"] == 940
    assert frame.details["fallback"] is False and frame.details["latency_s"] >= 0

    # what went over the wire
    assert len(server.requests) == result.steps
    for request, body in zip(server.requests, server.bodies):
        assert request.url == "https://api.groq.com/openai/v1/chat/completions"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert KEY not in request.content.decode()
        assert all(KEY not in v for k, v in request.headers.items() if k != "authorization")
        assert body["model"] == "llama-3.3-70b-versatile"
        assert body["response_format"] == {"type": "json_object"}
        assert body["max_completion_tokens"] == 2048 and body["temperature"] == 0.2
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert "JSON" in body["messages"][0]["content"]


def test_the_llm_agent_is_a_lossless_pipe_for_a_good_brain():
    """With the heuristic answering through the wire, the LLM agent plays exactly as the heuristic does."""
    env = IncidentEnv()
    brain = HeuristicAgent()

    def script(body: dict) -> httpx.Response:
        obs = env.observation
        user = body["messages"][-1]["content"]
        assert render_observation(obs, env.config.rules.max_steps) in user  # the prompt shows what the env shows
        if obs.step == 0:
            brain.reset(obs)
        action = brain.act(obs)
        return answer(action.to_dict(), brain.last_reasoning or "")

    server = FakeGroq(script)
    agent = LLMAgent(client=server.client())
    reference = IncidentEnv()
    for seed in range(6):
        via_llm = run_episode(env, agent, seed)
        direct = run_episode(reference, HeuristicAgent(), seed)
        assert (via_llm.outcome, via_llm.score, via_llm.steps) == (direct.outcome, direct.score, direct.steps)
        assert via_llm.error is None


def test_garbage_replies_fall_back_to_wait_and_the_replay_marks_them(tmp_path):
    replies = iter(["The answer is restart payment.", "```\nrestart(payment)\n```"])
    server = FakeGroq(lambda body: completion(next(replies, "still not json")))
    agent = LLMAgent(client=server.client())
    env = IncidentEnv()
    recorder = ReplayRecorder(player_kind="agent", player_name="llm", player_details=agent.describe())
    result = run_episode(env, agent, seed=3, options=CHECKOUT, recorder=recorder)
    assert result.error is None and result.outcome in ("collapsed", "timed_out")
    assert len(server.requests) == 2 * result.steps  # one corrective re-ask per step, never more
    reask = server.bodies[1]["messages"]
    assert reask[-2] == {"role": "assistant", "content": "The answer is restart payment."}
    assert "could not be used" in reask[-1]["content"]
    replay = load_replay(recorder.save_to_dir(tmp_path))
    first = replay.frames[1]
    assert first.input == {"type": "wait"}
    assert first.details["fallback"] is True
    assert first.details["raw_first"] == "The answer is restart payment."
    assert first.details["raw"] == "```\nrestart(payment)\n```"
    assert first.reasoning.startswith("(fallback")
    assert all(frame.details["fallback"] for frame in replay.frames[1:])


def test_groq_json_mode_validation_failure_is_treated_as_a_bad_reply():
    calls = {"n": 0}

    def script(body: dict) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return error(
                400,
                "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.",
                code="json_validate_failed",
                failed_generation="I think payment is broken",
            )
        return answer({"type": "check_logs", "service": "payment"})

    server = FakeGroq(script)
    agent = LLMAgent(client=server.client())
    env = IncidentEnv()
    obs = env.reset(seed=0, options=CHECKOUT)
    agent.reset(obs)
    assert agent.act(obs).to_text() == "logs payment"
    assert agent.last_details["reasked"] and agent.last_details["raw"] == "I think payment is broken"


def test_an_empty_reply_cut_off_by_the_token_limit_is_reasked_and_reported():
    replies = iter([completion(None, finish="length"), answer({"type": "wait"})])
    server = FakeGroq(lambda body: next(replies))
    agent = LLMAgent(client=server.client())
    env = IncidentEnv()
    obs = env.reset(seed=0)
    agent.reset(obs)
    agent.act(obs)
    assert agent.last_details["parse_error"] == "the reply was empty"
    assert agent.last_details["finish_reason"] == "length"


# ------------------------------------------------------------------------------------ HTTP failures
def test_429_then_success_retries_honouring_retry_after(sleeps):
    statuses = iter([429, 429])

    def script(body: dict) -> httpx.Response:
        status = next(statuses, 200)
        if status == 429:
            return error(429, "Rate limit reached for model", headers={"retry-after": "2"}, code="rate_limit_exceeded")
        return answer({"type": "check_logs", "service": "payment"})

    server = FakeGroq(script)
    agent = LLMAgent(api_key=KEY, transport=server.transport(), retries=3)
    env = IncidentEnv()
    obs = env.reset(seed=0, options=CHECKOUT)
    agent.reset(obs)
    assert agent.act(obs).to_text() == "logs payment"
    assert len(server.requests) == 3
    assert sleeps == [2.0, 2.0]  # the server's Retry-After, not the SDK's own backoff
    assert agent.last_details["retries"] == 2 and agent.last_details["total_tokens"] == 940


def test_5xx_retries_with_backoff_then_fails_clearly_and_the_episode_is_aborted(sleeps):
    server = FakeGroq(lambda body: error(503, "Service Unavailable: over capacity"))
    agent = LLMAgent(api_key=KEY, transport=server.transport(), retries=2)
    env = IncidentEnv()
    result = run_episode(env, agent, seed=0, options=CHECKOUT)
    assert len(server.requests) == 3  # the first try and two retries
    assert len(sleeps) == 2 and 0 < sleeps[0] < sleeps[1] <= 8  # exponential backoff without Retry-After
    assert result.outcome == "aborted"
    assert result.error.startswith("LLMError: server error 503 from https://api.groq.com/openai/v1/chat/completions")
    assert "after 2 retries" in result.error and "over capacity" in result.error


def test_429_after_all_retries_is_a_clear_rate_limit_error(sleeps):
    server = FakeGroq(lambda body: error(429, "Rate limit reached", headers={"retry-after-ms": "5"}))
    agent = LLMAgent(api_key=KEY, transport=server.transport(), retries=1)
    obs = IncidentEnv().reset(seed=0)
    agent.reset(obs)
    with pytest.raises(LLMError, match=r"rate limited by .* \(429\) after 1 retries: Rate limit reached"):
        agent.act(obs)
    assert sleeps == [0.005]


def test_401_says_key_rejected_without_the_key_and_later_steps_do_not_retry(sleeps):
    # Some servers echo what they got; the message must still not carry the key.
    server = FakeGroq(lambda body: error(401, f"Invalid API Key {KEY}", code="invalid_api_key"))
    agent = LLMAgent(api_key=KEY, transport=server.transport())
    env = IncidentEnv()
    result = run_episode(env, agent, seed=0)
    assert result.outcome == "aborted" and "key rejected" in result.error and "(401)" in result.error
    assert KEY not in result.error and "***" in result.error
    assert len(server.requests) == 1 and sleeps == []  # a 401 is never retried
    again = run_episode(env, agent, seed=1)  # the next episode fails at once, without a request
    assert again.outcome == "aborted" and "key rejected" in again.error and len(server.requests) == 1


def test_unknown_model_says_which_and_how_to_pick_another():
    server = FakeGroq(lambda body: error(404, "The model `llama-9` does not exist", code="model_not_found"))
    agent = LLMAgent(api_key=KEY, model="llama-9", transport=server.transport())
    obs = IncidentEnv().reset(seed=0)
    agent.reset(obs)
    with pytest.raises(LLMError, match=r"model 'llama-9' not found .* -o model="):
        agent.act(obs)


def test_timeouts_are_retried_then_reported(sleeps):
    def script(body: dict) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    server = FakeGroq(script)
    agent = LLMAgent(api_key=KEY, transport=server.transport(), timeout=5, retries=1)
    obs = IncidentEnv().reset(seed=0)
    agent.reset(obs)
    with pytest.raises(LLMError, match=r"no reply from .* within 5s after 1 retries"):
        agent.act(obs)
    assert len(server.requests) == 2 and len(sleeps) == 1


def test_timeout_then_success_recovers(sleeps):
    attempts = iter([httpx.ConnectError("connection refused")])

    def script(body: dict) -> httpx.Response:
        failure = next(attempts, None)
        if failure is not None:
            raise failure
        return answer({"type": "wait"})

    server = FakeGroq(script)
    agent = LLMAgent(api_key=KEY, transport=server.transport(), retries=2)
    obs = IncidentEnv().reset(seed=0)
    agent.reset(obs)
    assert agent.act(obs).type == "wait" and agent.last_details["retries"] == 1


def test_unreachable_server_names_it(sleeps):
    def script(body: dict) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    server = FakeGroq(script)
    agent = LLMAgent(base_url="http://localhost:11434/v1", transport=server.transport(), retries=0)
    obs = IncidentEnv().reset(seed=0)
    agent.reset(obs)
    with pytest.raises(LLMError, match=r"cannot reach http://localhost:11434/v1/chat/completions .*connection refused"):
        agent.act(obs)


# ------------------------------------------------------------------------------------ other servers
def test_a_local_openai_compatible_server_gets_the_right_path_and_no_groq_key(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", KEY)
    server = FakeGroq(scripted_player(GOOD_CHECKOUT_PLAY))
    agent = LLMAgent(base_url="http://localhost:11434/v1", model="qwen2.5:7b", transport=server.transport())
    result = run_episode(IncidentEnv(), agent, seed=0, options=CHECKOUT)
    assert result.outcome == "recovered"
    request = server.requests[0]
    assert str(request.url) == "http://localhost:11434/v1/chat/completions"
    assert KEY not in request.headers.get("authorization", "")  # the Groq key stays with Groq
    body = server.bodies[0]
    assert (
        body["model"] == "qwen2.5:7b"
        and body["max_tokens"] == 512  # the local-server default (issue 14 item 5)
        and body["response_format"]["type"] == "json_schema"  # the moves valid now (item 7)
    )


def test_groq_openai_compatible_url_is_accepted_as_base_url():
    server = FakeGroq(lambda body: answer({"type": "wait"}))
    agent = LLMAgent(api_key=KEY, base_url="https://api.groq.com/openai/v1", transport=server.transport())
    obs = IncidentEnv().reset(seed=0)
    agent.reset(obs)
    agent.act(obs)
    assert str(server.requests[0].url) == "https://api.groq.com/openai/v1/chat/completions"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_path_rewrite_leaves_other_paths_alone():
    seen: list[str] = []
    inner = httpx.MockTransport(lambda request: seen.append(str(request.url)) or httpx.Response(200))
    with httpx.Client(transport=OpenAICompatTransport("http://gpu:8000/v1", inner)) as client:
        client.get("http://gpu:8000/v1/openai/v1/models")
        client.get("http://gpu:8000/health")
    assert seen == ["http://gpu:8000/v1/models", "http://gpu:8000/health"]


def test_evaluate_with_the_real_client_sums_tokens_and_no_file_holds_the_key(tmp_path):
    from mirr_tui.evaluation import evaluate

    server = FakeGroq(scripted_player(GOOD_CHECKOUT_PLAY))
    options = {"api_key": KEY, "transport": server.transport()}
    summary, results = evaluate("llm", range(3), agent_options=options, scenario="checkout-3am", replay_dir=tmp_path)
    assert summary.success_rate == 1.0 and summary.tokens == 940 * sum(r.steps for r in results)
    files = list(tmp_path.iterdir())
    assert len(files) == 3 and all(KEY not in path.read_text() for path in files)


def test_a_password_in_base_url_stays_out_of_describe_and_errors(sleeps):
    def script(body: dict) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    agent = LLMAgent(base_url="http://bob:hunter2@gpu:8000/v1", transport=FakeGroq(script).transport(), retries=0)
    assert "hunter2" not in json.dumps(agent.describe())
    obs = IncidentEnv().reset(seed=0)
    agent.reset(obs)
    with pytest.raises(LLMError) as caught:
        agent.act(obs)
    assert "hunter2" not in str(caught.value) and "gpu:8000" in str(caught.value)
