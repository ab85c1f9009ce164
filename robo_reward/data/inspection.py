"""`robo-reward inspect`: what is in a dataset (episodes, cameras, tasks, subtask coverage, outcomes)
before training on it, plus a contact sheet of a few episodes with their subtask bands."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from robo_reward.config import run_record, write_json
from robo_reward.data.annotations import frame_stage
from robo_reward.data.lerobot_io import DatasetInfo, load_episode, read_info
from robo_reward.data.sources import resolve_dataset

# one colour per subtask position (RGB), cycled
PALETTE = ((66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88), (171, 71, 188), (0, 172, 193), (255, 112, 67))


@dataclass(frozen=True)
class InspectConfig:
    data: str = field(metadata={"help": "dataset folder or hf:org/name"})
    out: Path | None = field(default=None, metadata={"help": "folder for inspect.json and contact_sheet.png (default: runs/inspect/<name>)"})
    sheet_episodes: int = field(default=4, metadata={"help": "episodes on the contact sheet (0: none)"})
    sheet_frames: int = field(default=8, metadata={"help": "frames per episode on the contact sheet"})


def summarize_dataset(info: DatasetInfo) -> dict:
    lengths = np.array([a.length for a in info.episodes])
    coverage = {}
    for name in info.subtasks:  # per episode that entered it (a re-grasp after a drop enters a subtask twice)
        shares = [sum(s.end - s.start + 1 for s in a.subtasks if s.name == name) / a.length
                  for a in info.episodes if any(s.name == name for s in a.subtasks)]
        coverage[name] = {"episodes": len(shares), "mean_share": round(float(np.mean(shares)), 3) if shares else 0.0}
    return {
        "root": str(info.root), "episodes": len(info.episodes), "frames": int(lengths.sum()), "fps": info.fps,
        "length": {"min": int(lengths.min()), "mean": round(float(lengths.mean()), 1), "max": int(lengths.max())},
        "cameras": {c: list(info.frame_shape[c]) for c in info.cameras}, "tasks": list(info.tasks),
        "subtasks": list(info.subtasks), "subtask_coverage": coverage,
        "outcomes": dict(Counter(a.outcome for a in info.episodes)), "modes": dict(Counter(a.mode for a in info.episodes)),
    }


def _sheet_episodes(info: DatasetInfo, k: int) -> list[int]:
    """One episode per outcome first (so failures show up), then evenly spaced others."""
    chosen = list(dict.fromkeys(next(a.episode_index for a in info.episodes if a.outcome == o)
                                for o in ("success", "partial", "failure") if any(a.outcome == o for a in info.episodes)))
    for i in np.linspace(0, len(info.episodes) - 1, num=max(k, 1)).round().astype(int):
        if len(chosen) >= k:
            break
        idx = info.episodes[int(i)].episode_index
        if idx not in chosen:
            chosen.append(idx)
    return sorted(chosen[:k])


def contact_sheet(info: DatasetInfo, episodes: list[int], n_frames: int, tile: int = 96) -> np.ndarray:
    """Rows of episodes: `n_frames` evenly spaced moments (cameras stacked), a header line and a
    band coloured by subtask along the episode's time axis."""
    rows = []
    for idx in episodes:
        ep = load_episode(info.root, idx)
        times = np.linspace(0, ep.length - 1, num=n_frames).round().astype(int)
        cols = []
        for t in times:
            views = [cv2.resize(ep.images[c][t], (tile * ep.images[c].shape[2] // ep.images[c].shape[1], tile),
                                interpolation=cv2.INTER_AREA) for c in ep.images]
            width = max(v.shape[1] for v in views)
            col = np.concatenate([np.pad(v, ((0, 0), (0, width - v.shape[1]), (0, 0))) for v in views], axis=0)
            cv2.putText(col, str(t), (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            cols.append(col)
        strip = np.concatenate(cols, axis=1)
        width = strip.shape[1]
        header = np.full((20, width, 3), 30, np.uint8)
        text = f"episode {idx}  {ep.outcome} ({ep.mode})  {ep.length} frames  {ep.task_text}"
        cv2.putText(header, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (235, 235, 235), 1, cv2.LINE_AA)
        stage = frame_stage(ep.subtasks, list(info.subtasks), ep.length)
        band = np.full((18, width, 3), 60, np.uint8)
        for x in range(width):
            band[:, x] = PALETTE[stage[min(ep.length - 1, x * ep.length // width)] % len(PALETTE)]
        for s in ep.subtasks:
            x0 = s.start * width // ep.length
            cv2.putText(band, s.name, (x0 + 3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.concatenate([header, strip, band, np.full((6, width, 3), 255, np.uint8)], axis=0))
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])


def inspect_dataset(cfg: InspectConfig) -> dict:
    root = resolve_dataset(cfg.data)
    info = read_info(root)
    summary = summarize_dataset(info)
    out = Path(cfg.out) if cfg.out is not None else Path("runs") / "inspect" / root.name
    out.mkdir(parents=True, exist_ok=True)
    if cfg.sheet_episodes > 0:
        sheet = contact_sheet(info, _sheet_episodes(info, cfg.sheet_episodes), max(cfg.sheet_frames, 1))
        path = out / "contact_sheet.png"
        tmp = path.with_name(".contact_sheet.tmp.png")
        if not cv2.imwrite(str(tmp), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {tmp}")
        tmp.replace(path)
        summary["contact_sheet"] = str(path)
    write_json(out / "inspect.json", run_record(cfg, summary=summary))
    summary["out"] = str(out)
    return summary


def format_summary(s: dict) -> str:
    """The terminal table."""
    lines = [f"{s['root']}: {s['episodes']} episodes, {s['frames']} frames at {s['fps']:g} fps "
             f"(length {s['length']['min']}..{s['length']['max']}, mean {s['length']['mean']})",
             "cameras:  " + ", ".join(f"{c} {h}x{w}" for c, (h, w, _) in s["cameras"].items()),
             "tasks:    " + "; ".join(s["tasks"]),
             "outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(s["outcomes"].items())),
             "modes:    " + ", ".join(f"{k} {v}" for k, v in sorted(s["modes"].items())),
             f"{'subtask':<20}{'episodes':>10}{'mean share':>12}"]
    lines += [f"{n:<20}{c['episodes']:>10}{c['mean_share']:>12.3f}" for n, c in s["subtask_coverage"].items()]
    return "\n".join(lines)
