"""Issue 14: what a small real model needs from the LLM agent. The prompt is a notebook of evidence (no quoted
reasoning to copy), the re-ask holds no sample to copy, invalid moves are recorded as moves, local servers get
suitable defaults, the reply is constrained to the moves valid now, and rules v2 are stated from the manifest."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mirr_tui.agents.llm import (
    DEFAULTS,
    LOCAL_DEFAULTS,
    LLMAgent,
    LLMSetupError,
    Reply,
    ReplyError,
    corrective_message,
    preview_request,
    reply_schema,
    resolve_settings,
    system_prompt,
)
from mirr_tui.agents.llm_prompt import SAMPLE_REASONING
from mirr_tui.core import FIX_TYPES, Action, IncidentEnv, load_config
from mirr_tui.evaluation import run_episode
from mirr_tui.replay import ReplayRecorder

from helpers import clear_llm_environment
from llm_server import FakeModelServer, completion

LOCAL = "http://127.0.0.1:9/v1"  # never contacted: the scripted chat stands in for the server
CHECKOUT = {"scenario": "checkout-3am"}  # payment / bad_deploy


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    clear_llm_environment(monkeypatch)


class Chat:
    """A chat seam that answers from a list and records messages and schemas."""

    def __init__(self, *moves: dict, reasoning: str = "because") -> None:
        self.moves = list(moves)
        self.reasoning = reasoning
        self.sent: list[list[dict]] = []
        self.schemas: list[dict | None] = []

    def __call__(self, messages, schema=None):
        self.sent.append([dict(m) for m in messages])
        self.schemas.append(schema)
        move = self.moves.pop(0) if self.moves else {"type": "wait"}
        text = move if isinstance(move, str) else json.dumps({"reasoning": self.reasoning, "action": move})
        return Reply(text=text, prompt_tokens=10, completion_tokens=5, total_tokens=15)


def play(agent: LLMAgent, steps: int, seed: int = 1, options=CHECKOUT, env: IncidentEnv | None = None):
    env = env or IncidentEnv()
    obs = env.reset(seed=seed, options=options)
    agent.reset(obs)
    for _ in range(steps):
        if obs.done:
            break
        obs = env.step(agent.act(obs))
    return env, obs


# ------------------------------------------------------------------------------------ item 1
def test_the_models_own_reasoning_is_never_quoted_back_so_no_clipped_copy_can_be_made():
    long = "payment blames nobody and its logs show a rollout " * 12  # ~600 characters
    chat = Chat(
        {"type": "check_logs", "service": "gateway"}, {"type": "check_logs", "service": "orders"}, reasoning=long
    )
    play(LLMAgent(chat=chat), 3)
    later = chat.sent[2][1]["content"]
    assert "payment blames nobody and its logs" not in later
    assert '..."' not in later and "you thought" not in later


# ------------------------------------------------------------------------------------ item 2
def test_the_reask_has_no_sample_reasoning_and_a_copied_sample_is_not_kept():
    message = corrective_message(ReplyError('the reply has no "action"'))
    assert '"reasoning": "' not in message and "your own" in message
    assert SAMPLE_REASONING in system_prompt(load_config())  # the system prompt's sample is the one to catch
    chat = Chat('{"reasoning": "broken', {"type": "check_logs", "service": "payment"}, reasoning=SAMPLE_REASONING)
    agent = LLMAgent(chat=chat)
    play(agent, 1)
    assert agent.last_details["reasked"] is True and agent.last_details["copied_reasoning"] is True
    assert agent.last_reasoning is None  # the copy explains nothing: not shown, not saved
    assert "your own" in chat.sent[1][-1]["content"]


# ------------------------------------------------------------------------------------ item 3
def test_a_second_diagnose_is_recorded_as_the_move_in_obs_replay_and_history(tmp_path):
    diagnose = {"type": "diagnose", "service": "payment", "mode": "bad_deploy"}
    body_moves = [diagnose, diagnose, {"type": "rollback", "service": "payment"}]

    def respond(body):
        move = body_moves.pop(0) if body_moves else {"type": "wait"}
        return 200, completion(json.dumps({"reasoning": "r", "action": move}))

    with FakeModelServer(respond) as server:
        agent = LLMAgent(base_url=server.base_url, model="m")
        recorder = ReplayRecorder(player_kind="agent", player_name="llm", player_details=agent.describe())
        run_episode(IncidentEnv(), agent, seed=1, options=CHECKOUT, recorder=recorder)
        prompts = [b["messages"][1]["content"] for b in server.bodies]
    invalid = recorder.frames[2].observation
    assert invalid["valid"] is False and invalid["action"] == diagnose
    assert "step 2: diagnose payment bad_deploy (-1) -> INVALID: already diagnosed" in prompts[2]
    text = recorder.save_to_dir(tmp_path).read_text()
    assert "Action(" not in text and '"raw"' not in text
    assert not any("Action(" in p for p in prompts)


# ------------------------------------------------------------------------------------ item 5
def test_a_local_server_gets_a_long_timeout_and_a_short_budget_groq_keeps_its_own():
    groq = resolve_settings(environ={"GROQ_API_KEY": "k"})
    assert (groq.timeout, groq.max_tokens) == (DEFAULTS["timeout"], DEFAULTS["max_tokens"])
    local = resolve_settings({"base_url": "http://localhost:11434/v1"}, environ={})
    assert (
        (local.timeout, local.max_tokens) == (300.0, 512) == (LOCAL_DEFAULTS["timeout"], LOCAL_DEFAULTS["max_tokens"])
    )
    given = resolve_settings({"base_url": LOCAL, "timeout": 45}, environ={"MIRR_LLM_MAX_TOKENS": "900"})
    assert (given.timeout, given.max_tokens) == (45.0, 900)  # an option or a variable always wins
    groq_url = resolve_settings({"base_url": "https://api.groq.com/openai/v1"}, environ={"GROQ_API_KEY": "k"})
    assert groq_url.timeout == DEFAULTS["timeout"]


def test_the_manifest_local_section_sets_the_local_defaults(tmp_path):
    manifest = tmp_path / "openenv.yaml"
    manifest.write_text("llm:\n  timeout: 20\n  local:\n    timeout: 120\n    max_tokens: 256\n")
    local = resolve_settings({"base_url": LOCAL}, environ={}, manifest=manifest)
    assert (local.timeout, local.max_tokens) == (120.0, 256)
    assert resolve_settings(environ={"GROQ_API_KEY": "k"}, manifest=manifest).timeout == 20.0
    manifest.write_text("llm:\n  local:\n    colour: red\n")
    with pytest.raises(LLMSetupError, match=r"llm\.local"):
        resolve_settings({"base_url": LOCAL}, environ={}, manifest=manifest)


# ------------------------------------------------------------------------------------ item 7
def test_the_schema_enumerates_exactly_the_moves_valid_now(env, config):
    obs = env.reset(seed=1, options=CHECKOUT)
    schema = reply_schema(obs, list(config.fault_modes))
    assert schema["required"] == ["reasoning", "action"] and schema["additionalProperties"] is False
    moves = {tuple(m["properties"]["type"]["enum"]): m for m in schema["properties"]["action"]["anyOf"]}
    assert set(moves) == {("check_logs",), ("diagnose",), tuple(FIX_TYPES), ("circuit_break",), ("wait",)}
    diagnose = moves[("diagnose",)]["properties"]
    assert diagnose["service"]["enum"] == list(obs.services) and diagnose["mode"]["enum"] == list(config.fault_modes)
    assert schema["properties"]["reasoning"]["maxLength"] <= 500  # a runaway cannot fill the budget
    committed = env.step(Action("diagnose", "payment", "bad_deploy"))
    assert not committed.can_diagnose
    after = [
        m["properties"]["type"]["enum"]
        for m in reply_schema(committed, list(config.fault_modes))["properties"]["action"]["anyOf"]
    ]
    assert ["diagnose"] not in after  # no second diagnose once committed


def test_a_local_server_is_sent_the_schema_groq_gets_json_mode_and_the_option_decides(env):
    obs = env.reset(seed=1, options=CHECKOUT)
    _, local = preview_request(obs, base_url=LOCAL)
    assert local["response_format"]["type"] == "json_schema"
    assert local["response_format"]["json_schema"]["schema"]["properties"]["action"]["anyOf"]
    _, groq = preview_request(obs)
    assert groq["response_format"] == {"type": "json_object"}
    _, forced = preview_request(obs, base_url=LOCAL, response_format="json")
    assert forced["response_format"] == {"type": "json_object"}
    _, on_groq = preview_request(obs, response_format="schema")
    assert on_groq["response_format"]["type"] == "json_schema"
    with pytest.raises(LLMSetupError, match="response_format"):
        resolve_settings({"response_format": "xml"}, environ={"GROQ_API_KEY": "k"})


def test_a_schema_the_server_refuses_falls_back_to_its_own_form_then_json_mode_and_stays_there():
    answer = json.dumps({"reasoning": "r", "action": {"type": "check_logs", "service": "payment"}})

    def respond(body):
        form = body["response_format"]
        if form["type"] == "json_schema" or "schema" in form:
            return 400, {"error": {"message": "response_format not supported", "type": "invalid_request_error"}}
        return 200, completion(answer)

    with FakeModelServer(respond) as server:
        agent = LLMAgent(base_url=server.base_url, model="m", retries=0)
        play(agent, 2)
        forms = [b["response_format"] for b in server.bodies]
    assert forms[0]["type"] == "json_schema"
    assert forms[1] == {"type": "json_object", "schema": forms[0]["json_schema"]["schema"]}
    assert forms[2:] == [{"type": "json_object"}, {"type": "json_object"}]  # remembered: no more refusals
    assert agent.last_details["response_format"] == "json_object" and agent.last_details["calls"] == 1


# ------------------------------------------------------------------------------------ item 8
def test_the_notebook_keeps_distinct_lines_blame_pointers_and_what_is_still_open():
    chat = Chat({"type": "check_logs", "service": "gateway"}, {"type": "check_logs", "service": "orders"})
    play(LLMAgent(chat=chat), 4, seed=3, options=None)
    later = chat.sent[3][1]["content"]  # after a wait: both reads are in the notebook
    notebook = later[: later.index("Your moves")]
    assert "gateway (step 1; blames orders):" in notebook
    assert "orders (step 2; blames payment; blamed by gateway):" in notebook
    assert "routine lines" in notebook and "GET /health 200" not in notebook  # noise folded
    assert "(request id" not in notebook and "(x2)" in notebook  # repeats counted once
    lines = [line.strip() for line in notebook.splitlines() if line.startswith("    ") and "routine" not in line]
    assert len(lines) == len(set(lines))
    assert (
        "Still open: logs not read yet: auth, payment, database · moves you can make now: check_logs, diagnose" in later
    )


def test_a_move_repeated_with_nothing_learned_is_folded_and_noted():
    restart = {"type": "restart", "service": "auth"}
    chat = Chat(
        restart, restart, restart, {"type": "check_logs", "service": "auth"}, {"type": "check_logs", "service": "auth"}
    )
    play(LLMAgent(chat=chat), 6)
    before_repeat, after_repeats = chat.sent[1][1]["content"], chat.sent[5][1]["content"]
    assert "Note:" not in before_repeat
    assert "steps 1-3: restart auth x3 -> restarted auth" in after_repeats
    assert "Note: you repeated check_logs auth, restart auth and learned nothing new" in after_repeats
    assert "moves you can make now: check_logs, restart" in after_repeats  # diagnose closed after a fix


# ------------------------------------------------------------------------------------ item 9
def test_rules_v2_are_stated_in_short_from_the_manifest():
    config = load_config()
    text = " ".join(system_prompt(config).split())
    assert "commit before you fix" in text and "settled at the end" in text
    assert f"{config.rules.confirm_steps} healthy steps in a row" in text
    changed = dataclasses.replace(config, rules=dataclasses.replace(config.rules, confirm_steps=7))
    assert "7 healthy steps in a row" in " ".join(system_prompt(changed).split())


def test_the_agents_notebook_reads_bad_gateway_as_no_pointer(config):
    """The agent's notebook shares the pointer reading: `502 from database: bad gateway` blames database only."""
    from mirr_tui.agents.llm_prompt import LogNote
    from mirr_tui.core import Observation
    from mirr_tui.core.types import LogLine

    env = IncidentEnv(config)
    obs = env.reset(seed=1)
    lines = (
        LogLine(1, "auth", "ERROR", "502 from database: bad gateway"),
        LogLine(1, "auth", "WARN", "upstream orders timed out"),
    )
    read = Observation.from_dict({**obs.to_dict(), "logs": [line.to_dict() for line in lines], "logs_service": "auth"})
    assert LogNote.of(read, list(obs.services)).blames == ["database", "orders"]
