"""The seed space (0 <= seed < 2**63) and secret seeds: benchmark incidents a player cannot guess.

With small known seeds (0-999), an agent that has the source can match the first observation against a
private simulator and read off the fault. A secret seed is drawn from the whole space by the operating
system's generator, so no table of incidents can cover it; it is revealed once the episode has ended (the
final observation's metadata on a `--secret-seeds` server, the replay and the results log), so every
episode can still be re-simulated and verified.
"""

from __future__ import annotations

import secrets

MAX_SEED = 2**63  # seeds are 0 <= seed < MAX_SEED


def secret_seed() -> int:
    return secrets.randbelow(MAX_SEED)
