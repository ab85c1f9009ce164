"""The GRM: a multi-view state encoder, a hop head over discrete bins in [-1, 1] conditioned on
the task and on reference START/GOAL states, and a stage head over the task's subtasks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from robo_reward.reward.encoder import MultiViewEncoder
from robo_reward.reward.labels import bin_centers
from robo_reward.reward.text import TEXT_DIM


@dataclass(frozen=True)
class ModelConfig:
    cameras: tuple[str, ...] = field(default=("front", "side", "wrist"), metadata={"help": "camera order the model reads"})
    backbone: str = field(default="conv", metadata={"help": "conv | resnet18 | hf:<model> | hf-config:<json>"})
    image_size: int = field(default=96, metadata={"help": "frames are resized to this size"})
    dim: int = field(default=128, metadata={"help": "state embedding size"})
    hidden: int = field(default=256, metadata={"help": "head MLP width"})
    hop_bins: int = field(default=25, metadata={"help": "discrete hop bins over [-1, 1]"})
    subtasks: tuple[str, ...] = field(default=(), metadata={"help": "global subtask vocabulary (set from the data)"})
    env_state_dim: int = field(default=0, metadata={
        "help": "size of the auxiliary head that predicts the recorded environment state from the per-view features "
                "(0: none; set by train-reward --env-state-weight)"})


def _mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, out))


@dataclass
class HopOutput:
    logits: torch.Tensor  # [B, bins]
    expected: torch.Tensor  # [B] E[H]
    std: torch.Tensor  # [B] spread of the hop distribution: the uncertainty


def hop_moments(logits: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """E[H] and the std of the hop distribution over bin centres in [-1, 1] (so the std is at most 1)."""
    prob = logits.softmax(-1)
    mean = prob @ centers
    return mean, ((prob * (centers - mean[:, None]) ** 2).sum(-1)).clamp(min=0).sqrt()


class GRM(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if not cfg.subtasks:
            raise ValueError("ModelConfig.subtasks is empty: the stage head needs the subtask vocabulary")
        self.cfg = cfg
        self.encoder = MultiViewEncoder(cfg.backbone, len(cfg.cameras), cfg.dim)
        self.text_proj = nn.Sequential(nn.Linear(TEXT_DIM, cfg.dim), nn.SiLU())
        self.hop_head = _mlp(6 * cfg.dim, cfg.hidden, cfg.hop_bins)
        self.stage_head = _mlp(3 * cfg.dim, cfg.hidden, len(cfg.subtasks))
        self.register_buffer("centers", torch.tensor(bin_centers(cfg.hop_bins), dtype=torch.float32))
        if cfg.env_state_dim:  # where things are, read from the per-view features: a policy reads the estimate
            self.env_state_head = _mlp(len(cfg.cameras) * cfg.dim, cfg.hidden, cfg.env_state_dim)
            self.register_buffer("env_state_mean", torch.zeros(cfg.env_state_dim))
            self.register_buffer("env_state_std", torch.ones(cfg.env_state_dim))

    def encode(self, frames: torch.Tensor, view_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder.fuse_views(self.encode_views(frames, view_mask))

    def encode_views(self, frames: torch.Tensor, view_mask: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 [N, V, H, W, 3] at any size -> per-view features [N, V, D] (see MultiViewEncoder.views)."""
        if frames.shape[2] != self.cfg.image_size or frames.shape[3] != self.cfg.image_size:
            frames = resize_frames(frames, self.cfg.image_size)
        return self.encoder.views(frames, view_mask)

    def env_state(self, views: torch.Tensor) -> torch.Tensor:
        """Per-view features [N, V, D] -> the environment state [N, k] in the recorded units (metres), as the
        auxiliary head estimates it: what a policy reads with --grm-features estimate."""
        return self.env_state_head(views.flatten(1)) * self.env_state_std + self.env_state_mean

    def hop(self, z_p: torch.Tensor, z_q: torch.Tensor, z_start: torch.Tensor, z_goal: torch.Tensor,
            text: torch.Tensor) -> HopOutput:
        t = self.text_proj(text)
        logits = self.hop_head(torch.cat([z_p, z_q, z_q - z_p, z_start, z_goal, t], dim=-1))
        return HopOutput(logits, *hop_moments(logits, self.centers))

    def stage_logits(self, z_q: torch.Tensor, z_start: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """mask [B, S]: which subtasks of the global vocabulary belong to each query's task."""
        logits = self.stage_head(torch.cat([z_q, z_start, self.text_proj(text)], dim=-1))
        return logits.masked_fill(~mask, -1e4)


    def forward(self, frames: torch.Tensor, view_mask: torch.Tensor, p: torch.Tensor, q: torch.Tensor,
                start: torch.Tensor, goal: torch.Tensor, text: torch.Tensor,
                stage_mask: torch.Tensor) -> tuple[HopOutput, torch.Tensor, torch.Tensor | None]:
        """Training forward over a batch of unique states (indices select p/q/start/goal): one call,
        so DistributedDataParallel can synchronise gradients. Third: each state's standardised environment
        state as the auxiliary head predicts it (None without the head)."""
        views = self.encode_views(frames, view_mask)
        z = self.encoder.fuse_views(views)
        hop = self.hop(z[p], z[q], z[start], z[goal], text)
        env = self.env_state_head(views.flatten(1)) if self.cfg.env_state_dim else None
        return hop, self.stage_logits(z[q], z[start], text, stage_mask), env


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [N, V, H, W, 3] -> uint8 [N, V, size, size, 3] (area interpolation)."""
    n, v, h, w, c = frames.shape
    x = frames.flatten(0, 1).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).view(n, v, size, size, c)


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def as_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy()
