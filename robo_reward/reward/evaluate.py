"""`robo-reward eval-reward` and `robo-reward score`: run a GRM over a dataset's episodes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.data.annotations import EpisodeAnnotation, frame_stage
from robo_reward.data.lerobot_io import read_info
from robo_reward.data.sources import (
    load_as_model_cameras,
    match_cameras,
    parse_camera_map,
)
from robo_reward.device import resolve_device
from robo_reward.reward.checkpoint import load_checkpoint
from robo_reward.reward.infer import DEFAULT_FUSION, PERSPECTIVES, Progress, Scorer
from robo_reward.reward.labels import progress_labels, subtask_shares
from robo_reward.reward.metrics import auroc, classify_completion, confusion, voc
from robo_reward.types import Episode


@dataclass(frozen=True)
class EvalConfig:
    model: Path = field(metadata={"help": "checkpoint folder (a run's `last`)"})
    data: Path = field(metadata={"help": "dataset to evaluate on (use seeds the model never saw)"})
    out: Path = field(metadata={"help": "output folder: metrics.json, plots, videos"})
    plots: int = field(default=12, metadata={"help": "episodes to plot"})
    videos: int = field(default=2, metadata={"help": "progress-overlay videos to write"})
    fusion: str = field(default=DEFAULT_FUSION, metadata={
        "help": "kalman (anchors weighted by their hop uncertainty), consistency (Robo-Dopamine's conservative update) or mean"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    camera_map: tuple[str, ...] = field(default=(), metadata={"help": "dataset_camera=model_camera pairs"})
    outcome_from: str = field(default="", metadata={
        "help": "for a dataset that records no outcome: last-subtask | all-success | labels:FILE.json (as train-reward)"})


@dataclass(frozen=True)
class ScoreConfig:
    model: Path = field(metadata={"help": "checkpoint folder"})
    data: Path = field(metadata={"help": "dataset to score"})
    out: Path = field(metadata={"help": "output parquet (LeRobot RA-BC columns + stage and uncertainty)"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    camera_map: tuple[str, ...] = field(default=(), metadata={"help": "dataset_camera=model_camera pairs"})


def score_dataset(model_dir: Path, data: Path, device: str, fusion: str = DEFAULT_FUSION, progress: bool = True,
                  camera_map: Sequence[str] = (), outcome_from: str | None = None, need_outcomes: bool = False):
    """Yield (Episode, Progress) for every episode of `data` (its cameras renamed to the model's; outcomes by
    robo_reward.data.outcomes, required when `need_outcomes`)."""
    dev = resolve_device(device)
    model, tasks, _ = load_checkpoint(model_dir, dev)
    scorer = Scorer(model, tasks, dev, fusion)
    info = read_info(data, outcome_from=outcome_from)
    if need_outcomes:
        info.require_outcomes("eval-reward")
    feed = match_cameras(info, model.cfg.cameras, parse_camera_map(camera_map))
    for ann in tqdm(info.episodes, desc="score", disable=not progress, unit="ep"):
        ep = replace(load_as_model_cameras(data, ann.episode_index, feed), outcome=ann.outcome)
        yield ann.episode_index, ep, scorer.score(ep.images, ep.task_text), info


def evaluate(cfg: EvalConfig, progress: bool = True) -> dict:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    plotted, videos = 0, 0
    start = time.perf_counter()
    source = None
    for ep_idx, ep, pr, info in score_dataset(cfg.model, cfg.data, cfg.device, cfg.fusion, progress, cfg.camera_map,
                                              cfg.outcome_from or None, need_outcomes=True):
        names, source = list(info.subtasks), info.outcome_source
        row = episode_row(ep_idx, ep, {p: pr.perspective(p) for p in PERSPECTIVES}, names)
        row["stage_acc"] = float((pr.stage == frame_stage(ep.subtasks, names, ep.length)).mean())
        rows.append(row)
        true_phi = true_progress(ep, names)
        if plotted < cfg.plots:
            plot_episode(out / "plots" / f"episode_{ep_idx:04d}.png", ep, pr, true_phi, names)
            plotted += 1
        if videos < cfg.videos:
            overlay_video(out / "videos" / f"episode_{ep_idx:04d}.mp4", ep, pr, names)
            videos += 1
    metrics = summarize(rows)
    metrics["outcome_source"] = source
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    write_json(out / "metrics.json", {**run_record(cfg), "metrics": metrics})
    pd.DataFrame(rows).to_csv(out / "episodes.csv", index=False)
    return metrics


def true_progress(ep: Episode | EpisodeAnnotation, names: list[str]) -> np.ndarray:
    """The labels' own progress per frame (equal subtask shares); an annotation is enough, no frames needed."""
    return progress_labels(ep.subtasks, names, ep.length, ep.outcome == "success", subtask_shares(names, "equal"))


def episode_row(ep_idx: int, ep: Episode, curves: dict[str, np.ndarray], names: list[str]) -> dict:
    """Per-episode numbers for each progress curve (a perspective, or a baseline)."""
    true_phi = true_progress(ep, names)
    row = {"episode": ep_idx, "outcome": ep.outcome, "mode": ep.mode, "length": ep.length,
           "true/pred": classify_completion(true_phi)}
    for p, v in curves.items():
        row[f"{p}/final"] = float(v[-1])
        row[f"{p}/voc"] = voc(v)
        row[f"{p}/pred"] = classify_completion(v)
        row[f"{p}/mae"] = float(np.abs(v - true_phi).mean())
    return row


def score_rows(scorer: Scorer, episodes: Iterable[tuple[int, Episode]], names: list[str]) -> list[dict]:
    """episode_row of every (index, episode), from one scoring pass each (all perspectives)."""
    rows = []
    for ep_idx, ep in episodes:
        pr = scorer.score(ep.images, ep.task_text)
        rows.append(episode_row(ep_idx, ep, {p: pr.perspective(p) for p in PERSPECTIVES}, names))
    return rows


def summarize(rows: list[dict], curves: tuple[str, ...] = PERSPECTIVES, headline: str = "fused") -> dict:
    """Metrics per curve; the un-prefixed keys are the headline curve's."""
    out: dict = {"episodes": len(rows), "outcomes": {o: sum(r["outcome"] == o for r in rows) for o in ("success", "partial", "failure")}}
    success = [r for r in rows if r["outcome"] == "success"]
    for p in curves:
        vocs = [r[f"{p}/voc"] for r in success]
        true = [r["outcome"] for r in rows]
        pred = [r[f"{p}/pred"] for r in rows]
        m = {
            "voc_mean": float(np.mean(vocs)) if vocs else None,
            "voc_median": float(np.median(vocs)) if vocs else None,
            "completion_accuracy": float(np.mean([a == b for a, b in zip(true, pred, strict=True)])),
            "confusion": confusion(true, pred),
            "auroc": auroc([r[f"{p}/final"] for r in success], [r[f"{p}/final"] for r in rows if r["outcome"] != "success"]),
            "progress_mae": float(np.mean([r[f"{p}/mae"] for r in rows])),
        }
        # a mode's negatives are its episodes that physics did not call a success (a MetaWorld near miss can slide home)
        for kind in sorted({r["mode"] for r in rows if r["outcome"] != "success"} - {"expert", "unknown"}):
            negatives = [r for r in rows if r["mode"] == kind and r["outcome"] != "success"]
            m[f"auroc_vs_{kind}"] = auroc([r[f"{p}/final"] for r in success], [r[f"{p}/final"] for r in negatives])
            m[f"{kind}_scored_not_success"] = float(np.mean([r[f"{p}/pred"] != "success" for r in negatives]))
        out[p] = m
    out.update(dict(out[headline].items()))
    # the labels' own ceiling: the completion rule applied to the true progress
    out["true_progress_completion_accuracy"] = float(np.mean([r["true/pred"] == r["outcome"] for r in rows]))
    out["misses"] = [{"episode": r["episode"], "mode": r["mode"], "outcome": r["outcome"], "predicted": r[f"{headline}/pred"],
                      "final": round(r[f"{headline}/final"], 3)} for r in rows if r[f"{headline}/pred"] != r["outcome"]]
    if all("stage_acc" in r for r in rows):
        out["stage_accuracy"] = float(np.average([r["stage_acc"] for r in rows], weights=[r["length"] for r in rows]))
    return out


def plot_episode(path: Path, ep: Episode, pr: Progress, true_phi: np.ndarray, names: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    colors = plt.cm.Pastel1(np.arange(len(names)) % 9)
    for s in ep.subtasks:
        ax.axvspan(s.start - 0.5, s.end + 0.5, color=colors[names.index(s.name)], alpha=0.6, lw=0)
        ax.text((s.start + s.end) / 2, 1.04, s.name, ha="center", fontsize=8)
    t = np.arange(ep.length)
    ax.plot(t, true_phi, "k--", lw=1, label="label Φ")
    for p, style in (("incremental", ":"), ("forward", ":"), ("backward", ":")):
        ax.plot(t, pr.perspective(p), style, lw=1, label=p)
    ax.plot(t, pr.value, "C3", lw=2, label="fused Φ*")
    ax.fill_between(t, pr.value - pr.uncertainty, pr.value + pr.uncertainty, color="C3", alpha=0.15)
    ax.set_ylim(-0.05, 1.12)
    ax.set_xlabel("frame")
    ax.set_title(f"{ep.task_text} — {ep.outcome} ({ep.mode}), predicted {classify_completion(pr.value)}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def overlay_video(path: Path, ep: Episode, pr: Progress, names: list[str]) -> None:
    from robo_reward.viz.video import annotate_frame, write_video

    cams = list(ep.images)
    frames = []
    for t in range(ep.length):
        lines = [f"{ep.task_text} [{ep.outcome}/{ep.mode}]",
                 f"frame {t}  progress {pr.value[t]:.2f} ± {pr.uncertainty[t]:.2f}  stage {names[pr.stage[t]] if pr.stage[t] < len(names) else pr.stage[t]}"]
        img = annotate_frame([ep.images[c][t] for c in cams], lines)
        bar_w = int(img.shape[1] * float(pr.value[t]))
        img[-4:, :bar_w] = (220, 60, 60)
        frames.append(img)
    write_video(frames, path, ep.fps)


def score_to_parquet(cfg: ScoreConfig, progress: bool = True) -> Path:
    """Per-frame progress with LeRobot's RA-BC columns (index, episode_index, frame_index,
    progress_sparse) plus stage and uncertainty."""
    parts = []
    offset = 0
    for ep_idx, ep, pr, _ in score_dataset(cfg.model, cfg.data, cfg.device, progress=progress, camera_map=cfg.camera_map):
        n = ep.length
        parts.append(pd.DataFrame({
            "index": np.arange(offset, offset + n), "episode_index": ep_idx, "frame_index": np.arange(n),
            "progress_sparse": pr.value.astype(np.float32), "stage": pr.stage.astype(np.int32),
            "uncertainty": pr.uncertainty.astype(np.float32),
        }))
        offset += n
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pd.concat(parts, ignore_index=True).to_parquet(tmp, index=False)
    tmp.replace(out)
    return out
