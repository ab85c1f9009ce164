"""Clones alone (`rl --episodes 0`, or the clones of an `rl --eval-clones` run) side by side: for each named set of runs (one per seed), the evaluation success
per seed, its median, and how the failed evaluation episodes ended (how many subtasks they completed), as JSON.

    .venv/bin/python scripts/clones_summary.py --set views=runs/est/clones_views_s{0,1,2,3,4} \
        --set estimate=runs/est/clones_estimate_s{0,1,2,3,4} --out docs/results/clones.json

Each argument is NAME=DIR (the shell expands NAME=runs/x_s{0,1} to one per run) or a further DIR of the set before."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from robo_reward.config import git_revision, write_json


def per_run(run: Path) -> dict:
    path = run / "eval_clones.json" if (run / "eval_clones.json").exists() else run / "eval.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: is {run} a finished `robo-reward rl --episodes 0` (or --eval-clones) run?")
    ev = json.loads(path.read_text())
    failed = Counter(r["subtasks_completed"] for r in ev["rows"] if not r["success"])
    cfg = json.loads((run / "config.json").read_text())
    return {"run": str(run), "seed": cfg["config"]["seed"], "success_rate": ev["success_rate"],
            "episodes": ev["episodes"], "failures_by_subtasks_completed": dict(sorted(failed.items())),
            "demo_bc_mse": json.loads((run / "pretrain.json").read_text())["bc_mse"]}


def parse_sets(args: list[str]) -> dict[str, list[Path]]:
    """['a=d1', 'a=d2', 'd3', 'b=d4'] -> {'a': [d1, d2, d3], 'b': [d4]}."""
    sets: dict[str, list[Path]] = {}
    name = None
    for a in args:
        if "=" in a:
            name, a = a.split("=", 1)
            sets.setdefault(name, [])
        if name is None:
            raise ValueError(f"{a}: a set starts with NAME=DIR")
        sets[name].append(Path(a))
    return sets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", nargs="+", action="extend", required=True, metavar="NAME=DIR DIR")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    out = {"git_revision": git_revision(), "sets": {}}
    for name, runs in parse_sets(args.set).items():
        rows = [per_run(r) for r in runs]
        out["sets"][name] = {"runs": rows, "median_success": float(np.median([r["success_rate"] for r in rows]))}
        print(f"{name}: {[r['success_rate'] for r in rows]} median {out['sets'][name]['median_success']}")
    write_json(args.out, out)


if __name__ == "__main__":
    main()
