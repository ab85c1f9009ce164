"""The policy's own image encoder (`--obs state+images`): trained for control, not for progress.

Per camera the GRM's small conv backbone (its spatial-softmax keypoints say where the object and the gripper
are) with its own view embedding, the cameras' features side by side, then LayerNorm + tanh (DrQ's bounded
features). Random-shift augmentation (DrQ) on every batch it is trained on. It lives beside the GRM's encoder
because it reuses that backbone and augmentation, and both `rl` and `bc` read it."""

from __future__ import annotations

import torch
from torch import nn

from robo_reward.reward.encoder import ConvBackbone
from robo_reward.reward.train import Augmentation, augment

FEATURES_PER_VIEW = 64


def shift_augmentation(size: int) -> Augmentation:
    """DrQ's random shift, ±size/16 pixels (±4 at 64 px, DrQ's pad at 84 px), and a little brightness."""
    return Augmentation(shift_px=max(1, round(size / 16)), brightness=0.1)


class PixelEncoder(nn.Module):
    """uint8 frames [B, V, H, W, 3] -> features [B, V * 64]; `rng` given: augmented first (training)."""

    def __init__(self, views: int, size: int) -> None:
        super().__init__()
        self.views, self.size = views, size
        self.backbone = ConvBackbone(FEATURES_PER_VIEW)
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
        x = frames.flatten(0, 1).permute(0, 3, 1, 2).float().div(255.0).sub(0.5)
        feats = self.backbone(x).view(b, v, -1) + self.view_embed
        return torch.tanh(self.norm(feats.flatten(1)))

    def init_from_grm(self, grm_backbone: nn.Module) -> None:
        """Start from a trained GRM's conv backbone (same architecture; its projection included)."""
        self.backbone.load_state_dict(grm_backbone.state_dict())
