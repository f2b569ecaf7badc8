"""The pieces of docs/train_grpo.ipynb that are code (mirr_tui.trl_grpo): prompts are the LLM agent's own,
the reward plays a completion out from its state, and the curve is drawn from the trainer's log."""

from __future__ import annotations

import json

import pytest

from mirr_tui import agents
from mirr_tui.agents.llm import LLMAgent, Reply
from mirr_tui.core import Action, IncidentEnv
from mirr_tui.rollouts import assistant_actions, rollout_episode
from mirr_tui.trl_grpo import incident_reward, play_out, prompt_states, reply_text, reward_curve, reward_points

SEEDS = (1_000_003, 1_000_011)


@pytest.fixture(scope="module")
def records(config):
    from mirr_tui.agents.llm_prompt import system_prompt

    system = system_prompt(config)
    return [rollout_episode(IncidentEnv(config), agents.create("heuristic", config=config), s, system) for s in SEEDS]


@pytest.fixture(scope="module")
def rows(records, config):
    return prompt_states(records, config)


def test_every_prompt_is_what_the_llm_agent_sends_at_that_state(records, rows, config):
    """An LLM agent made to play the rollout's moves sends, at every step, exactly the row's prompt."""
    sent: list[list[dict[str, str]]] = []
    for record in records:
        moves = iter(assistant_actions(record))

        def chat(messages, schema=None, moves=moves):
            sent.append([dict(m) for m in messages])
            return Reply(text=json.dumps({"reasoning": "scripted", "action": next(moves).to_dict()}))

        agent = LLMAgent(chat=chat, config=config)
        env = IncidentEnv(config)
        obs = env.reset(seed=record["seed"])
        agent.reset(obs)
        while not obs.done:
            obs = env.step(agent.act(obs))
    assert [row["prompt"] for row in rows] == sent
    assert len(rows) == sum(r["steps"] for r in records)


def test_a_row_holds_the_seed_and_the_moves_that_lead_to_its_state(records, rows, config):
    row = rows[3]
    env = IncidentEnv(config)
    env.reset(seed=row["seed"])
    for move in json.loads(row["prefix"]):
        env.step(Action(**move))
    assert env.state.step_count == row["step"] == 3
    assert json.loads(row["prefix"]) == [a.to_dict() for a in assistant_actions(records[0])[:3]]
    assert {"seed", "difficulty", "scenario", "step", "prefix", "prompt"} == set(row)


def test_the_reward_plays_the_move_out_and_ranks_moves_by_where_they_lead(rows, config):
    row = rows[0]
    truth = IncidentEnv(config)
    truth.reset(seed=row["seed"])
    root, mode = truth.state.root_service, truth.state.fault_mode
    wrong = next(s for s in config.service_names if s != root)

    def reply(action):
        return json.dumps({"reasoning": "r", "action": action})

    completions = [
        reply({"type": "check_logs", "service": "gateway"}),
        reply({"type": "diagnose", "service": wrong, "mode": mode}),
        reply({"type": "wait"}),
        "not json at all",
        [{"role": "assistant", "content": reply({"type": "wait"})}],  # chat-shaped completions too
    ]
    n = len(completions)
    rewards = incident_reward(completions, [row["seed"]] * n, [row["prefix"]] * n, [None] * n, [None] * n)
    assert rewards == incident_reward(completions, [row["seed"]] * n, [row["prefix"]] * n)  # deterministic
    look, misdiagnose, wait, garbage, chat_wait = rewards
    assert look > misdiagnose  # committing to the wrong service is paid for at the end
    assert garbage == wait + config.rewards.invalid  # the agent's fallback, plus the invalid price
    assert chat_wait == wait
    assert look == play_out(row["seed"], [], Action("check_logs", "gateway"), config=config)


def test_a_move_after_the_episode_ended_is_not_played(config):
    env = IncidentEnv(config)
    obs = env.reset(seed=5)
    moves = []
    while not obs.done:
        obs = env.step(Action("restart", "database"))
        moves.append({"type": "restart", "service": "database"})
    assert play_out(5, moves, Action("wait"), config=config) == env.state.score


def test_reply_text_reads_strings_and_chat_messages():
    assert reply_text("x") == "x"
    assert reply_text([{"role": "assistant", "content": "y"}]) == "y"
    assert reply_text([]) == "" and reply_text(None) == ""


def test_the_curve_is_drawn_from_the_logged_rewards(tmp_path):
    history = [{"reward": 3.5, "step": 1}, {"loss": 0.1, "step": 1}, {"reward": 9.0, "step": 2}, {"train_loss": 0}]
    assert reward_points(history) == [(1, 3.5), (2, 9.0)]
    path = reward_curve(history, tmp_path / "curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="logging_steps=1"):
        reward_curve([{"loss": 1.0, "step": 1}], tmp_path / "none.png")
