"""How often uniformly random actions solve each MetaWorld v3 task: picks tasks where sparse reward is slow but
not starved (the speed target of #4 needs one). Physics only, no rendering, our control rate and episode length.

    .venv/bin/python scripts/mw_random_success.py --episodes 100 --out docs/results/metaworld_random_success.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from robo_reward.config import write_json
from robo_reward.envs.metaworld import MAX_STEPS, action_repeat, make_raw_env, reset_raw

SEED = 400_000  # episode k resets with SEED + k; actions come from one generator seeded with SEED


def random_successes(name: str, episodes: int, seed: int = SEED) -> int:
    """Episodes of `name` that uniform random actions (held for MetaWorldEnv's action repeat) solve."""
    repeat = action_repeat(None)
    env = make_raw_env(name)
    rng = np.random.default_rng(seed)
    solved = 0
    for ep in range(episodes):
        reset_raw(env, seed + ep)
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
    parser.add_argument("--out", type=Path, default=Path("docs/results/metaworld_random_success.json"))
    args = parser.parse_args()
    if args.episodes < 1 or args.workers < 1:
        parser.error(f"--episodes and --workers must be >= 1, got {args.episodes} and {args.workers}")
    from mw_expert_success import map_over_tasks  # beside this script

    counts = map_over_tasks(random_successes, args.episodes, args.workers)
    names = list(counts)
    ranked = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    write_json(args.out, {"episodes": args.episodes, "max_steps": MAX_STEPS, "seed": SEED, "successes": ranked})
    for name, n in ranked.items():
        if n:
            print(f"{name:32s} {n}/{args.episodes}")
    print(f"{sum(1 for n in counts.values() if not n)} of {len(names)} tasks: never")


if __name__ == "__main__":
    main()
