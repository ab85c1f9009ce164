"""The policy's own image encoder (`--obs state+images`): trained for control, not for progress.

Per camera a small conv net (16-32-32 channels, two stride-2 layers: an 8x8 map at 32 px) whose spatial-softmax
keypoints say where the object and the gripper are, a view embedding, the cameras' features side by side, then
LayerNorm + tanh (DrQ's bounded features). Random-shift augmentation (DrQ) on every batch it is trained on. The
GRM's backbone (16-32-64-64, GroupNorm, three stride-2 layers) costs 1.7x the time per update on a CPU and
leaves a 4x4 map at 32 px. It lives beside the GRM's encoder because it reuses its keypoints and augmentation,
and both `rl` and `bc` read it."""

from __future__ import annotations

import torch
from torch import nn

from robo_reward.reward.encoder import SpatialSoftmax
from robo_reward.reward.train import Augmentation, augment

FEATURES_PER_VIEW = 64


def shift_augmentation(size: int) -> Augmentation:
    """DrQ's random shift, ±size/16 pixels (±4 at 64 px, DrQ's pad at 84 px), and a little brightness."""
    return Augmentation(shift_px=max(1, round(size / 16)), brightness=0.1)


class KeypointNet(nn.Module):
    """One camera's image [N, 3, H, W] (float, centred) -> [N, 64]: conv stack, 32 keypoints, projection."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        chans, strides = (3, 16, 32, 32), (2, 2, 1)
        layers: list[nn.Module] = []
        for i, stride in enumerate(strides):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, stride=stride, padding=1), nn.ReLU()]
        self.net = nn.Sequential(*layers)
        self.keypoints = SpatialSoftmax()
        self.proj = nn.Linear(2 * chans[-1], out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.keypoints(self.net(x)))


class PixelEncoder(nn.Module):
    """uint8 frames [B, V, H, W, 3] -> features [B, V * 64]; `rng` given: augmented first (training)."""

    def __init__(self, views: int, size: int) -> None:
        super().__init__()
        self.views, self.size = views, size
        self.backbone = KeypointNet(FEATURES_PER_VIEW)
        self.view_embed = nn.Parameter(torch.zeros(views, FEATURES_PER_VIEW))
        self.norm = nn.LayerNorm(views * FEATURES_PER_VIEW)
        self.augmentation = shift_augmentation(size)

    @property
    def out_dim(self) -> int:
        return self.views * FEATURES_PER_VIEW

    def forward(self, frames: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        b, v, h, w, _ = frames.shape
        if (v, h, w) != (self.views, self.size, self.size):
            raise ValueError(f"the policy encoder reads {self.views} cameras at {self.size}x{self.size}, "
                             f"got {v} at {h}x{w}")
        if rng is not None:
            frames = augment(frames, rng, self.augmentation)
        x = frames.flatten(0, 1).permute(0, 3, 1, 2).contiguous().float().div(255.0).sub(0.5)  # NCHW: the fast conv path
        feats = self.backbone(x).view(b, v, -1) + self.view_embed
        return torch.tanh(self.norm(feats.flatten(1)))
