"""Rules v2, section 0: each mechanic alone (table-driven), the truth kept out of the player's channel,
compound faults, the circuit breaker and user impact."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mirr_tui.core import FAULT_MODES, IncidentEnv
from mirr_tui.core.logs import ROUTINE, SECONDARY, SIGNATURES

from helpers import play_until_done

OFF = {"pass_through": False, "decoys": 0.0, "masked": 0.0, "silent": 0.0, "secondary": 0.0, "shielded": 0.0}


def probe(config, **mechanics):
    """An env at normal's noise and clock with only the named mechanics on (rates as given)."""
    level = dataclasses.replace(config.difficulties["normal"], compound=0.0, **{**OFF, **mechanics})
    return IncidentEnv(dataclasses.replace(config, difficulties={**config.difficulties, "normal": level}))


def incident(env, service, mode, seed=3):
    return env.reset(seed=seed, options={"service": service, "mode": mode})


def signature_lines(lines, mode):
    texts = {text.split("{")[0] for _, text in SIGNATURES[mode]}
    return [line for line in lines if any(line.text.startswith(t) for t in texts)]


# ---------------------------------------------------------------------------------------- the mechanics
def test_errors_pass_through_callers(config):
    plain, through = probe(config), probe(config, pass_through=True)
    a, b = incident(plain, "database", "crashed"), incident(through, "database", "crashed")
    for _ in range(3):
        a, b = plain.step("wait"), through.step("wait")
    # database is down (errors ~100%): with pass-through its callers show about the same error rate
    assert b.services["payment"].error_rate > 0.68 and b.services["auth"].error_rate > 0.68
    assert b.services["payment"].error_rate > a.services["payment"].error_rate
    assert b.services["gateway"].latency_ms > a.services["gateway"].latency_ms  # latency adds up the chain


@pytest.mark.parametrize(
    ("kind", "looks", "mimics"),
    [
        ("cpu_spike", lambda v: v.cpu > 78, "overloaded"),
        ("steady_heap", lambda v: v.memory > 71, "memory_leak"),
        ("canary", lambda v: 0.012 <= v.error_rate <= 0.05, "bad_deploy"),
        ("flapping", lambda v: v.stale, "crashed"),
    ],
)
def test_benign_decoys_look_like_a_fault_and_nobody_blames_them(config, kind, looks, mimics):
    env = probe(config, decoys=1.0)
    seen = 0
    for seed in range(200):
        incident(env, "gateway", "bad_deploy", seed=seed)  # every other service is a bystander
        decoy = env.state.mechanics["decoy"]
        if env.state.mechanics["decoy_kind"] != kind:
            continue
        seen += 1
        obs = env.step("wait")
        assert looks(obs.services[decoy]), (seed, obs.services[decoy])
        assert len(signature_lines(env.step(f"logs {decoy}").logs, mimics)) >= 2
        for caller in (c.name for c in config.services if decoy in c.calls):
            assert all(decoy not in line.text for line in env.step(f"logs {caller}").logs)  # no victim blames it
        assert env.state.services[decoy].own_health == 1.0  # the anomaly is harmless
        if seen == 3:
            break
    assert seen == 3


@pytest.mark.parametrize(
    ("mode", "masked_look"),
    [
        ("overloaded", lambda v: v.cpu < 90 and v.rps < 60 and v.status == "degraded"),  # flat rps, cpu under alert
        ("bad_deploy", lambda v: v.cpu > 85),  # a cpu regression: looks overloaded
        ("memory_leak", lambda v: v.status == "down" and v.memory < 10),  # paged after its OOM kill: looks crashed
    ],
)
def test_masked_fingerprints(config, mode, masked_look):
    env = probe(config, masked=1.0)
    for seed in range(5):
        obs = incident(env, "payment", mode, seed=seed)
        assert masked_look(obs.services["payment"]), (seed, obs.services["payment"])
    if mode == "memory_leak":  # the logs still tell: the OOM kill is a leak's signature
        assert any("OOMKilled" in line.text for line in env.step("logs payment").logs)


@pytest.mark.parametrize("mode", FAULT_MODES)
def test_the_silent_killer_looks_healthier_than_its_victims(config, mode):
    env = probe(config, silent=1.0)
    obs = incident(env, "payment", mode, seed=5)
    while obs.services["orders"].error_rate < 0.1:  # until the victim feels it (a leak: before its OOM kill)
        obs = env.step("wait")
    root, victim = obs.services["payment"], obs.services["orders"]
    assert root.error_rate < 0.05 < victim.error_rate
    assert root.status == "ok"
    assert root.stale == (mode == "crashed")  # a crashed root's scrape is stale: its last values, flagged
    if mode == "crashed":
        assert env.step("wait").services["payment"] == root  # frozen
    assert any("payment" in line.text for line in env.step("logs orders").logs)  # the victim still blames it


def test_secondary_symptoms_look_overloaded_but_name_the_callee(config):
    env = probe(config, secondary=1.0)
    incident(env, "payment", "crashed")
    assert env.state.mechanics["secondary"] == "orders"  # the only caller of payment
    obs = env.step("wait")
    assert obs.services["orders"].cpu > 85
    lines = env.step("logs orders").logs
    texts = [line.text for line in lines]
    assert sum(t.startswith(("thread pool exhausted", "request queue depth")) for t in texts) == len(SECONDARY)
    assert all("payment" in t for t in texts if t.startswith(("thread pool", "request queue")))


def test_shielded_callers_barely_move(config):
    plain, shielded = probe(config), probe(config, shielded=1.0)
    incident(plain, "payment", "crashed"), incident(shielded, "payment", "crashed")
    for _ in range(3):
        a, b = plain.step("wait"), shielded.step("wait")
    assert b.services["orders"].error_rate < a.services["orders"].error_rate / 2
    assert any("payment" in line.text for line in shielded.step("logs orders").logs)  # its logs still tell


def test_a_crashed_service_logs_no_traffic(config):
    env = probe(config)
    for seed in range(20):
        incident(env, "payment", "crashed", seed=seed)
        lines = env.step("logs payment").logs
        routine = {text.split("{")[0] for _, text in ROUTINE}
        assert not any(line.text.startswith(tuple(routine)) for line in lines), lines


def test_logs_always_settle_it_for_a_careful_reader(config):
    """Following blame pointers from the gateway down reaches the root, whose logs show its mode."""
    from mirr_tui import agents

    env = IncidentEnv(config, difficulty="normal")
    for seed in range(40):
        obs = env.reset(seed=50_000 + seed)
        agent = agents.create("reasoner", config=config)
        agent.reset(obs)
        while not obs.done:
            obs = env.step(agent.act(obs))
        assert env.state.diagnosis_correct, (seed, env.state.faults)


# ---------------------------------------------------------------------------------------- no truth leaks
@pytest.mark.parametrize("seed", [987_654_321, 123_456_789_012])
def test_the_seed_appears_nowhere_in_an_observation_or_its_render(config, seed):
    env = IncidentEnv(config)
    obs = env.reset(seed=seed)
    moves = ["logs gateway", "diagnose orders bad_deploy", "restart orders", "wait"]
    frames = [obs, *(env.step(m) for m in moves)]
    for frame in frames:
        text = json.dumps(frame.to_dict())
        assert str(seed) not in text and "seed" not in text
    assert str(seed) not in env.render()
    again = IncidentEnv(config).reset(seed=seed)
    assert again.metadata["episode_id"] != obs.metadata["episode_id"]  # random, not derived from the seed
    assert again.services == obs.services  # the same incident all the same


def test_the_referee_state_holds_the_truth_the_observation_does_not(config):
    env = IncidentEnv(config)
    obs = env.reset(seed=5, options={"service": "auth", "mode": "memory_leak"})
    state = env.state
    assert state.seed == 5 and state.root_service == "auth" and state.faults[0]["mode"] == "memory_leak"
    env.step("diagnose auth memory_leak")
    assert [e.row for e in env.state.pending] == ["correct_diagnosis"]
    assert "memory_leak" not in json.dumps(obs.to_dict())


# ---------------------------------------------------------------------------------------- compound faults
def _retry_storm(env, seed=4):
    obs = env.reset(seed=seed, options={"scenario": "retry-storm"})
    assert obs.page == 1 and obs.can_diagnose
    env.step("diagnose payment bad_deploy")
    fixed = env.step("rollback payment")
    assert not fixed.can_diagnose
    for _ in range(6):
        obs = env.step("wait")
        if obs.page == 2:
            return obs
    raise AssertionError("no second page")


def test_a_compound_fault_pages_again_with_its_own_diagnosis(config):
    env = IncidentEnv(config)
    paged = _retry_storm(env)
    lo, hi = config.rules.second_fault_delay
    assert lo <= paged.step - 2 <= hi
    assert "paged again" in paged.message and paged.can_diagnose and paged.diagnosis is None
    assert (env.state.root_service, env.state.fault_mode) == ("database", "overloaded")
    env.step("diagnose database overloaded")
    env.step("scale_up database")
    end = play_until_done(env)
    assert end.outcome == "recovered"
    rows = [(e.row, e.step) for e in end.rewards]
    assert ("correct_diagnosis", 1) in rows and ("correct_diagnosis", paged.step + 1) in rows
    assert [r for r, _ in rows].count("correct_fix") == 2 and ("recovery_diagnosed", end.step) in rows
    assert [f["diagnosis_correct"] for f in env.state.faults] == [True, True]


def test_recovery_needs_both_faults_gone(config):
    env = IncidentEnv(config)
    _retry_storm(env)
    end = play_until_done(env)  # the second fault is never treated
    assert end.outcome != "recovered"


def test_normal_keeps_one_fault_and_hard_sometimes_has_two(config):
    counts = {}
    for difficulty in ("normal", "hard"):
        env = IncidentEnv(config, difficulty=difficulty)
        counts[difficulty] = 0
        for seed in range(300):
            env.reset(seed=seed)
            counts[difficulty] += len(env.state.faults) == 2
    assert counts["normal"] == 0
    rate = config.difficulties["hard"].compound
    assert abs(counts["hard"] / 300 - rate) < 0.08


# ---------------------------------------------------------------------------------------- circuit breaker
def test_circuit_break_buys_time_but_fixes_nothing(config):
    env, twin = probe(config), probe(config)
    incident(env, "payment", "crashed"), incident(twin, "payment", "crashed")
    obs = env.step("circuit_break payment")
    twin.step("wait")
    assert obs.valid and obs.reward == 0 and obs.rewards == () and obs.breakers == ("payment",)
    assert obs.can_diagnose  # not a fix
    for _ in range(14):
        obs, other = env.step("wait"), twin.step("wait")
    assert env.state.fault_phase == "active"
    assert env.state.stress == 0.0 < twin.state.stress  # no retry storm behind an open breaker
    assert env.state.services["orders"].health > twin.state.services["orders"].health
    assert env.state.services["orders"].health < config.rules.healthy_health  # callers serve degraded
    assert other.done or not obs.done
    logs = env.step("logs orders").logs
    assert any("breaker to payment held open" in line.text for line in logs)


def test_a_fix_or_a_second_break_closes_the_breaker(config):
    env = probe(config)
    incident(env, "payment", "crashed")
    env.step("break payment")
    assert env.step("circuit_break payment").breakers == ()
    env.step("circuit_break payment")
    assert env.step("restart payment").breakers == ()
    end = play_until_done(env)
    assert end.outcome == "recovered"
    assert not any(e.row == "circuit_break" for e in end.rewards)


# ---------------------------------------------------------------------------------------- user impact
def test_user_impact_grows_with_the_outage_and_is_not_reward(config):
    env = IncidentEnv(config)
    obs = env.reset(seed=7, options={"service": "gateway", "mode": "crashed"})
    assert obs.impact == {"failed_requests": 0, "cost": 0.0}
    first = env.step("wait")
    gateway = first.services["gateway"]
    expected = gateway.rps * gateway.error_rate * config.impact.step_seconds
    assert first.impact["failed_requests"] == round(expected)
    impact = config.impact
    assert first.impact["cost"] == pytest.approx(
        expected * impact.checkout_share * impact.price_per_failed_checkout, abs=0.01
    )
    second = env.step("wait")
    assert second.impact["failed_requests"] > first.impact["failed_requests"]
    assert first.reward == second.reward == 0


def test_a_service_behind_open_breakers_gets_no_traffic(config):
    env = probe(config)
    incident(env, "payment", "bad_deploy")
    base = config.service("auth").baseline.rps
    assert env.step("wait").services["auth"].rps > 0.8 * base
    broken = env.step("circuit_break auth")
    assert broken.services["auth"].rps < 0.15 * base and broken.breakers == ("auth",)
    assert broken.services["gateway"].rps > 0.8 * config.service("gateway").baseline.rps  # its callers still serve


def test_no_row_that_judges_hidden_truth_is_paid_before_the_end(config):
    from mirr_tui import agents
    from mirr_tui.core.config import DEFERRED_ROWS

    env = IncidentEnv(config, difficulty="hard")
    seen_at_end = set()
    for seed in range(60):
        agent = agents.create("random", seed=seed)
        obs = env.reset(seed=seed)
        agent.reset(obs)
        while not obs.done:
            obs = env.step(agent.act(obs))
            rows = {e.row for e in obs.rewards}
            if not obs.done:
                assert rows <= {"invalid"}, (seed, obs.step, rows)
        seen_at_end |= {e.row for e in obs.rewards} & set(DEFERRED_ROWS)
    assert {"wrong_fix", "wrong_diagnosis"} <= seen_at_end
