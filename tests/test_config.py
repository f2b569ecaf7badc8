from __future__ import annotations

import re
from pathlib import Path

import pytest

from mirr_tui.core import FAULT_MODES, ConfigError, IncidentEnv, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def test_default_manifest_matches_the_spec(config):
    assert config.service_names == ("gateway", "auth", "orders", "payment", "database")
    assert config.service("orders").calls == ("payment", "database")
    assert config.service("database").calls == ()
    assert {m: config.fault_modes[m].fix for m in FAULT_MODES} == {
        "crashed": "restart",
        "memory_leak": "restart",
        "overloaded": "scale_up",
        "bad_deploy": "rollback",
    }
    r = config.rewards
    assert (r.correct_diagnosis, r.wrong_diagnosis, r.correct_fix, r.lucky_fix, r.wrong_fix) == (8, -4, 10, 6, -2)
    assert (r.recovery_diagnosed, r.recovery_undiagnosed, r.efficiency_per_step) == (20, 0, 0.5)
    assert (r.collapse, r.timeout, r.invalid) == (-20, -10, -1)
    rules = config.rules
    assert (rules.max_steps, rules.cascade_start, rules.collapse_health, rules.confirm_steps) == (30, 10, 0.25, 5)
    assert config.difficulty("normal").noise == 0.15
    assert config.default_difficulty == "normal"
    assert set(config.difficulties) == {"easy", "normal", "hard"}
    assert config.scenarios["checkout-3am"].service == "payment"


def _manifest() -> str:
    return (ROOT / "openenv.yaml").read_text()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  max_steps: 30 ", "  max_steps: thirty ", "rules.max_steps: must be a whole number"),
        (
            "  confirm_steps: 5 ",
            "  confirm_window: 5 ",
            "rules.confirm_window: unknown key (did you mean 'confirm_steps'?)",
        ),
        ("  confirm_steps: 5 ", "  # confirm_steps: 5 ", "rules.confirm_steps: required key is missing"),
        ("    fix: scale_up", "    fix: reboot", "fault_modes.overloaded.fix: must be one of"),
        (
            "    calls: [payment, database]",
            "    calls: [payment, cache]",
            "services.orders.calls: unknown service 'cache'",
        ),
        ("    calls: []", "    calls: [gateway]", "services: call cycle"),
        ("  correct_fix: 10", "  correct_fix: ten", "rewards.correct_fix: must be a number"),
        ("normal: {noise: 0.15,", "normal: {noise: 2,", "difficulties.normal.noise: 2 is outside"),
        ("    mode: bad_deploy\n", "    mode: gremlins\n", "scenarios.checkout-3am.mode: unknown mode 'gremlins'"),
        ("  onset_steps: [1, 4]", "  onset_steps: [4, 1]", "rules.onset_steps: must be whole numbers low <= high"),
        (
            "red_herrings: 2, lookalikes: true,",
            "red_herrings: 2, lookalikes: 1,",
            "difficulties.hard.lookalikes: must be true or false",
        ),
    ],
)
def test_bad_manifest_names_the_key(old, new, message):
    text = _manifest()
    assert old in text, old
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(text.replace(old, new, 1), source="bad.yaml")


def test_not_yaml_and_not_a_mapping():
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("services: [unclosed", source="x.yaml")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        parse_config("- just\n- a list\n", source="x.yaml")


def test_yaml_errors_are_one_line_with_the_position():
    with pytest.raises(ConfigError) as caught:
        parse_config("services:\n  gateway: [unclosed\n", source="x.yaml")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("x.yaml: not valid YAML at line 3, column 1: ")


def test_a_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / "blob.yaml"
    path.write_bytes(b"\xf6\x00\xff" * 100)
    with pytest.raises(ConfigError, match="not a text file"):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_env_accepts_another_manifest(tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text(_manifest().replace("  max_steps: 30 ", "  max_steps: 12 "))
    env = IncidentEnv(config=path)
    obs = env.reset(seed=3)
    assert obs.remaining == 12
    while not obs.done:
        obs = env.step("wait")
    assert obs.step <= 12


def test_config_hash_tracks_content(config):
    other = parse_config(_manifest().replace("  correct_fix: 10", "  correct_fix: 11"))
    assert other.hash != config.hash
    assert parse_config(_manifest()).hash == config.hash


def test_config_hash_ignores_sections_outside_the_rules(config):
    extra = parse_config(_manifest() + "\nllm:\n  model: some-model\n")
    assert extra.hash == config.hash


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  max_steps: 30 ", "  max_stepz: 99 ", "bad.yaml: rules.max_stepz: unknown key (did you mean 'max_steps'?)"),
        (
            "id: mirr-incident-v0",
            "seeed: 5\nid: mirr-incident-v0",
            "bad.yaml: seeed: unknown key (known: spec_version,",
        ),
        (
            "id: mirr-incident-v0",
            "servces: {}\nid: mirr-incident-v0",
            "bad.yaml: servces: unknown key (did you mean 'services'?)",
        ),
        (
            "    mode: overloaded\n    story",
            "    mode: overloaded\n    difficulty: hard\n    story",
            "bad.yaml: scenarios.black-friday.difficulty: unknown key (known: service, mode, story, second)",
        ),
        (
            "second: {service: database, mode: overloaded}",
            "second: {service: database, mdoe: overloaded}",
            "bad.yaml: scenarios.retry-storm.second.mdoe: unknown key (did you mean 'mode'?)",
        ),
        ("  cpu: 90", "  cpus: 90", "bad.yaml: alerts.cpus: unknown key (did you mean 'cpu'?)"),
        (
            "  timeout: -10",
            "  timeout: -10\n  timout: -10",
            "bad.yaml: rewards.timout: unknown key (did you mean 'timeout'?)",
        ),
        (
            "easy:   {noise",
            "easy:   {nosie: 1, noise",
            "bad.yaml: difficulties.easy.nosie: unknown key (did you mean 'noise'?)",
        ),
        (
            "    health_check: deep\n",
            "    healthcheck: deep\n",
            "bad.yaml: services.gateway.healthcheck: unknown key (did you mean 'health_check'?)",
        ),
        (
            "{latency_ms: 40,",
            "{latency: 40, latency_ms: 40,",
            "bad.yaml: services.gateway.baseline.latency: unknown key (did you mean 'latency_ms'?)",
        ),
        (
            "    fix: scale_up",
            "    fix: scale_up\n    fixes: restart",
            "bad.yaml: fault_modes.overloaded.fixes: unknown key (did you mean 'fix'?)",
        ),
        (
            "  currency: ",
            "  curency: 1\n  currency: ",
            "bad.yaml: impact.curency: unknown key (did you mean 'currency'?)",
        ),
    ],
)
def test_unknown_keys_are_refused_with_their_path_and_a_suggestion(old, new, message):
    text = _manifest()
    assert old in text, old
    with pytest.raises(ConfigError) as caught:
        parse_config(text.replace(old, new, 1), source="bad.yaml")
    assert str(caught.value).startswith(message)


def test_every_top_level_section_of_the_shipped_manifest_is_known(config):
    import yaml

    from mirr_tui.core.config import TOP_LEVEL_KEYS

    assert set(yaml.safe_load(_manifest())) <= set(TOP_LEVEL_KEYS)
