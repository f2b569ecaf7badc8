"""The batched env's per-env views: alerts, impact, diagnosis and the full truth, as the scalar env shows them."""

from __future__ import annotations

from typing import Any

from .batch_logs import _text
from .batch_rules import P_ACTIVE, P_DORMANT, PHASES, Rows
from .config import DECOY_KINDS, DEFERRED_ROWS, FAULT_MODES
from .observe import add_alerts
from .types import OUTCOMES, STATUSES, EnvState, RewardEvent, ServiceTruth


class BatchViews:
    """Mixin for BatchIncidentEnv: one env's text and truth from the arrays."""

    config: Any
    top: Any
    names: tuple[str, ...]
    difficulty: str
    _limits: tuple[float, float, float, float]
    _cuts: tuple[float, float, float, float]
    _require_state: Any  # BatchIncidentEnv's accessors (they raise before reset)
    _require_out: Any

    def alerts(self, e: int) -> tuple[str, ...]:
        """Env e's alerts at the last step (the scalar env's `Observation.alerts`)."""
        out = self._require_out()
        alerts: list[str] = []
        for i, name in enumerate(self.names):
            latency, errors, cpu, memory, _ = out.metrics[e, i].tolist()
            status = STATUSES[int(out.statuses[e, i])]
            add_alerts(
                alerts, name, status, bool(out.stale[e, i]), latency, errors, cpu, memory, self._limits, self._cuts
            )
        return tuple(alerts)

    def impact(self, e: int) -> dict[str, float]:
        st, impact = self._require_state(), self.config.impact
        failed = float(st.failed[e])
        return {
            "failed_requests": round(failed),
            "cost": round(failed * impact.checkout_share * impact.price_per_failed_checkout, 2),
        }

    def diagnosis(self, e: int) -> dict[str, str] | None:
        """Env e's committed diagnosis on its current page."""
        st = self._require_state()
        return _diagnosis(st, e, int(st.k[e]), self.names)

    def state(self, e: int) -> EnvState:
        """Env e's full truth, as `IncidentEnv.state` (episode_id is empty: the batch keeps none)."""
        st = self._require_state()
        names, k = self.names, int(st.k[e])
        n_faults = int(st.n_faults[e])
        faults = range(n_faults)
        phase = [PHASES[int(st.f_phase[e, f])] for f in faults]
        faulty = {int(st.f_root[e, f]) for f in faults if st.f_phase[e, f] in (P_ACTIVE, P_DORMANT)}
        services = {
            name: ServiceTruth(
                name=name,
                health=float(st.eff[e, i]),
                own_health=float(st.own[e, i]),
                memory=float(st.memory[e, i]),
                replicas=int(st.replicas[e, i]),
                version=_text(st.version[e, i]),
                faulty=i in faulty,
            )
            for i, name in enumerate(names)
        }
        fix_step = [None if st.f_fix_step[e, f] < 0 else int(st.f_fix_step[e, f]) for f in faults]
        fault_dicts = tuple(
            {
                "service": names[int(st.f_root[e, f])],
                "mode": FAULT_MODES[int(st.f_mode[e, f])],
                "phase": phase[f],
                "masked": bool(st.f_masked[e, f]),
                "silent": bool(st.f_silent[e, f]),
                "started_at": int(st.f_started[e, f]),
                "diagnosis": _diagnosis(st, e, f, names),
                "diagnosis_step": None if st.f_diag_step[e, f] < 0 else int(st.f_diag_step[e, f]),
                "diagnosis_correct": bool(st.f_diag_correct[e, f]),
                "fix_step": fix_step[f],
            }
            for f in faults
        )
        rewards = self.config.rewards
        pending = tuple(
            RewardEvent(DEFERRED_ROWS[int(code)], getattr(rewards, DEFERRED_ROWS[int(code)]), int(step))
            for code, step in zip(
                st.deferred_row[e, : st.n_deferred[e]], st.deferred_step[e, : st.n_deferred[e]], strict=True
            )
        )
        decoy, secondary = int(st.decoy[e]), int(st.secondary[e])
        outcome = int(st.outcome[e])
        return EnvState(
            episode_id="",
            step_count=int(st.step[e]),
            seed=int(st.seed[e]),
            difficulty=self.difficulty,
            scenario=None,
            root_service=names[int(st.f_root[e, k])],
            fault_mode=FAULT_MODES[int(st.f_mode[e, k])],
            fault_phase=phase[k],
            stress=float(st.stress[e]),
            services=services,
            score=float(st.score[e]),
            diagnosis=_diagnosis(st, e, 0, names),
            diagnosis_correct=all(bool(st.f_diag_correct[e, f]) for f in faults if phase[f] != "pending"),
            fix_step=fix_step[0],
            confirm_streak=int(st.confirm[e]),
            collapse_streak=int(st.collapse[e]),
            done=bool(st.done[e]),
            outcome=OUTCOMES[outcome] if outcome >= 0 else None,
            faults=fault_dicts,
            pending=pending,
            mechanics={
                "pass_through": self.top.difficulty.pass_through,
                "decoy": names[decoy] if decoy >= 0 else None,
                "decoy_kind": DECOY_KINDS[int(st.decoy_kind[e])] if decoy >= 0 else None,
                "secondary": names[secondary] if secondary >= 0 else None,
            },
        )


def _diagnosis(st: Rows, e: int, f: int, names: tuple[str, ...]) -> dict[str, str] | None:
    service = int(st.f_diag_service[e, f])
    if service < 0:
        return None
    return {"service": names[service], "mode": FAULT_MODES[int(st.f_diag_mode[e, f])]}
