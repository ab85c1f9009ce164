"""One-shot adaptation benchmark: a GRM trained without the held-out tasks is adapted to each of
them from ONE expert demo, and compared on 30 held-out episodes of that task (success / partial /
failure mix with near misses and imposters) against (a) the same model before adaptation (the task
added with the demo's last frame as GOAL, no training) and (b) the same architecture trained from
scratch on the one demo for the same steps. All three numbers per task come from one run.

Which single demonstration is used moves the result as much as any setting (docs/BENCHMARKS.md), so
`--demos N` repeats the protocol for each of the first N expert episodes of the training set (each a
separate one-shot adaptation) and reports every demo and the mean over them.

  .venv/bin/python scripts/bench_adapt.py --parent runs/bench_adapt/parent_loo/last \
      --held pick-place=runs/bench_grm/data/pick-place --held mw/pick-place-v3=runs/bench_grm/data/mw_pick-place-v3
(uses <prefix>-train for the demo, <prefix>-test for evaluation)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.config import git_revision, write_json  # noqa: E402
from robo_reward.data.lerobot_io import read_info  # noqa: E402
from robo_reward.reward.adapt import AdaptConfig, adapt  # noqa: E402
from robo_reward.reward.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from robo_reward.reward.model import GRM  # noqa: E402

KEYS = ("voc_mean", "completion_accuracy", "auroc", "imposter_scored_not_success", "near_miss_scored_not_success",
        "auroc_vs_imposter", "progress_mae")


def scratch_parent(parent: Path, out: Path) -> Path:
    """An untrained GRM of the parent's configuration (same task table): adapting it = training from scratch."""
    model, tasks, meta = load_checkpoint(parent)
    return save_checkpoint(out, GRM(model.cfg), tasks, {"train": {}, "step": 0, "scratch_of": str(parent)})


def _mean(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


def one_demo(args: argparse.Namespace, task: str, train: Path, test: Path, demo: int, scratch: Path) -> dict:
    """Before / adapted / scratch for one demonstration episode."""
    row: dict = {"demo": f"{train} episode {demo}"}
    for name, parent, extra in (("adapted", args.parent, {"l2sp": args.l2sp}),
                                ("scratch", scratch, {"no_replay": True, "l2sp": 0.0})):
        t0 = time.perf_counter()
        out = args.workdir / f"{task.replace('/', '_')}-demo{demo}-{name}"
        rep = adapt(AdaptConfig(model=parent, demo=str(train), episode=demo, out=out, steps=args.steps, eval=str(test),
                                augment=args.augment, **extra))
        row[f"{name}_seconds"] = round(time.perf_counter() - t0, 1)
        row[f"{name}_adapt_seconds"] = rep["seconds"]
        if name == "adapted":
            row["before"] = {k: rep["eval"]["before"].get(k) for k in KEYS}
        row[name] = {k: rep["eval"]["after"].get(k) for k in KEYS}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parent", type=Path, required=True)
    ap.add_argument("--held", action="append", required=True, help="task=dataset_prefix")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--augment", default=AdaptConfig.augment, help="adapt --augment preset (both the adapted and the scratch model)")
    ap.add_argument("--l2sp", type=float, default=AdaptConfig.l2sp, help="adapt --l2sp for the adapted model (scratch: 0, "
                    "there is no parent to stay close to)")
    ap.add_argument("--demos", type=int, default=1, help="repeat for each of the first N expert episodes of -train "
                    "(one adaptation each); report each and the mean")
    ap.add_argument("--workdir", type=Path, default=Path("runs/bench_adapt"))
    ap.add_argument("--out", type=Path, default=Path("docs/results/bench_adapt.json"))
    args = ap.parse_args()
    if args.demos < 1:
        ap.error(f"--demos must be >= 1, got {args.demos}")
    scratch = scratch_parent(args.parent, args.workdir / "scratch_parent")
    result = {"git_revision": git_revision(), "command": " ".join(sys.argv), "machine": platform.machine(),
              "parent": str(args.parent), "parent_tasks": load_checkpoint(args.parent)[1].texts, "steps": args.steps, "augment": args.augment, "l2sp": args.l2sp,
              "tasks": {}}
    for item in args.held:
        task, prefix = item.split("=", 1)
        train, test = Path(prefix + "-train"), Path(prefix + "-test")
        experts = [a.episode_index for a in read_info(train).episodes if a.mode == "expert"]
        if len(experts) < args.demos:
            raise SystemExit(f"{train}: {len(experts)} expert episodes, --demos {args.demos} asked for")
        row: dict = {"eval": str(test), "demos": []}
        result["tasks"][task] = row
        for demo in experts[: args.demos]:
            row["demos"].append(one_demo(args, task, train, test, demo, scratch))
            row["mean"] = {name: {k: _mean([r[name][k] for r in row["demos"]]) for k in KEYS}
                           for name in ("before", "adapted", "scratch")}
            write_json(args.out, result)  # after every demo: a long run that stops keeps what it measured
        print(task, row["mean"])


if __name__ == "__main__":
    main()
