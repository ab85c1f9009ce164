"""`robo-reward import-hdf5` and `export-hdf5`: HDF5 episodes (robomimic, ALOHA) to and from a
LeRobotDataset v3 with the same annotation columns `collect` writes.

Annotations come, in this order, from `--annotations FILE.json`, from `--subtasks` (an equal split of
each episode, stated in the dataset card), or from the file itself (what `export-hdf5` wrote)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.data.annotations import validate_spans
from robo_reward.data.hdf5_io import LAYOUTS, H5Episode, H5Source, read_chunks, scan, write_aloha, write_robomimic
from robo_reward.data.lerobot_io import DatasetError, DatasetWriter, atomic_dir, load_episode, read_info
from robo_reward.types import OUTCOMES, BoxSpec, CameraSpec, EnvSpec, Episode, SubtaskSpan

IMPORT_SUMMARY = "meta/robo_reward_import.json"
DEFAULT_FPS = {"aloha": 50.0, "robomimic": 20.0}  # ALOHA records at 50 Hz; robosuite's default control_freq


@dataclass(frozen=True)
class ImportConfig:
    input: Path = field(metadata={"help": "an HDF5 file (robomimic) or a folder/file of episode_N.hdf5 (ALOHA)"})
    layout: str = field(metadata={"help": "robomimic | aloha"})
    out: Path = field(metadata={"help": "output LeRobot dataset folder (must not exist unless --overwrite)"})
    cameras: tuple[str, ...] = field(default=(), metadata={"help": "cameras to import (default: all in the file)"})
    state_keys: tuple[str, ...] = field(default=(), metadata={
        "help": "HDF5 keys concatenated into observation.state (default: robomimic all low-dim obs; ALOHA observations/qpos)"})
    subtasks: tuple[str, ...] = field(default=(), metadata={"help": "subtask names: split each episode equally into them"})
    annotations: Path | None = field(default=None, metadata={"help": "JSON with per-episode subtask frames (see datasets/hdf5.md)"})
    task: str = field(default="", metadata={"help": "task text (default: the file's env name or the folder name)"})
    fps: float = field(default=0.0, metadata={"help": "frame rate (default: from the file, else 50 for ALOHA, 20 for robomimic)"})
    robot_type: str = field(default="", metadata={"help": "robot type recorded in the dataset (default: the layout)"})
    outcome: str = field(default="success", metadata={"help": "outcome of episodes whose annotation gives none"})
    chunk: int = field(default=64, metadata={"help": "frames read per HDF5 slice"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing output folder"})


@dataclass(frozen=True)
class ExportConfig:
    data: Path = field(metadata={"help": "LeRobot dataset folder"})
    out: Path = field(metadata={"help": "output: a .hdf5 file (robomimic) or a folder of episode_N.hdf5 (aloha)"})
    layout: str = field(default="robomimic", metadata={"help": "robomimic | aloha"})
    compress: bool = field(default=False, metadata={"help": "aloha layout: store frames as JPEG bytes"})
    episodes: tuple[str, ...] = field(default=(), metadata={"help": "episode indices to export (default: all)"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing output file"})


@dataclass(frozen=True)
class PlannedEpisode:
    """A source episode with the annotation it will be written with (decided before any write)."""

    source: H5Episode
    subtasks: tuple[SubtaskSpan, ...]
    outcome: str
    mode: str
    seed: int


def equal_split(length: int, names: Sequence[str], where: str) -> tuple[SubtaskSpan, ...]:
    """Split [0, length) into len(names) contiguous spans of (nearly) equal length."""
    if length < len(names):
        raise DatasetError(f"{where}: {length} frames cannot be split into {len(names)} subtasks")
    edges = np.round(np.linspace(0, length, len(names) + 1)).astype(int)
    return tuple(SubtaskSpan(n, int(a), int(b) - 1) for n, a, b in zip(names, edges[:-1], edges[1:], strict=True))


def _load_annotation_json(path: Path) -> tuple[tuple[str, ...], dict]:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the annotation JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("episodes"), dict):
        raise DatasetError(f"{path}: expected an object with an 'episodes' mapping (see datasets/hdf5.md)")
    return tuple(doc.get("subtasks", ())), doc["episodes"]


def _spans_from_json(entry: dict, path: Path, episode: str) -> tuple[SubtaskSpan, ...]:
    try:
        return tuple(SubtaskSpan(str(s["name"]), int(s["start"]), int(s["end"])) for s in entry["subtasks"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: episode {episode}: each subtask needs name, start and end ({exc!r})") from exc


def plan_annotations(source: H5Source, cfg: ImportConfig) -> tuple[tuple[str, ...], list[PlannedEpisode], str]:
    """Every episode's annotation and the global subtask order; the third value says where they came from."""
    doc_names, doc = (), {}
    if cfg.annotations is not None:
        doc_names, doc = _load_annotation_json(cfg.annotations)
    planned, how = [], set()
    for i, ep in enumerate(source.episodes):
        where = f"{ep.file}: episode {ep.name}"
        entry = doc.get(ep.name, doc.get(str(i)))
        outcome, mode, seed = cfg.outcome, "imported", -1
        if entry is not None:
            spans = _spans_from_json(entry, cfg.annotations, ep.name)
            outcome = str(entry.get("outcome", cfg.outcome))
            where = f"{cfg.annotations}: episode {ep.name}"
            how.add(f"annotation file {Path(cfg.annotations).name}")
        elif cfg.subtasks:
            spans = equal_split(ep.length, cfg.subtasks, where)
            how.add(f"equal split into {', '.join(cfg.subtasks)}")
        elif ep.annotation is not None:
            spans, outcome, mode, seed = ep.annotation.subtasks, ep.annotation.outcome, ep.annotation.mode, ep.annotation.seed
            how.add("annotation stored in the HDF5 file")
        else:
            raise DatasetError(f"{where}: no subtask annotation: pass --subtasks a,b,c (equal split) or "
                               "--annotations FILE.json" + (f" (it has no entry for {ep.name!r})" if doc else ""))
        if outcome not in OUTCOMES:
            raise DatasetError(f"{where}: outcome {outcome!r} is not one of {OUTCOMES}")
        if not spans:
            raise DatasetError(f"{where}: the annotation lists no subtask")
        try:
            validate_spans(spans, ep.length, where)
        except ValueError as exc:
            raise DatasetError(str(exc)) from exc
        planned.append(PlannedEpisode(ep, spans, outcome, mode, seed))
    names = list(doc_names or cfg.subtasks or source.subtasks)
    for p in planned:
        for s in p.subtasks:
            if s.name not in names:
                if doc_names or cfg.subtasks:
                    raise DatasetError(f"{p.source.file}: episode {p.source.name}: subtask {s.name!r} is not one of {names}")
                names.append(s.name)
    return tuple(names), planned, "; ".join(sorted(how))


def _spec(source: H5Source, cfg: ImportConfig, task: str, fps: float, subtasks: tuple[str, ...]) -> EnvSpec:
    ep = source.episodes[0]
    state_dim, action_dim = sum(ep.state_dims), ep.action_dim
    return EnvSpec(
        name=task, task_text=task, subtasks=subtasks,
        cameras=tuple(CameraSpec(c, s[0], s[1]) for c, s in ep.image_shape.items()),
        state=BoxSpec(np.full(state_dim, -np.inf, np.float32), np.full(state_dim, np.inf, np.float32), source.state_names),
        action=BoxSpec(np.full(action_dim, -np.inf, np.float32), np.full(action_dim, np.inf, np.float32),
                       tuple(f"action_{i}" for i in range(action_dim))),
        control_hz=fps, max_steps=max(e.length for e in source.episodes), robot_type=cfg.robot_type or source.layout,
    )


def _card(cfg: ImportConfig, source: H5Source, task: str, fps: float, subtasks: tuple[str, ...], how: str, frames: int) -> str:
    return "\n".join([
        f"# {Path(cfg.out).name}", "",
        f"Imported by `robo-reward import-hdf5` from `{cfg.input}` ({source.layout} layout).", "",
        f"- task: {task}", f"- episodes: {len(source.episodes)}, frames: {frames}, fps: {fps:g}",
        f"- cameras: {', '.join(source.cameras)}", f"- state: {', '.join(source.episodes[0].state_keys)}",
        f"- subtasks: {', '.join(subtasks)}", f"- subtask annotation: {how}",
        f"- outcome of episodes without one in the annotation: {cfg.outcome}", "",
    ])


def import_hdf5(cfg: ImportConfig, progress: bool = True) -> dict:
    """Convert an HDF5 source to a LeRobot dataset. All checks run before the first frame is written;
    the output appears only when complete."""
    if cfg.chunk < 1:
        raise ValueError(f"--chunk must be >= 1, got {cfg.chunk}")
    source = scan(cfg.input, cfg.layout, cfg.cameras, cfg.state_keys)
    task = (cfg.task or source.task or Path(cfg.input).resolve().stem).strip()
    if not task:
        raise ValueError("task text is empty: pass --task")
    fps = float(cfg.fps or source.fps or DEFAULT_FPS[source.layout])
    subtasks, planned, how = plan_annotations(source, cfg)
    spec = _spec(source, cfg, task, fps, subtasks)
    total = sum(e.length for e in source.episodes)
    start = time.perf_counter()
    with atomic_dir(cfg.out, cfg.overwrite) as tmp:
        writer = DatasetWriter(tmp, spec)
        with tqdm(total=total, desc=f"import {Path(cfg.input).name}", unit="frame", disable=not progress) as bar:
            for p in planned:
                for chunk in read_chunks(p.source, cfg.chunk):
                    for t in range(len(chunk.states)):
                        writer.add_frame({c: chunk.images[c][t] for c in chunk.images}, chunk.states[t],
                                         chunk.actions[t], task)
                    bar.update(len(chunk.states))
                writer.end_episode(p.subtasks, p.outcome, p.mode, p.seed)
        writer.finalize()
        elapsed = time.perf_counter() - start
        summary = run_record(cfg, task_text=task, fps=fps, subtasks=list(subtasks), annotation_source=how,
                             episodes=len(planned), frames=total, seconds=round(elapsed, 2),
                             frames_per_s=round(total / max(elapsed, 1e-9), 1))
        write_json(tmp / IMPORT_SUMMARY, summary)
        (tmp / "README.md").write_text(_card(cfg, source, task, fps, subtasks, how, total))
    return summary


def _episodes(root: Path, indices: Sequence[int]) -> Iterator[Episode]:
    for i in indices:
        yield load_episode(root, i)


def export_hdf5(cfg: ExportConfig, progress: bool = True) -> dict:
    """LeRobot dataset -> HDF5 (frames, states, actions, annotations, outcomes) in either layout."""
    if cfg.layout not in LAYOUTS:
        raise ValueError(f"--layout must be one of {LAYOUTS}, got {cfg.layout!r}")
    info = read_info(cfg.data)
    out = Path(cfg.out)
    if out.exists() and not cfg.overwrite:
        raise FileExistsError(f"output file {out} already exists (pass --overwrite to replace it)")
    known = [a.episode_index for a in info.episodes]
    try:
        indices = [int(e) for e in cfg.episodes] or known
    except ValueError as exc:
        raise ValueError(f"--episodes must be integers, got {list(cfg.episodes)}") from exc
    bad = [i for i in indices if i not in known]
    if bad:
        raise DatasetError(f"{cfg.data}: no episode(s) {bad} (it has {len(known)} episodes)")
    features = json.loads((Path(cfg.data) / "meta" / "info.json").read_text())["features"]
    meta = {"task": info.tasks[0] if info.tasks else "", "fps": info.fps, "subtasks": list(info.subtasks),
            "state_names": features["observation.state"].get("names"), "source": str(cfg.data)}
    eps = tqdm(_episodes(Path(cfg.data), indices), total=len(indices), desc="export-hdf5", unit="ep", disable=not progress)
    if cfg.layout == "robomimic":
        count = write_robomimic(out, eps, meta, meta["task"], info.fps)
    else:
        count = write_aloha(out, eps, cfg.compress)
    return {"episodes": count, "frames": sum(a.length for a in info.episodes if a.episode_index in indices), "out": str(out)}
