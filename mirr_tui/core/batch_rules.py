"""The rules of env.py and observe.py over arrays: one row per environment (core/batch.py drives them).

Every function mirrors its scalar twin line for line, with the same float operations in the same order, so
the batched env is bit-identical to `IncidentEnv` (tests/test_batch.py compares every field every step).
State lives in `Rows`: numpy arrays whose first axis is the environment; (rows, services) per service,
(rows, 2) per fault slot (a first fault and, at hard, a second one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import DECOY_KINDS, DEFERRED_ROWS, FAULT_MODES, EnvConfig
from .observe import ACTIVE, DORMANT, FIXED, PENDING

PHASES = (PENDING, ACTIVE, DORMANT, FIXED)
P_PENDING, P_ACTIVE, P_DORMANT, P_FIXED = range(4)
CRASHED, LEAK, OVERLOADED, BAD_DEPLOY = (FAULT_MODES.index(m) for m in FAULT_MODES)
CPU_SPIKE, STEADY_HEAP, CANARY, FLAPPING = (DECOY_KINDS.index(k) for k in DECOY_KINDS)
FAULTS = 2  # fault slots per env: the first fault and a compound second
ROW_CODE = {row: i for i, row in enumerate(DEFERRED_ROWS)}


class Rows:
    """A bag of arrays sharing their first axis (the environments)."""

    def take(self, index: Any) -> Rows:
        part = Rows()
        for key, value in self.__dict__.items():
            setattr(part, key, value[index])
        return part

    def put(self, index: Any, part: Rows) -> None:
        for key, value in self.__dict__.items():
            value[index] = getattr(part, key)


class Topology:
    """What the rules read from the config, as arrays (built once per batched env)."""

    def __init__(self, config: EnvConfig, difficulty: str | None) -> None:
        self.config = config
        self.rules = config.rules
        self.rewards = config.rewards
        self.difficulty = config.difficulty(difficulty)
        self.names = config.service_names
        n = self.n = len(self.names)
        index = {name: i for i, name in enumerate(self.names)}
        self.callees = [tuple(index[c] for c in spec.calls) for spec in config.services]
        self.callers = [tuple(j for j, cs in enumerate(self.callees) if i in cs) for i in range(n)]
        order: list[int] = []
        seen: set[int] = set()

        def visit(i: int) -> None:
            if i not in seen:
                seen.add(i)
                for c in self.callees[i]:
                    visit(c)
                order.append(i)

        for i in range(n):
            visit(i)
        self.order = order
        self.calls = np.array([[j in self.callees[i] for j in range(n)] for i in range(n)])  # calls[i][j]: i calls j
        self.entry = next(i for i, callers in enumerate(self.callers) if not callers)
        self.deep = np.array([spec.deep_health_check for spec in config.services])
        base = [spec.baseline for spec in config.services]
        self.base_latency = [b.latency_ms for b in base]
        self.base_cpu = [b.cpu for b in base]
        self.base_memory = [b.memory for b in base]
        self.base_rps = [b.rps for b in base]
        self.memory0 = np.array([b.memory / 100 for b in base])
        self.fix_of_mode = np.array([_KIND[config.fault_modes[m].fix] for m in FAULT_MODES])
        self.row_value = np.array([getattr(config.rewards, row) for row in DEFERRED_ROWS])


ACTION_KINDS = ("check_logs", "diagnose", "restart", "rollback", "scale_up", "circuit_break", "wait")
_KIND = {kind: i for i, kind in enumerate(ACTION_KINDS)}
K_LOGS, K_DIAGNOSE, K_RESTART, K_ROLLBACK, K_SCALE, K_BREAK, K_WAIT = range(len(ACTION_KINDS))


def _at(array: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The current fault's entry of a (rows, FAULTS) array."""
    return array[np.arange(len(k)), k]


def _set_at(array: np.ndarray, k: np.ndarray, value: Any, where: np.ndarray | None = None) -> None:
    rows = np.arange(len(k))
    if where is None:
        array[rows, k] = value
    else:
        array[rows[where], k[where]] = value[where] if isinstance(value, np.ndarray) else value


def previous_version(v: np.ndarray) -> np.ndarray:
    """observe.previous_version over (..., 3) integer versions (major, minor, patch)."""
    out = v.copy()
    zero = v[..., 2] == 0
    out[..., 2] = np.where(zero, 9, v[..., 2] - 1)
    out[..., 1] = np.where(zero, np.maximum(0, v[..., 1] - 1), v[..., 1])
    return out


def defer(st: Rows, top: Topology, row: np.ndarray, where: np.ndarray) -> None:
    """Append one deferred reward row (codes of DEFERRED_ROWS) where `where`; the running sum keeps the order."""
    idx = np.flatnonzero(where)
    if idx.size == 0:
        return
    slot = np.minimum(st.n_deferred[idx], st.deferred_row.shape[1] - 1)
    codes = row[idx] if isinstance(row, np.ndarray) else np.full(idx.size, row)
    st.deferred_row[idx, slot] = codes
    st.deferred_step[idx, slot] = st.step[idx]
    st.n_deferred[idx] += 1
    st.deferred_sum[idx] = st.deferred_sum[idx] + top.row_value[codes]


def start_fault(st: Rows, top: Topology, where: np.ndarray) -> None:
    """env._start_fault for the current fault of the rows in `where`."""
    idx = np.flatnonzero(where)
    if idx.size == 0:
        return
    k = st.k[idx]
    r = st.f_root[idx, k]
    mode = st.f_mode[idx, k]
    st.f_phase[idx, k] = P_ACTIVE
    st.f_started[idx, k] = st.step[idx]
    bad = mode == BAD_DEPLOY
    i, rr = idx[bad], r[bad]
    st.prev[i, rr] = st.version[i, rr]
    st.version[i, rr, 2] += 1
    leak = mode == LEAK
    i, rr = idx[leak], r[leak]
    st.memory[i, rr] = np.where(st.f_masked[i, k[leak]], 0.99, st.f_leak_start[i, k[leak]])
    over = mode == OVERLOADED
    i, rr = idx[over], r[over]
    rules = top.rules
    st.own[i, rr] = np.minimum(st.own[i, rr], rules.overload_health + rules.overload_decay)


def advance(st: Rows, top: Topology, cascade: bool) -> np.ndarray:
    """env._advance for every row. Returns where a second fault paged the player."""
    rules = top.rules
    rows = np.arange(len(st.k))
    k = st.k
    phase = st.f_phase[rows, k]
    nxt = np.minimum(k + 1, FAULTS - 1)
    paged = (phase == P_FIXED) & (k + 1 < st.n_faults)
    paged &= st.step >= st.f_fixed_at[rows, k] + st.f_delay[rows, nxt]
    if paged.any():
        st.k = k = np.where(paged, k + 1, k)
        start_fault(st, top, paged)
        st.window |= paged
        st.page += paged
    r = st.f_root[rows, k]
    phase = st.f_phase[rows, k]
    mode = st.f_mode[rows, k]
    relapse = (phase == P_DORMANT) & (st.step >= st.f_relapse_at[rows, k])
    if relapse.any():
        phase = np.where(relapse, P_ACTIVE, phase)
        st.f_phase[rows, k] = phase
        st.f_relapsed[rows[relapse], k[relapse]] = True
    own = st.own
    is_root = np.arange(top.n)[None, :] == r[:, None]
    heal = ~is_root | (phase == P_FIXED)[:, None]
    np.copyto(own, np.minimum(1.0, own + rules.recovery_rate), where=heal)
    active = phase == P_ACTIVE
    own_r = own[rows, r]
    crashed = active & (mode == CRASHED)
    leak = active & (mode == LEAK)
    over = active & (mode == OVERLOADED)
    bad = active & (mode == BAD_DEPLOY)
    if leak.any():
        mem = st.memory[rows, r]
        mem = np.where(leak, np.minimum(1.0, mem + rules.leak_rate), mem)
        st.memory[rows, r] = mem
        oom = st.f_oom[rows, k] | (leak & (mem >= 1.0))
        st.f_oom[rows, k] = oom
        own_r = np.where(leak, np.where(oom, 0.0, _leak_health(mem)), own_r)
    if over.any():
        st.f_overload[rows, k] += over
        own_r = np.where(over, np.maximum(0.05, own_r - rules.overload_decay), own_r)
    own_r = np.where(crashed, 0.0, own_r)
    own_r = np.where(bad, st.f_bad_health[rows, k], own_r)
    own_r = np.where(phase == P_DORMANT, 1.0, own_r)
    own[rows, r] = own_r
    np.copyto(own, np.minimum(own, rules.restart_blip), where=st.blip)
    np.copyto(own, np.minimum(own, rules.scale_blip), where=st.warmup & ~st.blip)

    contained = st.breaker[rows, r]
    if cascade:
        worse = active & (st.step >= rules.cascade_start) & ~contained
        st.stress = np.where(worse, np.minimum(1.0, st.stress + top.difficulty.cascade_rate), st.stress)
    else:
        worse = np.zeros(len(k), dtype=bool)
    better = ~worse & (phase == P_FIXED)
    st.stress = np.where(better, np.maximum(0.0, st.stress - rules.recovery_rate), st.stress)
    keep = 1.0 - st.stress
    prev = st.eff
    eff = np.empty_like(prev)
    for i, callees in enumerate(top.callees):
        worst = np.zeros(len(k))
        for c in callees:
            sick = np.where(st.breaker[:, c], rules.breaker_degrade, 1.0 - prev[:, c])
            worst = np.where(sick > worst, sick, worst)
        eff[:, i] = own[:, i] * (1.0 - rules.propagation * worst) * keep
    st.eff = eff
    return paged


def _leak_health(memory: np.ndarray) -> np.ndarray:
    return np.where(memory <= 0.75, 1.0, np.maximum(0.2, 1.0 - (memory - 0.75) * 3.2))


def apply(st: Rows, top: Topology, kind: np.ndarray, svc: np.ndarray, mode: np.ndarray, valid: np.ndarray) -> None:
    """env._apply for the valid moves (integer action kinds, services, modes)."""
    rules = top.rules
    rows = np.arange(len(kind))
    k = st.k
    root, fmode, phase = st.f_root[rows, k], st.f_mode[rows, k], st.f_phase[rows, k]
    s = np.maximum(svc, 0)

    diag = valid & (kind == K_DIAGNOSE)
    if diag.any():
        correct = (svc == root) & (mode == fmode) & (phase != P_PENDING)
        _set_at(st.f_diag_service, k, svc, diag)
        _set_at(st.f_diag_mode, k, mode, diag)
        _set_at(st.f_diag_step, k, st.step, diag)
        _set_at(st.f_diag_correct, k, correct, diag)
        defer(st, top, np.where(correct, ROW_CODE["correct_diagnosis"], ROW_CODE["wrong_diagnosis"]), diag)
        st.window &= ~diag

    brk = valid & (kind == K_BREAK)
    if brk.any():
        st.breaker[rows[brk], s[brk]] ^= True

    fix = valid & (kind >= K_RESTART) & (kind <= K_SCALE)
    if not fix.any():
        return
    st.window &= ~fix
    st.breaker[rows[fix], s[fix]] = False
    on_root = (svc == root) & ((phase == P_ACTIVE) | (phase == P_DORMANT))
    right = fix & on_root & (kind == top.fix_of_mode[fmode])
    relapsed = st.f_relapsed[rows, k]
    clock = right & (fmode == LEAK) & ((phase == P_DORMANT) | ~relapsed)  # a restart before the relapse
    fixed = right & ~clock
    if clock.any():
        i, kk, rr = rows[clock], k[clock], root[clock]
        st.f_phase[i, kk] = P_DORMANT
        st.f_relapse_at[i, kk] = st.step[i] + rules.relapse_after
        st.memory[i, rr] = top.memory0[rr]
        st.own[i, rr] = 1.0
        st.f_oom[i, kk] = False
    if fixed.any():
        i, kk, rr = rows[fixed], k[fixed], root[fixed]
        st.f_phase[i, kk] = P_FIXED
        st.f_fixed_at[i, kk] = st.step[i]
        st.own[i, rr] = np.maximum(st.own[i, rr], 1.0 - rules.recovery_rate)
        st.f_oom[i, kk] = False
        st.memory[i, rr] = top.memory0[rr]
        back = kind[fixed] == K_ROLLBACK
        ib, rb = i[back], rr[back]
        old = st.prev[ib, rb]
        st.version[ib, rb], st.prev[ib, rb] = old, previous_version(old)
        up = kind[fixed] == K_SCALE
        st.replicas[i[up], rr[up]] += 2
    if right.any():
        paid = _at(st.f_fix_paid, k)
        new = right & ~paid
        _set_at(st.f_fix_paid, k, True, new)
        _set_at(st.f_fix_step, k, st.step, new)
        correct = _at(st.f_diag_correct, k)
        defer(st, top, np.where(correct, ROW_CODE["correct_fix"], ROW_CODE["lucky_fix"]), new)

    wrong = fix & ~right
    if not wrong.any():
        return
    repeat = np.zeros(len(kind), dtype=bool)  # the fault is gone; paid once already
    for f in range(FAULTS):
        repeat |= (
            (f < st.n_faults)
            & (st.f_root[:, f] == svc)
            & (st.f_phase[:, f] == P_FIXED)
            & (top.fix_of_mode[st.f_mode[:, f]] == kind)
        )
    defer(st, top, np.full(len(kind), ROW_CODE["wrong_fix"]), wrong & ~repeat)
    wr = wrong & on_root
    penalty = wr & (kind == K_RESTART) & (fmode == BAD_DEPLOY)
    if penalty.any():
        i, kk = rows[penalty], k[penalty]
        st.f_bad_health[i, kk] = np.maximum(0.05, st.f_bad_health[i, kk] - rules.bad_restart_penalty)
    up = wrong & (kind == K_SCALE)
    st.replicas[rows[up], s[up]] += 1
    swap = wrong & (kind == K_ROLLBACK)
    if swap.any():
        i, ss = rows[swap], s[swap]
        st.version[i, ss], st.prev[i, ss] = st.prev[i, ss].copy(), st.version[i, ss].copy()
    off = wrong & ~on_root
    st.warmup[rows[off & up], s[off & up]] = True
    blip = off & ~up
    st.blip[rows[blip], s[blip]] = True


def judge(st: Rows, top: Topology) -> tuple[np.ndarray, np.ndarray]:
    """env._judge: returns (the ending row's value, 0 where none; where it ended this step)."""
    rules = top.rules
    eff = st.eff
    total = eff[:, 0].copy()
    for i in range(1, top.n):
        total = total + eff[:, i]  # left to right, as sum() adds
    collapse = total / top.n < rules.collapse_health
    st.collapse = np.where(collapse, st.collapse + 1, 0)
    last = st.f_phase[np.arange(len(st.k)), st.n_faults - 1] == P_FIXED
    healthy = (eff.min(axis=1) >= rules.healthy_health) & last & ~st.breaker.any(axis=1)
    st.confirm = np.where(healthy, st.confirm + 1, 0)
    was = st.done.copy()
    recovered = ~was & (st.confirm >= rules.confirm_steps)
    collapsed = ~was & ~recovered & (st.collapse >= rules.collapse_steps)
    timed_out = ~was & ~recovered & ~collapsed & (st.step >= rules.max_steps)
    value = np.zeros(len(st.k))
    if recovered.any():
        diagnosed = np.ones(len(st.k), dtype=bool)
        for f in range(FAULTS):
            diagnosed &= (f >= st.n_faults) | st.f_diag_correct[:, f]
        defer(st, top, np.where(diagnosed, ROW_CODE["recovery_diagnosed"], ROW_CODE["recovery_undiagnosed"]), recovered)
        unused = rules.max_steps - st.step
        value = np.where(recovered & (unused > 0), top.rewards.efficiency_per_step * unused, value)
    value = np.where(collapsed, top.rewards.collapse, value)
    value = np.where(timed_out, top.rewards.timeout, value)
    ended = recovered | collapsed | timed_out
    st.outcome = np.where(recovered, 0, np.where(collapsed, 1, np.where(timed_out, 2, st.outcome)))
    st.done = was | ended
    # efficiency is paid only with unused steps; the scalar env adds no row otherwise (the sum is the same)
    return value, ended
