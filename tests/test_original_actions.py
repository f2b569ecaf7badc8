"""Agents written for the original MIRR (github.com/u7k4rs6/MIRR) play here unchanged: its action names
(`restart_service`, `rollback_deploy`, `enable_circuit_breaker`, `defer`, `no_op`), its dict fields (`target`,
`failure_mode`, free-text `evidence`) and its runbook words (`kubectl_logs`, `kubectl rollout undo`), in every
input path: text, dict, the server."""

from __future__ import annotations

import json

import pytest

from mirr_tui import agents
from mirr_tui.core import Action, IncidentEnv, InvalidAction, coerce_action

ORIGINAL_NAMES = {
    "restart": "restart_service",
    "rollback": "rollback_deploy",
    "circuit_break": "enable_circuit_breaker",
    "scale_up": "scale_up",
    "check_logs": "check_logs",
    "diagnose": "diagnose",
    "wait": "defer",
}


def original_dict(move: Action) -> dict:
    """The move as the original's agents sent it."""
    data: dict = {"type": ORIGINAL_NAMES[move.type]}
    if move.service is not None:
        data["target"] = move.service
    if move.mode is not None:
        data["failure_mode"] = move.mode
        data["evidence"] = f"logs of {move.service} show its signature"
    if move.type == "wait":
        data["reason"] = "gathering more signal"
    return data


def runbook_text(move: Action) -> str:
    """The move as an operator types it from a runbook."""
    return {
        "restart": f"kubectl rollout restart deployment/{move.service}",
        "rollback": f"kubectl rollout undo deployment {move.service}",
        "scale_up": f"kubectl scale deployment {move.service} --replicas=6",
        "check_logs": f"kubectl logs {move.service} --tail=200",
        "circuit_break": f"enable_circuit_breaker {move.service}",
        "diagnose": f"diagnose {move.service} {move.mode}",
        "wait": "no_op",
    }[move.type]


# Every kind of move, a wrong diagnosis and a wrong fix included, then the reasoner's play to the end.
SCRIPT = [
    Action("wait"),
    Action("check_logs", "gateway"),
    Action("circuit_break", "payment"),
    Action("diagnose", "auth", "crashed"),
    Action("restart", "auth"),
    Action("scale_up", "orders"),
    Action("rollback", "database"),
]


def play(env: IncidentEnv, seed: int, translate) -> list:
    """SCRIPT then the reasoner, each move sent through `translate`; the observations seen."""
    agent = agents.create("reasoner")
    obs = env.reset(seed=seed, episode_id=f"ep-{seed}")  # the id is random unless given
    agent.reset(obs)
    seen = [obs]
    for step in range(60):
        if obs.done:
            break
        move = SCRIPT[step] if step < len(SCRIPT) else agent.act(obs)
        obs = env.step(translate(move))
        seen.append(obs)
    return seen


@pytest.mark.parametrize("seed", [2, 7, 31])
def test_an_episode_in_the_original_dict_format_plays_exactly_like_ours(config, seed):
    ours = play(IncidentEnv(config), seed, lambda move: move)
    original = play(IncidentEnv(config), seed, original_dict)
    assert original == ours
    assert all(o.valid for o in original[1:])  # every original move was read, none was invalid
    assert ours[-1].done


@pytest.mark.parametrize("seed", [2, 7])
def test_an_episode_in_runbook_words_plays_exactly_like_ours(config, seed):
    ours = play(IncidentEnv(config), seed, lambda move: move)
    assert play(IncidentEnv(config), seed, runbook_text) == ours


def test_the_reasoner_recovers_an_incident_sent_in_the_original_format(config):
    env = IncidentEnv(config)
    agent = agents.create("reasoner")
    obs = env.reset(seed=5, options={"scenario": "checkout-3am"})
    agent.reset(obs)
    sent = []
    while not obs.done:
        sent.append(original_dict(agent.act(obs)))
        obs = env.step(sent[-1])
    assert obs.outcome == "recovered"
    assert {"type": "rollback_deploy", "target": "payment"} in sent
    assert any(m["type"] == "diagnose" and m["failure_mode"] == "bad_deploy" for m in sent)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"type": "restart_service", "target": "payment"}, Action("restart", "payment")),
        ({"type": "rollback_deploy", "target": "payment"}, Action("rollback", "payment")),
        ({"type": "kubectl_rollout_undo", "target": "payment"}, Action("rollback", "payment")),
        ({"type": "kubectl rollout undo", "target": "payment"}, Action("rollback", "payment")),
        ({"type": "kubectl_logs", "target": "auth"}, Action("check_logs", "auth")),
        ({"type": "tail_logs", "target": "auth"}, Action("check_logs", "auth")),
        ({"type": "enable_circuit_breaker", "target": "database"}, Action("circuit_break", "database")),
        ({"type": "kubectl_scale_deployment", "target": "orders"}, Action("scale_up", "orders")),
        ({"type": "restart_pod", "target": "auth"}, Action("restart", "auth")),
        ({"type": "no_op"}, Action("wait")),
        ({"type": "defer", "reason": "more data"}, Action("wait")),
        (
            {"type": "diagnose", "target": "orders", "failure_mode": "overloaded", "evidence": "queue grows"},
            Action("diagnose", "orders", "overloaded"),
        ),
        ({"type": "diagnose", "service": "orders", "failure_mode": "crashed"}, Action("diagnose", "orders", "crashed")),
        ({"type": "restart", "target": "auth", "service": "auth"}, Action("restart", "auth")),
        ("kubectl rollout undo deployment/payment", Action("rollback", "payment")),
        ("kubectl logs deploy/auth --tail=200", Action("check_logs", "auth")),
        ("kubectl_logs auth", Action("check_logs", "auth")),
        ("kubectl scale deployment orders --replicas=4", Action("scale_up", "orders")),
        ("restart_service payment", Action("restart", "payment")),
        ("rollback_deploy payment", Action("rollback", "payment")),
        ("tail logs auth", Action("check_logs", "auth")),
        ("defer", Action("wait")),
    ],
)
def test_original_names_are_read_as_ours(value, expected):
    assert coerce_action(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "restart", "target": "auth", "service": "payment"}, "'target' and 'service' name the same field"),
        ({"type": "diagnose", "target": "auth", "failure_mode": "crashed", "evidence": 3}, "'evidence' must be text"),
        ({"type": "restart_service", "target": 7}, "'service' must be a string"),
        ({"type": "kubectl_delete", "target": "auth"}, "unknown action 'kubectl_delete'"),
        ("kubectl rollout status payment", "unknown action 'kubectl'"),
    ],
)
def test_original_forms_that_make_no_move_are_still_refused(value, message):
    with pytest.raises(InvalidAction, match=message):
        coerce_action(value)


def test_a_websocket_session_reads_the_original_format(config):
    pytest.importorskip("openenv", reason="needs the server extra: pip install -e '.[server]'")
    from fastapi.testclient import TestClient

    from mirr_tui.client import observation_from_payload
    from mirr_tui.server import make_server_app

    local = IncidentEnv(config)
    expected = local.reset(seed=7, episode_id="orig-7")
    agent = agents.create("reasoner")
    agent.reset(expected)
    with TestClient(make_server_app(config, sessions=1)) as http, http.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "reset", "data": {"seed": 7, "episode_id": "orig-7"}}))
        assert observation_from_payload(json.loads(ws.receive_text())["data"]) == expected
        while not expected.done:
            move = agent.act(expected)
            expected = local.step(move)
            ws.send_text(json.dumps({"type": "step", "data": original_dict(move)}))
            reply = json.loads(ws.receive_text())
            assert reply["type"] == "observation", reply
            assert observation_from_payload(reply["data"]) == expected
        ws.send_text(json.dumps({"type": "step", "data": {"type": "restart", "target": "a", "service": "b"}}))
        error = json.loads(ws.receive_text())
        assert error["type"] == "error" and "name the same field" in json.dumps(error)
    assert expected.outcome == "recovered"
