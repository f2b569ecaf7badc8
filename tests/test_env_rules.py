"""The rules of SPEC sections 1-5 under rules v2 (section 0), one table row at a time.

Tests of a mode's own mechanics play at `easy`, where the v2 mechanics that blur the metrics are off;
tests/test_mechanics.py covers those mechanics one by one."""

from __future__ import annotations

import json

import pytest

from mirr_tui.core import FAULT_MODES, IncidentEnv

from helpers import play_until_done

FIX = {"crashed": "restart", "memory_leak": "restart", "overloaded": "scale_up", "bad_deploy": "rollback"}
SERVICES = ("gateway", "auth", "orders", "payment", "database")


def start(env, service, mode, seed=11, difficulty="easy"):
    return env.reset(seed=seed, options={"service": service, "mode": mode, "difficulty": difficulty})


def rows(obs):
    return [e.row for e in obs.rewards]


def settled(obs):
    """The final observation's rows as (row, step), deferred ones included."""
    assert obs.done
    return [(e.row, e.step) for e in obs.rewards]


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


def test_reasoning_scores_38_plus_efficiency_paid_at_the_end(env):
    start(env, "payment", "bad_deploy")
    first = env.step("diagnose payment bad_deploy")
    second = env.step("rollback payment")
    assert (first.reward, rows(first), first.score) == (0, [], 0)  # decided now, paid at the end
    assert (second.reward, rows(second), second.score) == (0, [], 0)
    obs = play_until_done(env)
    assert obs.outcome == "recovered"
    unused = env.config.rules.max_steps - obs.step
    assert settled(obs) == [
        ("correct_diagnosis", 1),
        ("correct_fix", 2),
        ("recovery_diagnosed", obs.step),
        ("efficiency", obs.step),
    ]
    assert obs.reward == obs.score == 38 + 0.5 * unused


def test_brute_force_scores_minus_two_and_learns_nothing_before_the_end(env):
    start(env, "payment", "bad_deploy")
    for service in ("gateway", "auth", "orders", "database"):
        obs = env.step(f"restart {service}")
        assert rows(obs) == [] and obs.score == 0
    obs = env.step("rollback payment")
    assert rows(obs) == [] and obs.score == 0
    obs = play_until_done(env)
    fixes = [(row, step) for row, step in settled(obs) if row.endswith("_fix")]
    assert fixes == [("wrong_fix", 1), ("wrong_fix", 2), ("wrong_fix", 3), ("wrong_fix", 4), ("lucky_fix", 5)]
    assert sum(e.value for e in obs.rewards if e.row.endswith("_fix")) == -2


def test_a_right_and_a_wrong_diagnosis_look_the_same_until_the_end(config):
    right, wrong = IncidentEnv(config), IncidentEnv(config)
    for env in (right, wrong):
        env.reset(seed=21, options={"service": "payment", "mode": "bad_deploy"})
    a, b = right.step("diagnose payment bad_deploy"), wrong.step("diagnose orders overloaded")
    assert (a.reward, a.rewards, a.score, a.valid) == (b.reward, b.rewards, b.score, b.valid)
    assert a.services == b.services and a.alerts == b.alerts
    a, b = right.step("rollback payment"), wrong.step("rollback payment")
    assert (a.reward, a.rewards, a.score, a.message) == (b.reward, b.rewards, b.score, b.message)
    end_right, end_wrong = play_until_done(right), play_until_done(wrong)
    assert ("correct_diagnosis", 1) in settled(end_right) and ("wrong_diagnosis", 1) in settled(end_wrong)
    assert end_right.score - end_wrong.score == pytest.approx(8 + 4 + 4 + 20)  # +8/-4, +10/+6, +20/0


def test_wrong_diagnosis_and_repeat_diagnosis(env):
    start(env, "payment", "bad_deploy")
    assert env.step("diagnose orders overloaded").valid
    again = env.step("diagnose payment bad_deploy")
    assert not again.valid and rows(again) == ["invalid"] and again.reward == -1
    assert "already diagnosed orders/overloaded" in again.error
    assert env.state.diagnosis == {"service": "orders", "mode": "overloaded"}
    assert ("wrong_diagnosis", 1) in settled(play_until_done(env))


def test_diagnose_after_a_fix_is_invalid_and_says_why(env):
    obs = start(env, "payment", "bad_deploy")
    assert obs.can_diagnose
    obs = env.step("restart auth")  # any fix, on any service, closes the window
    assert not obs.can_diagnose
    late = env.step("diagnose payment bad_deploy")
    assert not late.valid and rows(late) == ["invalid"] and late.reward == -1
    assert "only before the first fix" in late.error and "restart auth at step 1" in late.error
    assert env.state.diagnosis is None
    end = play_until_done(env, "rollback payment")
    assert not any(row.endswith("_diagnosis") for row, _ in settled(end))


def test_logs_and_breakers_keep_the_diagnosis_open(env):
    start(env, "payment", "bad_deploy")
    for move in ("logs payment", "circuit_break payment", "wait"):
        assert env.step(move).can_diagnose, move
    assert not env.step("diagnose payment bad_deploy").can_diagnose


def test_right_service_wrong_mode_is_a_wrong_diagnosis(env):
    start(env, "payment", "bad_deploy")
    env.step("diagnose payment crashed")
    assert ("wrong_diagnosis", 1) in settled(play_until_done(env, "rollback payment"))


@pytest.mark.parametrize("mode", FAULT_MODES)
def test_wrong_fix_types_on_the_root_cost_two(env, mode):
    start(env, "orders", mode)
    tried = []
    for kind in ("restart", "rollback", "scale_up"):
        if kind != FIX[mode]:
            obs = env.step(f"{kind} orders")
            tried.append(obs.step)
            assert rows(obs) == [], (mode, kind)
    assert env.state.fault_phase == "active"
    end = play_until_done(env)
    assert [step for row, step in settled(end) if row == "wrong_fix"] == tried


def test_fix_reward_is_paid_once(env):
    start(env, "database", "crashed")
    env.step("restart database")
    again = env.step("restart database")
    assert again.reward == 0 and rows(again) == []
    end = play_until_done(env)
    assert [row for row, _ in settled(end) if row.endswith("_fix")] == ["lucky_fix"]


def test_overloaded_restart_does_nothing(env):
    start(env, "orders", "overloaded")
    env.step("wait")
    before = env.state.services["orders"].own_health
    env.step("restart orders")
    after = env.state.services["orders"].own_health
    assert after == pytest.approx(before - env.config.rules.overload_decay)
    assert env.state.fault_phase == "active"
    env.step("scale up orders")
    assert env.state.fault_phase == "fixed"
    assert [row for row, _ in settled(play_until_done(env)) if row.endswith("_fix")] == ["wrong_fix", "lucky_fix"]


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
    assert rows(first) == []
    assert env.state.fault_phase == "dormant"
    restarted_at = first.step
    while env.state.fault_phase == "dormant":
        env.step("wait")
    assert env.state.step_count == restarted_at + env.config.rules.relapse_after
    climbing = env.state.services["auth"].memory
    env.step("wait")
    assert env.state.services["auth"].memory > climbing  # leaking again
    env.step("restart auth")
    assert env.state.fault_phase == "fixed"
    end = play_until_done(env)
    assert end.outcome == "recovered"
    # the fix is paid once, and the second restart is not a wrong fix
    assert [row for row, _ in settled(end) if row.endswith("_fix")] == ["correct_fix"]


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
        obs = env.reset(seed=seed, options={"service": "payment", "mode": mode})  # at normal
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
    start(env, "payment", "crashed", seed=2)
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
        obs = start(env, "payment", mode, seed=seed)
        assert check(obs.services["payment"]), (seed, obs.services["payment"])


def test_memory_leak_signature_is_climbing_memory(env, config):
    for seed in range(6):
        obs = start(env, "orders", "memory_leak", seed=seed)
        while not obs.done and env.state.services["orders"].memory < 1.0:
            before = env.state.services["orders"].memory
            assert obs.services["orders"].memory > 60
            assert obs.services["orders"].status == ("ok" if before < 0.95 else "degraded")
            obs = env.step("wait")
            assert env.state.services["orders"].memory == pytest.approx(min(1.0, before + config.rules.leak_rate))
        assert obs.services["orders"].status == "down"  # out of memory: OOM-killed


def test_noise_stays_within_fifteen_percent(config):
    env = IncidentEnv(without_mechanics(config, "normal"))
    env.reset(seed=9, options={"service": "gateway", "mode": "bad_deploy"})  # normal: noise 0.15
    for _ in range(5):
        obs = env.step("wait")
    for name in ("auth", "orders", "payment", "database"):  # bystanders: baseline cpu times the noise
        cpu, base = obs.services[name].cpu, env.config.service(name).baseline.cpu
        assert base * 0.85 - 0.05 <= cpu <= base * 1.15 + 0.05, name


def test_observation_leaks_no_truth(env):
    obs = env.reset(seed=1, options={"service": "orders", "mode": "bad_deploy"})
    text = json.dumps(obs.to_dict())
    for hidden in ("root", "fault", "health", "truth", "bad_deploy", "own_health", "stress"):
        assert hidden not in text
    assert all("orders" not in alert or "health check" not in alert or "degraded" in alert for alert in obs.alerts)
    assert not hasattr(obs, "trend") and "system_health" not in text


def test_alerts_come_from_the_noisy_metrics(env):
    obs = env.reset(seed=3, options={"service": "payment", "mode": "crashed"})
    assert obs.alerts
    for alert in obs.alerts:
        name = alert.split()[0]
        view = obs.services[name]
        if "error rate" in alert:
            assert view.error_rate > env.config.alerts.error_rate
        if "p95" in alert:
            assert view.latency_ms > env.config.alerts.latency_ms


def test_logs_show_signatures_pointers_and_routine(env):
    start(env, "payment", "bad_deploy", seed=8)
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
    normal = start(env, "payment", "bad_deploy", seed=8, difficulty="easy")
    assert normal.difficulty == "easy"
    quiet = env.step("logs auth").logs
    env.reset(seed=8, options={"service": "payment", "mode": "bad_deploy", "difficulty": "hard"})
    noisy = env.step("logs auth").logs
    assert all(line.level in ("INFO", "DEBUG") for line in quiet)
    assert sum(not _routine(line) for line in noisy) == env.config.difficulty("hard").red_herrings


def test_hard_logs_need_cross_checking(env, monkeypatch):
    """At hard, bystanders and victims may carry look-alike lines and the root shows fewer signature lines."""
    from mirr_tui.agents.heuristic import SIGNATURE_WORDS

    def hits(lines):
        return {m: sum(w in line.text.lower() for line in lines for w in words) for m, words in SIGNATURE_WORDS.items()}

    lookalike_seen = victim_herring = False
    root_hits = []
    monkeypatch.setattr(env, "config", without_mechanics(env.config, "hard"))
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


def without_mechanics(config, name):
    """The config with one difficulty's v2 metric mechanics switched off (its log rules kept)."""
    import dataclasses

    level = dataclasses.replace(
        config.difficulties[name], decoys=0.0, masked=0.0, silent=0.0, secondary=0.0, shielded=0.0, compound=0.0
    )
    return dataclasses.replace(config, difficulties={**config.difficulties, name: level})


def test_oom_kill_shows_in_logs_and_status(env):
    start(env, "auth", "memory_leak", seed=1)
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
