"""How often uniformly random actions solve each MetaWorld v3 task: picks tasks where sparse reward is slow but
not starved (the speed target of #4 needs one). Physics only, no rendering, our control rate and episode length.

    .venv/bin/python scripts/mw_random_success.py --episodes 100 --out docs/metaworld_random_success.json
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from robo_reward.config import write_json

SUFFIX = "-goal-observable"
SEED = 400_000  # episode k resets with SEED + k; actions come from one generator seeded with SEED


def random_successes(name: str, episodes: int, seed: int = SEED) -> int:
    """Episodes of `name` that uniform random actions (held for MetaWorldEnv's action repeat) solve."""
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE as ENVS

    from robo_reward.envs.metaworld import DEFAULT_HZ, MAX_STEPS, NATIVE_HZ

    repeat = max(1, round(NATIVE_HZ / DEFAULT_HZ))
    env = ENVS[name + SUFFIX]()
    env.seeded_rand_vec = True
    rng = np.random.default_rng(seed)
    solved = 0
    for ep in range(episodes):
        env._freeze_rand_vec = False  # as MetaWorldEnv.reset: a fresh object layout per seed
        env.np_random = np.random.default_rng(seed + ep)
        env.reset()
        for _ in range(MAX_STEPS):
            action = rng.uniform(-1.0, 1.0, 4)
            for _ in range(repeat):
                info = env.step(action)[4]
            if info["success"]:
                solved += 1
                break
    env.close()
    return solved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/metaworld_random_success.json"))
    args = parser.parse_args()
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE as ENVS

    names = sorted(k[: -len(SUFFIX)] for k in ENVS)
    with ProcessPoolExecutor(args.workers) as pool:
        counts = dict(zip(names, pool.map(random_successes, names, [args.episodes] * len(names))))
    ranked = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    from robo_reward.envs.metaworld import MAX_STEPS

    write_json(args.out, {"episodes": args.episodes, "max_steps": MAX_STEPS, "seed": SEED, "successes": ranked})
    for name, n in ranked.items():
        if n:
            print(f"{name:32s} {n}/{args.episodes}")
    print(f"{sum(1 for n in counts.values() if not n)} of {len(names)} tasks: never")


if __name__ == "__main__":
    main()
