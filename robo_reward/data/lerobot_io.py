"""LeRobotDataset v3 I/O through lerobot's own writer and reader, plus the annotation columns.

Writes go to a temporary sibling folder that is renamed into place only when complete, so an
interrupted `collect` never leaves a half-written dataset under the requested name."""

from __future__ import annotations

import contextlib
import json
import warnings
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from robo_reward.data.annotations import (
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
    LEGACY_COLUMNS,
    spans_from_lerobot,
    temporal_proportions,
)
from robo_reward.data.outcomes import FRAME_COLUMNS, RECORDED, RULES, UNKNOWN, OutcomeRule, apply_rule, episode_success, outcome_of
from robo_reward.fsutil import swap_in
from robo_reward.types import Episode, EnvSpec, SubtaskSpan

IMAGE_PREFIX = "observation.images."

# We decode with PyAV on purpose (torchcodec needs system FFmpeg libraries): keep lerobot's warning
# about it, the SVT-AV1 encoder banner and per-episode "Map" bars out of the user's terminal.
os.environ.setdefault("SVT_LOG", "1")
logging.getLogger("lerobot.utils.import_utils").setLevel(logging.ERROR)
EPISODES_GLOB = "meta/episodes/*/*.parquet"


def _quiet_av():
    """PyAV, imported where videos are read or written (labels, banks and scoring of in-memory
    episodes need no video stack), with FFmpeg's log kept to errors."""
    import av
    from av import logging as av_logging

    av_logging.set_level(av_logging.ERROR)
    return av


class DatasetError(ValueError):
    """A dataset on disk is missing something robo_reward needs (names the file and key)."""


ENV_STATE_KEY = "observation.environment_state"


def features_for(spec: EnvSpec, env_state_dim: int | None = None) -> dict:
    feats: dict = {
        f"{IMAGE_PREFIX}{c.name}": {"dtype": "video", "shape": (c.height, c.width, 3), "names": ["height", "width", "channels"]}
        for c in spec.cameras
    }
    feats["observation.state"] = {"dtype": "float32", "shape": (spec.state.dim,), "names": list(spec.state.names)}
    feats["action"] = {"dtype": "float32", "shape": (spec.action.dim,), "names": list(spec.action.names)}
    if env_state_dim:
        feats[ENV_STATE_KEY] = {"dtype": "float32", "shape": (env_state_dim,), "names": [f"env.{i}" for i in range(env_state_dim)]}
    return feats


def environment_state(ep: Episode, dim: int, where: str) -> np.ndarray:
    """The episode's recorded object state, checked to hold `dim` values per frame (what a policy on the
    simulator's privileged state reads); `where` names the dataset and episode in the error."""
    have = None if ep.env_state is None else ep.env_state.shape[1]
    if have != dim:
        raise DatasetError(f"{where} has {'no' if have is None else f'{have}-d'} {ENV_STATE_KEY}; a policy on privileged "
                           f"state reads {dim} values (`robo-reward collect` records them; or use --obs state+grm)")
    return ep.env_state


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
    swap_in(tmp, out)


class DatasetWriter:
    """Streams `Episode`s into a LeRobotDataset at `root` (which must not exist yet); with
    `env_state_dim`, every frame also carries the simulator's object state (observation.environment_state)."""

    def __init__(self, root: Path, spec: EnvSpec, repo_id: str = "local/robo_reward", env_state_dim: int | None = None) -> None:
        import datasets
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        datasets.disable_progress_bars()
        self.root = Path(root)
        self.spec = spec
        self.fps = int(round(spec.control_hz))
        self.env_state_dim = env_state_dim
        self._ds = LeRobotDataset.create(
            repo_id=repo_id, fps=self.fps, features=features_for(spec, env_state_dim), root=self.root,
            robot_type=spec.robot_type, use_videos=True, video_backend="pyav",
        )
        self._annotations: list[EpisodeAnnotation] = []
        self._frames = 0

    def add_frame(self, images: dict[str, np.ndarray], state: np.ndarray, action: np.ndarray, task_text: str,
                  env_state: np.ndarray | None = None) -> None:
        """Append one frame to the open episode (frames stream in; no episode is held in memory)."""
        frame = {f"{IMAGE_PREFIX}{c.name}": images[c.name] for c in self.spec.cameras}
        frame["observation.state"] = np.asarray(state, dtype=np.float32)
        if self.env_state_dim:
            if env_state is None:
                raise ValueError(f"{self.root}: this dataset records {ENV_STATE_KEY}; the frame has none")
            frame[ENV_STATE_KEY] = np.asarray(env_state, dtype=np.float32)
        frame["action"] = np.asarray(action, dtype=np.float32)
        frame["task"] = task_text
        self._ds.add_frame(frame)
        self._frames += 1

    def end_episode(self, subtasks: tuple[SubtaskSpan, ...], outcome: str, mode: str, seed: int) -> None:
        """Close the open episode with its annotation (validated against the frames written)."""
        ann = EpisodeAnnotation(len(self._annotations), self._frames, subtasks, outcome, mode, seed)
        _quiet_av()  # again: lerobot restores FFmpeg's own log callback after reading each video's info
        self._ds.save_episode()
        self._annotations.append(ann)
        self._frames = 0

    def add(self, ep: Episode) -> None:
        for t in range(ep.length):
            self.add_frame({c: ep.images[c][t] for c in self.spec.camera_names}, ep.states[t], ep.actions[t], ep.task_text,
                           None if ep.env_state is None else ep.env_state[t])
        self.end_episode(ep.subtasks, ep.outcome, ep.mode, ep.seed)

    def finalize(self) -> None:
        _quiet_av()
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
    outcome_source: str = RECORDED  # where the outcomes come from (robo_reward.data.outcomes)

    def require_outcomes(self, purpose: str) -> None:
        """Fail, naming the dataset, when its outcomes are not known and `purpose` needs them."""
        if self.outcome_source == UNKNOWN:
            raise DatasetError(f"{self.root} records no outcome (no `outcome` column, no next.success / next.reward): "
                               f"{purpose} needs one. Pass --outcome-from {' | '.join(RULES)} (last-subtask: success where "
                               "the annotation reaches the last subtask)")


def read_info(root: Path, annotated: bool = True, outcome_from: str | None = None) -> DatasetInfo:
    """Read a LeRobot v3 dataset's metadata and its subtask annotations. Any dataset with the SARM
    annotation columns works (as LeRobot's annotator writes them: `sparse_*` or the legacy unprefixed
    columns, frames or times, shared boundaries), with any number and names of cameras. Outcomes come from
    the dataset's `outcome` column, else LeRobot's next.success / next.reward, else `outcome_from` (a rule:
    robo_reward.data.outcomes), else they are unknown (`require_outcomes` refuses them). `annotated=False`
    also accepts a dataset without the SARM columns (its episodes then have no subtask spans)."""
    root = Path(root)
    info_path = root / "meta" / "info.json"
    if not info_path.exists():
        raise DatasetError(f"{root} is not a LeRobot dataset: {info_path} is missing")
    info = json.loads(info_path.read_text())
    cameras = tuple(k[len(IMAGE_PREFIX):] for k, f in info["features"].items()
                    if k.startswith(IMAGE_PREFIX) and f["dtype"] in ("video", "image"))
    shapes = {k[len(IMAGE_PREFIX):]: tuple(f["shape"]) for k, f in info["features"].items() if k.startswith(IMAGE_PREFIX)}
    df = _annotation_columns(_episode_rows(root).sort_index())
    has_spans = NAME_COL in df.columns and ((START_COL in df.columns and END_COL in df.columns)
                                           or (START_TIME_COL in df.columns and END_TIME_COL in df.columns))
    if annotated and not has_spans:
        raise DatasetError(f"{root / 'meta' / 'episodes'}: missing subtask annotation columns {NAME_COL!r} with start/end "
                           "frames or times (annotate the dataset, e.g. with lerobot's subtask annotation tool)")
    prop_path = root / "meta" / PROPORTIONS_FILE
    if prop_path.exists():
        subtasks = tuple(json.loads(prop_path.read_text()))
    elif has_spans:  # order of first appearance
        subtasks = tuple(dict.fromkeys(n for names in df[NAME_COL] if names is not None for n in names))
    else:
        subtasks = ()
    fps = float(info["fps"])
    recorded = OUTCOME_COL in df.columns
    signal = None if recorded else _frame_success(root, info)
    rule = None if recorded or signal is not None or outcome_from is None else OutcomeRule.parse(outcome_from)
    source = RECORDED if recorded else f"derived from {signal[0]}" if signal else rule.source if rule else UNKNOWN
    episodes, dropped = [], []
    for _, row in df.iterrows():
        ep, length = int(row["episode_index"]), int(row["length"])
        names = row[NAME_COL] if has_spans else None
        if (names is None or len(names) == 0) and annotated:
            raise DatasetError(f"{root}: episode {ep} has no subtask annotation ({NAME_COL} is empty)")
        try:
            spans, lost = ((), []) if names is None else spans_from_lerobot(
                names, *(_cell(row, c) for c in (START_COL, END_COL, START_TIME_COL, END_TIME_COL)), fps, length,
                f"{root}: episode {ep}")
        except ValueError as exc:
            raise DatasetError(str(exc)) from exc
        dropped += [f"episode {ep} {n!r}" for n in lost]
        if recorded:
            if row[OUTCOME_COL] is None:
                raise DatasetError(f"{root}: episode {ep} has no value in the {OUTCOME_COL!r} column the other episodes use")
            outcome = str(row[OUTCOME_COL])
        elif signal is not None:
            outcome = outcome_of(signal[1].get(ep, False), spans, subtasks)
        elif rule is not None:
            outcome = apply_rule(rule, ep, spans, subtasks)
        else:
            outcome = UNKNOWN
        mode = str(row[MODE_COL]) if MODE_COL in df.columns and row[MODE_COL] is not None else "unknown"
        seed = int(row[SEED_COL]) if SEED_COL in df.columns and row[SEED_COL] is not None else -1
        episodes.append(EpisodeAnnotation(ep, length, spans, outcome, mode, seed))
    if dropped:
        warnings.warn(f"{root}: {len(dropped)} subtask span(s) have no frame of their own at the annotation's time "
                      f"resolution and are left out of the labels: {', '.join(dropped[:5])}{' ...' if len(dropped) > 5 else ''}",
                      stacklevel=2)
    tasks_path = root / "meta" / "tasks.parquet"
    tasks = tuple(pd.read_parquet(tasks_path).index.astype(str)) if tasks_path.exists() else ()
    return DatasetInfo(root, fps, cameras, subtasks, tasks, tuple(episodes), shapes, source)


def _annotation_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The sparse annotation under its prefixed names, taken from LeRobot's legacy unprefixed columns where
    only those exist."""
    legacy = {old: new for new, old in LEGACY_COLUMNS.items() if new not in df.columns and old in df.columns}
    return df.rename(columns=legacy) if legacy else df


def _cell(row: pd.Series, column: str):
    value = row.get(column)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else list(value)


def _frame_success(root: Path, info: dict) -> tuple[str, dict[int, bool]] | None:
    """LeRobot's per-frame success signal (next.success or next.reward) and each episode's success by it."""
    column = next((c for c in FRAME_COLUMNS if c in info["features"]), None)
    if column is None:
        return None
    frames = pd.concat([pd.read_parquet(p, columns=["episode_index", column]) for p in sorted(Path(root).glob("data/*/*.parquet"))])
    return column, {int(ep): episode_success(rows, column) for ep, rows in frames.groupby("episode_index")}


def open_lerobot(root: Path, repo_id: str = "local/robo_reward"):
    """lerobot's own reader (PyAV decoding: needs no system FFmpeg)."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset(repo_id=repo_id, root=Path(root), video_backend="pyav")


def _episode_rows(root: Path) -> pd.DataFrame:
    files = sorted(Path(root).glob(EPISODES_GLOB))
    if not files:
        raise DatasetError(f"{root}: no episode metadata under meta/episodes/")
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True).set_index("episode_index", drop=False)


def load_episode(root: Path, episode_index: int, cameras: Sequence[str] | None = None, annotated: bool = True) -> Episode:
    """Decode one whole episode (every camera, state, action) into memory, straight from the v3
    files (no hub look-ups; lerobot's reader would try to download a missing file)."""
    root = Path(root)
    meta = read_info(root, annotated)
    ann = next((a for a in meta.episodes if a.episode_index == episode_index), None)
    if ann is None:
        raise DatasetError(f"{root}: no episode {episode_index} (it has {len(meta.episodes)} episodes)")
    cameras = tuple(cameras or meta.cameras)
    for cam in cameras:
        if cam not in meta.cameras:
            raise DatasetError(f"{root}: camera {cam!r} not in dataset (it has {list(meta.cameras)})")
    info = json.loads((root / "meta" / "info.json").read_text())
    row = _episode_rows(root).loc[episode_index]
    data_path = root / info["data_path"].format(chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"]))
    if not data_path.exists():
        raise DatasetError(f"episode {episode_index}: data file is missing: {data_path}")
    has_env_state = ENV_STATE_KEY in info["features"]
    columns = ["episode_index", "frame_index", "observation.state", "action", "task_index"] + [ENV_STATE_KEY] * has_env_state
    data = pd.read_parquet(data_path, columns=columns)
    data = data[data["episode_index"] == episode_index].sort_values("frame_index")
    if len(data) != ann.length:
        raise DatasetError(f"{data_path}: episode {episode_index} has {len(data)} rows, metadata says {ann.length}")
    states = np.stack(data["observation.state"].to_numpy()).astype(np.float32)
    actions = np.stack(data["action"].to_numpy()).astype(np.float32)
    env_state = np.stack(data[ENV_STATE_KEY].to_numpy()).astype(np.float32) if has_env_state else None
    images = {}
    for cam in cameras:
        key = f"{IMAGE_PREFIX}{cam}"
        path = root / info["video_path"].format(video_key=key, chunk_index=int(row[f"videos/{key}/chunk_index"]),
                                                file_index=int(row[f"videos/{key}/file_index"]))
        images[cam] = decode_video_span(path, float(row[f"videos/{key}/from_timestamp"]),
                                        float(row[f"videos/{key}/to_timestamp"]), meta.fps, f"episode {episode_index} {key!r}")
        if len(images[cam]) != ann.length:
            raise DatasetError(f"{path}: episode {episode_index} decodes to {len(images[cam])} frames, expected {ann.length}")
        if not np.isfinite(images[cam]).all():
            raise DatasetError(f"{path}: episode {episode_index} has non-finite pixels")
    tasks = pd.read_parquet(root / "meta" / "tasks.parquet")
    task_text = str(tasks.index[tasks["task_index"] == int(data["task_index"].iloc[0])][0])
    return Episode(task=task_text, task_text=task_text, images=images, states=states, actions=actions,
                   subtasks=ann.subtasks, outcome=ann.outcome, mode=ann.mode, seed=ann.seed, fps=meta.fps, env_state=env_state)


def decode_video_span(path: Path, t0: float, t1: float, fps: float, what: str) -> np.ndarray:
    """Frames with timestamps in [t0, t1) of a video as uint8 [T, H, W, 3], decoded in one pass with
    PyAV (lerobot's per-frame reader seeks once per frame)."""
    av = _quiet_av()

    if not path.exists():
        raise DatasetError(f"{what}: video file is missing: {path}")
    half_frame = 0.5 / fps
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
        raise DatasetError(f"{what}: no frames decoded from {path} in [{t0:.3f}, {t1:.3f}) s")
    return np.stack(frames)
