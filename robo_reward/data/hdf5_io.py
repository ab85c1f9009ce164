"""HDF5 episode sources (robomimic's `data/demo_N` layout, ALOHA/ACT's one file per episode) read in
chunks, and export of a LeRobot dataset back to robomimic's layout.

Scanning reads only shapes and attributes, so every structural problem (a missing key, lengths that
disagree, a truncated file) is reported, naming the file, episode and key, before anything is written."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np

from robo_reward.data.lerobot_io import DatasetError
from robo_reward.types import SubtaskSpan

LAYOUTS = ("robomimic", "aloha")
ROBOMIMIC_IMAGE_SUFFIX = "_image"
ATTR_PREFIX = "robo_reward_"  # attributes our export writes, so an import restores the annotation


@dataclass(frozen=True)
class SourceAnnotation:
    """An annotation carried by the HDF5 file itself (written by `export-hdf5`)."""

    subtasks: tuple[SubtaskSpan, ...]
    outcome: str
    mode: str
    seed: int


@dataclass(frozen=True)
class H5Episode:
    """One episode inside an HDF5 source: where its arrays live (nothing loaded yet)."""

    file: Path
    name: str  # source episode name: "demo_3" (robomimic) or the file stem (ALOHA)
    group: str  # HDF5 path of the episode's group
    length: int
    images: dict[str, str]  # camera -> dataset path inside `group`
    image_shape: dict[str, tuple[int, int, int]]
    state_keys: tuple[str, ...]
    state_dims: tuple[int, ...]
    action_key: str
    action_dim: int
    compressed: bool  # ALOHA's JPEG-compressed variant
    annotation: SourceAnnotation | None


@dataclass(frozen=True)
class H5Source:
    layout: str
    episodes: tuple[H5Episode, ...]
    task: str  # task text found in the file ("" when none)
    fps: float  # control rate found in the file (0 when none)
    subtasks: tuple[str, ...]  # global subtask order found in the file (() when none)
    stored_state_names: tuple[str, ...] = ()  # written by export-hdf5


    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(self.episodes[0].images)

    @property
    def state_names(self) -> tuple[str, ...]:
        ep = self.episodes[0]
        if len(self.stored_state_names) == sum(ep.state_dims):
            return self.stored_state_names
        names = []
        for key, dim in zip(ep.state_keys, ep.state_dims, strict=True):
            names += [key] if dim == 1 and len(ep.state_keys) == 1 else [f"{key}_{i}" for i in range(dim)]
        return tuple(names)


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file (corrupt or truncated?): {exc}") from exc


def _natural_key(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def _dataset(f: h5py.File, path: str, file: Path, episode: str) -> h5py.Dataset:
    obj = f.get(path)
    if not isinstance(obj, h5py.Dataset):
        parent = path.rsplit("/", 1)[0] or "/"
        have = sorted(f[parent].keys()) if parent in f and isinstance(f[parent], h5py.Group) else []
        raise DatasetError(f"{file}: episode {episode}: key {path!r} is missing (found {have})")
    return obj


def _check_length(ds: h5py.Dataset, length: int, file: Path, episode: str, ref: str) -> None:
    if ds.shape[0] != length:
        raise DatasetError(f"{file}: episode {episode}: {ds.name!r} has {ds.shape[0]} rows but {ref} has {length}")


def _source_annotation(attrs: h5py.AttributeManager) -> SourceAnnotation | None:
    raw = attrs.get(ATTR_PREFIX + "subtasks")
    if raw is None:
        return None
    spans = tuple(SubtaskSpan(str(s["name"]), int(s["start"]), int(s["end"])) for s in json.loads(raw))
    return SourceAnnotation(spans, str(attrs.get(ATTR_PREFIX + "outcome", "success")),
                            str(attrs.get(ATTR_PREFIX + "mode", "imported")), int(attrs.get(ATTR_PREFIX + "seed", -1)))


def _select_cameras(found: dict[str, str], wanted: Sequence[str], file: Path, episode: str) -> dict[str, str]:
    if not found:
        raise DatasetError(f"{file}: episode {episode}: no image datasets found")
    if not wanted:
        return dict(sorted(found.items()))
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DatasetError(f"{file}: episode {episode}: image key for camera(s) {missing} is missing "
                           f"(cameras present: {sorted(found)})")
    return {c: found[c] for c in wanted}


def _image_shape(ds: h5py.Dataset, compressed: bool, file: Path, episode: str) -> tuple[int, int, int]:
    if compressed:  # JPEG bytes per frame: the size is known only after decoding one
        return tuple(int(x) for x in _decode_jpeg(ds[0], f"{file}: episode {episode}: {ds.name!r} frame 0").shape)
    if ds.ndim != 4 or ds.shape[-1] != 3 or ds.dtype != np.uint8:
        raise DatasetError(f"{file}: episode {episode}: {ds.name!r} must be uint8 [T, H, W, 3], got {ds.dtype} {ds.shape}")
    return tuple(int(x) for x in ds.shape[1:])


def scan_robomimic(path: Path, cameras: Sequence[str] = (), state_keys: Sequence[str] = ()) -> H5Source:
    """robomimic: data/demo_N/{actions, obs/<camera>_image, obs/<low-dim keys>}; data.attrs["env_args"]."""
    path = Path(path)
    episodes = []
    with _open(path) as f:
        if "data" not in f:
            raise DatasetError(f"{path}: no 'data' group: not robomimic's layout (top-level keys: {sorted(f.keys())})")
        data = f["data"]
        env_args = json.loads(data.attrs.get("env_args", "{}") or "{}")
        meta = json.loads(data.attrs.get(ATTR_PREFIX + "meta", "{}") or "{}")
        names = sorted((k for k in data.keys() if k.startswith("demo")), key=_natural_key)
        if not names:
            raise DatasetError(f"{path}: the 'data' group holds no demo_N episodes")
        for name in names:
            group = f"data/{name}"
            actions = _dataset(f, f"{group}/actions", path, name)
            if f"{group}/obs" not in f:
                raise DatasetError(f"{path}: episode {name}: key '{group}/obs' is missing")
            obs = f[f"{group}/obs"]
            found = {k[: -len(ROBOMIMIC_IMAGE_SUFFIX)]: f"obs/{k}" for k in obs if k.endswith(ROBOMIMIC_IMAGE_SUFFIX)}
            images = _select_cameras(found, cameras, path, name)
            keys = tuple(state_keys) or tuple(sorted(k for k in obs if not k.endswith(ROBOMIMIC_IMAGE_SUFFIX)
                                                     and obs[k].ndim in (1, 2)))
            if not keys:
                raise DatasetError(f"{path}: episode {name}: no low-dimensional observation to use as state")
            length = int(actions.shape[0])
            dims = []
            for k in keys:
                ds = _dataset(f, f"{group}/obs/{k}", path, name)
                _check_length(ds, length, path, name, "'actions'")
                dims.append(1 if ds.ndim == 1 else int(ds.shape[1]))
            shapes = {}
            for cam, key in images.items():
                ds = _dataset(f, f"{group}/{key}", path, name)
                _check_length(ds, length, path, name, "'actions'")
                shapes[cam] = _image_shape(ds, False, path, name)
            episodes.append(H5Episode(path, name, group, length, images, shapes, tuple(f"obs/{k}" for k in keys),
                                      tuple(dims), "actions", int(np.prod(actions.shape[1:])), False,
                                      _source_annotation(f[group].attrs)))
    fps = float(meta.get("fps") or env_args.get("env_kwargs", {}).get("control_freq") or 0)
    task = str(meta.get("task") or env_args.get("env_name") or "")
    return H5Source("robomimic", tuple(episodes), task, fps, tuple(meta.get("subtasks", ())),
                    tuple(meta.get("state_names") or ()))


def scan_aloha(path: Path, cameras: Sequence[str] = (), state_keys: Sequence[str] = ()) -> H5Source:
    """ALOHA/ACT: one episode_N.hdf5 per episode with /action, /observations/qpos and
    /observations/images/<camera> (raw uint8, or JPEG bytes when the file's `compress` attribute is set)."""
    path = Path(path)
    files = sorted(path.glob("*.hdf5"), key=lambda p: _natural_key(p.name)) if path.is_dir() else [path]
    if not files:
        raise DatasetError(f"{path}: no *.hdf5 episode files")
    keys = tuple(state_keys) or ("observations/qpos",)
    episodes = []
    for file in files:
        name = file.stem
        with _open(file) as f:
            actions = _dataset(f, "action", file, name)
            length = int(actions.shape[0])
            compressed = bool(f.attrs.get("compress", False))
            if "observations/images" not in f:
                raise DatasetError(f"{file}: episode {name}: key 'observations/images' is missing")
            found = {c: f"observations/images/{c}" for c in f["observations/images"]}
            images = _select_cameras(found, cameras, file, name)
            dims = []
            for k in keys:
                ds = _dataset(f, k, file, name)
                _check_length(ds, length, file, name, "'action'")
                dims.append(1 if ds.ndim == 1 else int(ds.shape[1]))
            shapes = {}
            for cam, key in images.items():
                ds = _dataset(f, key, file, name)
                _check_length(ds, length, file, name, "'action'")
                shapes[cam] = _image_shape(ds, compressed, file, name)
            episodes.append(H5Episode(file, name, "/", length, images, shapes, keys, tuple(dims), "action",
                                      int(np.prod(actions.shape[1:])), compressed, _source_annotation(f.attrs)))
    return H5Source("aloha", tuple(episodes), "", 0.0, ())


def scan(path: Path, layout: str, cameras: Sequence[str] = (), state_keys: Sequence[str] = ()) -> H5Source:
    if layout not in LAYOUTS:
        raise ValueError(f"--layout must be one of {LAYOUTS}, got {layout!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    source = (scan_robomimic if layout == "robomimic" else scan_aloha)(path, cameras, state_keys)
    first = source.episodes[0]
    for ep in source.episodes[1:]:
        if (ep.image_shape != first.image_shape or ep.state_dims != first.state_dims
                or ep.action_dim != first.action_dim):
            raise DatasetError(f"{ep.file}: episode {ep.name}: cameras/state/action sizes "
                               f"{ep.image_shape}/{sum(ep.state_dims)}/{ep.action_dim} differ from episode {first.name}'s "
                               f"{first.image_shape}/{sum(first.state_dims)}/{first.action_dim}")
    return source


@dataclass
class FrameChunk:
    images: dict[str, np.ndarray]  # camera -> uint8 [n, H, W, 3]
    states: np.ndarray  # float32 [n, D]
    actions: np.ndarray  # float32 [n, A]


def _decode_jpeg(buf: np.ndarray, where: str) -> np.ndarray:
    img = cv2.imdecode(np.asarray(buf, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise DatasetError(f"{where}: frame does not decode as an image")
    return img  # ALOHA passes RGB arrays to cv2.imencode unchanged, so imdecode gives RGB back


def read_chunks(ep: H5Episode, chunk: int = 64) -> Iterator[FrameChunk]:
    """The episode's frames in slices of `chunk` (never the whole episode in memory)."""
    with _open(ep.file) as f:
        g = f[ep.group]
        for t0 in range(0, ep.length, chunk):
            t1 = min(t0 + chunk, ep.length)
            where = f"{ep.file}: episode {ep.name}"
            try:
                images = {}
                for cam, key in ep.images.items():
                    raw = g[key][t0:t1]
                    images[cam] = (np.stack([_decode_jpeg(b, f"{where}: {key!r} frame {t0 + i}") for i, b in enumerate(raw)])
                                   if ep.compressed else raw)
                states = np.concatenate([g[k][t0:t1].reshape(t1 - t0, -1) for k in ep.state_keys], axis=1)
                actions = g[ep.action_key][t0:t1].reshape(t1 - t0, -1)
            except OSError as exc:  # truncated data blocks surface only when read
                raise DatasetError(f"{where}: reading frames {t0}..{t1 - 1} failed (truncated file?): {exc}") from exc
            yield FrameChunk(images, states.astype(np.float32), actions.astype(np.float32))


# ----------------------------------------------------------------------------- export
def _annotate(attrs: h5py.AttributeManager, ep) -> None:
    attrs[ATTR_PREFIX + "subtasks"] = json.dumps([{"name": s.name, "start": s.start, "end": s.end} for s in ep.subtasks])
    attrs[ATTR_PREFIX + "outcome"] = ep.outcome
    attrs[ATTR_PREFIX + "mode"] = ep.mode
    attrs[ATTR_PREFIX + "seed"] = ep.seed


@contextlib.contextmanager
def _atomic_h5(path: Path) -> Iterator[h5py.File]:
    """An HDF5 file written under a temporary name and renamed into place only when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            yield f
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_robomimic(path: Path, episodes: Iterable, meta: dict, env_name: str, fps: float) -> int:
    """Episodes (robo_reward `Episode`s) into one file in robomimic's layout. Annotations go into
    `robo_reward_*` attributes so that an import restores them."""
    total = count = 0
    with _atomic_h5(path) as f:
        data = f.create_group("data")
        for i, ep in enumerate(episodes):
            g = data.create_group(f"demo_{i}")
            g.create_dataset("actions", data=ep.actions.astype(np.float32))
            g.create_dataset("obs/state", data=ep.states.astype(np.float32))
            for cam, frames in ep.images.items():
                g.create_dataset(f"obs/{cam}{ROBOMIMIC_IMAGE_SUFFIX}", data=frames, chunks=(1, *frames.shape[1:]),
                                 compression="gzip", compression_opts=4)
            done = np.zeros(ep.length, dtype=np.int64)
            done[-1] = 1
            g.create_dataset("dones", data=done)
            g.create_dataset("rewards", data=(done * (ep.outcome == "success")).astype(np.float32))
            g.attrs["num_samples"] = ep.length
            _annotate(g.attrs, ep)
            total += ep.length
            count += 1
        data.attrs["total"] = total
        data.attrs["env_args"] = json.dumps({"env_name": env_name, "type": "robo_reward", "env_kwargs": {"control_freq": fps}})
        data.attrs[ATTR_PREFIX + "meta"] = json.dumps(meta)
    return count


def write_aloha(folder: Path, episodes: Iterable, compress: bool = False) -> int:
    """Episodes into ALOHA/ACT's layout: folder/episode_N.hdf5 with /action, /observations/qpos and
    /observations/images/<camera>; `compress` stores JPEG bytes padded to the longest frame, as
    ALOHA's recorder does (with /compress_len)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for i, ep in enumerate(episodes):
        with _atomic_h5(folder / f"episode_{i}.hdf5") as f:
            f.attrs["sim"] = False
            f.attrs["compress"] = compress
            f.create_dataset("action", data=ep.actions.astype(np.float32))
            f.create_dataset("observations/qpos", data=ep.states.astype(np.float32))
            lengths = []
            for cam, frames in ep.images.items():
                if compress:
                    bufs = [cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].ravel() for img in frames]
                    padded = np.zeros((len(bufs), max(len(b) for b in bufs)), dtype=np.uint8)
                    for t, b in enumerate(bufs):
                        padded[t, : len(b)] = b
                    lengths.append([len(b) for b in bufs])
                    frames = padded
                f.create_dataset(f"observations/images/{cam}", data=frames, chunks=(1, *frames.shape[1:]))
            if compress:
                f.create_dataset("compress_len", data=np.array(lengths, dtype=np.int64))
            _annotate(f.attrs, ep)
        count += 1
    return count
