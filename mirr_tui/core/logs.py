"""Seeded log lines: the root cause shows its mode's signature, victims name the callee they wait on,
healthy services write routine lines (and, at hard, red herrings)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from .types import LogLine

# Each template is (level, text); text may use {callee}, {mem}, {queue}, {p99}, {version}, {minutes}, {old}.
SIGNATURES: dict[str, tuple[tuple[str, str], ...]] = {
    "crashed": (
        ("FATAL", "process exited with code 139 (SIGSEGV)"),
        ("ERROR", "segfault at 0000000000000018 ip 00007f3a in libssl.so.3"),
        ("WARN", "container restarting: CrashLoopBackOff (back-off 40s)"),
        ("ERROR", "readiness probe failed: connection refused on :8080"),
        ("FATAL", "core dumped; worker pid 4412 exited with code 139"),
    ),
    "memory_leak": (
        ("WARN", "heap usage {mem}% of 2048MB after full GC"),
        ("WARN", "GC overhead: {gc}% of time spent in garbage collection"),
        ("ERROR", "java.lang.OutOfMemoryError: Java heap space"),
        ("INFO", "full GC pause {pause}ms (old gen {mem}%)"),
        ("WARN", "heap usage {mem}%: allocation rate exceeds reclaim rate"),
    ),
    "overloaded": (
        ("WARN", "request queue depth {queue} (limit 1000)"),
        ("ERROR", "thread pool exhausted: 200/200 workers busy, rejecting request"),
        ("WARN", "queue depth {queue}: shedding load with 503 Service Unavailable"),
        ("WARN", "p99 latency {p99}ms, all {replicas} replicas at cpu saturation"),
        ("ERROR", "thread pool exhausted: request waited {p99}ms in queue"),
    ),
    "bad_deploy": (
        ("INFO", "deploy {version} rolled out {minutes}m ago (previous {old})"),
        ("ERROR", "NullPointerException in RequestHandler.handle ({version})"),
        ("ERROR", "500 on POST /api: IllegalStateException: schema field 'amount_minor' missing ({version})"),
        ("WARN", "error rate rising since rollout of {version}"),
        ("ERROR", "NullPointerException in SerializerV2.write ({version})"),
    ),
}

OOM_KILLED = ("FATAL", "OOMKilled: container exceeded its 2048MB memory limit; exit code 137")
RELAPSE = ("WARN", "heap usage {mem}% and climbing again since restart")

VICTIM: tuple[tuple[str, str], ...] = (
    ("ERROR", "upstream {callee} timed out after 3000ms"),
    ("ERROR", "could not decode response from {callee}: unexpected end of JSON input"),
    ("WARN", "circuit breaker open for {callee}"),
    ("ERROR", "502 from {callee}: bad gateway"),
    ("WARN", "retrying call to {callee} (attempt 3/3)"),
    ("ERROR", "upstream {callee} timed out after 3000ms (request id {rid})"),
)

ROUTINE: tuple[tuple[str, str], ...] = (
    ("INFO", "GET /health 200 in 2ms"),
    ("INFO", "processed {count} requests in the last 30s"),
    ("INFO", "cache hit ratio 0.97"),
    ("DEBUG", "connection pool 12/50 in use"),
    ("INFO", "config reloaded; no changes"),
    ("INFO", "GET /metrics 200 in 4ms"),
    ("DEBUG", "token bucket refilled (500/500)"),
)

RED_HERRINGS: tuple[tuple[str, str], ...] = (
    ("WARN", "slow query: SELECT * FROM ledger WHERE day = ? took 1240ms"),
    ("WARN", "job reconcile-nightly retried (attempt 2 of 5)"),
    ("WARN", "GC pause 210ms (young gen)"),
    ("WARN", "TLS certificate expires in 12 days"),
    ("WARN", "deprecated API v1 called by client mobile-3.2"),
    ("ERROR", "failed to send metrics batch to collector; will retry"),
)


# Benign lines that share ONE word with a fault's signature (at hard): a reader must check the metrics.
LOOKALIKES: tuple[tuple[str, str], ...] = (
    ("INFO", "worker pid {pid} exited with code 139 during shutdown drain; replaced"),
    ("INFO", "heap usage {heap}% of 2048MB, steady"),
    ("INFO", "request queue depth {queue_small} (limit 1000), draining"),
    ("INFO", "deploy {other_version} rolled out {other_minutes}m ago; canary clean"),
)


# A victim blocked on its sick callee (secondary symptoms): it looks overloaded, but it names whom it waits on.
SECONDARY: tuple[tuple[str, str], ...] = (
    ("ERROR", "thread pool exhausted: 200/200 workers blocked waiting on {callee}"),
    ("WARN", "request queue depth {vqueue} (limit 1000): calls to {callee} not returning"),
)

# A crashed process serves no traffic: its filler lines are start-up attempts, never request counts.
CRASH_FILLER: tuple[tuple[str, str], ...] = (
    ("INFO", "starting worker pid {pid}"),
    ("INFO", "loading configuration from /etc/app/config.yaml"),
    ("DEBUG", "waiting for port 8080 to open"),
)

BREAKER = ("WARN", "breaker to {breaker} held open by an operator: serving degraded responses")

# What a benign decoy imitates: a bystander's harmless anomaly writes two real lines of that mode's signature.
DECOY_MODES = {"cpu_spike": "overloaded", "steady_heap": "memory_leak", "canary": "bad_deploy", "flapping": "crashed"}


# One vocabulary of every template, in a fixed order: a log line is a template id plus its arguments, so
# the batched env (core/batch.py) and the numeric Gymnasium observation count lines without parsing text.
LOG_TEMPLATES: tuple[tuple[str, str], ...] = (
    *(line for mode in ("crashed", "memory_leak", "overloaded", "bad_deploy") for line in SIGNATURES[mode]),
    OOM_KILLED,
    RELAPSE,
    *VICTIM,
    *ROUTINE,
    *RED_HERRINGS,
    *LOOKALIKES,
    *SECONDARY,
    *CRASH_FILLER,
    BREAKER,
)
TEMPLATE_ID: dict[tuple[str, str], int] = {line: i for i, line in enumerate(LOG_TEMPLATES)}
assert len(TEMPLATE_ID) == len(LOG_TEMPLATES), "log templates must be distinct"
# Lines that blame the callee they wait on (the `{callee}` of a victim or a blocked caller).
BLAME_TEMPLATES = frozenset(TEMPLATE_ID[line] for line in (*VICTIM, *SECONDARY))
_SIGNATURE_IDS = {mode: tuple(TEMPLATE_ID[line] for line in lines) for mode, lines in SIGNATURES.items()}
_VICTIM_IDS = tuple(TEMPLATE_ID[line] for line in VICTIM)
_SECONDARY_IDS = tuple(TEMPLATE_ID[line] for line in SECONDARY)
_HERRING_IDS = tuple(TEMPLATE_ID[line] for line in RED_HERRINGS)
_HERRING_LOOKALIKE_IDS = tuple(TEMPLATE_ID[line] for line in RED_HERRINGS + LOOKALIKES)
_FILLER_IDS = {
    True: tuple(TEMPLATE_ID[line] for line in CRASH_FILLER),
    False: tuple(TEMPLATE_ID[line] for line in ROUTINE),
}
_OOM_ID, _RELAPSE_ID, _BREAKER_ID = TEMPLATE_ID[OOM_KILLED], TEMPLATE_ID[RELAPSE], TEMPLATE_ID[BREAKER]
DECOY_ARGS = -1  # a line's `extra`: the decoy's own numbers; an index >= 0 names the service behind a breaker


def draw_log_lines(
    rng: np.random.Generator,
    *,
    root_mode: str | None,
    oom_killed: bool,
    relapsed: bool,
    sick_callee: bool,
    red_herrings: int,
    line_range: tuple[int, int],
    lookalikes: bool,
    signature_share: float,
    min_signature_lines: int,
    crashed: bool = False,
    decoy: str | None = None,
    secondary: bool = False,
    breakers: tuple[int, ...] = (),
) -> tuple[list[int], list[int | None], list[float]]:
    """Every draw of one `check_logs`, nothing formatted: the template ids in display order, each line's extra
    arguments (None; DECOY_ARGS; a breaker's service index) and the ten numbers the templates may quote.
    `root_mode` is set only while its fault is active; `decoy` is a decoy kind (a bystander's benign anomaly);
    `secondary` marks a victim blocked on its sick callee."""
    count = int(rng.integers(line_range[0], line_range[1] + 1))
    ids: list[int] = []
    extras: list[int | None] = []
    if root_mode is not None:
        signature = _SIGNATURE_IDS[root_mode]
        n_sig = min(len(signature), max(min_signature_lines, int(count * signature_share)))
        chosen = [signature[i] for i in rng.choice(len(signature), size=n_sig, replace=False)]
        if oom_killed:
            chosen[0] = _OOM_ID
        elif relapsed:
            chosen[0] = _RELAPSE_ID
        ids += chosen
        extras += [None] * len(chosen)
    if decoy is not None:
        signature = _SIGNATURE_IDS[DECOY_MODES[decoy]]
        ids += [signature[i] for i in rng.choice(len(signature), size=2, replace=False)]
        extras += [DECOY_ARGS, DECOY_ARGS]
    if sick_callee:
        if secondary:
            ids += _SECONDARY_IDS
            extras += [None] * len(_SECONDARY_IDS)
        n_victim = max(2, (count - len(ids)) // 2)
        ids += [_VICTIM_IDS[i] for i in rng.choice(len(_VICTIM_IDS), size=n_victim, replace=False)]
        extras += [None] * n_victim
    ids += [_BREAKER_ID] * len(breakers)
    extras += list(breakers)
    if root_mode is None and red_herrings and (lookalikes or not sick_callee):
        pool = _HERRING_LOOKALIKE_IDS if lookalikes else _HERRING_IDS
        ids += [pool[i] for i in rng.choice(len(pool), size=red_herrings, replace=False)]
        extras += [None] * red_herrings
    filler = _FILLER_IDS[crashed]
    missing = count - len(ids)
    if missing > 0:  # one call draws what `missing` calls of integers(len(filler)) would, in order
        ids += [filler[i] for i in rng.integers(len(filler), size=missing).tolist()]
        extras += [None] * missing
    order = rng.permutation(len(ids)).tolist()
    numbers = rng.random(10).tolist()  # every number the templates may quote, in one draw
    return [ids[i] for i in order], [extras[i] for i in order], numbers


def log_fields(
    memory: float,
    overload_steps: int,
    base_latency: float,
    replicas: int,
    version: str,
    previous: str,
    deploy_minutes: int,
    step: int,
) -> dict[str, object]:
    """The numbers a service's own lines quote, from its hidden state (`memory` is a fraction)."""
    return {
        "mem": f"{memory * 100:.0f}",
        "gc": f"{20 + 200 * max(0.0, memory - 0.7):.0f}",
        "pause": f"{400 + int(4000 * max(0.0, memory - 0.7))}",
        "queue": f"{1000 + 450 * overload_steps:,}",
        "p99": f"{min(9000, int(base_latency * (6 + 2 * overload_steps)))}",
        "replicas": str(replicas),
        "version": version,
        "old": previous,
        "minutes": str(deploy_minutes + step // 2),
    }


def decoy_fields(level: float, base_latency: float, canary: str, version: str, step: int) -> dict[str, object]:
    """A decoy's own numbers: steady, unlike a real fault's."""
    heap = 84.0 + 8.0 * level
    return {
        "mem": f"{heap:.0f}",
        "gc": f"{8 + 10 * level:.0f}",
        "pause": f"{180 + int(300 * level)}",
        "queue": f"{1010 + int(300 * level):,}",
        "p99": f"{int(base_latency * 5)}",
        "version": canary,
        "old": version,
        "minutes": str(20 + int(40 * level) + step // 2),
    }


def format_log_lines(
    step: int,
    service: str,
    ids: list[int],
    extras: list[int | None],
    numbers: list[float],
    fields: dict[str, object],
    sick_callee: str | None,
    decoy_args: dict[str, object] | None,
    names: tuple[str, ...],
) -> tuple[LogLine, ...]:
    """The text of drawn lines (the one formatter: the scalar env's logs and the batched env's rebuilt text)."""
    r = numbers
    values = dict(fields)
    values["callee"] = sick_callee
    values["rid"] = f"{int(r[0] * 16**6):06x}"
    values["count"] = f"{900 + int(r[1] * 3100):,}"
    values["pid"] = str(1000 + int(r[2] * 8999))
    values["heap"] = str(38 + int(r[3] * 26))
    values["queue_small"] = str(20 + int(r[4] * 160))
    values["vqueue"] = f"{1000 + int(r[5] * 1400):,}"
    values["other_version"] = f"v{1 + int(r[6] * 5)}.{int(r[7] * 20)}.{1 + int(r[8] * 8)}"
    values["other_minutes"] = str(25 + int(r[9] * 65))
    lines = []
    for template, extra in zip(ids, extras, strict=True):
        level, text = LOG_TEMPLATES[template]
        if extra is None:
            args = values
        elif extra == DECOY_ARGS:
            args = {**values, **(decoy_args or {})}
        else:
            args = {**values, "breaker": names[extra]}
        lines.append(LogLine(step, service, level, text.format(**args)))
    return tuple(lines)


def named_service(text: str, services: Iterable[str]) -> str | None:
    """The service a log line names first, as a blame pointer reads it: `502 from database: bad gateway`
    names database (the HTTP phrase "bad gateway" is no pointer to the gateway service)."""
    best: tuple[int, str] | None = None
    for name in services:
        for match in re.finditer(rf"\b{re.escape(name)}\b", text):
            if text[max(0, match.start() - 4) : match.start()].lower() == "bad ":
                continue  # "bad gateway": an HTTP status phrase
            if best is None or match.start() < best[0]:
                best = (match.start(), name)
            break
    return best[1] if best else None
