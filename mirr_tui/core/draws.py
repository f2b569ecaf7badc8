"""The episode's random streams without numpy's per-call cost, bit for bit what numpy draws.

An episode's seed gives three PCG64 streams, exactly as `np.random.SeedSequence(seed).spawn(3)` seeds
`PCG64` (incident, noise, logs). Building those objects costs ~40 µs a reset; `stream_states` computes
the same three (state, increment) pairs with integer arithmetic that runs on Python ints (one env) and on
numpy uint64 arrays (many envs at once, core/batch.py), and the caller loads them into reusable PCG64s.

The incident's integer draws (`Generator.integers(k)`, numpy's Lemire method on 32-bit halves of the
stream) and uniform doubles (`Generator.random`) are decoded from one `random_raw` block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
M128 = (1 << 128) - 1
STREAMS = 3  # incident, noise, logs
# numpy/random/bit_generator.pyx (SeedSequence) and pcg64.h constants
_POOL = 4
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_DOUBLE = 1.0 / 9007199254740992.0  # 2**-53


def _hash_constants(count: int, init: int, mult: int) -> list[int]:
    consts, h = [], init
    for _ in range(count):
        consts.append(h)
        h = (h * mult) & M32
    return consts


# The hash constant's walk never depends on the data, so it is a table: entropy of 5 words (seed low, seed
# high, 0, 0, spawn index: a spawned child's entropy is padded to the pool size) takes 4 + 12 + 4 hashmixes.
# Each hashmix multiplies by the next constant, so the tables hold one more than the mixes they serve.
_HASH_A = _hash_constants(_POOL + _POOL * (_POOL - 1) + _POOL + 1, _INIT_A, _MULT_A)
_HASH_B = _hash_constants(8 + 1, _INIT_B, _MULT_B)


def seed_words(seed: Any) -> list[list[Any]]:
    """For each of the three spawned children of SeedSequence(seed): the 8 uint32 words of
    `generate_state(4, np.uint64)` (little-endian halves). `seed` is an int < 2**64 or a uint64 array.
    (numpy's hashmix and mix written out: this runs at every reset.)"""
    low, high = seed & M32, seed >> 32
    zero = low * 0
    ha = _HASH_A
    pool = []
    for j, word in enumerate((low, high, zero, zero)):
        value = ((word ^ ha[j]) * ha[j + 1]) & M32
        pool.append(value ^ (value >> 16))
    at = _POOL
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                value = ((pool[src] ^ ha[at]) * ha[at + 1]) & M32
                result = (_MIX_L * pool[dst] - _MIX_R * (value ^ (value >> 16))) & M32
                pool[dst] = result ^ (result >> 16)
                at += 1
    children = []
    hb = _HASH_B
    for child in range(STREAMS):
        words = []
        for dst in range(_POOL):
            value = (((zero + child) ^ ha[at + dst]) * ha[at + dst + 1]) & M32
            result = (_MIX_L * pool[dst] - _MIX_R * (value ^ (value >> 16))) & M32
            words.append(result ^ (result >> 16))
        out = []
        for i in range(8):
            value = ((words[i % _POOL] ^ hb[i]) * hb[i + 1]) & M32
            out.append(value ^ (value >> 16))
        children.append(out)
    return children


def pcg_state(words: list[int]) -> tuple[int, int]:
    """PCG64's (state, inc) after seeding from one child's 8 words (pcg64_set_seed), as Python ints."""
    val = [int(words[2 * k]) | (int(words[2 * k + 1]) << 32) for k in range(4)]
    initstate, initseq = (val[0] << 64) | val[1], (val[2] << 64) | val[3]
    inc = ((initseq << 1) | 1) & M128
    return ((inc + initstate) * _PCG_MULT + inc) & M128, inc


def stream_states(seed: int) -> list[tuple[int, int]]:
    """The (state, inc) of the incident, noise and logs streams of an episode's seed."""
    return [pcg_state(words) for words in seed_words(seed)]


def load(bitgen: np.random.PCG64, state: tuple[int, int]) -> None:
    """Put a reusable PCG64 at a stream's start (what `PCG64(child_seed_sequence)` would build)."""
    bitgen.state = {
        "bit_generator": "PCG64",
        "state": {"state": state[0], "inc": state[1]},
        "has_uint32": 0,
        "uinteger": 0,
    }


def saved(bitgen: np.random.PCG64) -> tuple[int, int, int, int]:
    """A PCG64's full position (state, inc, has_uint32, uinteger), to resume it with `resume`."""
    s = bitgen.state
    return s["state"]["state"], s["state"]["inc"], s["has_uint32"], s["uinteger"]


def resume(bitgen: np.random.PCG64, position: tuple[int, int, int, int]) -> None:
    state, inc, has, cached = position
    bitgen.state = {
        "bit_generator": "PCG64",
        "state": {"state": state, "inc": inc},
        "has_uint32": has,
        "uinteger": cached,
    }


def incident_bounds(n_services: int, n_modes: int) -> list[tuple[int, int]]:
    """(offset, range) of each `integers` draw a reset makes, in order: root, mode, each service's version
    (major 1-4, minor 0-19, patch 1-8), each service's replicas (2-4), the deploy's age in minutes (4-39)."""
    return [
        (0, n_services),
        (0, n_modes),
        *([(1, 4), (0, 20), (1, 8)] * n_services),
        *([(2, 3)] * n_services),
        (4, 36),
    ]


def raw_count(bounds: list[tuple[int, int]], doubles: int) -> int:
    """Stream outputs a reset reads when no Lemire draw is rejected (two 32-bit draws per output)."""
    return (len(bounds) + 1) // 2 + doubles


def decode_incident(
    raw: list[int], bounds: list[tuple[int, int]], doubles: int, bitgen: np.random.PCG64 | None = None
) -> tuple[list[int], list[float]] | None:
    """The integers and doubles numpy's `integers` / `random` calls return from these stream outputs.
    A rejected Lemire draw (about one reset in 10**8) reads one more 32-bit half: with `bitgen` (positioned
    right after `raw`) the missing outputs are read from it; without it the answer is None."""
    raw = list(raw)
    pos, half, cached = 0, False, 0
    ints = []

    def next32() -> int:
        nonlocal pos, half, cached
        if half:
            half = False
            return cached
        if pos >= len(raw):
            if bitgen is None:
                raise LookupError
            raw.extend(int(v) for v in bitgen.random_raw(1))
        value = raw[pos]
        pos += 1
        half, cached = True, value >> 32
        return value & M32

    try:
        for offset, span in bounds:
            m = next32() * span
            leftover = m & M32
            if leftover < span:
                threshold = (M32 + 1 - span) % span
                while leftover < threshold:
                    m = next32() * span
                    leftover = m & M32
            ints.append(offset + (m >> 32))
        need = pos + doubles - len(raw)
        if need > 0:
            if bitgen is None:
                raise LookupError
            raw.extend(int(v) for v in bitgen.random_raw(need))
    except LookupError:
        return None
    return ints, [(v >> 11) * _DOUBLE for v in raw[pos : pos + doubles]]


def decode_incidents(raw: np.ndarray, bounds: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`decode_incident` for many streams at once (rows of `raw`, uint64): (ints, doubles, ok). Rows where
    a draw was rejected have ok False and must be decoded one by one with their bitgen."""
    count = len(bounds)
    halves = raw[:, : (count + 1) // 2]
    u32 = np.empty((raw.shape[0], 2 * halves.shape[1]), dtype=np.uint64)
    u32[:, 0::2] = halves & np.uint64(M32)
    u32[:, 1::2] = halves >> np.uint64(32)
    u32 = u32[:, :count]
    offsets = np.array([b[0] for b in bounds], dtype=np.uint64)
    spans = np.array([b[1] for b in bounds], dtype=np.uint64)
    m = u32 * spans
    leftover = m & np.uint64(M32)
    thresholds = np.array([(M32 + 1 - s) % s for _, s in bounds], dtype=np.uint64)
    ok = ~(leftover < thresholds).any(axis=1)
    ints = (offsets + (m >> np.uint64(32))).astype(np.int64)
    doubles = (raw[:, (count + 1) // 2 :] >> np.uint64(11)).astype(np.float64) * _DOUBLE
    return ints, doubles, ok
