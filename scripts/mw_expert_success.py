"""How often MetaWorld's own scripted policy solves each v3 task through our adapter (`mw/<task>`: its action
repeat, episode length and success flag), on seeds no other benchmark uses.

    .venv/bin/python scripts/mw_expert_success.py --seeds 3 --out docs/results/metaworld_expert_success.json
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.config import write_json  # noqa: E402
from robo_reward.envs import SimConfig, make_env  # noqa: E402
from robo_reward.envs.metaworld import metaworld_task_names, task_for  # noqa: E402

SEED = 600_000  # episode k resets with SEED + k


def expert_successes(name: str, seeds: int) -> list[bool]:
    """Whether the scripted expert succeeds on `mw/<name>` from each of `seeds` layouts (one 32 px camera)."""
    env = make_env(f"mw/{name}", SimConfig(image_size=32, cameras=("front",)))
    try:
        out = []
        for k in range(seeds):
            ts = env.reset(SEED + k)
            expert = env.expert("expert")
            while not ts.done:
                ts = env.step(expert.act(ts))
            out.append(bool(ts.info.success))
        return out
    finally:
        env.close()


def map_over_tasks(fn, arg, workers: int) -> dict:
    """{task: fn(task, arg)} for every MetaWorld v3 task, in `workers` processes. Spawned, not forked: a fork
    of a process that already runs torch or EGL threads can deadlock (it did under pytest)."""
    names = metaworld_task_names()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return dict(zip(names, pool.map(fn, names, [arg] * len(names))))


def measure(seeds: int, workers: int = 2) -> dict:
    results = map_over_tasks(expert_successes, seeds, workers)
    names = list(results)
    solved = sorted(n for n, r in results.items() if 2 * sum(r) > len(r))
    return {"seeds": seeds, "seed": SEED, "rule": "solved: the expert succeeds on more than half of the seeds",
            "max_steps": {n: task_for(n).max_steps for n in names}, "successes": {n: sum(r) for n, r in results.items()},
            "solved": len(solved), "tasks": len(names), "unsolved": sorted(set(names) - set(solved))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/results/metaworld_expert_success.json"))
    args = parser.parse_args()
    if args.seeds < 1 or args.workers < 1:
        parser.error(f"--seeds and --workers must be >= 1, got {args.seeds} and {args.workers}")
    result = measure(args.seeds, args.workers)
    write_json(args.out, result)
    for name in result["unsolved"]:
        print(f"unsolved: {name} ({result['successes'][name]}/{args.seeds})")
    print(f"the expert solves {result['solved']} of {result['tasks']} tasks")


if __name__ == "__main__":
    main()
