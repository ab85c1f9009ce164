"""GRM benchmark: one run that collects train / held-out / visual-shift sets, trains the multi-view
GRM, a single-view GRM and two per-frame baselines (CNN regressor, SARM-style stage + τ) on the same
data for the same number of steps, evaluates all of them on the same held-out episodes, and times
streaming inference. Writes <out>.json and prints a markdown table for docs/BENCHMARKS.md.

  .venv/bin/python scripts/bench_grm.py --workdir runs/bench_grm --out docs/results/bench_grm
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.config import git_revision, write_json  # noqa: E402
from robo_reward.data.collect import CollectConfig, collect  # noqa: E402
from robo_reward.data.lerobot_io import load_episode, read_info  # noqa: E402
from robo_reward.reward.bank import EpisodeBank  # noqa: E402
from robo_reward.bench.baselines import KINDS, baseline_progress, train_baseline  # noqa: E402
from robo_reward.reward.checkpoint import load_checkpoint  # noqa: E402
from robo_reward.reward.evaluate import episode_row, score_rows, summarize  # noqa: E402
from robo_reward.reward.infer import PERSPECTIVES, Scorer, StreamingScorer  # noqa: E402
from robo_reward.reward.text import embed_texts  # noqa: E402
from robo_reward.reward.train import TrainConfig, train  # noqa: E402

SUITE = ("pick-place", "peg-insert", "drawer-stow")


def collect_sets(work: Path, tasks: list[str], n_train: int, n_test: int) -> dict[str, dict[str, Path]]:
    sets: dict[str, dict[str, Path]] = {}
    for task in tasks:
        name = task.replace("/", "_")
        sets[task] = {"train": work / "data" / f"{name}-train", "test": work / "data" / f"{name}-test"}
        specs = [("train", n_train, 0, False), ("test", n_test, 100_000, False)]
        if task in SUITE:
            sets[task]["shift"] = work / "data" / f"{name}-shift"
            specs.append(("shift", n_test, 200_000, True))
        for split, n, seed, shift in specs:
            path = sets[task][split]
            if not (path / "meta" / "info.json").exists():
                collect(CollectConfig(task=task, out=path, episodes=n, quality="mixed", seed=seed, visual_shift=shift,
                                      overwrite=True))
    return sets


def eval_grm(model_dir: Path, data: Path) -> dict:
    model, tasks, _ = load_checkpoint(model_dir)
    scorer = Scorer(model, tasks)
    info = read_info(data)
    episodes = ((a.episode_index, load_episode(data, a.episode_index, model.cfg.cameras)) for a in info.episodes)
    return summarize(score_rows(scorer, episodes, list(info.subtasks)))


def eval_baseline(model, text_by_task: dict[str, np.ndarray], subtasks: list[str], data: Path, cameras) -> dict:
    info = read_info(data)
    rows = []
    for ann in info.episodes:
        ep = load_episode(data, ann.episode_index, cameras)
        frames = np.stack([ep.images[c] for c in cameras], axis=1)
        idx = np.array([subtasks.index(n) for n in info.subtasks])
        v = baseline_progress(model, frames, text_by_task[ep.task_text], idx)
        rows.append(episode_row(ann.episode_index, ep, {"baseline": v}, list(info.subtasks)))
    return summarize(rows, curves=("baseline",), headline="baseline")


def streaming_latency(model_dir: Path, data: Path, steps: int = 200) -> dict:
    model, tasks, _ = load_checkpoint(model_dir)
    scorer = Scorer(model, tasks)
    ep = load_episode(data, 0, model.cfg.cameras)
    stream = StreamingScorer(scorer, ep.task_text)
    frames = [{c: ep.images[c][t % ep.length] for c in ep.images} for t in range(steps + 20)]
    times = []
    for i, f in enumerate(frames):
        t0 = time.perf_counter()
        stream.step(f)
        if i >= 20:
            times.append((time.perf_counter() - t0) * 1e3)
    return {"fused_step_ms_median": float(np.median(times)), "fused_step_ms_p90": float(np.percentile(times, 90)),
            "threads": torch.get_num_threads()}


def headline(m: dict) -> dict:
    keys = ("completion_accuracy", "auroc", "voc_mean", "auroc_vs_imposter", "auroc_vs_near_miss",
            "imposter_scored_not_success", "stage_accuracy")
    return {k: m.get(k) for k in keys if k in m}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, default=Path("runs/bench_grm"))
    ap.add_argument("--out", type=Path, default=Path("docs/results/bench_grm"))
    ap.add_argument("--tasks", default="pick-place,peg-insert,drawer-stow,mw/pick-place-v3,mw/drawer-close-v3")
    ap.add_argument("--train-episodes", type=int, default=40)
    ap.add_argument("--test-episodes", type=int, default=30)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--augment", default="strong", help="train-reward --augment preset for the GRM variants (the main "
                    "table of docs/BENCHMARKS.md: basic)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: single_view,baselines")
    args = ap.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    skip = set(args.skip.split(","))
    work = args.workdir
    t0 = time.perf_counter()
    sets = collect_sets(work, tasks, args.train_episodes, args.test_episodes)
    train_sets = tuple(str(sets[t]["train"]) for t in tasks)
    result: dict = {"machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, CPU", "git_revision": git_revision(),
                    "command": " ".join(sys.argv), "tasks": tasks, "steps": args.steps, "batch_size": args.batch_size,
                    "image_size": args.image_size, "augment": args.augment, "train_episodes_per_task": args.train_episodes,
                    "test_episodes_per_task": args.test_episodes, "collect_seconds": round(time.perf_counter() - t0, 1)}
    variants = {"grm_multiview": ("front", "side", "wrist")}
    if "single_view" not in skip:
        variants["grm_front_only"] = ("front",)
    for name, cams in variants.items():
        run = work / name
        summary = train(TrainConfig(data=train_sets, out=run, steps=args.steps, batch_size=args.batch_size,
                                    image_size=args.image_size, cameras=cams, checkpoint_every=500,
                                    augment=args.augment))
        result[name] = {"train": summary, "eval": {}}
        for task in tasks:
            for split, path in sets[task].items():
                if split == "train":
                    continue
                m = eval_grm(run / "last", path)
                result[name]["eval"][f"{task}/{split}"] = {"fused": headline(m), **{p: headline(m[p]) for p in PERSPECTIVES[:3]}}
        write_json(args.out.with_suffix(".json"), result)
    result["streaming_cpu"] = streaming_latency(work / "grm_multiview" / "last", sets[tasks[0]]["test"])
    if "baselines" not in skip:
        bank = EpisodeBank([Path(p) for p in train_sets], ("front", "side", "wrist"), progress=False)
        texts = [t.text for t in bank.tasks]
        emb = embed_texts(texts)
        text_by_task = dict(zip(texts, emb, strict=True))
        for kind in KINDS:
            t1 = time.perf_counter()
            model = train_baseline(kind, bank, emb, args.steps, args.batch_size, args.image_size)
            result[f"baseline_{kind}"] = {"train_seconds": round(time.perf_counter() - t1, 1), "eval": {}}
            for task in tasks:
                for split, path in sets[task].items():
                    if split != "train":
                        m = eval_baseline(model, text_by_task, bank.subtasks, path, bank.cameras)
                        result[f"baseline_{kind}"]["eval"][f"{task}/{split}"] = headline(m)
            write_json(args.out.with_suffix(".json"), result)
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    write_json(args.out.with_suffix(".json"), result)
    print(json.dumps(result["streaming_cpu"]))
    print(markdown(result))


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def markdown(result: dict) -> str:
    lines = ["| set | model | completion acc | AUROC | VOC (success) | AUROC vs imposter | AUROC vs near miss |",
             "|---|---|---|---|---|---|---|"]
    models = [m for m in ("grm_multiview", "grm_front_only", "baseline_regress", "baseline_sarm") if m in result]
    sets = list(result["grm_multiview"]["eval"])
    for s in sets:
        for m in models:
            e = result[m]["eval"].get(s)
            if e is None:
                continue
            rows = [("fused", e["fused"])] if m.startswith("grm") else [("", e)]
            if m == "grm_multiview":
                rows += [(p, e[p]) for p in PERSPECTIVES[:3]]
            for p, v in rows:
                label = f"{m} {p}".strip()
                lines.append(f"| {s} | {label} | {_fmt(v.get('completion_accuracy'))} | {_fmt(v.get('auroc'))} | "
                             f"{_fmt(v.get('voc_mean'))} | {_fmt(v.get('auroc_vs_imposter'))} | {_fmt(v.get('auroc_vs_near_miss'))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
