"""The OpenEnv server in-process: WebSocket sessions through FastAPI's TestClient, the generated
models, the manifest's validation block. Needs the `server` extra."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("openenv", reason="needs the server extra: pip install -e '.[server]'")
from fastapi.testclient import TestClient

from mirr_tui import agents
from mirr_tui.client import SessionState, observation_from_payload, state_from_payload
from mirr_tui.core import ACTION_TYPES, EnvState, IncidentEnv, Observation
from mirr_tui.server import build_models, make_server_app

ROOT = Path(__file__).resolve().parent.parent


TRUTH_KEYS = {"seed", "root_service", "fault_mode", "fault_phase", "services", "diagnosis_correct", "stress"}


@pytest.fixture(scope="module")
def app():
    return make_server_app(sessions=2)


@pytest.fixture(scope="module")
def http(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def referee(config):
    """A server built with referee=True (`mirr serve --referee`): `state` is the referee's whole view."""
    with TestClient(make_server_app(config, sessions=2, referee=True)) as client:
        yield client


def send(ws, message: dict | str) -> dict:
    ws.send_text(message if isinstance(message, str) else json.dumps(message))
    return json.loads(ws.receive_text())


@contextlib.contextmanager
def session(http):
    """A /ws session that ends with OpenEnv's close message and waits for the server's goodbye.

    (Leaving TestClient's block also cancels the server task, which could cut its cleanup short.)
    """
    with http.websocket_connect("/ws") as ws:
        yield ws
        ws.send_text(json.dumps({"type": "close"}))
        assert ws.receive()["type"] == "websocket.close"  # sent after the session was destroyed


def hang_up(ws) -> None:
    """Drop the connection without a goodbye, as a crashed client or a lost network does."""
    ws.send({"type": "websocket.disconnect", "code": 1006})


def open_sessions(http, settle: int | None = None) -> int:
    """Live environments; with `settle`, wait (bounded) for the server's async cleanup to reach it."""
    for _ in range(100 if settle is not None else 1):
        count = http.get("/mirr").json()["sessions"]["open"]
        if count == settle:
            break
        time.sleep(0.05)
    return count


def test_a_websocket_session_plays_the_same_episode_as_local_play(referee, config):
    http = referee
    local = IncidentEnv(config)
    agent_local, agent_remote = agents.create("reasoner"), agents.create("reasoner")
    expected = local.reset(seed=11, episode_id="ep-11")  # the id is random unless given: give the same one
    with session(http) as ws:
        reply = send(ws, {"type": "reset", "data": {"seed": 11, "episode_id": "ep-11"}})
        assert reply["type"] == "observation"
        obs = observation_from_payload(reply["data"])
        assert obs == expected
        agent_local.reset(expected)
        agent_remote.reset(obs)
        while not expected.done:
            move = agent_local.act(expected)
            assert agent_remote.act(obs) == move
            expected = local.step(move)
            reply = send(ws, {"type": "step", "data": move.to_dict()})
            obs = observation_from_payload(reply["data"])
            assert obs == expected, f"step {expected.step} differs"
            assert reply["data"]["reward"] == expected.reward and reply["data"]["done"] == expected.done
        state = send(ws, {"type": "state"})
        assert state["type"] == "state"
        assert state_from_payload(state["data"]) == local.state
    assert obs.outcome == "recovered"


def test_bad_payloads_get_openenv_errors_and_the_session_lives_on(http):
    with session(http) as ws:
        assert send(ws, {"type": "reset", "data": {"seed": 3}})["type"] == "observation"
        bad = [
            ("not json at all", "INVALID_JSON"),
            ({"type": "teleport"}, "UNKNOWN_TYPE"),
            ({"type": "step", "data": {"type": "reboot", "service": "payment"}}, "VALIDATION_ERROR"),
            ({"type": "step", "data": {"type": "restart", "service": 5}}, "VALIDATION_ERROR"),
            ({"type": "step", "data": {"type": "wait", "colour": "red"}}, "VALIDATION_ERROR"),
            ({"type": "step", "data": "wait"}, "VALIDATION_ERROR"),
            ({"type": "step"}, "VALIDATION_ERROR"),
            ({"type": "reset", "data": {"seed": -4}}, "EXECUTION_ERROR"),
            ({"type": "reset", "data": {"seed": 1, "options": {"scenario": "nope"}}}, "EXECUTION_ERROR"),
            ({"type": "reset", "data": {"seed": 1, "weather": "rain"}}, "EXECUTION_ERROR"),
        ]
        for message, code in bad:
            reply = send(ws, message)
            assert reply["type"] == "error", message
            assert reply["data"]["code"] == code, (message, reply)
        # none of that spent a step: the episode is where it was
        assert send(ws, {"type": "state"})["data"]["step_count"] == 0
        # a well-formed move the referee rejects is an invalid action, exactly as in local play
        reply = send(ws, {"type": "step", "data": {"type": "restart", "service": "mainframe"}})
        obs = observation_from_payload(reply["data"])
        assert (obs.valid, obs.reward, obs.step) == (False, -1.0, 1)
        assert "unknown service 'mainframe'" in obs.error
        # aliases and case read like the core's parser
        reply = send(ws, {"type": "step", "data": {"type": "LOGS", "service": "Payment"}})
        assert observation_from_payload(reply["data"]).logs_service == "payment"


def test_disconnecting_mid_episode_frees_the_environment(http):
    assert open_sessions(http, settle=0) == 0
    for _ in range(3):  # capacity is 2: leaked sessions would refuse the third connection
        with http.websocket_connect("/ws") as ws:
            send(ws, {"type": "reset", "data": {"seed": 5}})
            send(ws, {"type": "step", "data": {"type": "wait"}})
            assert open_sessions(http) == 1
            hang_up(ws)
            assert open_sessions(http, settle=0) == 0
    assert http.get("/mirr").json()["sessions"]["created"] >= 3


def test_sessions_are_isolated_and_capacity_is_enforced(http):
    with session(http) as first, session(http) as second:
        a = observation_from_payload(send(first, {"type": "reset", "data": {"seed": 1}})["data"])
        b = observation_from_payload(send(second, {"type": "reset", "data": {"seed": 2}})["data"])
        assert a.services != b.services  # two incidents, one per session
        send(first, {"type": "step", "data": {"type": "wait"}})
        assert send(second, {"type": "state"})["data"]["step_count"] == 0
        with http.websocket_connect("/ws") as third:
            reply = send(third, {"type": "state"})
            assert reply["data"]["code"] == "CAPACITY_REACHED"
    assert open_sessions(http, settle=0) == 0


def test_state_before_reset_is_empty_not_an_error(http):
    with session(http) as ws:
        reply = send(ws, {"type": "state"})
        assert reply["type"] == "state" and reply["data"]["episode_id"] is None
        assert state_from_payload(reply["data"]) is None
        reply = send(ws, {"type": "step", "data": {"type": "wait"}})
        assert reply["data"]["code"] == "EXECUTION_ERROR" and "reset" in reply["data"]["message"]


def test_reset_options_choose_the_incident(referee):
    with session(referee) as ws:
        send(ws, {"type": "reset", "data": {"seed": 9, "options": {"scenario": "checkout-3am"}}})
        truth = send(ws, {"type": "state"})["data"]
        assert (truth["root_service"], truth["fault_mode"], truth["scenario"]) == (
            "payment",
            "bad_deploy",
            "checkout-3am",
        )
        reply = send(ws, {"type": "reset", "data": {"seed": 9, "difficulty": "hard", "episode_id": "ep-1"}})
        assert reply["data"]["observation"]["difficulty"] == "hard"
        assert send(ws, {"type": "state"})["data"]["episode_id"] == "ep-1"


def test_http_routes_publish_the_generated_schema(http, config):
    assert http.get("/health").json()["status"] == "healthy"
    meta = http.get("/metadata").json()
    assert meta["name"] == "mirr" and meta["version"] == config.version
    schema = http.get("/schema").json()
    assert set(schema["action"]["properties"]) == {"type", "service", "mode", "metadata"}
    assert schema["action"]["properties"]["type"]["enum"] == list(ACTION_TYPES)
    core_obs = {f.name for f in dataclasses.fields(Observation)}
    assert set(schema["observation"]["properties"]) == core_obs
    assert set(schema["state"]["properties"]) == {"episode_id", "step_count"}  # no truth field named
    info = http.get("/mirr").json()
    assert info["config_hash"] == config.hash and info["referee"] is False
    assert http.get("/mirr/config").text == Path(config.source).read_text(encoding="utf-8")
    # stateless HTTP reset works too (a fresh env per request, as OpenEnv documents)
    reply = http.post("/reset", json={"seed": 4}).json()
    assert reply["observation"]["step"] == 0 and reply["done"] is False
    assert "seed" not in reply["observation"]  # the seed never reaches the player


def test_models_follow_the_core_dataclasses(config):
    models = build_models(config, referee=True)
    env = IncidentEnv(config)
    obs = env.reset(seed=21)
    obs = env.step("logs payment")
    assert obs.logs, "the round trip must cover logs"
    assert models.observation.model_validate(obs.to_dict()).model_dump() == obs.to_dict()
    assert models.state.model_validate(env.state.to_dict()).model_dump() == env.state.to_dict()
    assert build_models(config, referee=True) is models  # built once per config
    plain = build_models(config)
    assert plain is not models and set(plain.state.model_fields) == {"episode_id", "step_count"}
    with pytest.raises(ValueError, match="Extra inputs"):  # nothing can smuggle the truth into it
        plain.state.model_validate(env.state.to_dict())


def test_a_plain_server_keeps_the_truth_from_clients(http):
    with session(http) as ws:
        send(ws, {"type": "reset", "data": {"seed": 9, "options": {"scenario": "checkout-3am"}}})
        send(ws, {"type": "step", "data": {"type": "check_logs", "service": "payment"}})
        reply = send(ws, {"type": "state"})
        assert reply["type"] == "state"
        assert set(reply["data"]) == {"episode_id", "step_count"} and reply["data"]["step_count"] == 1
        assert not TRUTH_KEYS & set(reply["data"]) and "payment" not in json.dumps(reply["data"])
        assert state_from_payload(reply["data"]) == SessionState(reply["data"]["episode_id"], 1)
    over_http = http.get("/state").json()
    assert set(over_http) == {"episode_id", "step_count"}
    schema = http.get("/schema").json()["state"]
    assert not TRUTH_KEYS & set(schema["properties"]) and "$defs" not in schema


def test_a_referee_server_hands_out_the_whole_truth(referee, config):
    local = IncidentEnv(config)
    local.reset(seed=9, episode_id="ep-9", options={"scenario": "checkout-3am"})
    local.step("logs payment")
    with session(referee) as ws:
        send(ws, {"type": "reset", "data": {"seed": 9, "episode_id": "ep-9", "options": {"scenario": "checkout-3am"}}})
        send(ws, {"type": "step", "data": {"type": "check_logs", "service": "payment"}})
        data = send(ws, {"type": "state"})["data"]
    assert set(data) >= TRUTH_KEYS and (data["root_service"], data["seed"]) == ("payment", 9)
    assert state_from_payload(data) == local.state
    assert set(referee.get("/state").json()) >= TRUTH_KEYS  # a fresh env per HTTP request: the fields, unset
    assert set(referee.get("/schema").json()["state"]["properties"]) == {f.name for f in dataclasses.fields(EnvState)}
    assert referee.get("/mirr").json()["referee"] is True


def test_declared_reward_range_bounds_every_step(config):
    manifest = yaml.safe_load((ROOT / "openenv.yaml").read_text(encoding="utf-8"))
    low, high = manifest["validation"]["reward"]["range"]
    rw, rules = config.rewards, config.rules
    # Rules v2: the last step pays every deferred row of the episode. At most two faults (two diagnoses and two
    # paid fixes); every other step can hold at most one wrong fix or invalid move; one ending row; recovery
    # needs a fix and confirm_steps steps, so its efficiency bonus is bounded.
    faults = 2
    most = faults * (max(rw.correct_diagnosis, 0) + max(rw.correct_fix, rw.lucky_fix))
    most += max(rw.recovery_diagnosed, rw.recovery_undiagnosed)
    most += rw.efficiency_per_step * (rules.max_steps - rules.confirm_steps - 1)
    least = faults * min(rw.wrong_diagnosis, 0) + (rules.max_steps - faults) * min(rw.wrong_fix, rw.invalid)
    least += min(rw.collapse, rw.timeout)
    assert low <= least and most <= high, (least, most)
    env = IncidentEnv(config)
    for name in ("random", "heuristic", "oracle"):
        agent = agents.create(name)
        for seed in range(15):
            obs = env.reset(seed=seed)
            if agent.needs_env:
                agent.attach(env)
            agent.reset(obs)
            while not obs.done:
                obs = env.step(agent.act(obs))
                assert low <= obs.reward <= high


def test_a_stateless_step_is_a_clear_client_error_not_a_500(http):
    reply = http.post("/step", json={"action": {"type": "wait"}})
    assert reply.status_code == 409 and "reset first" in reply.json()["detail"]
    with session(http) as ws:  # over a WebSocket a step before reset is an error frame; the session lives on
        answer = send(ws, {"type": "step", "data": {"type": "wait"}})
        assert answer["type"] == "error" and "reset first" in json.dumps(answer)
        assert send(ws, {"type": "reset", "data": {"seed": 3}})["type"] == "observation"


HOSTILE_FRAMES = [
    "[1]",
    "null",
    '"x"',
    "42",
    '{"type": "reset", "data": {"seed": ' + "9" * 5000 + "}}",
    "[" * 100_000 + "]" * 100_000,
    '{"type": ["reset"]}',
    '{"type": "reset", "data": [1]}',
]


def test_hostile_frames_get_an_error_and_the_session_lives_on(http):
    """Issue 10 item 12: frames that are not objects, too deep, or carry huge numbers ended the session."""
    with session(http) as ws:
        assert send(ws, {"type": "reset", "data": {"seed": 5, "episode_id": "keep"}})["type"] == "observation"
        for frame in HOSTILE_FRAMES:
            reply = send(ws, frame)
            assert reply["type"] == "error", frame[:40]
        for data in (
            {"seed": 2**63},
            {"seed": 10**4000},
            {"seed": True},
            {"episode_id": {"a": 1}},
            {"episode_id": "x" * 900_000},
            {"episode_id": 7},
        ):
            reply = send(ws, {"type": "reset", "data": data})
            assert reply["type"] == "error" and reply["data"]["code"] == "EXECUTION_ERROR", data
            assert len(json.dumps(reply)) < 2_000
        state = send(ws, {"type": "state"})["data"]
        assert state["episode_id"] == "keep" and state["step_count"] == 0
        reply = send(ws, {"type": "step", "data": {"type": "wait"}})
        assert observation_from_payload(reply["data"]).step == 1


def test_reset_bounds_seed_and_episode_id():
    from mirr_tui.server import MirrEnvironment

    env = MirrEnvironment()
    for kwargs in ({"seed": 2**63}, {"episode_id": {"a": 1}}, {"episode_id": "x" * 129}):
        with pytest.raises(ValueError):
            env.reset(**kwargs)
    env.reset(seed=2**63 - 1, episode_id="x" * 128)
    assert env.state.episode_id == "x" * 128


def _hostile_values():
    from hypothesis import strategies as st

    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    leaves = leaves | st.integers(min_value=2**62, max_value=2**200)
    values = st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    )
    kinds = st.sampled_from(["reset", "step", "state", "mcp", "teleport", ""]) | values
    messages = st.fixed_dictionaries({"type": kinds}, optional={"data": values}).filter(lambda m: m["type"] != "close")
    texts = values.map(json.dumps) | messages.map(json.dumps)
    deep = st.integers(min_value=1_000, max_value=50_000).map(lambda n: "[" * n + "]" * n)
    digits = st.integers(min_value=4_301, max_value=6_000).map(
        lambda n: '{"type": "reset", "data": {"seed": 1%s}}' % ("0" * n)
    )
    return st.lists(texts | deep | digits | st.text(max_size=30), min_size=1, max_size=6)


def test_property_garbage_frames_never_end_a_session(http):
    """Issue 10 item 12, as a property: whatever frames come, each gets one reply, and a valid episode still plays."""
    hypothesis = pytest.importorskip("hypothesis")

    @hypothesis.settings(max_examples=25, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(frames=_hostile_values())
    def run(frames):
        with session(http) as ws:
            for frame in frames:
                reply = send(ws, frame)
                assert reply["type"] in ("error", "observation", "state", "mcp"), reply
            reply = send(ws, {"type": "reset", "data": {"seed": 21, "episode_id": "after"}})
            assert reply["type"] == "observation"
            reply = send(ws, {"type": "step", "data": {"type": "wait"}})
            assert observation_from_payload(reply["data"]).step == 1
            assert send(ws, {"type": "state"})["data"]["episode_id"] == "after"

    run()


def test_a_secret_seed_server_picks_every_seed_and_reveals_it_when_the_episode_ends(config):
    """Issue 10 item 13: a client can neither pick the incident nor learn its seed before the end."""
    with TestClient(make_server_app(config, sessions=2, secret_seeds=True)) as client:
        assert client.get("/mirr").json()["secret_seeds"] is True
        with session(client) as ws:
            for data in ({"seed": 3}, {"options": {"service": "payment"}}, {"scenario": "checkout-3am"}):
                reply = send(ws, {"type": "reset", "data": data})
                assert reply["type"] == "error" and "secret seeds" in reply["data"]["message"]
            reply = send(ws, {"type": "reset", "data": {"options": {"difficulty": "hard"}}})
            first = observation_from_payload(reply["data"])
            assert "seed" not in first.metadata
            moves, obs = [], first
            while not obs.done:
                moves.append({"type": "wait"})
                reply = send(ws, {"type": "step", "data": moves[-1]})
                obs = observation_from_payload(reply["data"])
                assert obs.done or "seed" not in obs.metadata
            seed = obs.metadata["seed"]
            assert isinstance(seed, int) and 0 <= seed < 2**63
        # revealed, the seed rebuilds the episode exactly (so it can be verified)
        local = IncidentEnv(config)
        again = local.reset(seed=seed, episode_id=first.metadata["episode_id"], options={"difficulty": "hard"})
        assert again == first
        for move in moves:
            again = local.step(move)
        assert dataclasses.replace(obs, metadata={}) == dataclasses.replace(again, metadata={})


def test_an_idle_websocket_session_is_told_why_and_closed_and_its_slot_freed(config):
    """Issue 10 item 9: idle clients held every slot until a restart."""
    from starlette.websockets import WebSocketDisconnect

    with TestClient(make_server_app(config, sessions=1, idle_timeout=0.6)) as client:
        with client.websocket_connect("/ws") as ws:
            for _ in range(4):  # a client that keeps talking is never cut, however long it plays
                assert send(ws, {"type": "reset", "data": {"seed": 1}})["type"] == "observation"
                time.sleep(0.3)
            time.sleep(0.4)
            frame = json.loads(ws.receive_text())
            assert frame["data"]["code"] == "IDLE_TIMEOUT" and "0.6 s" in frame["data"]["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 1001
        assert open_sessions(client, settle=0) == 0
        with session(client) as ws:  # the one slot is free again
            assert send(ws, {"type": "reset", "data": {"seed": 2}})["type"] == "observation"


def test_sessions_made_over_http_mcp_are_reaped_when_idle(config):
    request = {"jsonrpc": "2.0", "method": "openenv/session/create", "params": {}, "id": 1}
    with TestClient(make_server_app(config, sessions=2, idle_timeout=0.5)) as client:
        for n in range(2):
            reply = client.post("/mcp", json={**request, "id": n}).json()
            assert "session_id" in reply["result"], reply
        full = client.post("/mcp", json=request).json()
        assert "error" in full  # every slot is held ...
        deadline = time.monotonic() + 15
        while client.get("/mirr").json()["sessions"]["open"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/mirr").json()["sessions"]["open"] == 0  # ... until the reaper frees them
        assert "session_id" in client.post("/mcp", json=request).json()["result"]


@pytest.mark.parametrize(
    ("allowed", "origin", "ok"),
    [
        ((), None, True),  # not a browser: no Origin header
        ((), "http://testserver", True),  # same origin as the Host header
        ((), "https://evil.example", False),
        ((), "null", False),  # a sandboxed iframe or a file:// page
        (("https://lab.example",), "https://lab.example", True),
        (("https://lab.example",), "https://evil.example", False),
        (("*",), "https://evil.example", True),
    ],
)
def test_a_foreign_origin_is_refused_unless_allowed(config, allowed, origin, ok):
    from starlette.websockets import WebSocketDisconnect

    headers = {"origin": origin} if origin else {}
    with TestClient(make_server_app(config, sessions=2, allow_origins=allowed)) as client:
        # text/plain: the "simple" cross-site request a page can send without a CORS preflight
        reply = client.post("/reset", content=b'{"seed": 1}', headers={**headers, "content-type": "text/plain"})
        assert (reply.status_code != 403) == ok
        if not ok:
            assert "--allow-origin" in reply.json()["detail"]
        if ok:
            with client.websocket_connect("/ws", headers=headers) as ws:
                assert send(ws, {"type": "reset", "data": {"seed": 1}})["type"] == "observation"
                ws.send_text(json.dumps({"type": "close"}))
                assert ws.receive()["type"] == "websocket.close"
        else:
            with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws", headers=headers):
                pass
            assert refused.value.code == 1008
        assert open_sessions(client, settle=0) == 0


def test_a_plain_server_never_loads_gradio_yet_it_stays_importable():
    """Issue 13 item 5: OpenEnv's package imports its Gradio playground eagerly (~140 MiB); we hold it back."""
    import subprocess
    import sys

    code = (
        "import importlib.util, sys; import mirr_tui.server as s; s.make_server_app(); "
        "assert 'gradio' not in sys.modules, 'gradio loaded'; "
        "assert importlib.util.find_spec('gradio') is not None, 'gradio left marked absent'"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "ENABLE_WEB_INTERFACE"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]


def test_reset_and_step_run_inline_not_through_a_thread_pool(config, monkeypatch):
    """Issue 13 item 5: a step takes microseconds; OpenEnv's thread-pool hand-off cost more than the step."""
    import threading

    seen = []
    original = IncidentEnv.step

    def recording_step(self, action):
        seen.append(threading.current_thread().name)
        return original(self, action)

    monkeypatch.setattr(IncidentEnv, "step", recording_step)
    with TestClient(make_server_app(config, sessions=1)) as client, session(client) as ws:
        send(ws, {"type": "reset", "data": {"seed": 1}})
        for _ in range(3):
            assert send(ws, {"type": "step", "data": {"type": "wait"}})["type"] == "observation"
    assert len(seen) == 3 and not any(name.startswith("ThreadPoolExecutor") for name in seen), seen
