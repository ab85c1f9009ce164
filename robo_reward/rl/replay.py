"""Replay buffers as fixed numpy arrays; a batch mixes online and demonstration data (RLPD). With an image
policy (`--obs state+images`) each row also keeps the policy's frames (uint8) of both states."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from robo_reward.shaping import UNBOUNDED


@dataclass
class Batch:
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    discount: torch.Tensor  # 0 at a true terminal (no bootstrap), 1 otherwise (time-limit truncation included)
    demo: torch.Tensor  # bool: the row comes from the demonstration buffer
    q_low: torch.Tensor  # the value range the row's reward allows (shaping.value_range; ±inf: none known)
    q_high: torch.Tensor
    excess: torch.Tensor  # delta's excess over pbrs (shaping.delta_excess): the learner adds its current weight of it
    pixels: torch.Tensor | None = None  # uint8 [B, V, H, W, 3]: the policy's frames (image policies only)
    next_pixels: torch.Tensor | None = None


FIELDS = ("obs", "next_obs", "action", "reward", "discount", "q_low", "q_high", "excess", "ptr")
PIXEL_FIELDS = ("pixels", "next_pixels")


class ReplayBuffer:
    def __init__(self, capacity: int, obs_dim: int, act_dim: int, pixel_shape: tuple[int, ...] | None = None) -> None:
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros((capacity, act_dim), np.float32)
        self.reward = np.zeros(capacity, np.float32)
        self.discount = np.zeros(capacity, np.float32)
        self.q_low = np.full(capacity, -np.inf, np.float32)
        self.q_high = np.full(capacity, np.inf, np.float32)
        self.excess = np.zeros(capacity, np.float32)
        self.pixel_shape = pixel_shape
        if pixel_shape is not None:  # np.zeros maps pages lazily: only the rows written take memory
            self.pixels = np.zeros((capacity, *pixel_shape), np.uint8)
            self.next_pixels = np.zeros((capacity, *pixel_shape), np.uint8)
        self.capacity, self.size, self.ptr = capacity, 0, 0

    @property
    def fields(self) -> tuple[str, ...]:
        return FIELDS + (PIXEL_FIELDS if self.pixel_shape is not None else ())

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool,
            value_range: tuple[float, float] = UNBOUNDED, excess: float = 0.0, pixels: np.ndarray | None = None,
            next_pixels: np.ndarray | None = None) -> None:
        i = self.ptr
        if self.pixel_shape is not None:
            if pixels is None or next_pixels is None:
                raise ValueError(f"this replay buffer keeps the policy's frames {self.pixel_shape}; a row came without them")
            self.pixels[i], self.next_pixels[i] = pixels, next_pixels
        self.obs[i], self.action[i], self.reward[i], self.next_obs[i] = obs, action, reward, next_obs
        self.discount[i] = 0.0 if terminated else 1.0
        self.q_low[i], self.q_high[i] = value_range
        self.excess[i] = excess
        self.ptr = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def rows(self) -> dict[str, np.ndarray]:
        """The stored rows (oldest first once the ring has wrapped): what an actor sends its learner."""
        return self.take(np.arange(self.size) if self.size < self.capacity else np.roll(np.arange(self.capacity), -self.ptr))

    def take(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """Copies of the rows at `index`, in that order (`extend` of a buffer of the same layout takes them)."""
        return {f: getattr(self, f)[index].copy() for f in self.fields if f != "ptr"}

    def extend(self, rows: dict[str, np.ndarray]) -> None:
        """Append rows (`rows()` of another buffer of the same layout) in order."""
        missing = sorted(set(self.fields) - {"ptr"} - set(rows))
        if missing:
            raise ValueError(f"replay rows lack {missing} (an actor on another --obs than its learner?)")
        n = len(rows["reward"])
        if n > self.capacity:
            raise ValueError(f"{n} rows do not fit a buffer of {self.capacity}")
        at = (self.ptr + np.arange(n)) % self.capacity
        for f in self.fields:
            if f != "ptr":
                getattr(self, f)[at] = rows[f]
        self.ptr = int((self.ptr + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def clear(self) -> None:
        self.size = self.ptr = 0

    def indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return rng.integers(0, self.size, n)

    def save(self, path: Path) -> None:
        tmp = Path(path).with_name(f".{Path(path).name}.tmp.npz")
        np.savez(tmp, **{f: getattr(self, f)[: self.size] for f in self.fields if f != "ptr"}, ptr=self.ptr)
        tmp.replace(path)

    def load(self, path: Path) -> None:
        d = np.load(path)
        missing = sorted(set(self.fields) - set(d.files))
        if missing:
            raise ValueError(f"{path}: replay rows lack {missing} (written by an older robo_reward, or by a run on "
                             "another --obs: rerun the run)")
        n = len(d["reward"])
        for f in self.fields:
            if f != "ptr":
                getattr(self, f)[:n] = d[f]
        self.size, self.ptr = n, int(d["ptr"])


def sample_mixed(online: ReplayBuffer | None, demos: ReplayBuffer | None, n: int, rng: np.random.Generator,
                 device: torch.device) -> Batch:
    """Half demonstrations, half online data when both exist (RLPD's symmetric sampling); all from
    whichever one is given otherwise (online None: offline pre-training on demonstrations)."""
    have_demos = demos is not None and demos.size > 0
    if online is None and not have_demos:
        raise ValueError("nothing to sample: no online buffer and no demonstrations")
    k = 0 if not have_demos else n if online is None else n // 2
    parts = [(demos, demos.indices(k, rng))] if k else []
    if k < n:
        parts.append((online, online.indices(n - k, rng)))

    def cat(name: str) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([getattr(b, name)[i] for b, i in parts])).to(device)

    demo = torch.zeros(n, dtype=torch.bool, device=device)
    demo[:k] = True
    pixels = (cat("pixels"), cat("next_pixels")) if parts[0][0].pixel_shape is not None else (None, None)
    return Batch(cat("obs"), cat("action"), cat("reward"), cat("next_obs"), cat("discount"), demo, cat("q_low"), cat("q_high"),
                 cat("excess"), *pixels)
