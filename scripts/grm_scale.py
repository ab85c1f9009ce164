"""What buys the GRM accuracy on held-out and visual-shift episodes: more training steps, or another
augmentation? One run renders the episodes once, trains the same multi-view GRM for a short budget per
`--augment` preset and `--seeds` seed, then (unless `--long-seconds 0`) for a long budget with the first
preset, and scores every model on the same held-out and visual-shift episodes.

Built for the device tool's GPU machine, which has no AV1 decoder and no text encoder: episodes are
rendered in memory on all cores (same seeds and modes as `collect --quality mixed`), never written to
video, and task-text embeddings come from a file made here (`--make-text FILE`). The long budget is
`--long-seconds` of training, measured (its step count fixed from the speed of the first short run, so
both follow the full warm-up + cosine schedule). `--train-episodes 40,160` trains each short run once per
training-set size (the first N episodes of every task) and the long run on the largest: more data vs more steps.

  .venv/bin/python scripts/grm_scale.py --make-text .devdata/text.npz             # here, once
  python3 scripts/grm_scale.py --text .devdata/text.npz --out $OUT --device cuda   # there
  .venv/bin/python scripts/grm_scale.py --out /tmp/scale --device cpu --tiny       # a dry run here
writes scale.json and one checkpoint folder per model (<out>/short or <out>/short-<preset>-s<seed>, <out>/long).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robo_reward.config import git_revision, write_json  # noqa: E402
from robo_reward.data.recording import choose_mode, record_episode  # noqa: E402
from robo_reward.envs import SimConfig, make_env  # noqa: E402
from robo_reward.reward.bank import EpisodeBank, PairSampler, SamplerConfig, pair_batches  # noqa: E402
from robo_reward.reward.checkpoint import TaskTable, save_checkpoint  # noqa: E402
from robo_reward.reward.evaluate import score_rows, summarize  # noqa: E402
from robo_reward.reward.infer import PERSPECTIVES, Scorer  # noqa: E402
from robo_reward.reward.labels import subtask_shares  # noqa: E402
from robo_reward.reward.model import GRM, ModelConfig, count_parameters  # noqa: E402
from robo_reward.reward.train import AUGMENTATIONS, TrainConfig, lr_scale, sampler_workers, train_step  # noqa: E402
from robo_reward.types import Episode  # noqa: E402

TASKS = ("pick-place", "peg-insert", "drawer-stow")
CAMS = ("front", "side", "wrist")
SPLITS = {"train": (0, False), "test": (100_000, False), "shift": (200_000, True)}  # bench_grm's seed ranges


def render(job: tuple) -> Episode:
    """(task, seed, shift[, shift_parts]) -> one `collect --quality mixed` episode."""
    task, seed, shift, *parts = job
    cfg = SimConfig(image_size=96, cameras=CAMS, visual_shift=shift)
    env = make_env(task, replace(cfg, shift_parts=tuple(parts[0])) if parts else cfg)
    try:
        mode = choose_mode("mixed", np.random.default_rng([seed, 7]), env.expert_modes)
        return record_episode(env, mode, seed)
    finally:
        env.close()


def render_sets(counts: dict[str, int], workers: int) -> dict[tuple[str, str], list[Episode]]:
    jobs = [(task, split, SPLITS[split][0] + i, SPLITS[split][1]) for task in TASKS for split, n in counts.items()
            for i in range(n)]
    out: dict[tuple[str, str], list[Episode]] = {}
    with mp.get_context("spawn").Pool(workers) as pool:
        eps = pool.imap(render, [(t, s, sh) for t, _, s, sh in jobs], chunksize=2)
        for (task, split, _, _), ep in tqdm(zip(jobs, eps), total=len(jobs), desc="render", unit="ep"):
            out.setdefault((task, split), []).append(ep)
    return out


def text_table(path: Path | None, texts: list[str]) -> np.ndarray:
    """Embeddings from the carried file, or from the encoder when there is none (here)."""
    if path is None:
        from robo_reward.reward.text import embed_texts

        return embed_texts(texts)
    table = dict(np.load(path))
    missing = [t for t in texts if t not in table]
    if missing:
        raise KeyError(f"{path}: no embedding for tasks {missing}; remake it with --make-text")
    return np.stack([table[t] for t in texts])


def int_list(ap: argparse.ArgumentParser, flag: str, text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        ap.error(f"{flag} must be comma-separated integers, got {text!r}")


def training_bank(sets: dict[tuple[str, str], list[Episode]], n: int, text: Path | None) -> tuple[EpisodeBank, TaskTable]:
    """The first `n` rendered training episodes of every task, labelled as train-reward labels them."""
    bank = EpisodeBank([], CAMS)
    for task in TASKS:
        names = task_spec(task)[1]
        for i, ep in enumerate(sets[(task, "train")][:n]):
            bank.add_episode(ep, f"render:{task}", i, names, subtask_shares(names, "equal"))
    texts = [t.text for t in bank.tasks]
    return bank, TaskTable(texts, [t.subtasks for t in bank.tasks], text_table(text, texts),
                           [bank.goal_states(i) for i in range(len(texts))])


def fit(bank: EpisodeBank, tasks: TaskTable, steps: int, batch: int, device: torch.device, augment: str = "basic",
        seed: int = 0, workers: int = 0, image_size: int = 64) -> tuple[GRM, float]:
    """train-reward's optimisation (same step, schedule, augmentation, sampler and sampler workers) on an
    in-memory bank."""
    torch.manual_seed(seed)
    model = GRM(ModelConfig(cameras=CAMS, image_size=image_size, subtasks=tuple(bank.subtasks))).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=TrainConfig.__dataclass_fields__["lr"].default, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_scale(i, steps))
    sampler = PairSampler(bank, tasks.embeddings, SamplerConfig(batch_size=batch, hop_bins=model.cfg.hop_bins), seed=seed * 1000)
    gen = torch.Generator().manual_seed(seed * 7919)
    batches = pair_batches(sampler, workers, pin_memory=device.type == "cuda")
    model.train()
    t0 = time.perf_counter()
    for _ in tqdm(range(steps), desc=f"train {steps} steps", unit="step", mininterval=5):
        train_step(model, next(batches), opt, gen, 0.5, AUGMENTATIONS[augment], device)
        sched.step()
    batches.close()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return model.eval(), time.perf_counter() - t0


def evaluate(model: GRM, tasks: TaskTable, sets: dict[tuple[str, str], list[Episode]], device: torch.device) -> dict:
    scorer = Scorer(model, tasks, device)
    out = {}
    for (task, split), eps in sets.items():
        if split == "train":
            continue
        m = summarize(score_rows(scorer, enumerate(eps), list(task_spec(task)[1])))
        keys = ("completion_accuracy", "auroc", "voc_mean", "auroc_vs_imposter", "auroc_vs_near_miss")
        out[f"{task}/{split}"] = {p: {k: m[p].get(k) for k in keys} for p in ("fused", *PERSPECTIVES[:3])}
        out[f"{task}/{split}"].update(misses=m["misses"], label_ceiling=m["true_progress_completion_accuracy"])
    return out


@lru_cache(maxsize=None)
def task_spec(task: str) -> tuple[str, tuple[str, ...]]:
    """(task text, subtask names) of a suite task."""
    env = make_env(task, SimConfig(image_size=32, cameras=("front",)))
    try:
        return env.spec.task_text, tuple(env.spec.subtasks)
    finally:
        env.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--text", type=Path, help="task-text embeddings made with --make-text (default: run the encoder)")
    ap.add_argument("--make-text", type=Path, help="write the suite's task-text embeddings to this .npz and exit")
    ap.add_argument("--short-steps", type=int, default=2500, help="the CPU benchmark's budget")
    ap.add_argument("--long-seconds", type=float, default=240.0, help="0: no long run")
    ap.add_argument("--max-long-steps", type=int, default=40_000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--image-size", type=int, default=64,
                    help="model input in px (train-reward --image-size; frames are rendered at 96, the benchmarks' 64)")
    ap.add_argument("--augment", default="basic",
                    help=f"train-reward --augment presets, comma-separated ({', '.join(AUGMENTATIONS)}): one short run "
                         "each (and per seed); the long run uses the first")
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds for the short runs")
    ap.add_argument("--train-episodes", default="40",
                    help="comma-separated training episodes per task: one short run per size (the first N of each task)")
    ap.add_argument("--eval-episodes", type=int, default=30,
                    help="held-out and visual-shift episodes per task (30: bench_grm's sets; more: finer accuracy)")
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1), help="render processes")
    ap.add_argument("--sampler-workers", type=int, default=-1, help="train-reward --sampler-workers")
    ap.add_argument("--tiny", action="store_true", help="a few episodes and steps: a dry run")
    args = ap.parse_args()
    if args.make_text:
        texts = [task_spec(t)[0] for t in TASKS]
        args.make_text.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.make_text, **dict(zip(texts, text_table(None, texts), strict=True)))
        print(f"wrote {args.make_text}: {texts}")
        return 0
    if args.out is None:
        ap.error("--out is required")
    device = torch.device(args.device)
    augments = args.augment.split(",")
    seeds, sizes = int_list(ap, "--seeds", args.seeds), int_list(ap, "--train-episodes", args.train_episodes)
    if min(sizes) < 1:
        ap.error(f"--train-episodes must be positive, got {args.train_episodes!r}")
    if not 16 <= args.image_size <= 96:
        ap.error(f"--image-size must be 16..96 (frames are rendered at 96 px), got {args.image_size}")
    if args.eval_episodes < 1:
        ap.error(f"--eval-episodes must be positive, got {args.eval_episodes}")
    unknown = [a for a in augments if a not in AUGMENTATIONS]
    if unknown:
        ap.error(f"--augment {unknown}: choose from {', '.join(AUGMENTATIONS)}")
    workers = sampler_workers(args.sampler_workers, device)
    counts = {"train": 4, "test": 3, "shift": 3} if args.tiny else {"train": max(sizes), "test": args.eval_episodes, "shift": args.eval_episodes}
    if args.tiny:
        sizes = sorted({min(n, counts["train"]) for n in sizes})
    t0 = time.perf_counter()
    sets = render_sets(counts, args.workers)
    result: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                               f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}",
                    "git_revision": git_revision(), "command": " ".join(sys.argv), "tasks": list(TASKS),
                    "episodes_per_task": counts, "render_seconds": round(time.perf_counter() - t0, 1),
                    "outcomes": {f"{t}/{s}": {o: sum(e.outcome == o for e in eps) for o in ("success", "partial", "failure")}
                                 for (t, s), eps in sets.items()}}
    banks = {n: training_bank(sets, n, args.text) for n in sizes}
    short = 20 if args.tiny else args.short_steps
    suffix = "" if len(sizes) == 1 else "-n{}"
    plans = [((f"short-{a}-s{seed}" if len(augments) + len(seeds) > 2 else "short") + suffix.format(n), a, short, seed, n)
             for seed in seeds for n in sizes for a in augments]  # seed-major: a run cut short still compares the rest
    result["sampler_workers"] = workers
    for name, augment, steps, seed, n in [*plans, ("long", augments[0], 0, seeds[0], max(sizes))]:
        if name == "long":
            if args.long_seconds <= 0:
                break
            rate = short / result[plans[0][0]]["train_seconds"]  # the long budget in steps, from the first run's speed
            steps = 40 if args.tiny else int(min(args.max_long_steps, rate * args.long_seconds))
        bank, tasks = banks[n]
        model, seconds = fit(bank, tasks, steps, args.batch_size, device, augment, seed, workers, args.image_size)
        save_checkpoint(args.out / name, model, tasks, {"train": {"steps": steps, "batch_size": args.batch_size, "augment": augment,
                                                                   "image_size": args.image_size,
                                                                   "seed": seed, "episodes_per_task": n,
                                                                   "data": "rendered in memory (scripts/grm_scale.py)"},
                                                         "step": steps})
        t_eval = time.perf_counter()
        scores = evaluate(model, tasks, sets, device)
        result[name] = {"steps": steps, "augment": augment, "seed": seed, "train_episodes_per_task": n,
                        "image_size": args.image_size,
                        "train_seconds": round(seconds, 1),
                        "pairs_per_s": round(steps * args.batch_size / seconds, 1), "parameters": count_parameters(model),
                        "eval_seconds": round(time.perf_counter() - t_eval, 1), "eval": scores}
        write_json(args.out / "scale.json", result)
        print(name, json.dumps({k: v["fused"]["completion_accuracy"] for k, v in result[name]["eval"].items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
