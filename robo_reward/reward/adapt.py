"""`robo-reward adapt`: fit a trained GRM to a new task from one expert demonstration.

Pairs come from the one demo (hop labels from its subtask keyframes, or an equal split into
`--subtasks`), with what keeps one trajectory from being memorised: shift/colour jitter, camera
dropout, left-right mirroring (one demo shows one side of a layout drawn on either side), reversed
pairs (rewinds), START/GOAL references, and cross-task negatives (frames of the replayed tasks scored
under the new task's text earn no progress). Against forgetting, pairs from the model's original
training data are mixed in when they are on disk; `--l2sp` can also pull the weights back toward the
parent's after every step, which kept a weaker parent's rejection of imposters (an arm moving without
the object: what one demonstration cannot teach) but costs completion with a parent trained on more tasks."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.data.annotations import frame_stage, validate_spans
from robo_reward.data.importer import equal_split
from robo_reward.data.lerobot_io import DatasetError, read_info
from robo_reward.data.sources import (
    load_as_model_cameras,
    match_cameras,
    parse_camera_map,
    resolve_dataset,
)
from robo_reward.device import resolve_device
from robo_reward.reward.bank import EpisodeBank, PairSampler, SamplerConfig
from robo_reward.reward.checkpoint import TaskTable, load_checkpoint, save_checkpoint
from robo_reward.reward.evaluate import episode_row, summarize, true_progress
from robo_reward.reward.infer import Scorer
from robo_reward.reward.labels import subtask_shares
from robo_reward.reward.model import GRM, ModelConfig
from robo_reward.reward.text import embed_texts
from robo_reward.reward.train import AUGMENTATIONS, train_step
from robo_reward.types import UNKNOWN_OUTCOME, Episode

TRAINABLE = ("full", "heads")
MIN_FRAMES = 8
REPORT_KEYS = ("voc_mean", "completion_accuracy", "auroc", "auroc_vs_imposter", "imposter_scored_not_success",
               "auroc_vs_near_miss", "progress_mae", "stage_accuracy")


@dataclass(frozen=True)
class AdaptConfig:
    model: Path = field(metadata={"help": "parent checkpoint folder (a run's `last`)"})
    demo: str = field(metadata={"help": "dataset holding the demonstration (folder or hf:org/name)"})
    out: Path = field(metadata={"help": "run folder: last/ (the adapted checkpoint), adapt_report.json, plots"})
    episode: int = field(default=0, metadata={"help": "episode index of the demonstration"})
    task: str | None = field(default=None, metadata={"help": "task text (default: the demo's)"})
    subtasks: tuple[str, ...] = field(default=(), metadata={"help": "subtask names: split the demo equally (when it has no annotation)"})
    outcome_from: str = field(default="", metadata={
        "help": "for a demo dataset that records no outcome: all-success (you vouch for it) | last-subtask | labels:FILE.json"})
    steps: int = field(default=600, metadata={"help": "fine-tuning steps"})
    batch_size: int = field(default=32, metadata={"help": "pairs per step"})
    lr: float = field(default=1e-4, metadata={"help": "AdamW learning rate"})
    trainable: str = field(default="full", metadata={"help": "full | heads (freeze the image encoder: parameter-efficient)"})
    l2sp: float = field(default=0.0, metadata={"help": "pull toward the parent's weights after each step (L2-SP, decoupled: "
                                                       "θ -= lr·l2sp·(θ − θ_parent)), e.g. 300: keeps a parent's reading of the "
                                                       "scene (imposters) when mirroring or a weaker parent loses it; 0 = off"})
    replay: tuple[str, ...] = field(default=(), metadata={"help": "original training datasets to mix in (default: those the parent was trained on, when present)"})
    no_replay: bool = field(default=False, metadata={"help": "do not mix in original training data"})
    replay_share: float = field(default=0.3, metadata={"help": "share of pairs drawn from replayed data"})
    replay_episodes: int = field(default=6, metadata={"help": "episodes loaded per replayed dataset"})
    cross_task: float = field(default=0.1, metadata={"help": "share of demo queries replaced by another task's frame (progress 0)"})
    eval: str | None = field(default=None, metadata={"help": "dataset of held-out episodes of the task: report before/after"})
    camera_map: tuple[str, ...] = field(default=(), metadata={"help": "dataset_camera=model_camera pairs"})
    augment: str = field(default="colour-mirror", metadata={"help": f"image augmentation preset: {' | '.join(AUGMENTATIONS)} "
                                                                    "(train-reward's; colour-mirror also flips each view left-right "
                                                                    "at random: one demo shows one side of a layout)"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    seed: int = field(default=0, metadata={"help": "random seed"})

    def validate(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"--augment {self.augment!r}: choose from {', '.join(AUGMENTATIONS)}")
        if self.trainable not in TRAINABLE:
            raise ValueError(f"--trainable must be one of {TRAINABLE}, got {self.trainable!r}")
        if self.l2sp < 0:
            raise ValueError(f"--l2sp must be >= 0, got {self.l2sp}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("--steps and --batch-size must be >= 1")
        if not 0.0 <= self.replay_share < 1.0 or not 0.0 <= self.cross_task < 1.0:
            raise ValueError("--replay-share and --cross-task must be in [0, 1)")
        if self.task is not None and not self.task.strip():
            raise ValueError("--task is empty: give the task text (or leave it out to use the demo's)")


@dataclass(frozen=True)
class Demo:
    episode: Episode  # images keyed by the model's cameras
    subtasks: tuple[str, ...]
    annotation: str  # where the subtask keyframes came from


def load_demo(cfg: AdaptConfig, model_cameras: tuple[str, ...]) -> Demo:
    """The demonstration, checked (cameras, index, length, outcome, subtasks) before any training."""
    root = resolve_dataset(cfg.demo)
    info = read_info(root, annotated=False, outcome_from=cfg.outcome_from or None)
    if not any(a.episode_index == cfg.episode for a in info.episodes):
        raise DatasetError(f"{root}: --episode {cfg.episode} is out of range (it has episodes "
                           f"{info.episodes[0].episode_index}..{info.episodes[-1].episode_index})")
    feed = match_cameras(info, model_cameras, parse_camera_map(cfg.camera_map))
    ep = load_as_model_cameras(root, cfg.episode, feed, annotated=False)
    where = f"{root}: episode {cfg.episode}"
    if cfg.subtasks:
        spans, subtasks, how = equal_split(ep.length, cfg.subtasks, where), tuple(cfg.subtasks), \
            f"equal split into {', '.join(cfg.subtasks)} (--subtasks)"
    elif ep.subtasks:
        spans, subtasks, how = ep.subtasks, info.subtasks, "the demo's subtask annotation"
    else:
        raise DatasetError(f"{where} has no subtask annotation: pass --subtasks a,b,c (equal split)")
    if ep.length < max(MIN_FRAMES, 2 * len(subtasks)):
        raise DatasetError(f"{where} has {ep.length} frames; adaptation needs at least {max(MIN_FRAMES, 2 * len(subtasks))}")
    outcome = next(a.outcome for a in info.episodes if a.episode_index == cfg.episode)
    if outcome == UNKNOWN_OUTCOME:
        raise DatasetError(f"{where}: the dataset records no outcome ({info.outcome_source}); adapt learns from a "
                           "successful demonstration: pass --outcome-from all-success if this one is")
    if outcome != "success":
        raise DatasetError(f"{where} is labelled {outcome!r} ({info.outcome_source}): adapt from a successful demonstration")
    validate_spans(spans, ep.length, where)
    task = (cfg.task or ep.task_text).strip()
    if not task:
        raise DatasetError(f"{where} has no task text: pass --task")
    ep = replace(ep, task=task, task_text=task, subtasks=spans, outcome=outcome)
    return Demo(ep, subtasks, how)


def grow_subtasks(model: GRM, names: tuple[str, ...]) -> GRM:
    """A copy of `model` whose stage head also covers `names` (new rows start from the mean of the
    existing ones, so the new subtasks begin as 'average' rather than arbitrary)."""
    new = tuple(n for n in names if n not in model.cfg.subtasks)
    if not new:
        return copy.deepcopy(model)
    cfg = ModelConfig(**{**model.cfg.__dict__, "subtasks": tuple(model.cfg.subtasks) + new})
    grown = GRM(cfg).to(next(model.parameters()).device)
    state = model.state_dict()
    last = max(k for k in state if k.startswith("stage_head.") and k.endswith(".weight"))
    bias = last[: -len("weight")] + "bias"
    for key in (last, bias):
        old = state[key]
        state[key] = torch.cat([old, old.mean(0, keepdim=True).expand(len(new), *old.shape[1:])])
    grown.load_state_dict(state)
    return grown.eval()


def with_task(tasks: TaskTable, text: str, subtasks: tuple[str, ...], goal: np.ndarray) -> TaskTable:
    """The task table plus (or with a replaced) entry for `text`, its goal the demo's last frame."""
    t = TaskTable(list(tasks.texts), list(tasks.subtasks), tasks.embeddings.copy(), list(tasks.goals))
    if text in t.texts:
        i = t.texts.index(text)
        t.subtasks[i], t.goals[i] = subtasks, goal
    else:
        t.texts.append(text)
        t.subtasks.append(subtasks)
        t.embeddings = np.concatenate([t.embeddings, embed_texts([text])])
        t.goals.append(goal)
    return t


def replay_roots(cfg: AdaptConfig, parent_meta: dict) -> list[Path]:
    if cfg.no_replay:
        return []
    if cfg.replay:
        return [resolve_dataset(r) for r in cfg.replay]
    return [Path(d) for d in parent_meta.get("train", {}).get("data", []) if (Path(d) / "meta" / "info.json").exists()]


def evaluate_models(models: dict[str, tuple[GRM, TaskTable]], data: str, task: str, camera_map: tuple[str, ...],
                    device: torch.device, progress: bool) -> tuple[dict[str, dict], dict[str, list[np.ndarray]], list[tuple]]:
    """Score `data` under `task` with each model: metrics per model, curves and (index, outcome, mode,
    true progress) per episode for plotting."""
    root = resolve_dataset(data)
    info = read_info(root)
    names = list(info.subtasks)
    first = next(iter(models.values()))[0]
    feed = match_cameras(info, first.cfg.cameras, parse_camera_map(camera_map))
    rows: dict[str, list[dict]] = {k: [] for k in models}
    curves: dict[str, list[np.ndarray]] = {k: [] for k in models}
    episodes = []
    scorers = {k: Scorer(m, t, device) for k, (m, t) in models.items()}
    for ann in tqdm(info.episodes, desc="adapt eval", disable=not progress, unit="ep"):
        ep = load_as_model_cameras(root, ann.episode_index, feed)
        episodes.append((ann.episode_index, ep.outcome, ep.mode, true_progress(ep, names)))  # no frames kept
        for k, scorer in scorers.items():
            pr = scorer.score(ep.images, task)
            row = episode_row(ann.episode_index, ep, {"fused": pr.value}, names)
            if list(scorer.tasks.subtasks[scorer.tasks.index(task)]) == names:  # stage indices comparable
                row["stage_acc"] = float((pr.stage == frame_stage(ep.subtasks, names, ep.length)).mean())
            rows[k].append(row)
            curves[k].append(pr.value)
    return {k: summarize(r, ("fused",)) for k, r in rows.items()}, curves, episodes


def plot_before_after(path: Path, episodes: list, curves: dict[str, list[np.ndarray]], n: int = 6) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = sorted(range(len(episodes)), key=lambda i: (episodes[i][1] != "success", i))
    picks = order[: n // 2] + [i for i in order if episodes[i][1] != "success"][: n - n // 2]
    picks = list(dict.fromkeys(picks))[:n]
    fig, axes = plt.subplots(len(picks), 1, figsize=(7, 1.9 * len(picks)), squeeze=False, sharex=False)
    for ax, i in zip(axes[:, 0], picks, strict=True):
        idx, outcome, mode, true_phi = episodes[i]
        ax.plot(true_phi, "k--", lw=1, label="true")
        for k, style in zip(curves, ("tab:gray", "tab:blue", "tab:orange"), strict=False):
            ax.plot(curves[k][i], color=style, lw=1.5, label=k)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"episode {idx}: {outcome} ({mode})", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


@torch.no_grad()
def pull_toward(params: list[torch.Tensor], anchors: list[torch.Tensor], rate: float) -> None:
    """θ ← θ − rate·(θ − θ_anchor): decoupled L2-SP. With Adam each step moves a weight by about lr
    whatever its gradient, so this holds it within ~1/l2sp of the parent's value."""
    for p, p0 in zip(params, anchors, strict=True):
        p.sub_(rate * (p - p0))


def adapt(cfg: AdaptConfig, progress: bool = True) -> dict:
    """Fine-tune the parent on one demo; write out/last and out/adapt_report.json (+ plot with --eval)."""
    cfg.validate()
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    parent, parent_tasks, parent_meta = load_checkpoint(cfg.model, device)
    demo = load_demo(cfg, parent.cfg.cameras)
    ep = demo.episode
    t0 = time.perf_counter()

    bank = EpisodeBank([], parent.cfg.cameras)
    bank.subtasks = list(parent.cfg.subtasks)  # stage labels index the model's vocabulary (new names go last)
    # the demo is its own sampling source, even when it comes from a dataset the parent's data is replayed from
    entry = bank.add_episode(ep, f"{cfg.demo} (demo)", cfg.episode, demo.subtasks, subtask_shares(demo.subtasks, "equal"))
    goal = entry.frames[-1:]
    replayed = replay_roots(cfg, parent_meta)
    if replayed:
        # the parent's data under the outcome rule it was trained with (or this run's, for other data)
        rule = cfg.outcome_from or parent_meta.get("train", {}).get("outcome_from") or None
        bank.add_datasets(replayed, progress=progress, max_episodes=cfg.replay_episodes, camera_map=parse_camera_map(cfg.camera_map),
                          image_size=parent.cfg.image_size, outcome_from=rule)
    before = grow_subtasks(parent, tuple(bank.subtasks))
    tasks = parent_tasks
    for i, t in enumerate(bank.tasks):  # every task in the bank must be in the table, the demo's with its new goal
        if t.text == ep.task_text:
            tasks = with_task(tasks, t.text, t.subtasks, goal)
        elif t.text not in tasks.texts:
            tasks = with_task(tasks, t.text, t.subtasks, bank.goal_states(i))
    embeddings = np.stack([tasks.embeddings[tasks.index(t.text)] for t in bank.tasks])
    weights = (1.0 - cfg.replay_share, *[cfg.replay_share / len(replayed)] * len(replayed)) if replayed else ()
    sampler = PairSampler(bank, embeddings, SamplerConfig(batch_size=cfg.batch_size, hop_bins=parent.cfg.hop_bins,
                                                          dataset_weights=weights, cross_task=cfg.cross_task if replayed else 0.0),
                          seed=cfg.seed)

    model = copy.deepcopy(before).train()
    if cfg.trainable == "heads":
        for p in model.encoder.parameters():
            p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    parent_params = [p.detach().clone() for p in params] if cfg.l2sp > 0 else []
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(cfg.seed)
    metrics: dict = {}
    bar = tqdm(range(cfg.steps), desc="adapt", disable=not progress)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = cfg.lr * min(1.0, (step + 1) / 20)
        metrics = train_step(model, sampler.sample(), opt, gen, 0.5, AUGMENTATIONS[cfg.augment], device)
        if parent_params:
            pull_toward(params, parent_params, opt.param_groups[0]["lr"] * cfg.l2sp)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{metrics['loss']:.3f}", hop_mae=f"{metrics['hop_mae']:.3f}")
    model.eval()
    seconds = round(time.perf_counter() - t0, 1)

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    adapted_on = {"dataset": str(cfg.demo), "episode": cfg.episode, "task": ep.task_text, "frames": ep.length,
                  "subtasks": [{"name": s.name, "start": s.start, "end": s.end} for s in ep.subtasks],
                  "annotation": demo.annotation, "masked_cameras": [c for c in parent.cfg.cameras if c not in ep.images]}
    lineage = {"parent": {"path": str(cfg.model), "git_revision": parent_meta.get("git_revision"),
                          "step": parent_meta.get("step"), "tasks": parent_tasks.texts},
               "adapted_on": adapted_on, "adapt": run_record(cfg)["config"], "step": cfg.steps,
               "train": parent_meta.get("train", {})}
    save_checkpoint(out / "last", model, tasks, lineage)
    report = run_record(cfg, **lineage, seconds=seconds, final=metrics, replayed=[str(r) for r in replayed],
                        device=str(device))
    if cfg.eval:
        results, curves, episodes = evaluate_models({"before": (before, tasks), "after": (model, tasks)}, cfg.eval,
                                                    ep.task_text, cfg.camera_map, device, progress)
        report["eval"] = {"data": cfg.eval, **results}
        report["l2sp_advice"] = l2sp_advice(report)
        plot_before_after(out / "progress_before_after.png", episodes, curves)
    write_json(out / "adapt_report.json", report)
    return report


# Below this share of the new task's imposters rejected by the parent (before adaptation), the L2-SP pull keeps
# the parent's mistake: a parent that rejects none of them is pulled back toward accepting them
# (docs/BENCHMARKS.md, "when the pull hurts").
PARENT_IMPOSTER_FLOOR = 0.5


def l2sp_advice(report: dict) -> str | None:
    """A note when --eval shows the parent failing the new task's imposters while --l2sp pulls toward it."""
    ev, l2sp = report.get("eval"), report["config"]["l2sp"]
    rejected = ev["before"].get("imposter_scored_not_success") if ev else None
    if l2sp <= 0 or rejected is None or rejected >= PARENT_IMPOSTER_FLOOR:
        return None
    return (f"note: before adaptation the parent rejects {rejected:.0%} of this task's imposters, and --l2sp {l2sp:g} "
            f"holds the adapted model near it; --l2sp 0 may read them better (check with the same --eval)")


def format_report(report: dict) -> str:
    lines = [f"adapted on {report['adapted_on']['dataset']} episode {report['adapted_on']['episode']} "
             f"({report['adapted_on']['frames']} frames; subtasks from {report['adapted_on']['annotation']}) "
             f"in {report['seconds']} s"]
    ev = report.get("eval")
    if ev:
        lines.append(f"{'metric':<30}{'before':>10}{'after':>10}")
        for key in REPORT_KEYS:
            vals = [ev[k].get(key) for k in ("before", "after")]
            if all(v is None for v in vals):
                continue
            lines.append(f"{key:<30}" + "".join(f"{v:>10.3f}" if v is not None else f"{'-':>10}" for v in vals))
    if report.get("l2sp_advice"):
        lines.append(report["l2sp_advice"])
    return "\n".join(lines)
