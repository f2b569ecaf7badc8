"""OpenEnv's web interface (ENABLE_WEB_INTERFACE=true, as `openenv push` deploys it) can play MIRR: a step
through the MIRR tab's Gradio form over HTTP with gradio_client, and the Playground's one-click moves.
The JSON API keeps its `type` field. Needs the `server` extra (gradio comes with openenv)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytest.importorskip("openenv", reason="needs the server extra: pip install -e '.[server]'")

from fastapi.testclient import TestClient

from mirr_tui.core import IncidentEnv
from mirr_tui.openenv_web import form_action, legal_moves, render_web, web_actions
from mirr_tui.server import MirrEnvironment, make_server_app


@pytest.fixture
def web_app(monkeypatch, config):
    monkeypatch.setenv("ENABLE_WEB_INTERFACE", "true")
    return make_server_app(config, sessions=2)


@pytest.fixture
def served(web_app):
    """The web-enabled app on a loopback port (gradio_client speaks real HTTP)."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_step_through_the_mirr_tab_of_the_gradio_interface(served, config):
    from gradio_client import Client

    client = Client(served + "/web/", verbose=False)
    board, status = client.predict("7", "normal", "checkout-3am", api_name="/mirr_reset")
    assert "new incident" in status and "mirr-board" in board
    board, status = client.predict("check_logs", "payment", None, api_name="/mirr_step")
    assert status.startswith("`logs payment`"), status
    # The same move on a local env with the same seed shows the same board.
    local = IncidentEnv(config)
    local.reset(seed=7, options={"scenario": "checkout-3am", "difficulty": "normal"})
    expected = local.step("logs payment")
    assert board == render_web(expected.to_dict())
    board, status = client.predict("diagnose", "payment", "bad_deploy", api_name="/mirr_step")
    assert "`diagnose payment bad_deploy`" in status
    _, refused = client.predict("diagnose", "payment", None, api_name="/mirr_step")
    assert refused.startswith("not sent: diagnose needs a service and a mode")


def test_the_playground_offers_every_legal_move_with_one_click(web_app, config):
    env = MirrEnvironment(config)
    payload = env.reset(seed=3).model_dump()
    moves = env.web_actions(payload)
    assert (
        len(moves) == 46
        and ("diagnose payment bad_deploy", {"type": "diagnose", "service": "payment", "mode": "bad_deploy"}) in moves
    )
    assert "<pre" in env.render_web(payload)
    with TestClient(web_app) as http:
        assert http.post("/web/reset", json={"seed": 3}).status_code == 200
        label, action = moves[0]
        reply = http.post("/web/step", json={"action": action})  # what the Playground sends on a click
        assert reply.status_code == 200, reply.text
        assert reply.json()["observation"]["action"] == action and label == "logs gateway"
        # The JSON API still takes `type` (and its aliases).
        assert http.get("/schema").json()["action"]["required"] == ["type"]


def test_diagnoses_leave_the_one_click_list_once_a_fix_is_made(config):
    env = IncidentEnv(config)
    env.reset(seed=3)
    after_fix = env.step("restart payment")
    kinds = {move["type"] for move in legal_moves(config, after_fix)}
    assert "diagnose" not in kinds and kinds == {
        "check_logs",
        "restart",
        "rollback",
        "scale_up",
        "circuit_break",
        "wait",
    }
    assert web_actions(config, {"not": "an observation"}) == [] and render_web({"step": "x"}) is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("check_logs", "auth", None), {"type": "check_logs", "service": "auth"}),
        (("wait", None, None), {"type": "wait"}),
        (("diagnose", "orders", "overloaded"), {"type": "diagnose", "service": "orders", "mode": "overloaded"}),
    ],
)
def test_the_mirr_form_builds_the_json_api_action(fields, expected):
    assert form_action(*fields) == expected
