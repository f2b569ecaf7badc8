"""stable-baselines3 on MIRR's numeric observation: SB3's own `check_env`, then PPO (or MaskablePPO with
`action_masks()`) for a fixed budget, then held-out success on seeds it never trained on.

Needs the `sb3` extra (`pip install -e ".[gym,sb3]"`: stable-baselines3, sb3-contrib, torch; CPU is enough).

    .venv/bin/python bench/sb3_ppo.py [--steps 20000] [--masked] [--episodes 200] [--difficulty normal]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium
import numpy as np

HELD_OUT = 900_000  # evaluation seeds start here; training resets draw their own


def make(difficulty: str) -> gymnasium.Env:
    from gymnasium.wrappers import FlattenObservation

    return FlattenObservation(gymnasium.make("mirr_tui:MIRR-v0", observation="numeric", difficulty=difficulty))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="training env steps")
    parser.add_argument("--masked", action="store_true", help="MaskablePPO with the env's action_masks()")
    parser.add_argument("--episodes", type=int, default=200, help="held-out evaluation episodes")
    parser.add_argument("--difficulty", default="normal")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from stable_baselines3.common.env_checker import check_env

    check_env(gymnasium.make("mirr_tui:MIRR-v0", observation="numeric", difficulty=args.difficulty).unwrapped)
    print("stable_baselines3.common.env_checker.check_env: passed on observation='numeric'")

    env = make(args.difficulty)
    if args.masked:
        from sb3_contrib import MaskablePPO
        from sb3_contrib.common.wrappers import ActionMasker

        env = ActionMasker(env, lambda e: e.unwrapped.action_masks())
        model = MaskablePPO("MlpPolicy", env, seed=args.seed, verbose=0, device="cpu")
    else:
        from stable_baselines3 import PPO

        model = PPO("MlpPolicy", env, seed=args.seed, verbose=0, device="cpu")
    started = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    trained = time.perf_counter() - started

    outcomes, rewards = [], []
    for n in range(args.episodes):
        obs, _ = env.reset(seed=HELD_OUT + n)
        done, total = False, 0.0
        while not done:
            if args.masked:
                action, _ = model.predict(obs, deterministic=True, action_masks=env.unwrapped.action_masks())
            else:
                action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(np.asarray(action)))
            total += float(reward)
            done = terminated or truncated
        outcomes.append(env.unwrapped.core.state.outcome)
        rewards.append(total)
    success = sum(o == "recovered" for o in outcomes) / len(outcomes)
    kind = "MaskablePPO" if args.masked else "PPO"
    print(
        f"{kind}, {args.steps:,} steps at {args.difficulty} in {trained:.0f} s: held-out success {success:.1%}"
        f" over {args.episodes} episodes (seeds {HELD_OUT}..{HELD_OUT + args.episodes - 1}),"
        f" mean reward {statistics.fmean(rewards):+.1f}"
    )


if __name__ == "__main__":
    main()
