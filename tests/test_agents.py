from __future__ import annotations

import pytest

from mirr_tui import agents
from mirr_tui.agents.heuristic import read_signature
from mirr_tui.core import Action, IncidentEnv
from mirr_tui.evaluation import evaluate, run_episode, summarise

OFFLINE = ["random", "naive", "metrics", "heuristic", "reasoner", "oracle"]


def test_registry_lists_and_builds_agents():
    names = agents.available()
    assert names[: len(OFFLINE)] == OFFLINE
    for name in OFFLINE:
        agent = agents.create(name)
        assert agent.name == name and isinstance(agent, agents.Agent)
    with pytest.raises(agents.UnknownAgent, match="unknown agent 'nope'"):
        agents.create("nope")


@pytest.mark.parametrize("name", OFFLINE)
def test_agents_always_return_valid_actions(name, config):
    env = IncidentEnv(config)
    agent = agents.create(name)
    for seed in range(15):
        obs = env.reset(seed=seed)
        if agent.needs_env:
            agent.attach(env)
        agent.reset(obs)
        while not obs.done:
            action = agent.act(obs)
            assert isinstance(action, Action)
            obs = env.step(action)
            assert obs.valid, (name, seed, action, obs.error)


def test_baselines_are_ordered_on_a_fixed_sample():
    """Rules v2 at normal: reasoning wins, trusting signature words half-wins, metrics alone mostly lose."""
    seeds = range(500, 700)
    rates = {name: evaluate(name, seeds)[0] for name in OFFLINE}
    assert rates["oracle"].success_rate >= 0.99
    assert rates["reasoner"].success_rate >= 0.9 and rates["reasoner"].diagnosis_accuracy >= 0.9
    assert rates["metrics"].success_rate <= 0.5
    assert rates["naive"].success_rate <= 0.1
    assert rates["random"].success_rate <= 0.05 and rates["random"].mean_reward < 0
    order = ["oracle", "reasoner", "heuristic", "metrics", "naive"]
    means = [rates[name].mean_reward for name in order]
    assert means == sorted(means, reverse=True), dict(zip(order, means, strict=True))


@pytest.mark.parametrize("mode", ["bad_deploy", "overloaded"])
def test_naive_restart_mental_model_fails_where_restart_is_wrong(mode):
    env = IncidentEnv()
    wins = sum(run_episode(env, agents.create("naive"), seed, options={"mode": mode}).success for seed in range(40))
    assert wins <= 2


@pytest.mark.parametrize("name", ["heuristic", "reasoner"])
def test_log_readers_follow_upstream_pointers(name):
    env = IncidentEnv(difficulty="easy")
    agent = agents.create(name)
    obs = env.reset(seed=5, options={"service": "database", "mode": "bad_deploy"})
    agent.reset(obs)
    checked = []
    while not obs.done:
        action = agent.act(obs)
        if action.type == "check_logs":
            checked.append(action.service)
        obs = env.step(action)
    assert obs.outcome == "recovered" and env.state.diagnosis_correct
    assert checked[-1] == "database"
    assert agent.last_reasoning


@pytest.mark.parametrize("name", ["heuristic", "reasoner"])
def test_log_readers_handle_the_memory_leak_relapse(name):
    result = run_episode(
        IncidentEnv(difficulty="easy"), agents.create(name), 3, options={"service": "payment", "mode": "memory_leak"}
    )
    assert result.outcome == "recovered" and result.diagnosis_correct


def test_the_heuristic_trusts_the_signature_words_of_a_blocked_victim():
    """Where the heuristic fails and why: when the root looks healthy, the victim blocked on it looks worst and
    writes thread-pool lines, and the heuristic takes them for the victim's own overload; the reasoner sees
    the callee they name."""
    import dataclasses

    config = IncidentEnv().config
    level = dataclasses.replace(config.difficulties["easy"], secondary=1.0, silent=1.0)  # payment looks fine
    env = IncidentEnv(dataclasses.replace(config, difficulties={**config.difficulties, "easy": level}), "easy")
    fooled = {"heuristic": 0, "reasoner": 0}
    for seed in range(30):
        for name in fooled:
            agent = agents.create(name)
            obs = env.reset(seed=seed, options={"service": "payment", "mode": "crashed"})
            agent.reset(obs)
            while obs.can_diagnose and not obs.done:
                obs = env.step(agent.act(obs))
            fooled[name] += obs.diagnosis == {"service": "orders", "mode": "overloaded"}
    assert fooled["heuristic"] >= 10 and fooled["reasoner"] == 0, fooled


def test_oracle_needs_the_env():
    env = IncidentEnv()
    obs = env.reset(seed=1)
    oracle = agents.create("oracle")
    with pytest.raises(RuntimeError, match="needs the environment"):
        oracle.act(obs)
    oracle.attach(env)
    assert oracle.act(obs).type == "diagnose"


def test_read_signature():
    assert read_signature(
        ["FATAL process exited with code 139 (SIGSEGV)", "WARN container restarting: CrashLoopBackOff"]
    ) == ("crashed", None)
    assert read_signature(
        ["ERROR upstream payment timed out after 3000ms", "WARN circuit breaker open for payment"]
    ) == (None, "payment")
    assert read_signature(["INFO GET /health 200 in 2ms", "WARN GC pause 210ms (young gen)"]) == (None, None)


def test_random_agent_is_reproducible():
    env = IncidentEnv()
    one = run_episode(env, agents.create("random", seed=1), 9)
    two = run_episode(env, agents.create("random", seed=1), 9)
    assert (one.score, one.steps, one.outcome) == (two.score, two.steps, two.outcome)


def test_an_agent_that_raises_aborts_only_its_episode():
    class Broken(agents.BaseAgent):
        name = "broken"

        def act(self, observation):
            raise ConnectionError("network down")

    result = run_episode(IncidentEnv(), Broken(), 4)
    assert result.outcome == "aborted" and "network down" in result.error
    summary = summarise("broken", [result], "normal")
    assert summary.errors == 1 and summary.success_rate == 0


def test_agents_play_by_the_manifest_they_are_given(tmp_path):
    """A custom openenv.yaml reaches rule-aware agents through agents.create(config=...)."""
    from pathlib import Path

    from mirr_tui.core import load_config

    text = (Path(__file__).resolve().parent.parent / "openenv.yaml").read_text()
    path = tmp_path / "slow-relapse.yaml"
    path.write_text(text.replace("  relapse_after: 4 ", "  relapse_after: 6 "))
    env = IncidentEnv(load_config(path))
    summary, _ = evaluate("reasoner", range(12), env=env, scenario="slow-bleed")
    assert summary.success_rate == 1.0
    assert agents.create("heuristic", config=env.config).config.rules.relapse_after == 6
    assert agents.create("random", config=env.config).name == "random"  # agents without rules ignore it


def test_a_single_signature_word_counts_only_on_a_failing_service():
    from mirr_tui.agents.heuristic import corroborated_signature
    from mirr_tui.core import ServiceView

    healthy = ServiceView("auth", "ok", 25.0, 0.002, 22.0, 40.0, 90.0)
    failing = ServiceView("auth", "ok", 60.0, 0.41, 24.0, 41.0, 70.0)
    line = ["INFO deploy v3.1.2 rolled out 40m ago; canary clean", "INFO cache hit ratio 0.97"]
    assert corroborated_signature(line, healthy) is None
    assert corroborated_signature(line, failing) == "bad_deploy"
    mixed = [*line, "INFO heap usage 51% of 2048MB, steady"]
    assert corroborated_signature(mixed, failing) is None  # two different modes: no single story


def test_the_reasoner_at_hard_still_reasons_its_way_through():
    summary, _ = evaluate("reasoner", range(300, 500), "hard")
    assert summary.success_rate >= 0.8 and summary.diagnosis_accuracy >= 0.8
