from __future__ import annotations

import pytest

from mirr_tui.core import Action, InvalidAction, coerce_action


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("restart payment", Action("restart", "payment")),
        ("  Restart   PAYMENT ", Action("restart", "payment")),
        ("logs payment", Action("check_logs", "payment")),
        ("check logs orders", Action("check_logs", "orders")),
        ("check_logs auth", Action("check_logs", "auth")),
        ("diagnose payment bad_deploy", Action("diagnose", "payment", "bad_deploy")),
        ("rollback payment", Action("rollback", "payment")),
        ("roll back payment", Action("rollback", "payment")),
        ("scale up orders", Action("scale_up", "orders")),
        ("scale_up orders", Action("scale_up", "orders")),
        ("wait", Action("wait")),
    ],
)
def test_parse_text(text, expected):
    assert Action.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty action"),
        ("dance payment", "unknown action 'dance'"),
        ("restart", "restart needs a service"),
        ("diagnose payment", "diagnose needs a service and a mode"),
        ("diagnose payment gremlins", "unknown fault mode 'gremlins'"),
        ("wait now", "wait takes no arguments"),
        ("restart payment orders", "restart takes one service"),
        ("x" * 500, "too long"),
    ],
)
def test_parse_errors_explain(text, message):
    with pytest.raises(InvalidAction, match=message):
        Action.parse(text)


def test_text_round_trip():
    for action in (
        Action("check_logs", "auth"),
        Action("diagnose", "database", "crashed"),
        Action("wait"),
        Action("scale_up", "orders"),
    ):
        assert Action.parse(action.to_text()) == action
        assert coerce_action(action.to_dict()) == action


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "restart", "service": 3}, "'service' must be a string"),
        ({"service": "payment"}, "needs a 'type'"),
        ({"type": "restart", "service": "payment", "force": True}, "unexpected field 'force'"),
        ({"type": "diagnose", "mode": "crashed"}, "'mode' given without 'service'"),
        (42, "expected an action"),
        (None, "expected an action"),
        (["restart", "payment"], "expected an action"),
    ],
)
def test_coerce_rejects_garbage(value, message):
    with pytest.raises(InvalidAction, match=message):
        coerce_action(value)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (Action("diagnose", "payment", "zzz"), "unknown fault mode 'zzz'"),  # type: ignore[arg-type]
        (Action("wait", "payment"), "wait takes no arguments"),
        (Action("restart"), "restart needs a service"),
        (Action("restart", 5), "'service' must be a string"),  # type: ignore[arg-type]
    ],
)
def test_action_objects_are_validated_like_their_dict_form(action, message):
    with pytest.raises(InvalidAction, match=message):
        coerce_action(action)
    with pytest.raises(InvalidAction, match=message):
        coerce_action(
            {
                k: v
                for k, v in (("type", action.type), ("service", action.service), ("mode", action.mode))
                if v is not None
            }
        )


def test_a_malformed_action_object_replays_like_it_played(config, tmp_path):
    from mirr_tui.core import IncidentEnv
    from mirr_tui.replay import ReplayRecorder, load_replay, verify_replay

    env = IncidentEnv(config)
    recorder = ReplayRecorder()
    recorder.start(env, env.reset(seed=4))
    for move in (Action("wait", "payment"), Action("diagnose", "payment", "zzz"), Action("restart", "Payment")):  # type: ignore[arg-type]
        obs = env.step(move)
        recorder.record(move, obs, env.state)
    assert [f.observation["valid"] for f in recorder.frames[1:]] == [False, False, True]
    path = recorder.save_to_dir(tmp_path)
    assert verify_replay(load_replay(path), config).ok


def test_options_that_are_not_names_are_a_config_error(config):
    from mirr_tui.core import ConfigError, IncidentEnv

    for options in ({"service": ["x"]}, {"mode": 3}, {"scenario": {"a": 1}}, {"difficulty": 1.5}):
        with pytest.raises(ConfigError, match="must be a name"):
            IncidentEnv(config).reset(seed=1, options=options)
