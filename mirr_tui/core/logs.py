"""Seeded log lines: the root cause shows its mode's signature, victims name the callee they wait on,
healthy services write routine lines (and, at hard, red herrings)."""

from __future__ import annotations

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


def generate_logs(
    rng: np.random.Generator,
    step: int,
    service: str,
    *,
    root_mode: str | None,
    oom_killed: bool,
    relapsed: bool,
    sick_callee: str | None,
    fields: dict[str, object],
    red_herrings: int,
    line_range: tuple[int, int],
    lookalikes: bool,
    signature_share: float,
    min_signature_lines: int,
    crashed: bool = False,
    decoy: str | None = None,
    decoy_fields: dict[str, object] | None = None,
    secondary: bool = False,
    breakers: tuple[str, ...] = (),
) -> tuple[LogLine, ...]:
    """The recent lines of one service. `root_mode` is set only while its fault is active; `decoy` is a
    decoy kind (a bystander's benign anomaly); `secondary` marks a victim blocked on `sick_callee`."""
    count = int(rng.integers(line_range[0], line_range[1] + 1))
    picks: list[tuple[tuple[str, str], dict[str, object] | None]] = []
    if root_mode is not None:
        signature = SIGNATURES[root_mode]
        n_sig = min(len(signature), max(min_signature_lines, int(count * signature_share)))
        chosen = [signature[i] for i in rng.choice(len(signature), size=n_sig, replace=False)]
        if oom_killed:
            chosen[0] = OOM_KILLED
        elif relapsed:
            chosen[0] = RELAPSE
        picks += [(line, None) for line in chosen]
    if decoy is not None:
        signature = SIGNATURES[DECOY_MODES[decoy]]
        picks += [(signature[i], decoy_fields) for i in rng.choice(len(signature), size=2, replace=False)]
    if sick_callee is not None:
        if secondary:
            picks += [(line, None) for line in SECONDARY]
        n_victim = max(2, (count - len(picks)) // 2)
        picks += [(VICTIM[i], None) for i in rng.choice(len(VICTIM), size=n_victim, replace=False)]
    picks += [(BREAKER, {"breaker": name}) for name in breakers]
    if root_mode is None and red_herrings and (lookalikes or sick_callee is None):
        pool = RED_HERRINGS + LOOKALIKES if lookalikes else RED_HERRINGS
        picks += [(pool[i], None) for i in rng.choice(len(pool), size=red_herrings, replace=False)]
    filler = CRASH_FILLER if crashed else ROUTINE
    while len(picks) < count:
        picks.append((filler[int(rng.integers(len(filler)))], None))
    order = rng.permutation(len(picks))
    values = dict(fields)
    values["callee"] = sick_callee
    r = rng.random(10).tolist()  # every number the templates may quote, in one draw
    values["rid"] = f"{int(r[0] * 16**6):06x}"
    values["count"] = f"{900 + int(r[1] * 3100):,}"
    values["pid"] = str(1000 + int(r[2] * 8999))
    values["heap"] = str(38 + int(r[3] * 26))
    values["queue_small"] = str(20 + int(r[4] * 160))
    values["vqueue"] = f"{1000 + int(r[5] * 1400):,}"
    values["other_version"] = f"v{1 + int(r[6] * 5)}.{int(r[7] * 20)}.{1 + int(r[8] * 8)}"
    values["other_minutes"] = str(25 + int(r[9] * 65))

    def fmt(text: str, extra: dict[str, object] | None) -> str:
        return text.format(**({**values, **extra} if extra else values))

    return tuple(LogLine(step, service, picks[i][0][0], fmt(picks[i][0][1], picks[i][1])) for i in order)
