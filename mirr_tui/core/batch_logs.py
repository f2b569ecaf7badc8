"""The batched env's logs, drawn when asked: a `check_logs` records what its draw needs; the draws run in
order on the env's own log stream (the scalar env's `_read_logs` through the same logs.py functions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .batch_rules import P_ACTIVE, Rows
from .config import DECOY_KINDS, FAULT_MODES
from .draws import load, resume, saved
from .logs import BLAME_TEMPLATES, LOG_TEMPLATES, decoy_fields, draw_log_lines, format_log_lines, log_fields
from .types import LogLine


class BatchLogs:
    """Mixin for BatchIncidentEnv (its `_st`, `_out`, `_logs`, `_bitgen`, `_gen`, `top`, `names`, `n`)."""

    _st: Any
    _out: Any
    _logs: list[dict[str, Any]]
    _bitgen: np.random.PCG64
    _gen: np.random.Generator
    top: Any
    names: tuple[str, ...]
    n: int

    def _record_reads(self, st: Rows, idx: np.ndarray, svc: np.ndarray) -> None:
        k = st.k[idx]
        ctx = {
            "service": svc[idx],
            "step": st.step[idx],
            "root": st.f_root[idx, k],
            "mode": st.f_mode[idx, k],
            "active": st.f_phase[idx, k] == P_ACTIVE,
            "oom": st.f_oom[idx, k],
            "relapsed": st.f_relapsed[idx, k],
            "overload": st.f_overload[idx, k],
            "eff": st.eff[idx],
            "breaker": st.breaker[idx],
            "memory": st.memory[idx],
            "replicas": st.replicas[idx],
            "version": st.version[idx],
            "prev": st.prev[idx],
            "deploy": st.deploy_minutes[idx],
            "decoy": st.decoy[idx],
            "decoy_kind": st.decoy_kind[idx],
            "level": st.decoy_level[idx],
            "secondary": st.secondary[idx],
        }
        for j, e in enumerate(idx.tolist()):
            self._logs[e].setdefault("pending", []).append((ctx, j))

    def _resolve(self, e: int) -> dict[str, Any] | None:
        """Draw env e's pending reads in order; returns its latest read (ids, extras, numbers, context)."""
        book = self._logs[e]
        pending = book.pop("pending", [])
        if pending:
            top, diff = self.top, self.top.difficulty
            if "position" in book:
                resume(self._bitgen, book["position"])
            else:
                load(self._bitgen, tuple(self._st.log_start[e]))  # type: ignore[union-attr]
            for ctx, j in pending:
                i, active = (
                    int(ctx["service"][j]),
                    bool(ctx["active"][j]) and int(ctx["root"][j]) == int(ctx["service"][j]),
                )
                sick, worst = -1, 0.1
                for c in top.callees[i]:
                    if not ctx["breaker"][j, c] and 1.0 - ctx["eff"][j, c] > worst:
                        worst, sick = 1.0 - ctx["eff"][j, c], c
                mode = FAULT_MODES[int(ctx["mode"][j])]
                decoy = DECOY_KINDS[int(ctx["decoy_kind"][j])] if int(ctx["decoy"][j]) == i else None
                ids, extras, numbers = draw_log_lines(
                    self._gen,
                    root_mode=mode if active else None,
                    oom_killed=active and bool(ctx["oom"][j]),
                    relapsed=active and bool(ctx["relapsed"][j]),
                    sick_callee=sick >= 0,
                    red_herrings=diff.red_herrings,
                    lookalikes=diff.lookalikes,
                    signature_share=diff.signature_share,
                    min_signature_lines=diff.min_signature_lines,
                    line_range=top.rules.log_lines,
                    crashed=active and (mode == "crashed" or bool(ctx["oom"][j])),
                    decoy=decoy,
                    secondary=int(ctx["secondary"][j]) == i and sick == int(ctx["root"][j]),
                    breakers=tuple(c for c in top.callees[i] if ctx["breaker"][j, c]),
                )
                book["last"] = {"ids": ids, "extras": extras, "numbers": numbers, "ctx": ctx, "j": j, "i": i}
                book["last"].update(sick=sick, active=active, decoy=decoy)
            book["position"] = saved(self._bitgen)
        return book.get("last")

    def _read_now(self, e: int) -> dict[str, Any] | None:
        out = self._out
        if out is None or out.logs_from[e] < 0:
            return None
        return self._resolve(e)

    def log_templates(self, e: int) -> tuple[tuple[int, ...], int] | None:
        """Env e's read at the last step as template ids (logs.LOG_TEMPLATES) and the blamed callee (-1: none);
        None when it read no logs then. The same as `IncidentEnv.last_log_read` at that step."""
        last = self._read_now(e)
        return None if last is None else (tuple(last["ids"]), last["sick"])

    def log_lines(self, e: int) -> tuple[LogLine, ...] | None:
        """The text of env e's read at the last step (the scalar env's `Observation.logs`), or None."""
        last = self._read_now(e)
        if last is None:
            return None
        ctx, j, i = last["ctx"], last["j"], last["i"]
        version, prev = _text(ctx["version"][j, i]), _text(ctx["prev"][j, i])
        step = int(ctx["step"][j])
        base = self.top.base_latency[i]
        fields = log_fields(
            float(ctx["memory"][j, i]),
            int(ctx["overload"][j]) if last["active"] else 0,
            base,
            int(ctx["replicas"][j, i]),
            version,
            prev,
            int(ctx["deploy"][j]),
            step,
        )
        decoy_args = None
        if last["decoy"] is not None:
            canary = _text(ctx["version"][j, i] + np.array([0, 0, 1]))
            decoy_args = decoy_fields(float(ctx["level"][j]), base, canary, version, step)
        sick = last["sick"]
        return format_log_lines(
            step,
            self.names[i],
            last["ids"],
            last["extras"],
            last["numbers"],
            fields,
            self.names[sick] if sick >= 0 else None,
            decoy_args,
            self.names,
        )

    def log_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """For every env: its last step's read counted per template (n, templates) and the lines blaming each
        service (n, services); zeros for envs that read no logs."""
        counts = np.zeros((self.n, len(LOG_TEMPLATES)), dtype=np.int64)
        blame = np.zeros((self.n, self.top.n), dtype=np.int64)
        if self._out is not None:
            for e in np.flatnonzero(self._out.logs_from >= 0).tolist():
                last = self._resolve(e)
                if last is None:
                    continue
                for t in last["ids"]:
                    counts[e, t] += 1
                if last["sick"] >= 0:
                    blame[e, last["sick"]] = sum(1 for t in last["ids"] if t in BLAME_TEMPLATES)
        return counts, blame


def _text(version: np.ndarray) -> str:
    major, minor, patch = (int(v) for v in version)
    return f"v{major}.{minor}.{patch}"
