"""Which part of `--visual-shift` does a GRM fail on? Scores one checkpoint on the same visual-shift episodes
(seeds 200000+, bench_grm's and grm_scale's shift sets) rendered with every part shifted and with one part
at a time (camera pose, lighting, colours), the other parts drawn from the training ranges. Each episode keeps
its layout and expert draws across the variants, so the accuracies are paired.

  .venv/bin/python scripts/shift_parts.py --model runs/grm_scale_data4/long --episodes 100 --out shift_parts.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grm_scale import SPLITS, TASKS, render, task_spec  # noqa: E402
from tqdm import tqdm  # noqa: E402

from robo_reward.config import write_json  # noqa: E402
from robo_reward.envs.tasks.base import SHIFT_PARTS  # noqa: E402
from robo_reward.reward.checkpoint import load_checkpoint  # noqa: E402
from robo_reward.reward.evaluate import score_rows, summarize  # noqa: E402
from robo_reward.reward.infer import Scorer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="GRM checkpoint folder (trained on the suite)")
    ap.add_argument("--tasks", default="peg-insert,drawer-stow")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--parts", default="all," + ",".join(SHIFT_PARTS), help="'all' and/or single parts")
    ap.add_argument("--workers", type=int, default=2, help="render processes")
    ap.add_argument("--out", type=Path, required=True, help="JSON file")
    args = ap.parse_args()
    variants = args.parts.split(",")
    unknown = [v for v in variants if v != "all" and v not in SHIFT_PARTS]
    if unknown:
        ap.error(f"--parts {unknown}: choose from all, {', '.join(SHIFT_PARTS)}")
    not_suite = [t for t in args.tasks.split(",") if t not in TASKS]
    if not_suite:
        ap.error(f"--tasks {not_suite}: the visual shift is drawn for the suite tasks {', '.join(TASKS)}")
    if args.episodes < 1:
        ap.error(f"--episodes must be positive, got {args.episodes}")
    model, tasks, _ = load_checkpoint(args.model)
    missing = [t for t in args.tasks.split(",") if task_spec(t)[0] not in tasks.texts]
    if missing:
        ap.error(f"{args.model}: the model was not trained on {missing} (it knows {tasks.texts})")
    scorer = Scorer(model, tasks)
    result: dict = {"model": str(args.model), "command": " ".join(sys.argv), "episodes": args.episodes}
    first = SPLITS["shift"][0]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for variant in variants:
            parts = tuple(SHIFT_PARTS) if variant == "all" else (variant,)
            for task in args.tasks.split(","):
                jobs = [(task, first + i, True, parts) for i in range(args.episodes)]
                eps = list(tqdm(pool.imap(render, jobs), total=len(jobs), desc=f"{variant} {task}", unit="ep"))
                m = summarize(score_rows(scorer, enumerate(eps), list(task_spec(task)[1])))
                result[f"{variant}/{task}"] = {"completion_accuracy": m["completion_accuracy"], "auroc": m["auroc"],
                                               "misses": m["misses"]}
                print(variant, task, json.dumps({k: m[k] for k in ("completion_accuracy", "auroc")}), flush=True)
                write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
