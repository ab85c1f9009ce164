"""The reward model on a scene we did not build (issue #42): MetaWorld v3 tasks collected through `collect`
(mixed: expert, stall, near miss, imposter; outcomes from MetaWorld's physics), a model trained by
`train-reward` on some seeds, scored by `eval-reward` on others, rendered as trained and under
`--visual-shift` (cameras moved and turned, lights and colours changed).

Seed ranges, kept apart: train 0..97,000 (each task its own thousand: below), validation 100,000.. (settings are
chosen here), test 200,000.. (reported). The shifted sets replay the same seeds under a shifted scene, so a test
episode and its shifted twin differ only in how they look.

A training set's mix (which episodes are imposters, near misses, stalls; which side an imposter misses on) is
drawn from its seeds. Shared training seeds would give every task the same draws: the first training sets did,
and all 25 of their imposters missed on the same side (5 draws, each repeated in 5 tasks), so the models never saw
an arm miss to the other side and called those test imposters partial. Each task's training seeds therefore start
at 1,000 x (crc32 of its name mod 97). Validation and test seeds stay shared: they only score.

  # the sets (run once; each set is a dataset folder under WORK/data)
  .venv/bin/python scripts/bench_grm_metaworld.py collect --workdir runs/mw42
  # train as a user would: the default train-reward on every task's train set
  .venv/bin/robo-reward train-reward $(.venv/bin/python scripts/bench_grm_metaworld.py train-args --workdir runs/mw42) \\
      --out runs/mw42/models/default-s0 --seed 0
  # score on validation or test, pooled over tasks and per task; JSON under docs/results
  .venv/bin/python scripts/bench_grm_metaworld.py eval --workdir runs/mw42 --models runs/mw42/models/default-s0 \\
      --split test --out docs/results/grm_metaworld_test.json
"""

from __future__ import annotations

import argparse
import platform
import zlib
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.config import git_revision, write_json  # noqa: E402
from robo_reward.data.collect import CollectConfig, collect  # noqa: E402
from robo_reward.envs.tasks.base import SHIFT_PARTS  # noqa: E402
from robo_reward.reward.evaluate import EvalConfig, evaluate, summarize  # noqa: E402
from robo_reward.reward.infer import PERSPECTIVES  # noqa: E402

TASKS = "mw/pick-place-v3,mw/button-press-v3,mw/drawer-close-v3,mw/door-open-v3,mw/door-lock-v3"
SPLITS = {  # name: (first seed, visual shift, shifted parts)
    "train": (0, False, ()),
    # the same training episodes, each in a scene drawn from the suite's training ranges (collect --randomize-appearance)
    "train-random": (0, False, ()),
    "val": (100_000, False, ()),
    "val-shift": (100_000, True, tuple(SHIFT_PARTS)),
    "test": (200_000, False, ()),
    "test-shift": (200_000, True, tuple(SHIFT_PARTS)),
    # diagnostics: the test shift one part at a time, the other parts drawn from the training ranges
    **{f"test-shift-{part}": (200_000, True, (part,)) for part in SHIFT_PARTS},
}
KEYS = ("completion_accuracy", "auroc", "voc_mean", "auroc_vs_imposter", "auroc_vs_near_miss", "auroc_vs_stall",
        "imposter_scored_not_success", "near_miss_scored_not_success", "stage_accuracy")


TRAIN_SEED_STRIDE = 1000  # training episodes per task at most


def first_seed(task: str, split: str) -> int:
    """The split's first seed; training sets get a task's own range (see the module docstring)."""
    seed = SPLITS[split][0]
    return seed + TRAIN_SEED_STRIDE * (zlib.crc32(task.encode()) % 97) if split.startswith("train") else seed


def set_path(work: Path, task: str, split: str) -> Path:
    return work / "data" / f"{task.replace('/', '_')}-{split}"


def _collect_one(job: tuple[str, str, int, Path]) -> dict:
    task, split, episodes, path = job
    _, shift, parts = SPLITS[split]
    seed = first_seed(task, split)
    if (path / "meta" / "info.json").exists():
        return {"set": path.name, "skipped": True}
    summary = collect(CollectConfig(task=task, out=path, episodes=episodes, quality="mixed", seed=seed,
                                    visual_shift=shift, shift_parts=parts or tuple(SHIFT_PARTS),
                                    randomize_appearance=split == "train-random", overwrite=True), progress=False)
    return {"set": path.name, "outcomes": summary["outcomes"], "modes": summary["modes"], "seconds": summary["seconds"]}


def cmd_collect(args) -> None:
    splits = [s for s in args.splits.split(",") if s]
    if any(s.startswith("train") for s in splits) and args.train_episodes > TRAIN_SEED_STRIDE:
        raise SystemExit(f"--train-episodes {args.train_episodes}: at most {TRAIN_SEED_STRIDE} (each task's seed range)")
    sizes = {s: args.train_episodes if s.startswith("train") else args.val_episodes if s.startswith("val") else args.test_episodes
             for s in splits}
    jobs = [(task, split, sizes[split], set_path(args.workdir, task, split)) for split in splits for task in tasks(args)]
    with ProcessPoolExecutor(args.workers) as pool:
        for done in pool.map(_collect_one, jobs):
            print(done, flush=True)


def cmd_train_args(args) -> None:
    print(" ".join(f"--data {set_path(args.workdir, task, args.split)}" for task in tasks(args)))


def _read_rows(csv: Path) -> list[dict]:
    import pandas as pd  # the episodes.csv eval-reward writes

    return pd.read_csv(csv).to_dict("records")


def headline(m: dict) -> dict:
    out = {k: (None if m.get(k) is None else round(float(m[k]), 4)) for k in KEYS if k in m}
    out["episodes"] = m["episodes"]
    out["outcomes"] = m["outcomes"]
    if "imposter_scored_not_success" in m:
        out["imposters_called_success"] = round(1.0 - m["imposter_scored_not_success"], 4)
    out["misses"] = [{k: x[k] for k in ("mode", "outcome", "predicted", "final")} for x in m.get("misses", [])]
    return out


def cmd_eval(args) -> None:
    result: dict = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}", "git_revision": git_revision(),
                    "command": " ".join(sys.argv), "tasks": tasks(args), "split": args.split, "models": {}}
    for model in args.models.split(","):
        model_dir = Path(model)
        entry: dict = {}
        for split in (args.split, f"{args.split}-shift", *args.also):
            pooled: list[dict] = []
            per_task = {}
            for task in tasks(args):
                data = set_path(args.workdir, task, split)
                out = model_dir / "eval" / data.name
                t0 = time.perf_counter()
                m = evaluate(EvalConfig(model=model_dir / "last", data=data, out=out, plots=args.plots, videos=0),
                             progress=False)
                per_task[task] = {**headline(m), "seconds": round(time.perf_counter() - t0, 1)}
                pooled += _read_rows(out / "episodes.csv")
            all_tasks = summarize(pooled, curves=PERSPECTIVES)
            entry[split] = {"pooled": headline(all_tasks), "per_task": per_task}
            p = entry[split]["pooled"]
            print(f"{model_dir.name} {split}: completion {p['completion_accuracy']:.3f} AUROC {p['auroc']:.3f} "
                  f"imposters called success {p.get('imposters_called_success')}", flush=True)
        result["models"][model_dir.name] = entry
    write_json(args.out, result)
    print(f"wrote {args.out}")


def tasks(args) -> list[str]:
    return [t for t in args.tasks.split(",") if t]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("collect", "train-args", "eval"):
        p = sub.add_parser(name)
        p.add_argument("--workdir", type=Path, default=Path("runs/mw42"))
        p.add_argument("--tasks", default=TASKS)
    c = sub.choices["collect"]
    c.add_argument("--splits", default="train,val,val-shift,test,test-shift",
                   help=f"comma-separated, of {', '.join(SPLITS)}")
    c.add_argument("--train-episodes", type=int, default=30)
    c.add_argument("--val-episodes", type=int, default=12)
    c.add_argument("--test-episodes", type=int, default=24)
    c.add_argument("--workers", type=int, default=2)
    sub.choices["train-args"].add_argument("--split", choices=("train", "train-random"), default="train")
    e = sub.choices["eval"]
    e.add_argument("--models", required=True, help="comma-separated train-reward run folders")
    e.add_argument("--split", choices=("val", "test"), required=True)
    e.add_argument("--also", type=lambda v: [s for s in v.split(",") if s], default=[],
                   help="more sets to score, e.g. the one-part shifts test-shift-camera,test-shift-light,test-shift-colour")
    e.add_argument("--plots", type=int, default=0)
    e.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    {"collect": cmd_collect, "train-args": cmd_train_args, "eval": cmd_eval}[args.cmd](args)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
