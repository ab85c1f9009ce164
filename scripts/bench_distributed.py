"""Throughput of `rl --dist.actors N` on this machine: episodes per hour and transitions per second reaching the
learner, the learner's updates per second, and how old the weights an actor acts on are (publish -> load) and what
fetching them costs. Each N is one run of the recipe on the real-arm input (robot state + the GRM's per-view
features, each actor running its own GRM), timed from the first episode's arrival to the last (set-up and
pre-training out).

    .venv/bin/python scripts/bench_distributed.py --model runs/arm/grm/last --actors 1,2 --episodes 12 \
        --workdir runs/arm/dist --out docs/results/distributed_cpu.json"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
from pathlib import Path

import numpy as np

from robo_reward.config import git_revision, write_json
from robo_reward.rl.config import DistConfig, SuccessDemoConfig, rl_config
from robo_reward.rl.distributed import run_distributed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--task", default="pick-place")
    ap.add_argument("--actors", default="1,2")
    ap.add_argument("--episodes", type=int, default=12)
    ap.add_argument("--workdir", type=Path, default=Path("runs/dist_bench"))
    ap.add_argument("--device", default="auto", help="the learner's: auto | cpu | cuda (a GPU learner asks Ray for num_gpus=1)")
    ap.add_argument("--keep-successes", action=argparse.BooleanOptionalAction, default=True,
                    help="rl's default since commit 49470f6; --no-keep-successes reproduces the figures measured before it")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    results = {}
    for n in map(int, args.actors.split(",")):
        out = args.workdir / f"actors{n}"
        cfg = dataclasses.replace(rl_config(task=args.task, out=out, episodes=args.episodes, reward=f"grm:{args.model}",
                                            eval_episodes=0, bc_init_steps=500, critic_pretrain_steps=100, device=args.device),
                                  dist=DistConfig(actors=n), successes=SuccessDemoConfig(keep=args.keep_successes))
        summary = run_distributed(cfg, progress=False)
        rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        t = np.array([r["received_at"] for r in rows])
        span = float(t[-1] - t[0])
        steps = sum(r["length"] for r in rows[1:])
        results[f"actors_{n}"] = {
            "episodes": len(rows), "seconds_first_to_last": span,
            "episodes_per_hour": 3600.0 * (len(rows) - 1) / span, "transitions_per_s": steps / span,
            "mean_episode_length": float(np.mean([r["length"] for r in rows])),
            "success_rate": float(np.mean([r["success"] for r in rows])), "distributed": summary["distributed"]}
    write_json(args.out, {"results": results, "task": args.task, "model": str(args.model), "cpus": os.cpu_count(),
                          "machine": platform.platform(), "git_revision": git_revision()})
    print(args.out.read_text())


if __name__ == "__main__":
    main()
