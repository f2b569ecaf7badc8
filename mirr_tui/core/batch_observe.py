"""observe.py over arrays: true metrics before noise, the shown (noisy, rounded) metrics, statuses, staleness.
Same float operations in the same order as the scalar builder (see batch_rules.py)."""

from __future__ import annotations

import numpy as np

from .batch_rules import CANARY, CPU_SPIKE, CRASHED, FLAPPING, LEAK, OVERLOADED, P_ACTIVE, STEADY_HEAP, Rows, Topology

OK, DEGRADED, DOWN = 0, 1, 2  # types.STATUSES order


def true_metrics(st: Rows, top: Topology) -> tuple[np.ndarray, np.ndarray]:
    """observe._all_true_metrics: (status codes (rows, services), values (rows, services, 5)).
    The common case (a victim or a healthy service) runs over every row; the rare ones (the active root, a
    restart's blip, a decoy, a blocked caller) only over their rows."""
    rows_n = len(st.k)
    rows = np.arange(rows_n)
    k = st.k
    root = st.f_root[rows, k]
    active = st.f_phase[rows, k] == P_ACTIVE
    through = top.difficulty.pass_through
    calm = st.stress == 0.0
    keep = 1.0 - st.stress
    eff, own, memory_of = st.eff, st.own, st.memory
    status = np.zeros((rows_n, top.n), dtype=np.int8)
    out = np.zeros((rows_n, top.n, 5))
    any_decoy = (st.decoy >= 0).any()
    any_breaker = st.breaker.any()
    for i in top.order:
        lat0, cpu0, mem0, rps0 = top.base_latency[i], top.base_cpu[i], top.base_memory[i], top.base_rps[i]
        blip = st.blip[:, i]
        is_root = active & (root == i)
        own_failure = blip | is_root
        h = eff[:, i]
        memory = memory_of[:, i] * 100
        style = st.style[:, i]

        # a victim or bystander (observe._victim_metrics), every row
        shield = st.shield[:, i]
        shielded = shield & (own[:, i] >= 0.99)
        vh = np.where(shielded, 1.0 - 0.25 * (1.0 - h), h)
        vsick = 1.0 - vh  # (1.0 - h where unshielded: the same value)
        check = vh if top.deep[i] else own[:, i] * keep
        stat = np.where(check < 0.35, DOWN, np.where(check < 0.75, DEGRADED, OK)).astype(np.int8)
        latency = np.minimum(3000.0, lat0 * (1 + style[:, 0] * vsick + style[:, 1] * vsick * vsick))
        errors = np.minimum(1.0, 0.002 + style[:, 2] * vsick)
        cpu = np.maximum(1.0, cpu0 * (1 + style[:, 3] * vsick))
        mem = memory
        rps = rps0 * (1 - style[:, 4] * vsick)

        healthy = calm & ~own_failure & (h >= 1.0)  # the common case: its baseline
        stat[healthy] = OK
        latency[healthy] = lat0
        errors[healthy] = 0.002
        cpu[healthy] = cpu0
        rps[healthy] = rps0

        j = np.flatnonzero(is_root & ~blip)
        if j.size:  # observe._own_metrics for the active root (a blip overrides it below)
            kk = k[j]
            mode, oom = st.f_mode[j, kk], st.f_oom[j, kk]
            masked = st.f_masked[j, kk]
            sick = 1.0 - h[j]
            mo = memory_of[j, i]
            a, e, c, r = style[j, 0], style[j, 2], style[j, 3], style[j, 4]
            down = (mode == CRASHED) | oom
            quiet = st.f_silent[j, kk] & ~down
            leak = ~quiet & ~down & (mode == LEAK)
            over = ~quiet & ~down & (mode == OVERLOADED)
            bad = ~quiet & ~down & ~leak & ~over
            gc = np.maximum(0.0, mo - 0.7)
            overload = st.f_overload[j, kk]
            conds = [quiet, down, leak, over, bad]
            stat[j] = _choose(conds, [OK, DOWN, np.where(mo < 0.95, OK, DEGRADED), DEGRADED, OK], OK)
            latency[j] = _choose(
                conds,
                [
                    lat0,
                    1.0,
                    lat0 * (1 + 8 * sick + 12 * gc),
                    np.minimum(5000.0, lat0 * (5 + 1.5 * overload) * (1 + 2 * sick)),
                    lat0 * (1.0 + a * sick),
                ],
            )
            errors[j] = _choose(
                conds,
                [
                    0.002,
                    1.0,
                    np.minimum(1.0, 0.002 + 0.9 * sick),
                    np.minimum(1.0, 0.002 + 0.8 * sick),
                    np.minimum(1.0, 0.002 + e * sick),
                ],
            )
            cpu[j] = _choose(
                conds,
                [
                    cpu0,
                    0.5,
                    cpu0 * (1 + 2.5 * gc),
                    np.where(masked, st.f_masked_cpu[j, kk], 98.0),
                    np.where(masked, 95.0, cpu0 * (1.0 + np.maximum(0.0, c) * sick)),
                ],
            )
            mem = mem.copy()
            mem[j] = _choose([quiet, down], [mem0, 2.0], mem[j])
            rps[j] = _choose(
                conds,
                [
                    rps0,
                    rps0 * 0.02,
                    rps0 * (1 - 0.3 * sick),
                    np.where(masked, rps0 * 1.02, rps0 * 1.7),
                    rps0 * (1 - r * sick),
                ],
            )
        if blip.any():  # restarting or rolling back this step
            stat[blip] = DOWN
            latency[blip] = lat0 * 3
            errors[blip] = 0.5
            cpu[blip] = cpu0 * 0.4
            mem = np.where(blip, mem0 * 0.5, mem)
            rps[blip] = rps0 * 0.4

        if through and top.callees[i]:
            passing = ~own_failure & ~shield
            factor = st.pass_factor[:, i]
            for callee in top.callees[i]:
                live = passing & ~st.breaker[:, callee] if any_breaker else passing
                passed = out[:, callee, 1] * factor
                raise_ = live & (passed > errors)
                errors[raise_] = np.minimum(passed[raise_], 1.0)
                extra = out[:, callee, 0] - top.base_latency[callee]
                add = live & (extra > 0.0)
                latency[add] += extra[add]
            latency[passing & (latency > 5000.0)] = 5000.0
        if top.callees[i]:
            blocked = (st.secondary == i) & ~own_failure & top.calls[i][root]
            if blocked.any():
                root_sick = 1.0 - eff[rows, root]
                blocked &= root_sick > 0.1  # workers blocked on the sick callee: it looks overloaded
                cpu[blocked] = np.maximum(cpu[blocked], 91.0 + 7.0 * root_sick[blocked])
        if any_decoy:
            j = np.flatnonzero((st.decoy == i) & ~blip)
            if j.size:
                level, kind = st.decoy_level[j], st.decoy_kind[j]
                spike, heap, canary = kind == CPU_SPIKE, kind == STEADY_HEAP, kind == CANARY
                cpu[j] = np.where(spike, np.maximum(cpu[j], 92.0 + 6.0 * level), cpu[j])
                latency[j] = np.where(spike, latency[j] * 1.3, latency[j])
                mem = mem.copy()
                mem[j] = np.where(heap, np.maximum(mem[j], 84.0 + 8.0 * level), mem[j])
                errors[j] = np.where(canary, np.maximum(errors[j], 0.015 + 0.025 * level), errors[j])
        if any_breaker:
            behind = st.breaker[:, i]
            rps[behind] = rps[behind] * 0.1  # behind open breakers: its callers stopped calling it
        status[:, i] = stat
        out[:, i, 0], out[:, i, 1], out[:, i, 2], out[:, i, 3], out[:, i, 4] = latency, errors, cpu, mem, rps
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
