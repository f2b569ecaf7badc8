"""observe.py over arrays: true metrics before noise, the shown (noisy, rounded) metrics, statuses, staleness.
Same float operations in the same order as the scalar builder (see batch_rules.py)."""

from __future__ import annotations

import numpy as np

from .batch_rules import CANARY, CPU_SPIKE, CRASHED, FLAPPING, LEAK, OVERLOADED, P_ACTIVE, STEADY_HEAP, Rows, Topology

OK, DEGRADED, DOWN = 0, 1, 2  # types.STATUSES order


def true_metrics(st: Rows, top: Topology) -> tuple[np.ndarray, np.ndarray]:
    """observe._all_true_metrics: (status codes (rows, services), values (rows, services, 5)).
    What a service shows from its own state is computed for all services at once (a victim or a healthy
    service over every row, the active root and a restart's blip over their rows only); then, callees first,
    what passes up the chain, a decoy's anomaly and a blocked caller's cpu, as the scalar loop adds them."""
    rows_n, n = len(st.k), top.n
    rows = np.arange(rows_n)
    k = st.k
    root = st.f_root[rows, k]
    active = st.f_phase[rows, k] == P_ACTIVE
    eff, own, memory_of = st.eff, st.own, st.memory
    lat0, cpu0, mem0, rps0 = top.base_arrays
    blip = st.blip
    is_root = active[:, None] & (root[:, None] == np.arange(n)[None, :])
    own_failure = blip | is_root
    style = st.style
    memory = memory_of * 100

    # a victim or bystander (observe._victim_metrics)
    shield = st.shield
    shielded = shield & (own >= 0.99)
    vh = np.where(shielded, 1.0 - 0.25 * (1.0 - eff), eff)
    vsick = 1.0 - vh  # (1.0 - h where unshielded: the same value)
    check = np.where(top.deep[None, :], vh, own * (1.0 - st.stress)[:, None])
    status = np.where(check < 0.35, DOWN, np.where(check < 0.75, DEGRADED, OK)).astype(np.int8)
    latency = np.minimum(3000.0, lat0 * (1 + style[:, :, 0] * vsick + style[:, :, 1] * vsick * vsick))
    errors = np.minimum(1.0, 0.002 + style[:, :, 2] * vsick)
    cpu = np.maximum(1.0, cpu0 * (1 + style[:, :, 3] * vsick))
    mem = memory.copy()
    rps = rps0 * (1 - style[:, :, 4] * vsick)

    healthy = (st.stress == 0.0)[:, None] & ~own_failure & (eff >= 1.0)  # the common case: its baseline
    if healthy.any():
        hr, hc = np.nonzero(healthy)
        status[hr, hc] = OK
        latency[hr, hc] = lat0[hc]
        errors[hr, hc] = 0.002
        cpu[hr, hc] = cpu0[hc]
        rps[hr, hc] = rps0[hc]

    jr, jc = np.nonzero(is_root & ~blip)
    if jr.size:  # observe._own_metrics for the active root (a blip overrides it below)
        kk = k[jr]
        mode, oom = st.f_mode[jr, kk], st.f_oom[jr, kk]
        masked = st.f_masked[jr, kk]
        sick = 1.0 - eff[jr, jc]
        mo = memory_of[jr, jc]
        l0, c0, m0, r0 = lat0[jc], cpu0[jc], mem0[jc], rps0[jc]
        a, e, c, r = style[jr, jc, 0], style[jr, jc, 2], style[jr, jc, 3], style[jr, jc, 4]
        down = (mode == CRASHED) | oom
        quiet = st.f_silent[jr, kk] & ~down
        leak = ~quiet & ~down & (mode == LEAK)
        over = ~quiet & ~down & (mode == OVERLOADED)
        bad = ~quiet & ~down & ~leak & ~over
        gc = np.maximum(0.0, mo - 0.7)
        overload = st.f_overload[jr, kk]
        conds = [quiet, down, leak, over, bad]
        status[jr, jc] = _choose(conds, [OK, DOWN, np.where(mo < 0.95, OK, DEGRADED), DEGRADED, OK], OK)
        latency[jr, jc] = _choose(
            conds,
            [
                l0,
                1.0,
                l0 * (1 + 8 * sick + 12 * gc),
                np.minimum(5000.0, l0 * (5 + 1.5 * overload) * (1 + 2 * sick)),
                l0 * (1.0 + a * sick),
            ],
        )
        errors[jr, jc] = _choose(
            conds,
            [
                0.002,
                1.0,
                np.minimum(1.0, 0.002 + 0.9 * sick),
                np.minimum(1.0, 0.002 + 0.8 * sick),
                np.minimum(1.0, 0.002 + e * sick),
            ],
        )
        cpu[jr, jc] = _choose(
            conds,
            [
                c0,
                0.5,
                c0 * (1 + 2.5 * gc),
                np.where(masked, st.f_masked_cpu[jr, kk], 98.0),
                np.where(masked, 95.0, c0 * (1.0 + np.maximum(0.0, c) * sick)),
            ],
        )
        mem[jr, jc] = _choose([quiet, down], [m0, 2.0], mem[jr, jc])
        rps[jr, jc] = _choose(
            conds,
            [r0, r0 * 0.02, r0 * (1 - 0.3 * sick), np.where(masked, r0 * 1.02, r0 * 1.7), r0 * (1 - r * sick)],
        )
    if blip.any():  # restarting or rolling back this step
        br, bc = np.nonzero(blip)
        status[br, bc] = DOWN
        latency[br, bc] = lat0[bc] * 3
        errors[br, bc] = 0.5
        cpu[br, bc] = cpu0[bc] * 0.4
        mem[br, bc] = mem0[bc] * 0.5
        rps[br, bc] = rps0[bc] * 0.4

    through = top.difficulty.pass_through
    any_breaker = st.breaker.any()
    has_decoy = st.decoy >= 0
    decoy_any = has_decoy.any()
    for i in top.order:
        if through and top.callees[i]:
            passing = ~own_failure[:, i] & ~shield[:, i]
            factor = st.pass_factor[:, i]
            lat_i, err_i = latency[:, i], errors[:, i]  # views: updated in place
            for callee in top.callees[i]:
                live = passing & ~st.breaker[:, callee] if any_breaker else passing
                passed = errors[:, callee] * factor
                raise_ = live & (passed > err_i)
                err_i[raise_] = np.minimum(passed[raise_], 1.0)
                extra = latency[:, callee] - top.base_latency[callee]
                add = live & (extra > 0.0)
                lat_i[add] += extra[add]
            lat_i[passing & (lat_i > 5000.0)] = 5000.0
        if decoy_any:  # before the callers read it: a decoy's anomaly is part of what passes up
            j = np.flatnonzero((st.decoy == i) & ~blip[:, i])
            if j.size:
                level, kind = st.decoy_level[j], st.decoy_kind[j]
                spike, heap, canary = kind == CPU_SPIKE, kind == STEADY_HEAP, kind == CANARY
                cpu[j, i] = np.where(spike, np.maximum(cpu[j, i], 92.0 + 6.0 * level), cpu[j, i])
                latency[j, i] = np.where(spike, latency[j, i] * 1.3, latency[j, i])
                mem[j, i] = np.where(heap, np.maximum(mem[j, i], 84.0 + 8.0 * level), mem[j, i])
                errors[j, i] = np.where(canary, np.maximum(errors[j, i], 0.015 + 0.025 * level), errors[j, i])
    # a caller blocked on its sick callee looks overloaded (never the decoy: decoys are bystanders)
    sec = st.secondary
    blocked = sec >= 0
    if blocked.any():
        col = np.maximum(sec, 0)
        blocked &= ~own_failure[rows, col] & top.calls[col, root]
        root_sick = 1.0 - eff[rows, root]
        blocked &= root_sick > 0.1
        b = np.flatnonzero(blocked)
        cpu[b, sec[b]] = np.maximum(cpu[b, sec[b]], 91.0 + 7.0 * root_sick[b])
    if any_breaker:
        rps = np.where(st.breaker, rps * 0.1, rps)  # behind open breakers: its callers stopped calling it
    out = np.stack([latency, errors, cpu, mem, rps], axis=2)
    return status, out


def _choose(conds: list[np.ndarray], values: list, default: object = 0.0) -> np.ndarray:
    """np.select for exclusive conditions as a chain of np.where (select broadcasts every choice first)."""
    result = default
    for cond, value in zip(conds, values, strict=True):
        result = np.where(cond, value, result)
    return np.asarray(result)


def stale_services(st: Rows, top: Topology) -> np.ndarray:
    """observe._stale: (rows, services) where the metrics scrape is stale."""
    rows = np.arange(len(st.k))
    stale = np.zeros((len(st.k), top.n), dtype=bool)
    flapping = (st.decoy_kind == FLAPPING) & (st.decoy >= 0)
    flapping &= ~st.blip[rows, np.maximum(st.decoy, 0)]
    stale[rows[flapping], st.decoy[flapping]] = True
    k = st.k
    crashed = st.f_silent[rows, k] & (st.f_mode[rows, k] == CRASHED) & (st.f_phase[rows, k] == P_ACTIVE)
    stale[rows[crashed], st.f_root[rows[crashed], k[crashed]]] = True
    return stale


def observe(
    st: Rows, top: Topology, status: np.ndarray, truth: np.ndarray, caps: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """observe._observe's numbers: (shown metrics (rows, services, 5), statuses, stale). Uses the row's noise
    for its observation number (the step: the reset's observation is 0)."""
    rows = np.arange(len(st.k))
    draws = st.noise[rows, np.minimum(st.step, st.noise.shape[1] - 1)]  # (rows, services * 5)
    flat = truth.reshape(len(rows), -1)
    noisy = np.multiply(flat, draws)
    np.minimum(noisy, caps, out=noisy)
    np.multiply(noisy, scale, out=noisy)
    np.rint(noisy, out=noisy)
    shown = np.divide(noisy, scale, out=noisy).reshape(truth.shape)
    stale = stale_services(st, top)
    if stale.any():
        first = stale & ~st.stale_has
        if first.any():  # the scrape stopped: the last values it got, frozen (observe._stale_shown)
            base = np.array(
                [
                    [top.base_latency[i], 0.002, top.base_cpu[i], top.base_memory[i], top.base_rps[i]]
                    for i in range(top.n)
                ]
            )
            last = np.rint(base[None] * draws.reshape(truth.shape) * scale.reshape(truth.shape[1:])) / scale.reshape(
                truth.shape[1:]
            )
            st.stale_shown = np.where(first[..., None], last, st.stale_shown)
            st.stale_has = st.stale_has | first
        shown = np.where(stale[..., None], st.stale_shown, shown)
        status = np.where(stale, OK, status).astype(np.int8)
    return shown, status, stale
