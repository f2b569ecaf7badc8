"""The rules of SPEC sections 1-5, one table row at a time."""

from __future__ import annotations

import json

import pytest

from mirr_tui.core import FAULT_MODES, IncidentEnv

from helpers import play_until_done

FIX = {"crashed": "restart", "memory_leak": "restart", "overloaded": "scale_up", "bad_deploy": "rollback"}
SERVICES = ("gateway", "auth", "orders", "payment", "database")


def start(env, service, mode, seed=11, difficulty=None):
    options = {"service": service, "mode": mode}
    if difficulty:
        options["difficulty"] = difficulty
    return env.reset(seed=seed, options=options)


def rows(obs):
    return [e.row for e in obs.rewards]


def treat(env, service, mode):
    """Diagnose, fix (twice for a leak, after the relapse), then wait it out."""
    env.step(f"diagnose {service} {mode}")
    env.step(f"{FIX[mode]} {service}")
    if mode == "memory_leak":
        while env.state.fault_phase == "dormant":
            env.step("wait")
        env.step(f"restart {service}")
    return play_until_done(env)


@pytest.mark.parametrize("mode", FAULT_MODES)
@pytest.mark.parametrize("service", SERVICES)
def test_diagnose_fix_confirm_recovers_every_incident(env, service, mode):
    start(env, service, mode)
    obs = treat(env, service, mode)
    assert obs.outcome == "recovered"
    state = env.state
    assert state.diagnosis_correct and state.fault_phase == "fixed"
    assert all(s.health >= env.config.rules.healthy_health for s in state.services.values())


def test_reasoning_scores_38_plus_efficiency(env):
    start(env, "payment", "bad_deploy")
    first = env.step("diagnose payment bad_deploy")
    second = env.step("rollback payment")
    assert (first.reward, rows(first)) == (8, ["correct_diagnosis"])
    assert (second.reward, rows(second)) == (10, ["correct_fix"])
    obs = play_until_done(env)
    assert obs.outcome == "recovered"
    assert rows(obs) == ["recovery_diagnosed", "efficiency"]
    unused = env.config.rules.max_steps - obs.step
    assert obs.score == 38 + 0.5 * unused


def test_brute_force_scores_minus_two_before_the_end(env):
    start(env, "payment", "bad_deploy")
    for service in ("gateway", "auth", "orders", "database"):
        obs = env.step(f"restart {service}")
        assert rows(obs) == ["wrong_fix"]
    obs = env.step("rollback payment")
    assert rows(obs) == ["lucky_fix"]
    assert obs.score == -2
    obs = play_until_done(env)
    if obs.outcome == "recovered":  # no diagnosis: the recovery itself pays nothing but efficiency
        assert rows(obs) == ["recovery_undiagnosed", "efficiency"]


def test_wrong_diagnosis_and_repeat_diagnosis(env):
    start(env, "payment", "bad_deploy")
    assert rows(env.step("diagnose orders overloaded")) == ["wrong_diagnosis"]
    again = env.step("diagnose payment bad_deploy")
    assert not again.valid and rows(again) == ["invalid"] and again.reward == -1
    assert "already diagnosed orders/overloaded" in again.error
    assert env.state.diagnosis == {"service": "orders", "mode": "overloaded"}


def test_right_service_wrong_mode_is_a_wrong_diagnosis(env):
    start(env, "payment", "bad_deploy")
    assert env.step("diagnose payment crashed").reward == -4


@pytest.mark.parametrize("mode", FAULT_MODES)
def test_wrong_fix_types_on_the_root_cost_two(env, mode):
    start(env, "orders", mode)
    for kind in ("restart", "rollback", "scale_up"):
        if kind != FIX[mode]:
            obs = env.step(f"{kind} orders")
            assert rows(obs) == ["wrong_fix"], (mode, kind)
    assert env.state.fault_phase == "active"


def test_fix_reward_is_paid_once(env):
    start(env, "database", "crashed")
    assert rows(env.step("restart database")) == ["lucky_fix"]
    again = env.step("restart database")
    assert again.reward == 0 and rows(again) == []


def test_overloaded_restart_does_nothing(env):
    start(env, "orders", "overloaded")
    env.step("wait")
    before = env.state.services["orders"].own_health
    obs = env.step("restart orders")
    assert obs.reward == -2
    after = env.state.services["orders"].own_health
    assert after == pytest.approx(before - env.config.rules.overload_decay)
    assert env.state.fault_phase == "active"
    fixed = env.step("scale up orders")
    assert rows(fixed) == ["lucky_fix"] and env.state.fault_phase == "fixed"


def test_bad_deploy_restart_makes_it_worse(env):
    start(env, "payment", "bad_deploy")
    before = env.state.services["payment"].own_health
    env.step("restart payment")
    worse = env.state.services["payment"].own_health
    assert worse == pytest.approx(before - env.config.rules.bad_restart_penalty)
    env.step("restart payment")
    assert env.state.services["payment"].own_health < worse


def test_memory_leak_relapses_four_steps_after_the_first_restart(env):
    start(env, "auth", "memory_leak")
    env.step("diagnose auth memory_leak")
    first = env.step("restart auth")
    assert rows(first) == ["correct_fix"]
    assert env.state.fault_phase == "dormant"
    restarted_at = first.step
    while env.state.fault_phase == "dormant":
        env.step("wait")
    assert env.state.step_count == restarted_at + env.config.rules.relapse_after
    climbing = env.state.services["auth"].memory
    env.step("wait")
    assert env.state.services["auth"].memory > climbing  # leaking again
    second = env.step("restart auth")
    assert second.reward == 0 and rows(second) == []  # the fix is paid once, and it is not a wrong fix
    assert env.state.fault_phase == "fixed"
    assert play_until_done(env).outcome == "recovered"


def test_memory_leak_restart_during_the_quiet_steps_only_resets_the_clock(env):
    start(env, "auth", "memory_leak")
    env.step("restart auth")
    env.step("wait")
    env.step("restart auth")
    assert env.state.fault_phase == "dormant"
    obs = play_until_done(env)
    assert obs.outcome != "recovered"


def test_restart_of_a_healthy_service_is_a_short_blip(env):
    start(env, "payment", "bad_deploy")
    obs = env.step("restart database")
    assert obs.services["database"].status == "down"
    assert env.state.services["database"].own_health == env.config.rules.restart_blip
    env.step("wait")
    env.step("wait")
    assert env.state.services["database"].own_health == 1.0


@pytest.mark.parametrize("mode", FAULT_MODES)
def test_untreated_incidents_collapse_around_step_20(env, mode):
    steps = []
    for seed in range(12):
        obs = env.reset(seed=seed, options={"service": "payment", "mode": mode})
        obs = play_until_done(env)
        assert obs.outcome == "collapsed"
        assert rows(obs) == ["collapse"] and obs.reward == -20
        steps.append(obs.step)
    assert 16 <= sum(steps) / len(steps) <= 24


def test_crashed_gateway_alone_is_an_outage_not_a_collapse(env):
    start(env, "gateway", "crashed")
    for _ in range(env.config.rules.cascade_start - 1):
        obs = env.step("wait")
    assert obs.services["gateway"].status == "down"
    assert not obs.done


def test_timeout_when_recovery_cannot_be_confirmed(env, config):
    start(env, "payment", "bad_deploy")
    env.step("rollback payment")
    obs = env.observation
    while not obs.done:  # keep blipping a healthy service so the confirm window never completes
        obs = env.step("restart auth")
    assert obs.outcome == "timed_out" and obs.step == config.rules.max_steps
    assert rows(obs)[-1] == "timeout"


def test_invalid_actions_cost_a_step_and_change_nothing_else(env):
    start(env, "payment", "bad_deploy")
    twin = IncidentEnv(env.config)
    start(twin, "payment", "bad_deploy")
    for garbage in ("restart cache", {"type": "explode"}, 42, "diagnose payment gremlins", ""):
        obs = env.step(garbage)
        same = twin.step("wait")
        assert not obs.valid and obs.reward == -1 and obs.error
        assert obs.remaining == same.remaining
        assert env.state.services == twin.state.services
    assert "unknown service 'cache'" in env.step("restart cache").error


def test_step_after_the_end_is_refused_without_raising(env):
    start(env, "gateway", "crashed")
    obs = play_until_done(env)
    after = env.step("wait")
    assert after.done and not after.valid and after.step == obs.step


@pytest.mark.parametrize("mode", ["bad_deploy", "memory_leak"])
def test_health_checks_lie(env, mode):
    obs = start(env, "payment", mode, seed=5)
    payment = obs.services["payment"]
    assert payment.status == "ok"
    if mode == "bad_deploy":
        assert payment.error_rate > 0.2


def test_symptoms_travel_upstream_one_hop_per_step(env):
    env.reset(seed=2, options={"service": "payment", "mode": "crashed"})
    health = [env.state.services[name].health for name in ("payment", "orders", "gateway")]
    history = [health]
    for _ in range(3):
        env.step("wait")
        history.append([env.state.services[name].health for name in ("payment", "orders", "gateway")])
    # the root is worst, then its caller, then the caller's caller: one hop per step
    assert history[-1][0] < history[-1][1] < history[-1][2] < 1.0
    obs = env.observation
    assert obs.services["orders"].error_rate > 0.2 and obs.services["gateway"].error_rate > 0.1
    assert obs.services["database"].error_rate < 0.05
    env.step("restart payment")
    truth = env.state.services
    assert truth["payment"].health > truth["orders"].health  # orders still feels last step's payment


@pytest.mark.parametrize(
    ("mode", "metric", "check"),
    [
        ("crashed", "error_rate", lambda v: v.error_rate > 0.85 and v.rps < 5 and v.status == "down"),
        ("overloaded", "cpu", lambda v: v.cpu > 80 and v.latency_ms > 300),
        ("bad_deploy", "error_rate", lambda v: 0.2 < v.error_rate < 0.75 and v.status == "ok"),
    ],
)
def test_each_mode_has_a_metric_signature(env, mode, metric, check):
    for seed in range(5):
        obs = env.reset(seed=seed, options={"service": "payment", "mode": mode})
        assert check(obs.services["payment"]), (seed, obs.services["payment"])


def test_memory_leak_signature_is_climbing_memory(env, config):
    for seed in range(6):
        obs = env.reset(seed=seed, options={"service": "orders", "mode": "memory_leak"})
        while not obs.done and env.state.services["orders"].memory < 1.0:
            before = env.state.services["orders"].memory
            assert obs.services["orders"].memory > 60
            assert obs.services["orders"].status == ("ok" if before < 0.95 else "degraded")
            obs = env.step("wait")
            assert env.state.services["orders"].memory == pytest.approx(min(1.0, before + config.rules.leak_rate))
        assert obs.services["orders"].status == "down"  # out of memory: OOM-killed


def test_noise_stays_within_fifteen_percent(env):
    env.reset(seed=9, options={"service": "database", "mode": "bad_deploy"})
    base = env.config.service("auth").baseline
    for _ in range(5):
        obs = env.step("wait")
    # auth is healthy-ish only if the database is not too sick; check cpu bounds on the root's panel instead
    cpu = obs.services["database"].cpu
    expected = env.config.service("database").baseline.cpu * 1.1
    assert expected * 0.85 - 1e-9 <= cpu <= expected * 1.15 + 1e-9
    assert base.cpu > 0


def test_observation_leaks_no_truth(env):
    obs = env.reset(seed=1, options={"service": "orders", "mode": "bad_deploy"})
    text = json.dumps(obs.to_dict())
    for hidden in ("root", "fault", "health", "truth", "bad_deploy", "own_health", "stress"):
        assert hidden not in text
    assert all("orders" not in alert or "health check" not in alert or "degraded" in alert for alert in obs.alerts)
    assert not hasattr(obs, "trend") and "system_health" not in text


def test_alerts_come_from_the_noisy_metrics(env):
    obs = env.reset(seed=3, options={"service": "payment", "mode": "crashed"})
    for alert in obs.alerts:
        name = alert.split()[0]
        view = obs.services[name]
        if "error rate" in alert:
            assert view.error_rate > env.config.alerts.error_rate
        if "p95" in alert:
            assert view.latency_ms > env.config.alerts.latency_ms


def test_logs_show_signatures_pointers_and_routine(env):
    env.reset(seed=8, options={"service": "payment", "mode": "bad_deploy"})
    root = env.step("logs payment")
    text = " ".join(line.text for line in root.logs)
    assert "NullPointerException" in text or "rolled out" in text
    assert 5 <= len(root.logs) <= 8 and root.logs_service == "payment"
    victim = env.step("logs orders")
    assert any("payment" in line.text for line in victim.logs)
    healthy = env.step("logs auth")
    assert all(line.level in ("INFO", "DEBUG") for line in healthy.logs)
    assert env.step("wait").logs is None


def _routine(line) -> bool:
    from mirr_tui.core.logs import ROUTINE

    return any(line.level == level and line.text.split()[0] == text.split()[0] for level, text in ROUTINE)


def test_red_herrings_only_at_hard(env):
    normal = env.reset(seed=8, options={"service": "payment", "mode": "bad_deploy", "difficulty": "normal"})
    assert normal.difficulty == "normal"
    quiet = env.step("logs auth").logs
    env.reset(seed=8, options={"service": "payment", "mode": "bad_deploy", "difficulty": "hard"})
    noisy = env.step("logs auth").logs
    assert all(line.level in ("INFO", "DEBUG") for line in quiet)
    assert sum(not _routine(line) for line in noisy) == env.config.difficulty("hard").red_herrings


def test_hard_logs_need_cross_checking(env):
    """At hard, bystanders and victims may carry look-alike lines and the root shows fewer signature lines."""
    from agents.heuristic import SIGNATURE_WORDS

    def hits(lines):
        return {m: sum(w in line.text.lower() for line in lines for w in words) for m, words in SIGNATURE_WORDS.items()}

    lookalike_seen = victim_herring = False
    root_hits = []
    for seed in range(40):
        env.reset(seed=seed, options={"service": "payment", "mode": "bad_deploy", "difficulty": "hard"})
        root = env.step("logs payment").logs
        root_hits.append(hits(root)["bad_deploy"])
        bystander = env.step("logs auth").logs
        lookalike_seen |= any(n == 1 for n in hits(bystander).values())
        assert all(n <= 1 for n in hits(bystander).values())  # never two words of one signature
        victim = env.step("logs orders").logs
        victim_herring |= any(not _routine(line) and "payment" not in line.text for line in victim)
    assert lookalike_seen and victim_herring
    assert min(root_hits) >= 1 and sum(h == 1 for h in root_hits) >= 10  # often a single signature line
    env.reset(seed=8, options={"service": "payment", "mode": "bad_deploy", "difficulty": "normal"})
    assert hits(env.step("logs payment").logs)["bad_deploy"] >= 2


def test_oom_kill_shows_in_logs_and_status(env):
    env.reset(seed=1, options={"service": "auth", "mode": "memory_leak"})
    obs = env.observation
    while obs.services["auth"].status != "down" and not obs.done:
        obs = env.step("wait")
    logs = env.step("logs auth").logs
    assert any("OOMKilled" in line.text for line in logs)


def test_scenario_fixes_the_incident_and_tells_the_story(env):
    obs = env.reset(seed=123, options={"scenario": "black-friday"})
    assert (env.state.root_service, env.state.fault_mode) == ("orders", "overloaded")
    assert obs.scenario == "black-friday" and "flash sale" in obs.story


def test_render_is_compact_text(env):
    env.reset(seed=7, options={"scenario": "checkout-3am"})
    env.step("logs payment")
    text = env.render()
    assert "step 1/30" in text and "payment" in text and "logs of payment" in text
    assert len(text.splitlines()) < 40
    assert "bad_deploy" not in text.split("logs of payment")[0]
