"""RA-BC benchmark: plain BC vs RA-BC on the same mixed-quality datasets, same steps, 3 seeds,
success over held-out simulator seeds; an expert-only dataset of the same size as a reference.
Uses a GRM checkpoint for frozen features and progress (e.g. the one bench_grm.py trains).

  .venv/bin/python scripts/bench_rabc.py --model runs/bench_grm/grm_multiview/last \
      --data pick-place=runs/bench_grm/data/pick-place-train --data peg-insert=runs/bench_grm/data/peg-insert-train
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.bc.train import BCConfig, train_bc  # noqa: E402
from robo_reward.config import git_revision, write_json  # noqa: E402
from robo_reward.data.collect import CollectConfig, collect  # noqa: E402
from robo_reward.data.lerobot_io import read_info  # noqa: E402
from robo_reward.reward.evaluate import true_progress  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", action="append", required=True, help="task=dataset_dir (mixed quality)")
    ap.add_argument("--workdir", type=Path, default=Path("runs/bench_rabc"))
    ap.add_argument("--out", type=Path, default=Path("docs/results/bench_rabc.json"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--eval-episodes", type=int, default=50)
    ap.add_argument("--ensemble", type=int, default=1, help="bc --ensemble: clones acting with their mean chunk")
    ap.add_argument("--velocities", action="store_true", help="bc --velocities: joint velocities in the input (the default before)")
    ap.add_argument("--obs", default="state+grm", help="bc --obs: state+grm | privileged (the recorded object state)")
    ap.add_argument("--variants", default="bc,rabc,bc_expert_only",
                    help="comma-separated, from bc, rabc, bc_expert_only, rabc_true_progress (RA-BC on the annotation's "
                         "true progress: how much of the gap to expert-only is the model and how much the rule)")
    args = ap.parse_args()
    result: dict = {"git_revision": git_revision(), "command": " ".join(sys.argv), "model": str(args.model),
                    "steps": args.steps, "eval_episodes": args.eval_episodes, "ensemble": args.ensemble, "velocities": args.velocities, "obs": args.obs, "tasks": {}}
    t0 = time.perf_counter()
    for spec in args.data:
        task, data = spec.split("=", 1)
        info = read_info(Path(data))
        outcomes = {o: sum(e.outcome == o for e in info.episodes) for o in ("success", "partial", "failure")}
        expert = args.workdir / f"{task}-expert"
        if not (expert / "meta" / "info.json").exists():
            collect(CollectConfig(task=task, out=expert, episodes=len(info.episodes), quality="expert", seed=300_000,
                                  overwrite=True))
        runs: dict = {"mixed_outcomes": outcomes}
        wanted = args.variants.split(",")
        variants = {"bc": (data, "none", None), "rabc": (data, "rabc", None), "bc_expert_only": (expert, "none", None)}
        if "rabc_true_progress" in wanted:
            variants["rabc_true_progress"] = (data, "rabc", true_progress_parquet(Path(data), args.workdir / task / "true_progress.parquet"))
        unknown = set(wanted) - set(variants)
        if unknown:
            raise SystemExit(f"unknown --variants {sorted(unknown)}; choose from {sorted(variants)}")
        for name in wanted:
            ds, weighting, progress = variants[name]
            rates = []
            for seed in range(args.seeds):
                s = train_bc(BCConfig(data=Path(ds), out=args.workdir / task / f"{name}-{seed}", reward_model=args.model,
                                      weighting=weighting, progress=progress, steps=args.steps, eval_episodes=args.eval_episodes,
                                      seed=seed, task=task, ensemble=args.ensemble, velocities=args.velocities, obs=args.obs))
                rates.append(s["success_rate"])
            runs[name] = {"success_rates": rates, "median": float(np.median(rates))}
            result["tasks"][task] = runs
            write_json(args.out, result)
        if "rabc" in runs and "bc" in runs:
            runs["rabc_over_bc"] = runs["rabc"]["median"] / max(runs["bc"]["median"], 1e-9)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


def true_progress_parquet(data: Path, out: Path) -> Path:
    """The annotation's own progress (equal subtask shares) in the RA-BC parquet layout."""
    info = read_info(data)
    parts, offset = [], 0
    for ann in info.episodes:
        parts.append(pd.DataFrame({"index": np.arange(offset, offset + ann.length), "episode_index": ann.episode_index,
                                   "frame_index": np.arange(ann.length),
                                   "progress_sparse": true_progress(ann, list(info.subtasks)).astype(np.float32)}))
        offset += ann.length
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(parts, ignore_index=True).to_parquet(out, index=False)
    return out


if __name__ == "__main__":
    main()
