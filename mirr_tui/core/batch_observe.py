"""observe.py over arrays: true metrics before noise, the shown (noisy, rounded) metrics, statuses, staleness.
Same float operations in the same order as the scalar builder (see batch_rules.py)."""

from __future__ import annotations

import numpy as np

from .batch_rules import CANARY, CPU_SPIKE, CRASHED, FLAPPING, LEAK, OVERLOADED, P_ACTIVE, STEADY_HEAP, Rows, Topology

OK, DEGRADED, DOWN = 0, 1, 2  # types.STATUSES order


def true_metrics(st: Rows, top: Topology) -> tuple[np.ndarray, np.ndarray]:
    """observe._all_true_metrics: (status codes (rows, services), values (rows, services, 5))."""
    rows_n = len(st.k)
    rows = np.arange(rows_n)
    k = st.k
    root = st.f_root[rows, k]
    mode = st.f_mode[rows, k]
    active = st.f_phase[rows, k] == P_ACTIVE
    silent = st.f_silent[rows, k]
    masked = st.f_masked[rows, k]
    oom = st.f_oom[rows, k]
    overload = st.f_overload[rows, k]
    masked_cpu = st.f_masked_cpu[rows, k]
    through = top.difficulty.pass_through
    calm = st.stress == 0.0
    eff, own, memory_of = st.eff, st.own, st.memory
    status = np.zeros((rows_n, top.n), dtype=np.int8)
    out = np.zeros((rows_n, top.n, 5))
    for i in top.order:
        lat0, cpu0, mem0, rps0 = top.base_latency[i], top.base_cpu[i], top.base_memory[i], top.base_rps[i]
        blip = st.blip[:, i]
        is_root = active & (root == i)
        own_failure = blip | is_root
        h = eff[:, i]
        sick = 1.0 - h
        memory = memory_of[:, i] * 100
        a, b, e, c, r = (st.style[:, i, j] for j in range(5))

        # a victim or bystander (observe._victim_metrics)
        shielded = st.shield[:, i] & (own[:, i] >= 0.99)
        vh = np.where(shielded, 1.0 - 0.25 * (1.0 - h), h)
        vsick = np.where(shielded, 1.0 - vh, sick)
        check = vh if top.deep[i] else own[:, i] * (1.0 - st.stress)
        v_status = np.where(check < 0.35, DOWN, np.where(check < 0.75, DEGRADED, OK))
        latency = np.minimum(3000.0, lat0 * (1 + a * vsick + b * vsick * vsick))
        errors = np.minimum(1.0, 0.002 + e * vsick)
        cpu = np.maximum(1.0, cpu0 * (1 + c * vsick))
        mem = memory
        rps = rps0 * (1 - r * vsick)
        stat = v_status

        healthy = calm & ~own_failure & (h >= 1.0)  # the common case: its baseline
        if healthy.any():
            stat = np.where(healthy, OK, stat)
            latency = np.where(healthy, lat0, latency)
            errors = np.where(healthy, 0.002, errors)
            cpu = np.where(healthy, cpu0, cpu)
            rps = np.where(healthy, rps0, rps)

        if is_root.any():  # observe._own_metrics for the active root, mode by mode
            down = is_root & ((mode == CRASHED) | oom)
            quiet = is_root & silent & ~down
            leak = is_root & ~quiet & ~down & (mode == LEAK)
            over = is_root & ~quiet & ~down & (mode == OVERLOADED)
            bad = is_root & ~quiet & ~down & ~leak & ~over
            gc = np.maximum(0.0, memory_of[:, i] - 0.7)
            l_lat = lat0 * (1 + 8 * sick + 12 * gc)
            o_lat = np.minimum(5000.0, lat0 * (5 + 1.5 * overload) * (1 + 2 * sick))
            b_cpu = np.where(masked, 95.0, cpu0 * (1.0 + np.maximum(0.0, c) * sick))
            stat = np.select(
                [quiet, down, leak, over, bad],
                [OK, DOWN, np.where(memory_of[:, i] < 0.95, OK, DEGRADED), DEGRADED, OK],
                stat,
            )
            latency = np.select(
                [quiet, down, leak, over, bad], [lat0, 1.0, l_lat, o_lat, lat0 * (1.0 + a * sick)], latency
            )
            errors = np.select(
                [quiet, down, leak, over, bad],
                [
                    0.002,
                    1.0,
                    np.minimum(1.0, 0.002 + 0.9 * sick),
                    np.minimum(1.0, 0.002 + 0.8 * sick),
                    np.minimum(1.0, 0.002 + e * sick),
                ],
                errors,
            )
            cpu = np.select(
                [quiet, down, leak, over, bad],
                [cpu0, 0.5, cpu0 * (1 + 2.5 * gc), np.where(masked, masked_cpu, 98.0), b_cpu],
                cpu,
            )
            mem = np.select([quiet, down], [mem0, 2.0], mem)
            rps = np.select(
                [quiet, down, leak, over, bad],
                [
                    rps0,
                    rps0 * 0.02,
                    rps0 * (1 - 0.3 * sick),
                    np.where(masked, rps0 * 1.02, rps0 * 1.7),
                    rps0 * (1 - r * sick),
                ],
                rps,
            )
        if blip.any():  # restarting or rolling back this step
            stat = np.where(blip, DOWN, stat)
            latency = np.where(blip, lat0 * 3, latency)
            errors = np.where(blip, 0.5, errors)
            cpu = np.where(blip, cpu0 * 0.4, cpu)
            mem = np.where(blip, mem0 * 0.5, mem)
            rps = np.where(blip, rps0 * 0.4, rps)

        if through and not st.shield[:, i].all():
            passing = ~own_failure & ~st.shield[:, i]
            factor = st.pass_factor[:, i]
            for callee in top.callees[i]:
                live = passing & ~st.breaker[:, callee]
                passed = out[:, callee, 1] * factor
                errors = np.where(live & (passed > errors), np.where(passed < 1.0, passed, 1.0), errors)
                extra = out[:, callee, 0] - top.base_latency[callee]
                latency = np.where(live & (extra > 0.0), latency + extra, latency)
            latency = np.where(passing & (latency > 5000.0), 5000.0, latency)
        if top.callees[i]:
            blocked = (st.secondary == i) & ~own_failure & np.isin(root, top.callees[i])
            if blocked.any():
                root_sick = 1.0 - eff[rows, root]
                blocked &= root_sick > 0.1  # workers blocked on the sick callee: it looks overloaded
                cpu = np.where(blocked, np.maximum(cpu, 91.0 + 7.0 * root_sick), cpu)
        decoy = (st.decoy == i) & ~blip
        if decoy.any():
            level = st.decoy_level
            spike = decoy & (st.decoy_kind == CPU_SPIKE)
            cpu = np.where(spike, np.maximum(cpu, 92.0 + 6.0 * level), cpu)
            latency = np.where(spike, latency * 1.3, latency)
            mem = np.where(decoy & (st.decoy_kind == STEADY_HEAP), np.maximum(mem, 84.0 + 8.0 * level), mem)
            errors = np.where(decoy & (st.decoy_kind == CANARY), np.maximum(errors, 0.015 + 0.025 * level), errors)
        rps = np.where(st.breaker[:, i], rps * 0.1, rps)  # behind open breakers: its callers stopped calling it
        status[:, i] = stat
        out[:, i, 0], out[:, i, 1], out[:, i, 2], out[:, i, 3], out[:, i, 4] = latency, errors, cpu, mem, rps
    return status, out


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
