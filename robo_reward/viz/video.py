"""Episode videos a person can look at: all cameras side by side with labels drawn on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from robo_reward.data.annotations import frame_stage
from robo_reward.types import Episode


def annotate_frame(images: Sequence[np.ndarray], lines: Sequence[str], scale: int = 2) -> np.ndarray:
    """Tile camera images horizontally, upscale, and draw text lines in a band under them."""
    row = np.concatenate(images, axis=1)
    row = cv2.resize(row, (row.shape[1] * scale, row.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    band = np.full((18 * len(lines) + 8, row.shape[1], 3), 20, dtype=np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(band, text, (6, 18 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([row, band], axis=0)


def episode_frames(ep: Episode, subtask_names: Sequence[str], scale: int = 2) -> list[np.ndarray]:
    names = list(subtask_names) or [s.name for s in ep.subtasks]
    stage = frame_stage(ep.subtasks, names, ep.length)
    cams = list(ep.images)
    out = []
    for t in range(ep.length):
        lines = [f"{ep.task_text}",
                 f"frame {t}/{ep.length - 1}  subtask: {names[stage[t]]}  outcome: {ep.outcome} ({ep.mode})",
                 "  |  ".join(cams)]
        out.append(annotate_frame([ep.images[c][t] for c in cams], lines, scale))
    return out


def write_video(frames: Sequence[np.ndarray], path: Path, fps: float) -> Path:
    """Write an H.264 MP4 through PyAV (the FFmpeg build lerobot already brings)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    h2, w2 = h - h % 2, w - w % 2  # yuv420p needs even sizes
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264" if path.suffix == ".mp4" else "mpeg4", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        for img in frames:
            packet = stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:h2, :w2]), format="rgb24"))
            container.mux(packet)
        container.mux(stream.encode())
    tmp.replace(path)
    return path
