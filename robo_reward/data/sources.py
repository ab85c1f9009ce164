"""Where training data comes from: local folders or `hf:org/name` hub ids, and how each dataset's
camera names map onto the cameras a model reads (`--camera-map wrist_left=wrist`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from robo_reward.data.lerobot_io import DatasetError, DatasetInfo, load_episode
from robo_reward.types import Episode

HUB_PREFIX = "hf:"


def resolve_dataset(spec: str | Path) -> Path:
    """A local dataset folder, or `hf:org/name` fetched through lerobot into its cache."""
    text = str(spec)
    if not text.startswith(HUB_PREFIX):
        return Path(text)
    repo_id = text[len(HUB_PREFIX):].strip()
    if repo_id.count("/") != 1:
        raise DatasetError(f"{text!r}: a hub dataset is named hf:<org>/<name>")
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        return Path(LeRobotDataset(repo_id, video_backend="pyav").root)  # downloads into lerobot's cache
    except Exception as exc:  # hub errors come in many types (offline, 401, 404, network): name the id
        raise DatasetError(f"hub dataset {repo_id!r} could not be loaded through lerobot "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). Check the id, "
                           "your network and HF_TOKEN (HF_HUB_OFFLINE=1 forbids downloads), or pass a local folder") from exc


def dataset_cameras(spec: str | Path, camera_map: dict[str, str]) -> tuple[str, ...]:
    """The cameras a new model reads when none are named: the dataset's own, renamed by `camera_map`."""
    from robo_reward.data.lerobot_io import read_info

    cams = read_info(resolve_dataset(spec), annotated=False).cameras
    if not cams:
        raise DatasetError(f"{spec}: no camera streams (observation.images.*) to train a reward model on")
    return tuple(camera_map.get(c, c) for c in cams)


def parse_camera_map(items: Sequence[str]) -> dict[str, str]:
    """["wrist_left=wrist", ...] -> {"wrist_left": "wrist"} (dataset camera -> model camera)."""
    mapping: dict[str, str] = {}
    for item in items:
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise ValueError(f"--camera-map entries look like dataset_camera=model_camera, got {item!r}")
        mapping[src.strip()] = dst.strip()
    return mapping


def match_cameras(info: DatasetInfo, model_cameras: Sequence[str], camera_map: dict[str, str]) -> dict[str, str | None]:
    """For each model camera, the dataset camera that feeds it (None when the dataset has none:
    that view is masked). A dataset must feed at least one."""
    found: dict[str, str | None] = {}
    for cam in model_cameras:
        mapped = [d for d, m in camera_map.items() if m == cam and d in info.cameras]
        same = cam if cam in info.cameras and cam not in camera_map else None  # unless mapped elsewhere
        found[cam] = mapped[0] if mapped else same
    missing = [c for c, d in found.items() if d is None]
    if len(missing) == len(found):
        raise DatasetError(f"{info.root}: the model reads cameras {list(model_cameras)} but the dataset has "
                           f"{list(info.cameras)} (none feeds {missing}): map them with "
                           "--camera-map dataset_camera=model_camera")
    return found


def load_as_model_cameras(root: Path, episode_index: int, feed: dict[str, str | None], annotated: bool = True) -> Episode:
    """An episode whose images are keyed by the model's camera names (only the fed ones), so the
    scorer and the bank never see a dataset's own camera names."""
    ep = load_episode(root, episode_index, [d for d in feed.values() if d is not None], annotated=annotated)
    return replace(ep, images={cam: ep.images[src] for cam, src in feed.items() if src is not None})
