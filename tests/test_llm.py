"""LLM agent without HTTP: options, prompt, reply parsing, re-ask and fallback through the chat seam."""

from __future__ import annotations

import json

import pytest

from mirr_tui import agents
from mirr_tui.agents.llm import (
    DEFAULTS,
    LOG_SIGNATURES,
    LLMAgent,
    LLMError,
    LLMSetupError,
    Reply,
    ReplyError,
    corrective_message,
    parse_reply,
    preview_request,
    resolve_settings,
    system_prompt,
)
from mirr_tui.agents.reasoner import ReasonerAgent
from mirr_tui.core import ACTION_TYPES, Action, IncidentEnv, load_config, render_observation
from mirr_tui.core.logs import SIGNATURES
from mirr_tui.evaluation import evaluate, run_episode

from helpers import clear_llm_environment

SERVICES = ["gateway", "auth", "orders", "payment", "database"]
NO_ENV: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _no_llm_environment(monkeypatch):
    """Tests never see the developer's key or MIRR_LLM_* settings."""
    clear_llm_environment(monkeypatch)


class ScriptedChat:
    """A fake `chat(messages) -> Reply` that answers from a list and records what it was sent."""

    def __init__(self, *replies: str, then: str = '{"reasoning": "waiting", "action": {"type": "wait"}}') -> None:
        self.replies = list(replies)
        self.then = then
        self.sent: list[list[dict[str, str]]] = []

    def __call__(self, messages):
        self.sent.append([dict(m) for m in messages])
        text = self.replies.pop(0) if self.replies else self.then
        return Reply(text=text, prompt_tokens=100, completion_tokens=10, total_tokens=110, latency_s=0.01)


def reply(action: dict, reasoning: str = "because") -> str:
    return json.dumps({"reasoning": reasoning, "action": action})


# ------------------------------------------------------------------------------------ settings
def test_missing_key_is_one_clear_setup_error():
    with pytest.raises(LLMSetupError) as caught:
        LLMAgent(environ=NO_ENV)
    message = str(caught.value)
    assert message.startswith("GROQ_API_KEY is not set")
    assert "console.groq.com" in message and "base_url" in message and "\n" not in message


def test_registry_creates_the_llm_agent_and_reports_the_missing_key():
    assert "llm" in agents.available()
    with pytest.raises(LLMSetupError):
        agents.create("llm")
    agent = agents.create("llm", api_key="gsk_registry", model="llama-3.1-8b-instant")
    assert isinstance(agent, LLMAgent) and agent.settings.model == "llama-3.1-8b-instant"


def test_defaults_come_from_the_openenv_yaml_llm_section():
    settings = resolve_settings(environ={"GROQ_API_KEY": "k"})
    assert settings.model == "llama-3.3-70b-versatile"
    assert settings.max_tokens >= 1024  # reasoning models need room before the JSON
    assert settings.base_url is None and settings.api_key == "k"


def test_options_beat_environment_beat_manifest(tmp_path):
    manifest = tmp_path / "openenv.yaml"
    manifest.write_text("llm:\n  model: from-yaml\n  temperature: 0.7\n  history: 3\n")
    environ = {"GROQ_API_KEY": "k", "MIRR_LLM_TEMPERATURE": "0.5", "MIRR_LLM_MODEL": "from-env"}
    settings = resolve_settings({"model": "from-option"}, environ=environ, manifest=manifest)
    assert (settings.model, settings.temperature, settings.history) == ("from-option", 0.5, 3)
    assert settings.retries == DEFAULTS["retries"]


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("temperature", "hot", "temperature='hot'"),
        ("temperature", 5, "from 0 to 2"),
        ("max_tokens", 2.5, "an integer"),
        ("history", -1, "from 0 to 100"),
        ("base_url", "localhost:11434", "http(s) URL"),
        ("retries", True, "an integer"),
    ],
)
def test_bad_option_values_name_the_option(option, value, words):
    with pytest.raises(LLMSetupError) as caught:
        resolve_settings({option: value}, environ={"GROQ_API_KEY": "k"})
    assert words in str(caught.value) and option in str(caught.value)


def test_bad_environment_value_says_where_it_came_from():
    with pytest.raises(LLMSetupError, match=r"MIRR_LLM_TIMEOUT"):
        resolve_settings(environ={"GROQ_API_KEY": "k", "MIRR_LLM_TIMEOUT": "soon"})


def test_unknown_manifest_option_is_named(tmp_path):
    manifest = tmp_path / "openenv.yaml"
    manifest.write_text("llm:\n  modle: x\n")
    with pytest.raises(LLMSetupError, match=r"llm\.modle: unknown option"):
        resolve_settings(environ={"GROQ_API_KEY": "k"}, manifest=manifest)


def test_local_server_needs_no_key_and_never_gets_the_groq_key():
    environ = {"GROQ_API_KEY": "gsk_groq_only"}
    settings = resolve_settings({"base_url": "http://localhost:11434/v1"}, environ=environ)
    assert settings.api_key == "unused"
    own = resolve_settings({"base_url": "http://gpu:8000/v1"}, environ={**environ, "MIRR_LLM_API_KEY": "vllm-key"})
    assert own.api_key == "vllm-key"
    groq_compat = resolve_settings({"base_url": "https://api.groq.com/openai/v1"}, environ=environ)
    assert groq_compat.api_key == "gsk_groq_only"


def test_describe_and_repr_never_show_the_key():
    agent = LLMAgent(api_key="gsk_supersecret_123", environ=NO_ENV)
    assert "gsk_supersecret_123" not in json.dumps(agent.describe())
    assert "gsk_supersecret_123" not in repr(agent.settings)
    assert agent.describe()["model"] == agent.settings.model and agent.describe()["name"] == "llm"


# ------------------------------------------------------------------------------------ replies
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"reasoning": "r", "action": {"type": "check_logs", "service": "payment"}}', Action("check_logs", "payment")),
        ('{"reasoning": "r", "action": "diagnose payment bad_deploy"}', Action("diagnose", "payment", "bad_deploy")),
        ('{"reasoning": "r", "type": "rollback", "service": "payment"}', Action("rollback", "payment")),
        ('{"reasoning": "r", "action": {"type": "wait", "service": null, "mode": ""}}', Action("wait")),
        ('{"action": {"type": "wait", "service": "payment"}}', Action("wait")),
        ('{"action": {"type": "Scale_Up", "service": "ORDERS"}}', Action("scale_up", "orders")),
        (
            '{"reasoning": "contain", "action": {"type": "circuit_break", "service": "payment"}}',
            Action("circuit_break", "payment"),
        ),
        ('{"reasoning": "r", "action": "circuit_break database"}', Action("circuit_break", "database")),
    ],
)
def test_usable_replies_become_actions(text, expected):
    action, _, extracted = parse_reply(text, SERVICES)
    assert action == expected and not extracted


def test_json_wrapped_in_prose_or_fences_is_extracted_and_flagged():
    text = 'Sure! Here is my move:\n```json\n{"reasoning": "logs first", "action": {"type": "check_logs", "service": "orders"}}\n```\nGood luck.'
    action, reasoning, extracted = parse_reply(text, SERVICES)
    assert action == Action("check_logs", "orders") and reasoning == "logs first" and extracted


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("I would restart payment.", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"reasoning": "hmm"}', 'no "action"'),
        ('{"action": {"type": "reboot", "service": "payment"}}', "unknown action 'reboot'"),
        ('{"action": {"type": "restart", "service": "paymnt"}}', "unknown service 'paymnt'"),
        ('{"action": {"type": "diagnose", "service": "payment", "mode": "gremlins"}}', "unknown fault mode"),
        ('{"action": {"type": "restart", "service": "payment", "force": true}}', "unexpected field"),
        ('{"reasoning": "cut off", "action": {"type": "rest', "not JSON"),
    ],
)
def test_unusable_replies_say_why(text, why):
    with pytest.raises(ReplyError, match=why):
        parse_reply(text, SERVICES)


# ------------------------------------------------------------------------------------ prompt
def test_prompt_holds_rules_render_and_asks_for_json(env):
    obs = env.reset(seed=3, options={"scenario": "checkout-3am"})
    settings, body = preview_request(obs)
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert "JSON" in system["content"] and '"reasoning"' in system["content"]
    for word in ("bad_deploy", "rollback", "scale_up", "check_logs", "orders -> payment, database"):
        assert word in system["content"]
    assert render_observation(obs, env.config.rules.max_steps) in user["content"]
    assert body["response_format"] == {"type": "json_object"}
    assert body["model"] == settings.model and body["max_completion_tokens"] == settings.max_tokens


def test_history_and_logs_read_earlier_reach_later_prompts(env):
    chat = ScriptedChat(
        reply({"type": "check_logs", "service": "payment"}, "payment errors while its check says ok"),
        reply({"type": "wait"}),
        reply({"type": "wait"}),
    )
    agent = LLMAgent(chat=chat, history=2)
    obs = env.reset(seed=1, options={"scenario": "checkout-3am"})
    agent.reset(obs)
    for _ in range(4):
        obs = env.step(agent.act(obs))
    prompts = [sent[1]["content"] for sent in chat.sent]
    assert "Notebook" not in prompts[1]  # step 1: the logs are in the current render
    assert "logs of payment (step 1)" in prompts[1]
    assert "Notebook: what the logs you read showed\n  payment (step 1; blames nobody" in prompts[2]
    assert "payment errors while its check says ok" not in prompts[1]  # its own reasoning is not quoted back
    assert "steps 2-3: wait x2" in prompts[3]  # repeats are folded
    assert prompts[3].count("  step") == 2  # history=2 keeps the last two lines only
    assert "(0 earlier" not in prompts[3]


def test_invalid_moves_show_up_as_invalid_in_history(env):
    chat = ScriptedChat(reply({"type": "diagnose", "service": "payment", "mode": "crashed"}), reply({"type": "wait"}))
    chat.replies.insert(1, reply({"type": "diagnose", "service": "payment", "mode": "bad_deploy"}))
    agent = LLMAgent(chat=chat)
    obs = env.reset(seed=1, options={"scenario": "checkout-3am"})
    agent.reset(obs)
    for _ in range(3):
        obs = env.step(agent.act(obs))
    assert "INVALID" in chat.sent[2][1]["content"]  # a second diagnosis is refused by the env


# ------------------------------------------------------------------------------------ rules v2 in the prompt
def test_prompt_says_verdicts_are_paid_at_the_end_and_diagnose_comes_before_the_first_fix():
    config = load_config()
    text = " ".join(system_prompt(config).split())
    assert "paid only when the episode ends" in text
    assert "only an invalid action (-1) moves the score" in text and "a 0 after a diagnose or fix is no verdict" in text
    assert "only before the first fix (restart, rollback or scale_up on any service)" in text
    assert "after a fix it is invalid" in text
    assert "once per episode" not in text  # v1 wording: a second page opens a new diagnosis
    assert '"paged again"' in text and "hard" in text and "retry-storm" in text
    assert '{"type": "circuit_break", "service": S}' in text and "recovery needs every breaker closed" in text
    for idea in ("blames nobody", "stale", "decoy", "Trust a signature only where a victim blames"):
        assert idea in text
    for value in (config.rewards.correct_diagnosis, config.rewards.lucky_fix, config.rewards.recovery_diagnosed):
        assert f"{value:+g}" in text  # numbers come from the manifest


def test_log_words_in_the_prompt_are_words_of_the_real_signature_lines():
    for mode, words in LOG_SIGNATURES.items():
        lines = " ".join(text for _, text in SIGNATURES[mode]).lower()
        for word in words.split(", "):
            assert word.lower() in lines, (mode, word)


def test_corrective_message_lists_every_action_type():
    message = corrective_message(ReplyError("the reply is not JSON"))
    assert f"Action types: {', '.join(ACTION_TYPES)}." in message and "circuit_break" in message
    assert '"reasoning": "' not in message  # no sample reasoning to copy (issue 14 item 2)
    assert '{"type": "check_logs", "service": S}' in message


def test_history_records_moves_without_suggesting_verdicts(env):
    chat = ScriptedChat(
        reply({"type": "circuit_break", "service": "payment"}),
        reply({"type": "diagnose", "service": "payment", "mode": "bad_deploy"}),
        reply({"type": "rollback", "service": "payment"}),
        reply({"type": "diagnose", "service": "payment", "mode": "bad_deploy"}),
    )
    agent = LLMAgent(chat=chat)
    obs = env.reset(seed=1, options={"scenario": "checkout-3am"})
    agent.reset(obs)
    for _ in range(5):
        obs = env.step(agent.act(obs))
    first, after_break, after_diagnose, after_fix, after_invalid = (sent[1]["content"] for sent in chat.sent)
    assert "page 1 · diagnose: open (no fix yet on this page) · breakers open in front of: none" in first
    assert "breakers open in front of: payment" in after_break
    assert "step 1: circuit_break payment -> opened the circuit breakers in front of payment" in after_break
    assert "step 2: diagnose payment bad_deploy -> diagnosis committed" in after_diagnose
    assert "diagnose: closed (committed on this page)" in after_diagnose
    assert "step 3: rollback payment -> rolled back payment" in after_fix
    assert "breakers open in front of: none" in after_fix  # the fix closed them
    history = after_invalid[after_invalid.index("Your moves") : after_invalid.index("Current observation")]
    assert "+0" not in history and "-> 0" not in history  # a zero reward is no verdict: not shown
    assert "step 4: diagnose payment bad_deploy (-1) -> INVALID: already diagnosed" in history
    assert "Action(" not in history  # the move as sent, not the env's raw record of an invalid one


def test_a_diagnosis_after_a_fix_is_shown_as_invalid_and_diagnose_as_closed(env):
    chat = ScriptedChat(
        reply({"type": "restart", "service": "auth"}),
        reply({"type": "diagnose", "service": "payment", "mode": "bad_deploy"}),
    )
    agent = LLMAgent(chat=chat)
    obs = env.reset(seed=1, options={"scenario": "checkout-3am"})
    agent.reset(obs)
    for _ in range(3):
        obs = env.step(agent.act(obs))
    assert "diagnose: closed (a fix already ran on this page)" in chat.sent[1][1]["content"]
    assert "INVALID: diagnose is possible only before the first fix" in chat.sent[2][1]["content"]


def test_a_second_page_reaches_the_prompt_and_no_message_mentions_a_seed():
    env = IncidentEnv(difficulty="hard")
    brain = ReasonerAgent()  # plays the model's part: a second page needs the first fault found and fixed
    sent: list[str] = []

    def chat(messages):
        sent.extend(m["content"] for m in messages)
        action = brain.act(env.observation)
        return Reply(text=reply(action.to_dict(), brain.last_reasoning or ""))

    agent = LLMAgent(chat=chat, history=30)
    obs = env.reset(seed=11, options={"scenario": "retry-storm"})
    brain.reset(obs)
    agent.reset(obs)
    while not obs.done:
        obs = env.step(agent.act(obs))
    assert obs.page == 2 and obs.outcome == "recovered"
    assert any("paged again" in text for text in sent)
    assert any("page 2 (a second incident) · diagnose: open" in text for text in sent)
    assert any(", before page 2; blames" in text for text in sent)  # logs read on page 1 are labelled
    assert not any("seed" in text.lower() for text in sent)


# ------------------------------------------------------------------------------------ robustness
def test_one_corrective_reask_then_success(env):
    chat = ScriptedChat("Let me think... restart payment!", reply({"type": "check_logs", "service": "payment"}))
    agent = LLMAgent(chat=chat)
    obs = env.reset(seed=2)
    agent.reset(obs)
    action = agent.act(obs)
    assert action == Action("check_logs", "payment")
    details = agent.last_details
    assert details["reasked"] and not details["fallback"] and details["calls"] == 2
    assert details["raw"] == "Let me think... restart payment!" and "not JSON" in details["parse_error"]
    assert details["total_tokens"] == 220  # both calls are paid for
    reask = chat.sent[1]
    assert reask[-2] == {"role": "assistant", "content": "Let me think... restart payment!"}
    assert reask[-1]["role"] == "user" and "could not be used: the reply is not JSON" in reask[-1]["content"]


def test_garbage_twice_falls_back_to_a_recorded_wait(env):
    chat = ScriptedChat("garbage", '{"action": {"type": "reboot", "service": "payment"}}')
    agent = LLMAgent(chat=chat)
    obs = env.reset(seed=2)
    agent.reset(obs)
    assert agent.act(obs) == Action("wait")
    details = agent.last_details
    assert details["fallback"] is True and details["calls"] == 2
    assert details["raw_first"] == "garbage" and "reboot" in details["raw"]
    assert "unknown action 'reboot'" in details["parse_error"]
    assert agent.last_reasoning.startswith("(fallback")


def test_an_episode_of_garbage_never_crashes_and_every_step_is_marked(env):
    agent = LLMAgent(chat=ScriptedChat(then="<html>502 Bad Gateway</html>"))
    result = run_episode(env, agent, seed=4)
    assert result.error is None and result.outcome in ("collapsed", "timed_out")
    assert agent.last_details["fallback"] is True


def test_server_errors_abort_the_episode_but_the_run_goes_on(env):
    def broken(messages):
        raise LLMError("server error 503 from https://api.groq.com after 3 retries: overloaded")

    result = run_episode(env, LLMAgent(chat=broken), seed=5)
    assert result.outcome == "aborted" and "LLMError: server error 503" in result.error


def test_eval_sums_tokens_and_keeps_finished_episodes_on_ctrl_c():
    calls = {"n": 0}
    inner = ScriptedChat(then=reply({"type": "wait"}))

    def chat(messages):
        calls["n"] += 1
        if calls["n"] > 40:  # somewhere in the second episode
            raise KeyboardInterrupt
        return inner(messages)

    summary, results = evaluate("llm", range(5), agent_options={"chat": chat})
    assert summary.episodes == len(results) == 1
    assert summary.tokens == results[0].tokens == 110 * results[0].steps


def test_preview_needs_no_key_and_follows_options():
    obs = IncidentEnv().reset(seed=0)
    settings, body = preview_request(obs, model="openai/gpt-oss-20b", base_url="http://localhost:11434/v1")
    assert body["model"] == "openai/gpt-oss-20b"
    assert "max_tokens" in body and "max_completion_tokens" not in body  # what Ollama and vLLM understand
    assert settings.endpoint == "http://localhost:11434/v1/chat/completions"
