"""LeRobotDataset v3 I/O through lerobot's own writer and reader, plus the annotation columns.

Writes go to a temporary sibling folder that is renamed into place only when complete, so an
interrupted `collect` never leaves a half-written dataset under the requested name."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from av import logging as av_logging

from robo_reward.data.annotations import (
    ANNOTATION_COLUMNS,
    END_COL,
    END_TIME_COL,
    MODE_COL,
    NAME_COL,
    OUTCOME_COL,
    PROPORTIONS_FILE,
    SEED_COL,
    START_COL,
    START_TIME_COL,
    EpisodeAnnotation,
    temporal_proportions,
)
from robo_reward.types import Episode, EnvSpec, SubtaskSpan

IMAGE_PREFIX = "observation.images."

# We decode with PyAV on purpose (torchcodec needs system FFmpeg libraries): keep lerobot's warning
# about it, the SVT-AV1 encoder banner and per-episode "Map" bars out of the user's terminal.
os.environ.setdefault("SVT_LOG", "1")
logging.getLogger("lerobot.utils.import_utils").setLevel(logging.ERROR)
av_logging.set_level(av_logging.ERROR)
EPISODES_GLOB = "meta/episodes/*/*.parquet"


class DatasetError(ValueError):
    """A dataset on disk is missing something robo_reward needs (names the file and key)."""


def features_for(spec: EnvSpec) -> dict:
    feats: dict = {
        f"{IMAGE_PREFIX}{c.name}": {"dtype": "video", "shape": (c.height, c.width, 3), "names": ["height", "width", "channels"]}
        for c in spec.cameras
    }
    feats["observation.state"] = {"dtype": "float32", "shape": (spec.state.dim,), "names": list(spec.state.names)}
    feats["action"] = {"dtype": "float32", "shape": (spec.action.dim,), "names": list(spec.action.names)}
    return feats


@contextlib.contextmanager
def atomic_dir(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder next to `out`; move it to `out` only if the block succeeds."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"output folder {out} already exists (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


class DatasetWriter:
    """Streams `Episode`s into a LeRobotDataset at `root` (which must not exist yet)."""

    def __init__(self, root: Path, spec: EnvSpec, repo_id: str = "local/robo_reward") -> None:
        import datasets
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        datasets.disable_progress_bars()
        self.root = Path(root)
        self.spec = spec
        self.fps = int(round(spec.control_hz))
        self._ds = LeRobotDataset.create(
            repo_id=repo_id, fps=self.fps, features=features_for(spec), root=self.root,
            robot_type=spec.robot_type, use_videos=True, video_backend="pyav",
        )
        self._annotations: list[EpisodeAnnotation] = []

    def add(self, ep: Episode) -> None:
        cams = [c.name for c in self.spec.cameras]
        for t in range(ep.length):
            frame = {f"{IMAGE_PREFIX}{c}": ep.images[c][t] for c in cams}
            frame["observation.state"] = ep.states[t]
            frame["action"] = ep.actions[t]
            frame["task"] = ep.task_text
            self._ds.add_frame(frame)
        self._ds.save_episode()
        self._annotations.append(
            EpisodeAnnotation(len(self._annotations), ep.length, ep.subtasks, ep.outcome, ep.mode, ep.seed)
        )

    def finalize(self) -> None:
        self._ds.finalize()
        write_annotations(self.root, self._annotations, self.fps, self.spec.subtasks)
        for empty in (self.root / "images",):  # lerobot leaves an empty images/ folder behind
            if empty.is_dir() and not any(empty.rglob("*")):
                empty.rmdir()


def write_annotations(root: Path, annotations: Sequence[EpisodeAnnotation], fps: float, subtasks: Sequence[str]) -> None:
    """Add the SARM annotation columns and our outcome columns to meta/episodes/*.parquet
    (rows matched on episode_index) and write meta/temporal_proportions_sparse.json."""
    by_index = {a.episode_index: a for a in annotations}
    files = sorted(Path(root).glob(EPISODES_GLOB))
    if not files:
        raise DatasetError(f"{root}: no episode metadata under meta/episodes/")
    for path in files:
        df = pd.read_parquet(path)
        rows = []
        for ep in df["episode_index"]:
            if int(ep) not in by_index:
                raise DatasetError(f"{path}: episode {ep} has no annotation")
            a = by_index[int(ep)]
            rows.append({
                NAME_COL: [s.name for s in a.subtasks],
                START_COL: [s.start for s in a.subtasks],
                END_COL: [s.end for s in a.subtasks],
                START_TIME_COL: [s.start / fps for s in a.subtasks],
                END_TIME_COL: [(s.end + 1) / fps for s in a.subtasks],
                OUTCOME_COL: a.outcome, MODE_COL: a.mode, SEED_COL: a.seed,
            })
        extra = pd.DataFrame(rows, index=df.index)
        df = df.drop(columns=[c for c in extra.columns if c in df.columns]).join(extra)
        tmp = path.with_suffix(".tmp.parquet")
        df.to_parquet(tmp, index=False)
        tmp.replace(path)
    proportions = temporal_proportions(annotations, list(subtasks))
    (Path(root) / "meta" / PROPORTIONS_FILE).write_text(json.dumps(proportions, indent=2))


# ----------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class DatasetInfo:
    root: Path
    fps: float
    cameras: tuple[str, ...]
    subtasks: tuple[str, ...]  # global order, from temporal_proportions_sparse.json
    tasks: tuple[str, ...]
    episodes: tuple[EpisodeAnnotation, ...]
    frame_shape: dict[str, tuple[int, int, int]]


def read_info(root: Path) -> DatasetInfo:
    """Read a LeRobot v3 dataset's metadata and its subtask annotations. Any dataset with the SARM
    annotation columns works, with any number and names of cameras; the outcome columns are
    optional (episodes without them count as successes)."""
    root = Path(root)
    info_path = root / "meta" / "info.json"
    if not info_path.exists():
        raise DatasetError(f"{root} is not a LeRobot dataset: {info_path} is missing")
    info = json.loads(info_path.read_text())
    cameras = tuple(k[len(IMAGE_PREFIX):] for k, f in info["features"].items()
                    if k.startswith(IMAGE_PREFIX) and f["dtype"] in ("video", "image"))
    shapes = {k[len(IMAGE_PREFIX):]: tuple(f["shape"]) for k, f in info["features"].items() if k.startswith(IMAGE_PREFIX)}
    files = sorted(root.glob(EPISODES_GLOB))
    if not files:
        raise DatasetError(f"{root}: no episode metadata under meta/episodes/")
    df = pd.concat([pd.read_parquet(p) for p in files], ignore_index=True).sort_values("episode_index")
    for col in (NAME_COL, START_COL, END_COL):
        if col not in df.columns:
            raise DatasetError(f"{files[0]}: missing subtask annotation column {col!r} "
                               "(annotate the dataset, e.g. with lerobot's subtask annotation tool)")
    prop_path = root / "meta" / PROPORTIONS_FILE
    if prop_path.exists():
        subtasks = tuple(json.loads(prop_path.read_text()))
    else:  # order of first appearance
        subtasks = tuple(dict.fromkeys(n for names in df[NAME_COL] if names is not None for n in names))
    episodes = []
    for _, row in df.iterrows():
        ep = int(row["episode_index"])
        names = row[NAME_COL]
        if names is None or len(names) == 0:
            raise DatasetError(f"{root}: episode {ep} has no subtask annotation ({NAME_COL} is empty)")
        spans = tuple(SubtaskSpan(str(n), int(s), int(e)) for n, s, e in zip(names, row[START_COL], row[END_COL], strict=True))
        outcome = str(row[OUTCOME_COL]) if OUTCOME_COL in df.columns and row[OUTCOME_COL] is not None else "success"
        mode = str(row[MODE_COL]) if MODE_COL in df.columns and row[MODE_COL] is not None else "unknown"
        seed = int(row[SEED_COL]) if SEED_COL in df.columns and row[SEED_COL] is not None else -1
        episodes.append(EpisodeAnnotation(ep, int(row["length"]), spans, outcome, mode, seed))
    tasks_path = root / "meta" / "tasks.parquet"
    tasks = tuple(pd.read_parquet(tasks_path).index.astype(str)) if tasks_path.exists() else ()
    return DatasetInfo(root, float(info["fps"]), cameras, subtasks, tasks, tuple(episodes), shapes)


def open_lerobot(root: Path, repo_id: str = "local/robo_reward"):
    """lerobot's own reader (PyAV decoding: needs no system FFmpeg)."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset(repo_id=repo_id, root=Path(root), video_backend="pyav")


def load_episode(root: Path, episode_index: int, cameras: Sequence[str] | None = None) -> Episode:
    """Decode one whole episode (every camera, state, action) into memory."""
    root = Path(root)
    meta = read_info(root)
    ann = next((a for a in meta.episodes if a.episode_index == episode_index), None)
    if ann is None:
        raise DatasetError(f"{root}: no episode {episode_index} (it has {len(meta.episodes)} episodes)")
    cameras = tuple(cameras or meta.cameras)
    for cam in cameras:
        if cam not in meta.cameras:
            raise DatasetError(f"{root}: camera {cam!r} not in dataset (it has {list(meta.cameras)})")
    ds = open_lerobot(root)
    start = int(ds.meta.episodes["dataset_from_index"][episode_index])
    stop = int(ds.meta.episodes["dataset_to_index"][episode_index])
    data = ds.hf_dataset.select(range(start, stop)).with_format("numpy")
    states = np.stack(data["observation.state"]).astype(np.float32)
    actions = np.stack(data["action"]).astype(np.float32)
    images = {cam: decode_episode_video(ds, episode_index, cam) for cam in cameras}
    for cam, frames in images.items():
        if len(frames) != len(states):
            raise DatasetError(f"{root}: episode {episode_index} camera {cam!r} decodes to {len(frames)} frames, "
                               f"expected {len(states)}")
    task_index = int(data["task_index"][0])
    task_text = str(ds.meta.tasks.index[task_index])
    return Episode(task=task_text, task_text=task_text, images=images, states=states, actions=actions,
                   subtasks=ann.subtasks, outcome=ann.outcome, mode=ann.mode, seed=ann.seed, fps=meta.fps)


def decode_episode_video(ds, episode_index: int, camera: str) -> np.ndarray:
    """All frames of one episode's video for one camera as uint8 [T, H, W, 3], decoded in one pass
    with PyAV (lerobot's per-frame reader would seek once per frame)."""
    import av

    key = f"{IMAGE_PREFIX}{camera}"
    path = Path(ds.root) / ds.meta.get_video_file_path(episode_index, key)
    if not path.exists():
        raise DatasetError(f"episode {episode_index}: video file for {key!r} is missing: {path}")
    ep = ds.meta.episodes[episode_index]
    t0, t1 = float(ep[f"videos/{key}/from_timestamp"]), float(ep[f"videos/{key}/to_timestamp"])
    half_frame = 0.5 / ds.fps
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(max(t0 - 1.0, 0.0) / stream.time_base), stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            if t < t0 - half_frame:
                continue
            if t >= t1 - half_frame:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
    if not frames:
        raise DatasetError(f"episode {episode_index}: no frames decoded from {path} in [{t0:.3f}, {t1:.3f}) s")
    return np.stack(frames)
