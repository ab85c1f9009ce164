"""What a policy reads: the robot state (joint velocities left out unless asked), then the simulator's
object state (privileged: sim only) and/or the reward model's features, or (`state+images`) the cameras'
frames at the policy's own image size for its own encoder. One pipeline for `rl`, `bc` and a deployed
policy, so a policy reads in deployment exactly what it was trained on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robo_reward.types import TimeStep

# what the policy reads beside the robot state
OBSERVATIONS = ("privileged", "state+grm", "privileged+grm", "state+images")


def reads_privileged(obs: str) -> bool:
    """Simulator object state: sim only, never on a real arm."""
    return obs.startswith("privileged")


def reads_grm(obs: str) -> bool:
    """The frozen GRM encoder's features of the current views (needs the model run every step)."""
    return obs.endswith("+grm")


def reads_images(obs: str) -> bool:
    """Camera frames for the policy's own encoder (rl.sac with a PixelEncoder): what a real arm has."""
    return obs.endswith("+images")


def camera_union(first: tuple[str, ...], then: tuple[str, ...]) -> tuple[str, ...]:
    """The cameras a run renders: the reward model's, then the policy's own that it lacks (order kept)."""
    return tuple(first) + tuple(c for c in then if c not in first)


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """uint8 [..., H, W, 3] -> [..., size, size, 3] (area averaging when shrinking, as a camera sees a smaller
    image); a recorded episode's frames [T, H, W, 3] one by one."""
    if frame.shape[-3:-1] == (size, size):
        return frame
    if frame.ndim == 4:
        return np.stack([resize_frame(f, size) for f in frame])
    import cv2

    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class ObservationPipeline:
    """`mode` is one of OBSERVATIONS; `keep` the robot-state entries read (None: all); with `state+images`,
    `cameras` and `image_size` say which frames the policy reads and at what size."""

    mode: str
    keep: np.ndarray | None = None
    cameras: tuple[str, ...] = ()
    image_size: int = 0

    def __post_init__(self) -> None:
        if self.mode not in OBSERVATIONS:
            raise ValueError(f"--obs must be one of {OBSERVATIONS}, got {self.mode!r}")
        if reads_images(self.mode) and (not self.cameras or self.image_size <= 0):
            raise ValueError(f"--obs {self.mode} needs cameras and an image size, got {self.cameras} at {self.image_size}")

    @property
    def pixel_shape(self) -> tuple[int, int, int, int] | None:
        """[V, H, W, 3] of `pixels`; None when the policy reads no images."""
        return (len(self.cameras), self.image_size, self.image_size, 3) if reads_images(self.mode) else None

    def pixels(self, ts: TimeStep) -> np.ndarray | None:
        """The policy's frames at `ts`, uint8 [V, H, W, 3] (None when it reads no images)."""
        return self.stack_frames(ts.obs.images, "the environment")

    def stack_frames(self, images: dict[str, np.ndarray], source: str) -> np.ndarray | None:
        """The policy's cameras from `images` (camera -> [H, W, 3], or a recorded episode's [T, H, W, 3]) at its size:
        [V, h, w, 3] or [T, V, h, w, 3]; None when it reads no images. A missing camera is named with `source`."""
        if not reads_images(self.mode):
            return None
        missing = [c for c in self.cameras if c not in images]
        if missing:
            raise ValueError(f"the policy reads cameras {list(self.cameras)}; {source} gives {sorted(images)} (no {missing})")
        frames = [resize_frame(images[c], self.image_size) for c in self.cameras]
        return np.stack(frames, axis=-4)

    def __call__(self, ts: TimeStep, features: np.ndarray) -> np.ndarray:
        """The policy's input at `ts`; `features` are the reward model's for the same state."""
        if reads_privileged(self.mode) and ts.info.privileged is None:
            raise ValueError(f"--obs {self.mode} reads the simulator's object state; this environment reports none "
                             "(a robot: use --obs state+grm)")
        return self.assemble(ts.obs.state, ts.info.privileged, features)

    def assemble(self, state: np.ndarray, privileged: np.ndarray | None, features: np.ndarray) -> np.ndarray:
        """The policy input from its parts: one frame's, or a recorded episode's frames stacked ([T, ...]: `bc`
        builds its training data so)."""
        state = state if self.keep is None else state[..., self.keep]
        parts = [state] + ([privileged] if reads_privileged(self.mode) else []) + ([features] if reads_grm(self.mode) else [])
        return np.concatenate(parts, axis=-1).astype(np.float32)
