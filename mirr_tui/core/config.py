"""Load `openenv.yaml` into frozen, validated config objects.

Every number the rules use lives in the manifest; this module is the only reader. A bad file raises
`ConfigError` with a message that names the key and the problem.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from .config_reader import ConfigError, Reader

FAULT_MODES = ("crashed", "memory_leak", "overloaded", "bad_deploy")
FIX_ACTIONS = ("restart", "rollback", "scale_up")
# Reward rows that judge hidden truth: decided when the action happens, paid and shown at the episode's end.
DEFERRED_ROWS = (
    "correct_diagnosis",
    "wrong_diagnosis",
    "correct_fix",
    "lucky_fix",
    "wrong_fix",
    "recovery_diagnosed",
    "recovery_undiagnosed",
)
DECOY_KINDS = ("cpu_spike", "steady_heap", "canary", "flapping")
PROBABILITIES = ("decoys", "masked", "silent", "secondary", "shielded", "compound")
METRICS = ("latency_ms", "error_rate", "cpu", "memory", "rps")
RULE_SECTIONS = (
    "id",
    "version",
    "services",
    "fault_modes",
    "rules",
    "alerts",
    "rewards",
    "difficulties",
    "default_difficulty",
    "scenarios",
    "impact",
)
REWARD_KEYS = (
    *DEFERRED_ROWS,
    "efficiency_per_step",
    "collapse",
    "timeout",
    "invalid",
)
# Top-level keys outside the rules: OpenEnv's own manifest keys (read by `openenv validate` / `push`), the
# description, and `llm:` (read and checked by agents/llm_settings.py).
OPENENV_KEYS = ("spec_version", "name", "type", "runtime", "app", "port", "validation")
TOP_LEVEL_KEYS = (*OPENENV_KEYS, *RULE_SECTIONS, "description", "llm")
SERVICE_KEYS = ("calls", "role", "health_check", "baseline")
BASELINE_KEYS = ("latency_ms", "cpu", "memory", "rps")
ALERT_KEYS = ("error_rate", "latency_ms", "cpu", "memory")
SCENARIO_KEYS = ("service", "mode", "story", "second")


@dataclass(frozen=True, slots=True)
class Baseline:
    latency_ms: float
    cpu: float
    memory: float
    rps: float


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    calls: tuple[str, ...]
    role: str
    deep_health_check: bool
    baseline: Baseline


@dataclass(frozen=True, slots=True)
class FaultModeSpec:
    name: str
    fix: str
    signature: str


@dataclass(frozen=True, slots=True)
class Rules:
    max_steps: int
    onset_steps: tuple[int, int]
    propagation: float
    cascade_start: int
    collapse_health: float
    collapse_steps: int
    healthy_health: float
    confirm_steps: int
    recovery_rate: float
    restart_blip: float
    scale_blip: float
    leak_rate: float
    leak_start_memory: tuple[float, float]
    relapse_after: int
    bad_deploy_health: tuple[float, float]
    bad_restart_penalty: float
    overload_health: float
    overload_decay: float
    log_lines: tuple[int, int]
    second_fault_delay: tuple[int, int]
    breaker_degrade: float


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    error_rate: float
    latency_ms: float
    cpu: float
    memory: float


@dataclass(frozen=True, slots=True)
class Rewards:
    correct_diagnosis: float
    wrong_diagnosis: float
    correct_fix: float
    lucky_fix: float
    wrong_fix: float
    recovery_diagnosed: float
    recovery_undiagnosed: float
    efficiency_per_step: float
    collapse: float
    timeout: float
    invalid: float


@dataclass(frozen=True, slots=True)
class Difficulty:
    name: str
    noise: float
    cascade_rate: float
    red_herrings: int  # benign WARN/ERROR lines in each non-root service's logs
    lookalikes: bool  # herrings may carry one word of a fault's signature (cross-check with metrics)
    signature_share: float  # share of the root's log lines that show its signature ...
    min_signature_lines: int  # ... and at least this many
    pass_through: bool  # callers show about their failing callee's error rate; latency adds up the chain
    decoys: float  # probability that a bystander carries a benign anomaly with two signature lines
    masked: float  # probability that the root's mode is ambiguous from its metrics
    silent: float  # probability that the root looks healthier than its victims (bad_deploy, crashed)
    secondary: float  # probability that a blocked victim shows overload-like secondary symptoms
    shielded: float  # probability that a caller serves its sick callees from cache (its metrics hardly move)
    compound: float  # probability of a second fault in another service a few steps after the first is fixed


@dataclass(frozen=True, slots=True)
class Impact:
    """User impact: information shown to the player, never reward."""

    step_seconds: float
    checkout_share: float
    price_per_failed_checkout: float
    currency: str


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    service: str
    mode: str
    story: str
    second: tuple[str, str] | None = None  # a compound scenario's second fault (service, mode)


@dataclass(frozen=True, slots=True)
class EnvConfig:
    """The whole manifest, validated. Build with `load_config()`."""

    id: str
    version: str
    description: str
    services: tuple[ServiceSpec, ...]
    fault_modes: dict[str, FaultModeSpec]
    rules: Rules
    alerts: AlertThresholds
    rewards: Rewards
    difficulties: dict[str, Difficulty]
    default_difficulty: str
    scenarios: dict[str, Scenario]
    impact: Impact
    source: str
    hash: str

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    def service(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def difficulty(self, name: str | None) -> Difficulty:
        key = name or self.default_difficulty
        if key not in self.difficulties:
            known = ", ".join(self.difficulties)
            raise ConfigError(f"unknown difficulty {key!r} (known: {known})")
        return self.difficulties[key]

    def scenario(self, name: str) -> Scenario:
        if name not in self.scenarios:
            known = ", ".join(self.scenarios) or "none"
            raise ConfigError(f"unknown scenario {name!r} (known: {known})")
        return self.scenarios[name]


def default_config_path() -> Path:
    """The manifest shipped in the wheel, else the one at the repository root (editable installs)."""
    package_dir = Path(__file__).resolve().parent.parent
    for candidate in (package_dir / "openenv.yaml", package_dir.parent / "openenv.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"openenv.yaml not found beside {package_dir} or its parent")


_CACHE: dict[Path, EnvConfig] = {}


def load_config(path: str | Path | None = None) -> EnvConfig:
    """Read and validate a manifest (default: the project's `openenv.yaml`). Cached per path."""
    resolved = Path(path).resolve() if path is not None else default_config_path()
    cached = _CACHE.get(resolved)
    if cached is not None:
        return cached
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {resolved}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{resolved}: not a text file (not UTF-8)") from None
    config = parse_config(text, source=str(resolved))
    _CACHE[resolved] = config
    return config


def parse_config(text: str, source: str = "<string>") -> EnvConfig:
    """Validate manifest text and build the frozen config."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # one line: the problem and where, not PyYAML's multi-line report
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: not valid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the manifest must be a mapping at the top level")
    reader = Reader(source)
    reader.known(raw, TOP_LEVEL_KEYS, "")
    # The hash covers what changes the game, not the manifest's other sections (server, llm, ...).
    ruled = {key: raw.get(key) for key in RULE_SECTIONS}
    digest = hashlib.sha256(json.dumps(ruled, sort_keys=True, default=str).encode()).hexdigest()

    services_raw = reader.mapping(raw, "services")
    if len(services_raw) < 2:
        raise ConfigError(f"{source}: services: need at least two services")
    services = []
    for name, body in services_raw.items():
        key = f"services.{name}"
        body = reader.mapping({name: body}, name, prefix="services.")
        reader.known(body, SERVICE_KEYS, key + ".")
        calls = reader.str_list(body, "calls", prefix=key + ".")
        for callee in calls:
            if callee not in services_raw:
                raise ConfigError(f"{source}: {key}.calls: unknown service {callee!r}")
            if callee == name:
                raise ConfigError(f"{source}: {key}.calls: a service cannot call itself")
        check = body.get("health_check", "shallow")
        if check not in ("deep", "shallow"):
            raise ConfigError(f"{source}: {key}.health_check: must be 'deep' or 'shallow', got {check!r}")
        base = reader.mapping(body, "baseline", prefix=key + ".")
        reader.known(base, BASELINE_KEYS, key + ".baseline.")
        baseline = Baseline(**{m: reader.number(base, m, prefix=key + ".baseline.", low=0) for m in BASELINE_KEYS})
        services.append(
            ServiceSpec(
                name=str(name),
                calls=tuple(calls),
                role=str(body.get("role", "")),
                deep_health_check=check == "deep",
                baseline=baseline,
            )
        )
    _reject_cycles(services, source)

    modes_raw = reader.mapping(raw, "fault_modes")
    fault_modes = {}
    for mode in FAULT_MODES:
        if mode not in modes_raw:
            raise ConfigError(f"{source}: fault_modes: missing mode {mode!r}")
        body = reader.mapping(modes_raw, mode, prefix="fault_modes.")
        reader.known(body, ("fix", "signature"), f"fault_modes.{mode}.")
        fix = body.get("fix")
        if fix not in FIX_ACTIONS:
            raise ConfigError(f"{source}: fault_modes.{mode}.fix: must be one of {', '.join(FIX_ACTIONS)}, got {fix!r}")
        fault_modes[mode] = FaultModeSpec(mode, fix, str(body.get("signature", "")))
    extra = set(modes_raw) - set(FAULT_MODES)
    if extra:
        raise ConfigError(
            f"{source}: fault_modes: unknown mode {sorted(extra)[0]!r} (the simulator knows {', '.join(FAULT_MODES)})"
        )

    rules_raw = reader.mapping(raw, "rules")
    reader.known(rules_raw, _field_names(Rules), "rules.")
    p = "rules."
    rules = Rules(
        max_steps=reader.integer(rules_raw, "max_steps", prefix=p, low=1),
        onset_steps=reader.int_range(rules_raw, "onset_steps", prefix=p, low=0),
        propagation=reader.number(rules_raw, "propagation", prefix=p, low=0, high=1),
        cascade_start=reader.integer(rules_raw, "cascade_start", prefix=p, low=0),
        collapse_health=reader.number(rules_raw, "collapse_health", prefix=p, low=0, high=1),
        collapse_steps=reader.integer(rules_raw, "collapse_steps", prefix=p, low=1),
        healthy_health=reader.number(rules_raw, "healthy_health", prefix=p, low=0, high=1),
        confirm_steps=reader.integer(rules_raw, "confirm_steps", prefix=p, low=1),
        recovery_rate=reader.number(rules_raw, "recovery_rate", prefix=p, low=0, high=1),
        restart_blip=reader.number(rules_raw, "restart_blip", prefix=p, low=0, high=1),
        scale_blip=reader.number(rules_raw, "scale_blip", prefix=p, low=0, high=1),
        leak_rate=reader.number(rules_raw, "leak_rate", prefix=p, low=0, high=1),
        leak_start_memory=reader.float_range(rules_raw, "leak_start_memory", prefix=p, low=0, high=1),
        relapse_after=reader.integer(rules_raw, "relapse_after", prefix=p, low=1),
        bad_deploy_health=reader.float_range(rules_raw, "bad_deploy_health", prefix=p, low=0, high=1),
        bad_restart_penalty=reader.number(rules_raw, "bad_restart_penalty", prefix=p, low=0, high=1),
        overload_health=reader.number(rules_raw, "overload_health", prefix=p, low=0, high=1),
        overload_decay=reader.number(rules_raw, "overload_decay", prefix=p, low=0, high=1),
        log_lines=reader.int_range(rules_raw, "log_lines", prefix=p, low=1),
        second_fault_delay=reader.int_range(rules_raw, "second_fault_delay", prefix=p, low=1),
        breaker_degrade=reader.number(rules_raw, "breaker_degrade", prefix=p, low=0, high=1),
    )

    alerts_raw = reader.mapping(raw, "alerts")
    reader.known(alerts_raw, ALERT_KEYS, "alerts.")
    alerts = AlertThresholds(**{k: reader.number(alerts_raw, k, prefix="alerts.", low=0) for k in ALERT_KEYS})

    rewards_raw = reader.mapping(raw, "rewards")
    reader.known(rewards_raw, REWARD_KEYS, "rewards.")
    rewards = Rewards(**{k: reader.number(rewards_raw, k, prefix="rewards.") for k in REWARD_KEYS})

    diffs_raw = reader.mapping(raw, "difficulties")
    difficulties = {}
    for name in diffs_raw:
        body = reader.mapping(diffs_raw, name, prefix="difficulties.")
        q = f"difficulties.{name}."
        reader.known(body, tuple(k for k in _field_names(Difficulty) if k != "name"), q)
        difficulties[str(name)] = Difficulty(
            name=str(name),
            noise=reader.number(body, "noise", prefix=q, low=0, high=0.9),
            cascade_rate=reader.number(body, "cascade_rate", prefix=q, low=0, high=1),
            red_herrings=reader.integer(body, "red_herrings", prefix=q, low=0),
            lookalikes=reader.boolean(body, "lookalikes", prefix=q),
            signature_share=reader.number(body, "signature_share", prefix=q, low=0, high=1),
            min_signature_lines=reader.integer(body, "min_signature_lines", prefix=q, low=1),
            pass_through=reader.boolean(body, "pass_through", prefix=q),
            **{k: reader.number(body, k, prefix=q, low=0, high=1) for k in PROBABILITIES},
        )
    if not difficulties:
        raise ConfigError(f"{source}: difficulties: define at least one difficulty")
    default_difficulty = str(raw.get("default_difficulty", "normal"))
    if default_difficulty not in difficulties:
        raise ConfigError(f"{source}: default_difficulty: {default_difficulty!r} is not in difficulties")

    names = [s.name for s in services]
    scenarios = {}
    scenarios_raw = raw.get("scenarios") or {}
    if not isinstance(scenarios_raw, dict):
        raise ConfigError(f"{source}: scenarios: must be a mapping, got {type(scenarios_raw).__name__}")
    for name, body in scenarios_raw.items():
        body = reader.mapping({name: body}, name, prefix="scenarios.")
        reader.known(body, SCENARIO_KEYS, f"scenarios.{name}.")
        if body.get("service") not in names:
            raise ConfigError(f"{source}: scenarios.{name}.service: unknown service {body.get('service')!r}")
        if body.get("mode") not in FAULT_MODES:
            raise ConfigError(f"{source}: scenarios.{name}.mode: unknown mode {body.get('mode')!r}")
        second = None
        if body.get("second") is not None:
            raw_second = reader.mapping(body, "second", prefix=f"scenarios.{name}.")
            reader.known(raw_second, ("service", "mode"), f"scenarios.{name}.second.")
            s_service, s_mode = raw_second.get("service"), raw_second.get("mode")
            if s_service not in names or s_service == body["service"]:
                raise ConfigError(
                    f"{source}: scenarios.{name}.second.service: must be another known service, got {s_service!r}"
                )
            if s_mode not in FAULT_MODES:
                raise ConfigError(f"{source}: scenarios.{name}.second.mode: unknown mode {s_mode!r}")
            second = (str(s_service), str(s_mode))
        scenarios[str(name)] = Scenario(str(name), body["service"], body["mode"], str(body.get("story", "")), second)

    impact_raw = reader.mapping(raw, "impact")
    reader.known(impact_raw, _field_names(Impact), "impact.")
    impact = Impact(
        step_seconds=reader.number(impact_raw, "step_seconds", prefix="impact.", low=0),
        checkout_share=reader.number(impact_raw, "checkout_share", prefix="impact.", low=0, high=1),
        price_per_failed_checkout=reader.number(impact_raw, "price_per_failed_checkout", prefix="impact.", low=0),
        currency=str(impact_raw.get("currency", "$")),
    )

    for key in ("id", "version"):
        if not isinstance(raw.get(key), str | int | float) or not str(raw.get(key)).strip():
            raise ConfigError(f"{source}: {key}: required")

    return EnvConfig(
        id=str(raw["id"]),
        version=str(raw["version"]),
        description=str(raw.get("description", "")).strip(),
        services=tuple(services),
        fault_modes=fault_modes,
        rules=rules,
        alerts=alerts,
        rewards=rewards,
        difficulties=difficulties,
        default_difficulty=default_difficulty,
        scenarios=scenarios,
        impact=impact,
        source=source,
        hash=digest[:16],
    )


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _reject_cycles(services: list[ServiceSpec], source: str) -> None:
    calls = {s.name: s.calls for s in services}
    state: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ConfigError(f"{source}: services: call cycle {' -> '.join((*path, name))}")
        state[name] = 1
        for callee in calls[name]:
            visit(callee, (*path, name))
        state[name] = 2

    for spec in services:
        visit(spec.name, ())
