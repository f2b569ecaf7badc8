"""core/draws.py: the episode streams and the incident's draws are bit for bit what numpy would draw."""

from __future__ import annotations

import numpy as np

from mirr_tui.core import draws

SEEDS = [0, 1, 5, 2**31 - 2, 2**32 - 1, 2**32, 2**40 + 7, 2**63 - 1, 123_456_789]


def test_stream_states_match_seed_sequence_spawn():
    for seed in [*SEEDS, *range(200)]:
        children = np.random.SeedSequence(seed).spawn(draws.STREAMS)
        expected = [(s["state"]["state"], s["state"]["inc"]) for s in (np.random.PCG64(c).state for c in children)]
        assert draws.stream_states(seed) == expected, seed


def test_seed_words_run_on_arrays_too():
    words = draws.seed_words(np.array(SEEDS, dtype=np.uint64))
    for j, seed in enumerate(SEEDS):
        assert [draws.pcg_state([int(w[j]) for w in words[c]]) for c in range(3)] == draws.stream_states(seed)


def _reference(gen, bounds, doubles):
    return [int(gen.integers(o, o + s)) for o, s in bounds], gen.random(doubles).tolist()


def test_incident_draws_match_generator_calls_scalar_and_batched():
    bounds = draws.incident_bounds(5, 4)
    bitgen = np.random.PCG64(0)
    rows, expected = [], []
    for seed in range(1500):
        gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed).spawn(3)[0]))
        expected.append(_reference(gen, bounds, 57))
        draws.load(bitgen, draws.stream_states(seed)[0])
        raw = bitgen.random_raw(draws.raw_count(bounds, 57))
        assert draws.decode_incident(raw.tolist(), bounds, 57, bitgen) == expected[-1]
        rows.append(raw)
    ints, doubles, ok = draws.decode_incidents(np.array(rows), bounds)
    assert ok.all()
    assert [(i.tolist(), d.tolist()) for i, d in zip(ints, doubles)] == [(i, d) for i, d in expected]


def test_a_rejected_lemire_draw_reads_one_more_half_like_numpy():
    # A state whose next output has a zero low half: integers(5) rejects it (leftover 0 < 2**32 % 5) and redraws.
    rng = np.random.default_rng(1)
    inc = draws.stream_states(9)[0][1]
    hi = int(rng.integers(2**63)) | 1
    rot = hi >> 58
    x = int(rng.integers(2**31)) << 32
    rotl = ((x << rot) | (x >> (64 - rot))) & draws.M64 if rot else x
    target = (hi << 64) | (hi ^ rotl)
    inverse = pow(draws._PCG_MULT, -1, 2**128)
    start = ((target - inc) * inverse) % 2**128
    bounds = draws.incident_bounds(5, 4)
    reference = np.random.PCG64(0)
    draws.load(reference, (start, inc))
    expected = _reference(np.random.Generator(reference), bounds, 57)
    bitgen = np.random.PCG64(0)
    draws.load(bitgen, (start, inc))
    raw = bitgen.random_raw(draws.raw_count(bounds, 57))
    assert raw[0] & draws.M32 == 0
    _, _, ok = draws.decode_incidents(raw[None, :], bounds)
    assert not ok[0]  # the batched decoder flags it ...
    # ... the scalar one reads on like numpy: here into the spare half of the last 32-bit output; a block too
    # short for the redraws reads on from the stream, and without the stream there is no answer
    assert draws.decode_incident(raw.tolist(), bounds, 57) == expected
    assert draws.decode_incident(raw.tolist()[:12], bounds, 57) is None
    draws.load(bitgen, (start, inc))
    assert draws.decode_incident(bitgen.random_raw(12).tolist(), bounds, 57, bitgen) == expected


def test_a_saved_position_resumes_the_stream():
    bitgen = np.random.PCG64(0)
    draws.load(bitgen, draws.stream_states(3)[2])
    gen = np.random.Generator(bitgen)
    gen.integers(5)  # leaves a cached 32-bit half
    position = draws.saved(bitgen)
    expected = [int(gen.integers(7)) for _ in range(5)]
    draws.resume(bitgen, position)
    assert [int(gen.integers(7)) for _ in range(5)] == expected
