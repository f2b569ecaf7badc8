"""The GRPO policy's features over n envs of a `BatchIncidentEnv` at once: `FeatureTracker.observe` in numpy.

`BatchFeatures.observe(out, moves)` takes what the batched env showed at one step (its `BatchStep`, and the
text of the logs read then, rebuilt by the env) and the policy moves that produced it, and returns the same
(phi, psi, xi, mask) as one `FeatureTracker` per env fed the scalar env's observations, with a leading env
axis, value for value (tests/test_grpo_batch.py compares them on many states). The float operations are the
scalar tracker's, in the same order, so the numbers are equal, not merely close. Log words come from the agent's
own `count_words`, line by line (a line's words do not depend on its neighbours), cached by template.

An env that the batched env restarted at this step (`out.reset`, Gymnasium's next-step auto-reset) starts a
fresh memory, and its move of that step, which the env ignored, is ignored here too.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from mirr_tui.core import FAULT_MODES, Action, EnvConfig
from mirr_tui.core.logs import BLAME_TEMPLATES, BREAKER, TEMPLATE_ID
from mirr_tui.core.observe import alert_cuts

from .grpo import (
    _BELIEF,
    _DIAGNOSED,
    _WORDS,
    DIAGNOSE_START,
    F_GLOBAL,
    F_MATCH,
    F_SERVICE,
    HISTORY,
    SERVICE_FEATURES,
    STATUSES,
    WORD_CAP,
    count_words,
    index_to_action,
    n_actions,
)

_FIXES = ("restart", "rollback", "scale_up")
_CACHE_LIMIT = 100_000  # cached line counts; the cache starts afresh past this
_BREAKER_ID = TEMPLATE_ID[BREAKER]


def _plain_name(name: str) -> bool:
    """A service name that no quoted number, version ("v1.2.3") or request id (6 hex digits) can spell: no
    digit, a letter outside a-f, word characters at both ends (so `\\b` matches it only where it stands)."""
    low = name.lower()
    return (
        bool(low)
        and not any(ch.isdigit() for ch in low)
        and any(ch.isalpha() and ch not in "abcdef" for ch in low)
        and bool(re.match(r"\w", low[0]))
        and bool(re.match(r"\w", low[-1]))
    )


class BatchFeatures:
    """One `FeatureTracker` per env of a batched env, as arrays (env axis first)."""

    def __init__(self, config: EnvConfig, n: int, statuses: tuple[str, ...] = ("ok", "degraded", "down")) -> None:
        self.n = int(n)
        self.names = config.service_names
        s = len(self.names)
        self._lat0 = np.array([spec.baseline.latency_ms for spec in config.services], dtype=np.float64)
        self._rps0 = np.array([spec.baseline.rps for spec in config.services], dtype=np.float64)
        called = {callee for spec in config.services for callee in spec.calls}
        self._entry = np.array([spec.name not in called for spec in config.services])
        self._leaf = np.array([not spec.calls for spec in config.services])
        self.max_steps = config.rules.max_steps
        self.relapse_after = config.rules.relapse_after
        limits = config.alerts
        self._cuts = alert_cuts((limits.error_rate, limits.latency_ms, limits.cpu, limits.memory))
        # the env's status codes -> the agent's one-hot column (1 + index; an unknown status counts as "ok")
        self._status_col = np.array([1 + STATUSES.index(x) if x in STATUSES else 1 for x in statuses])
        self._ok = np.array([x == "ok" for x in statuses])
        self._down = np.array([x == "down" for x in statuses])
        # policy move index -> is it a fix, its service (-1: wait), its mode (-1: not a diagnosis)
        moves = [index_to_action(i, self.names) for i in range(n_actions(s))]
        self.moves = tuple(moves)
        self._move_fix = np.array([a.type in _FIXES for a in moves])
        self._move_service = np.array([self.names.index(a.service) if a.service else -1 for a in moves])
        self._move_mode = np.array([FAULT_MODES.index(a.mode) if a.mode else -1 for a in moves])
        self._line_cache: dict[tuple[Any, ...], Any] = {}  # line counts by (writer, template, blamed) and reads
        self._plain = all(_plain_name(name) for name in self.names)
        self.reset()

    def env_actions(self, actions: tuple[Action, ...]) -> np.ndarray:
        """Policy move index -> the batched env's action id (its `actions` tuple)."""
        index = {a: i for i, a in enumerate(actions)}
        return np.array([index[a] for a in self.moves], dtype=np.int64)

    # ------------------------------------------------------------------ memory
    def reset(self, rows: np.ndarray | None = None) -> None:
        """Forget the episode of these envs (all by default): `FeatureTracker.reset`."""
        n, s, m = self.n, len(self.names), len(FAULT_MODES)
        if rows is None:
            self.page = np.ones(n, dtype=np.int64)
            self.first = np.ones(n, dtype=bool)
            self.read_step = np.full((n, s), -1, dtype=np.int64)
            self.words = np.zeros((n, s, m), dtype=np.int64)
            self.benign = np.zeros((n, s), dtype=np.int64)
            self.named = np.zeros((n, s, s), dtype=bool)  # [env, reader, named service]
            self.blames = np.zeros((n, s), dtype=bool)  # its lines named any service
            self.fixes = np.zeros((n, s), dtype=np.int64)
            self.last_fix = np.full((n, s), -1, dtype=np.int64)
            self.prev_memory = np.full((n, s), np.nan)
            self.prev_error = np.full((n, s), np.nan)
            self.diag_service = np.full(n, -1, dtype=np.int64)
            self.diag_mode = np.full(n, -1, dtype=np.int64)
            return
        self.page[rows] = 1
        self.first[rows] = True
        self._forget_page(rows)
        self.prev_memory[rows] = np.nan
        self.prev_error[rows] = np.nan
        self.diag_service[rows] = -1
        self.diag_mode[rows] = -1

    def _forget_page(self, rows: np.ndarray) -> None:
        self.read_step[rows] = -1
        self.words[rows] = 0
        self.benign[rows] = 0
        self.named[rows] = False
        self.blames[rows] = False
        self.fixes[rows] = 0
        self.last_fix[rows] = -1

    def _read(self, env: Any, e: int, i: int) -> bool:
        """Env e read service i's logs at this step: `count_words` line by line, summed as the tracker counts
        them. A line's count depends only on its writer, its template and the service it blames (the numbers
        and versions it quotes can neither name a service nor spell a signature word, `_plain_name`), so
        counts are cached by (writer, template, blamed); a line first seen is counted from its text. Reads with
        an operator's breaker in them (never in the policy's play) and unusual service names use the text."""
        read = env.log_templates(e)
        if read is None:
            return False
        ids, sick = read
        cache = self._line_cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        plain = self._plain and _BREAKER_ID not in ids
        whole = (i, sick, tuple(sorted(ids)))  # a read's counts do not depend on the order of its lines
        summed = cache.get(whole) if plain else None
        if summed is None:
            keys = [(i, t, sick if t in BLAME_TEMPLATES else -1) for t in ids]
            if not plain:
                counts = [self._count(i, line.text) for line in env.log_lines(e)]
            else:
                if any(key not in cache for key in keys):
                    for key, line in zip(keys, env.log_lines(e), strict=True):
                        cache[key] = self._count(i, line.text)
                counts = [cache[key] for key in keys]
            words = [0] * len(FAULT_MODES)
            benign = 0
            named: set[str] = set()
            for line_words, line_benign, line_named in counts:
                for m, count in enumerate(line_words):
                    words[m] += count
                benign += line_benign
                named.update(line_named)
            summed = (words, benign, bool(named), [n in named for n in self.names])
            if plain:
                cache[whole] = summed
        self.words[e, i], self.benign[e, i], self.blames[e, i], self.named[e, i] = summed
        return True

    def _count(self, i: int, text: str) -> tuple[tuple[int, ...], int, tuple[str, ...]]:
        counted = count_words([text], self.names[i], self.names)
        return counted.words, counted.benign, counted.named

    # ------------------------------------------------------------------ one step
    def observe(
        self, env: Any, out: Any, moves: np.ndarray | None, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`FeatureTracker.observe` for every env, from a `BatchStep`.

        `env` is the `BatchIncidentEnv` that returned `out` (its `log_templates` / `log_lines` give what each
        env read at this step); `moves` are the policy moves (indices) that produced `out`, None at a reset.
        `rows` limits the log reading to these envs (the others' features are computed but meaningless). Returns (phi [n, S, F_SERVICE],
        psi [n, F_GLOBAL], xi [n, S, modes, F_MATCH], mask [n, A]).
        """
        n, s, n_modes = self.n, len(self.names), len(FAULT_MODES)
        fresh = np.asarray(out.reset, dtype=bool)
        if fresh.any():  # these envs started a new incident (auto-reset): their move was not played
            self.reset(np.flatnonzero(fresh))
        step = out.step.astype(np.int64)
        page = out.page.astype(np.int64)
        turned = np.flatnonzero(page != self.page)
        if turned.size:  # a second fault paged the player: reads and fixes belong to the first incident
            self.page[turned] = page[turned]
            self._forget_page(turned)
        live = np.ones(n, dtype=bool) if rows is None else np.isin(np.arange(n), rows)
        played = live & ~fresh
        if moves is not None:
            moves = np.asarray(moves)
            fixed = np.flatnonzero(self._move_fix[moves] & out.valid & played)
            if fixed.size:
                svc = self._move_service[moves[fixed]]
                self.fixes[fixed, svc] += 1
                self.last_fix[fixed, svc] = step[fixed]
        reading = np.flatnonzero((out.logs_from >= 0) & live)
        for e in reading.tolist():
            i = int(out.logs_from[e])
            if self._read(env, e, i):
                self.read_step[e, i] = step[e]
        # the page's committed diagnosis (obs.diagnosis): set by the move that made `diagnosed` true on this page
        diagnosed = np.asarray(out.diagnosed, dtype=bool)
        if moves is not None:
            new = diagnosed & (self.diag_service < 0) & played
            if new.any():
                self.diag_service[new] = self._move_service[moves[new]]
                self.diag_mode[new] = self._move_mode[moves[new]]
        self.diag_service[~diagnosed] = -1
        self.diag_mode[~diagnosed] = -1
        has_diag = self.diag_service >= 0

        metrics = out.metrics
        latency, error, cpu, memory, rps = (metrics[:, :, j] for j in range(5))
        status = out.statuses.astype(np.int64)
        stale = np.asarray(out.stale, dtype=bool)
        read = self.read_step >= 0
        blamed_by = self.named.sum(axis=1)  # [env, service]: how many read services' lines name it
        fixed_any = self.last_fix >= 0
        any_fix = fixed_any.any(axis=1)
        since_any = step - np.where(fixed_any, self.last_fix, np.iinfo(np.int64).min // 2).max(axis=1)
        relapse = self.relapse_after
        # the alerts a player sees (observe.add_alerts: one per stale scrape, status and metric over its cut)
        n_alerts = _alert_count(self._cuts, self._ok, status, stale, latency, error, cpu, memory)

        psi = np.empty((n, F_GLOBAL), dtype=np.float64)
        psi[:, 0] = 1.0
        psi[:, 1] = self.first
        psi[:, 2] = (self.max_steps - step) / self.max_steps
        psi[:, 3] = has_diag
        psi[:, 4] = out.can_diagnose
        psi[:, 5] = page >= 2
        psi[:, 6] = any_fix
        psi[:, 7] = any_fix & (since_any < relapse)
        psi[:, 8] = any_fix & (since_any >= relapse)
        psi[:, 9] = read.sum(axis=1) / s
        psi[:, 10] = (read & (self.words.sum(axis=2) > 0)).any(axis=1)
        psi[:, 11] = np.minimum(n_alerts, 10) / 10
        psi[:, 12] = error.max(axis=1)
        psi[:, 13] = ~np.asarray(out.valid, dtype=bool)

        phi = np.zeros((n, s, F_SERVICE), dtype=np.float64)
        phi[:, :, 0] = 1.0
        np.put_along_axis(phi, self._status_col[status][..., None], 1.0, axis=2)
        ok = self._ok[status]
        phi[:, :, 4] = stale
        phi[:, :, 5] = error
        phi[:, :, 6] = error > 0.2
        phi[:, :, 7] = ok & (error > 0.2)
        phi[:, :, 8] = np.minimum(np.log(np.maximum(latency, 1.0) / self._lat0), 5.0) / 5.0
        phi[:, :, 9] = cpu / 100
        phi[:, :, 10] = cpu > 85
        phi[:, :, 11] = memory / 100
        phi[:, :, 12] = memory > 80
        phi[:, :, 13] = np.minimum(rps / self._rps0, 2.0) / 2.0
        seen = ~np.isnan(self.prev_memory)
        phi[:, :, 14] = np.where(seen, np.clip((memory - self.prev_memory) / 10, -1, 1), 0.0)
        phi[:, :, 15] = np.where(seen, np.clip(error - self.prev_error, -1, 1), 0.0)
        self.prev_memory = memory.copy()
        self.prev_error = error.copy()
        entry = np.broadcast_to(self._entry, (n, s))
        phi[:, :, 16] = entry
        phi[:, :, 17] = self._leaf
        phi[:, :, 18] = read
        logs_from = np.asarray(out.logs_from)
        phi[:, :, 19] = (logs_from[:, None] == np.arange(s)) & read & (self.read_step == step[:, None])
        phi[:, :, 20] = np.where(read, np.minimum(step[:, None] - self.read_step, 6) / 6, 0.0)
        words = np.where(read[..., None], np.minimum(self.words / WORD_CAP, 1.0), 0.0)
        phi[:, :, _WORDS : _WORDS + n_modes] = words
        phi[:, :, _WORDS + n_modes] = np.where(read, np.minimum(self.benign / 2.0, 1.0), 0.0)
        blames = read & self.blames
        has_words = words.any(axis=2)
        c = _WORDS + n_modes + 1
        phi[:, :, c] = blames
        phi[:, :, c + 1] = np.minimum(blamed_by / 2.0, 1.0)
        phi[:, :, c + 2] = (blamed_by > 0) & ~read
        phi[:, :, c + 3] = entry & ~read
        phi[:, :, c + 4] = read & ~blames & ~has_words
        phi[:, :, c + 5] = has_words & ~blames
        here = has_diag[:, None] & (self.diag_service[:, None] == np.arange(s))  # the diagnosed service
        env_rows, svc_rows = np.nonzero(here)
        phi[env_rows, svc_rows, _DIAGNOSED + self.diag_mode[env_rows]] = 1.0
        belief = np.where(here, 1 + self.diag_mode[:, None], 0)
        recent = (step[:, None] - np.where(self.last_fix >= 0, self.last_fix, 0)) < relapse
        history = np.where(self.fixes == 0, 0, np.where(self.fixes >= 2, 3, np.where(recent, 1, 2)))
        np.put_along_axis(phi, (_BELIEF + belief * len(HISTORY) + history)[..., None], 1.0, axis=2)
        phi[:, :, len(SERVICE_FEATURES) :] = psi[:, None, :]

        xi = np.zeros((n, s, n_modes, F_MATCH), dtype=np.float64)
        xi[:, :, 0, -1] = self._down[status] | stale
        xi[:, :, 1, -1] = (memory > 80) | (phi[:, :, 14] > 0.3)
        xi[:, :, 2, -1] = cpu > 85
        xi[:, :, 3, -1] = ok & (error > 0.1)
        total = words.sum(axis=2)
        top = words.max(axis=2)
        blamed_or_entry = (blamed_by > 0) | entry
        is_top = ((words > 0) & (words == top[..., None])).astype(np.float64)
        logs = read[..., None]
        xi[:, :, :, 0] = np.where(logs, words, 0.0)
        xi[:, :, :, 1] = np.where(logs, total[..., None] - words, 0.0)
        xi[:, :, :, 2] = np.where(logs, is_top, 0.0)
        xi[:, :, :, 3] = np.where(logs, is_top * ~blames[..., None], 0.0)
        xi[:, :, :, 4] = np.where(logs, is_top * blamed_or_entry[..., None], 0.0)
        xi[:, :, :, 5] = np.where(logs, is_top * blames[..., None], 0.0)
        xi[:, :, :, 6] = np.where(logs, (total == 0)[..., None], 0.0)

        mask = np.ones((n, n_actions(s)), dtype=bool)
        start = DIAGNOSE_START * s
        mask[:, start : start + n_modes * s] = np.asarray(out.can_diagnose, dtype=bool)[:, None]
        self.first[:] = False
        return phi, psi, xi, mask


def _alert_count(
    cuts: tuple[float, float, float, float],
    ok: np.ndarray,
    status: np.ndarray,
    stale: np.ndarray,
    latency: np.ndarray,
    error: np.ndarray,
    cpu: np.ndarray,
    memory: np.ndarray,
) -> np.ndarray:
    """How many alerts each env shows (the length of `Observation.alerts`)."""
    c_err, c_lat, c_cpu, c_mem = cuts
    per = stale.astype(np.int64) + ~ok[status] + (error >= c_err) + (latency >= c_lat) + (cpu >= c_cpu)
    return (per + (memory >= c_mem)).sum(axis=1)
