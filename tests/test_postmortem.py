"""The post-mortem (mirr_tui.postmortem): computed from an episode's frames, checked against the frames."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mirr_tui import agents
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode
from mirr_tui.postmortem import blames, build_post_mortem, matches_signature
from mirr_tui.replay import ReplayRecorder, load_replay
from mirr_tui.tui.model import alert_lines, over_limit

REPLAYS = Path(__file__).parent.parent / "replays"


def frames_of(recorder_or_replay):
    frames = recorder_or_replay.frames
    return [f.obs for f in frames], [f.truth for f in frames]


def play(config, seed, moves, options=None):
    """Play `moves` (repeating the last) until the end, recording the frames."""
    env = IncidentEnv(config)
    recorder = ReplayRecorder(player_kind="human", player_name="tester")
    obs = env.reset(seed=seed, options=options)
    recorder.start(env, obs)
    n = 0
    while not obs.done:
        move = moves[min(n, len(moves) - 1)]
        obs = env.step(move)
        recorder.record(move, obs, env.state)
        n += 1
    return recorder


def test_restarting_a_bad_deploy_is_explained_row_by_row(config):
    recorder = play(config, 1, ["restart payment"], {"scenario": "checkout-3am"})
    pm = build_post_mortem(config, *frames_of(recorder))
    (fault,) = pm.faults
    assert fault.cause == "payment/bad_deploy" and fault.right_fix == "rollback payment" and fault.fixed_at is None
    steps = [f.step for f in recorder.frames[1:]]
    assert [m.step for m in fault.wrong_moves] == steps  # every wrong-fix row, with its step
    assert all(m.move == "restart payment" and m.value == -2.0 and "bad build" in m.why for m in fault.wrong_moves)
    assert pm.wrong_fix_total == -2.0 * len(steps)
    (run,) = fault.wrong_runs()
    assert (run.first, run.last, run.count) == (1, steps[-1], len(steps))
    before = recorder.frames[0].truth["services"]["payment"]["health"]
    after = recorder.frames[-1].truth["services"]["payment"]["health"]
    assert after < before and run.effect == f"payment true health {before:.2f} → {after:.2f}"
    lessons = pm.lessons()
    assert any("logs were never read" in lesson for lesson in lessons)
    assert any("no diagnosis" in lesson for lesson in lessons)
    assert lessons[-1] == "the fix was rollback payment (bad_deploy → rollback)"
    assert fault.first_log is None and fault.logs_read_at == []


def test_the_evidence_is_the_first_step_it_was_visible(config):
    replay = load_replay(REPLAYS / "curated-reasoner-retry-storm-payment-bad_deploy-recovered.json")
    observations, truths = frames_of(replay)
    pm = build_post_mortem(config, observations, truths)
    assert [f.cause for f in pm.faults] == ["payment/bad_deploy", "database/overloaded"]
    first, second = pm.faults
    for fault in pm.faults:
        assert fault.diagnosis is not None and fault.diagnosis_correct and fault.wrong_moves == []
        # its own signature line: the first frame whose logs held one from the root
        reads = [
            (obs.step, line)
            for obs in observations
            for line in obs.logs or ()
            if line.service == fault.service
            and matches_signature(line.text, fault.mode)
            and obs.step >= fault.started_at
        ]
        assert fault.first_log is not None and fault.first_log.step == reads[0][0]
        assert fault.first_log.text.endswith(reads[0][1].text)
        assert fault.first_pointer is not None and fault.first_pointer.step <= fault.first_log.step
        assert fault.diagnosis[0] > fault.first_log.step  # read first, then diagnosed
    cpu_steps = [
        obs.step
        for obs in observations
        if obs.step >= second.started_at and over_limit("cpu", obs.services["database"].cpu, config.alerts)
    ]
    assert second.first_metric is not None and second.first_metric.step == cpu_steps[0]
    assert second.first_metric.text.startswith("database cpu")
    named = [
        obs.step
        for obs in observations
        if obs.step >= second.started_at and any(a.startswith("database ") for a in alert_lines(obs, config.alerts))
    ]
    assert second.first_alert is not None and second.first_alert.step == named[0]
    assert first.fixed_at is not None and second.fixed_at is not None and first.fixed_at < second.started_at


def test_a_wrong_move_on_a_victim_says_it_was_not_the_root(config):
    env = IncidentEnv(config)
    recorder = ReplayRecorder(player_kind="agent", player_name="heuristic")
    run_episode(env, agents.create("heuristic"), 1, options={"scenario": "checkout-3am"}, recorder=recorder)
    pm = build_post_mortem(config, *frames_of(recorder))
    (fault,) = pm.faults
    assert fault.diagnosis is not None and not fault.diagnosis_correct
    assert any(lesson.startswith(f"diagnosed {fault.diagnosis[1]}/{fault.diagnosis[2]}") for lesson in pm.lessons())
    victims = [m for m in fault.wrong_moves if not m.move.endswith(" payment")]
    assert victims and all("was not the root (payment was)" in m.why for m in victims)


def test_with_only_the_final_truth_the_moves_are_judged_without_their_effect(config):
    recorder = play(config, 1, ["restart payment"], {"scenario": "checkout-3am"})
    observations, truths = frames_of(recorder)
    pm = build_post_mortem(config, observations, truths[-1:])
    assert pm.faults[0].wrong_moves and all(m.effect == "" for m in pm.faults[0].wrong_moves)
    with pytest.raises(ValueError):
        build_post_mortem(config, [], [])


def test_signature_and_blame_lines_are_recognised():
    assert matches_signature("NullPointerException in RequestHandler.handle (v2.4.1)", "bad_deploy")
    assert matches_signature("heap usage 91% and climbing again since restart", "memory_leak")
    assert not matches_signature("heap usage 61% of 2048MB, steady", "memory_leak")  # a lookalike
    assert blames("upstream payment timed out after 3000ms", "payment")
    assert not blames("upstream payment timed out after 3000ms", "orders")


def test_a_relapsed_leak_says_when_it_came_back_and_which_restart_held(config):
    """A player restarted a leak, lost it when it relapsed behind a calm panel, and read `fixed at step 4` in the
    post-mortem: it now says when the leak came back and which restart held, and how its quiet panel looked."""
    from mirr_tui.core import Action

    moves = [Action("diagnose", "auth", "memory_leak"), Action("restart", "auth")]
    moves += [Action("wait")] * 6 + [Action("restart", "auth"), Action("wait")]
    recorder = play(config, 5, moves, {"scenario": "slow-bleed"})
    pm = build_post_mortem(config, *frames_of(recorder))
    fault = pm.faults[0]
    phases = [(f.obs.step, f.truth["faults"][0]["phase"]) for f in recorder.frames]
    came_back = next(s for (_, a), (s, b) in itertools.pairwise(phases) if a == "dormant" and b == "active")
    assert fault.relapsed_at == came_back == 2 + config.rules.relapse_after
    assert fault.held_at == 9 and fault.fixed_at == 2
    verdict = fault.verdict()
    assert f"restarted at step 2; the leak came back at step {came_back}, and the restart at step 9 held" in verdict
    assert "looked healthier than its victims" not in verdict
    if fault.quiet:
        assert "its numbers stay calm, except when it runs out of memory" in verdict
    assert recorder.frames[-1].obs.outcome == "recovered"


def test_the_verdict_names_the_earliest_evidence_the_list_shows(config):
    """A player saw the root's signature in its logs before any panel showed it: the verdict's first step is
    that read, not the later panel (it read 'on the panels from step 5' above evidence from step 2)."""
    import re

    checked = 0
    for seed in range(40):
        recorder = ReplayRecorder(player_kind="agent", player_name="reasoner")
        run_episode(IncidentEnv(), agents.create("reasoner"), seed, recorder=recorder)
        fault = build_post_mortem(config, *frames_of(recorder)).faults[0]
        evidence = [fault.first_log, fault.first_pointer, fault.first_caller_alert, fault.first_metric]
        evidence.append(fault.first_alert)
        steps = [e.step for e in evidence if e is not None]
        if not steps:
            continue
        first_step = int(re.search(r"step (\d+)", fault.verdict()).group(1))
        assert first_step == min(steps), (seed, fault.verdict(), steps)
        checked += 1
    assert checked >= 30
