"""A behaviour-cloning policy that predicts a chunk of future actions from robot state + frozen
reward-model visual features, or camera frames through its own encoder (the same inputs the RL policy
can use), re-planned every step."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robo_reward.reward.policy_encoder import PixelEncoder


class ChunkPolicy(nn.Module):
    """With `pixel_shape` ([V, H, W, 3]) it reads frames too, through its own PixelEncoder trained with it."""

    def __init__(self, obs_dim: int, act_dim: int, chunk: int, hidden: int = 512,
                 pixel_shape: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.act_dim, self.chunk = act_dim, chunk
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.encoder = None if pixel_shape is None else PixelEncoder(pixel_shape[0], pixel_shape[1])
        inp = obs_dim + (0 if self.encoder is None else self.encoder.out_dim)
        self.net = nn.Sequential(nn.Linear(inp, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, chunk * act_dim))

    def set_normalization(self, obs: np.ndarray) -> None:
        self.obs_mean.copy_(torch.from_numpy(obs.mean(0)).float())
        self.obs_std.copy_(torch.from_numpy(obs.std(0) + 1e-3).float())

    def forward(self, obs: torch.Tensor, pixels: torch.Tensor | None = None, rng: torch.Generator | None = None) -> torch.Tensor:
        """[B, obs_dim] (+ uint8 frames [B, V, H, W, 3]; `rng`: shifted, in training) -> actions [B, chunk, act_dim]
        in [-1, 1] (normalised action space)."""
        x = (obs - self.obs_mean) / self.obs_std
        if self.encoder is not None:
            x = torch.cat([x, self.encoder(pixels, rng)], dim=-1)
        return torch.tanh(self.net(x)).view(-1, self.chunk, self.act_dim)


class ChunkEnsemble(nn.Module):
    """Policies cloned from the same data (own initialisation and batches) acting with their mean chunk:
    where one clone stalls in a state the demos never visited the members disagree and the mean moves
    on (the RL loop's `--sac.bc-ensemble`; measured in docs/BENCHMARKS.md)."""

    def __init__(self, members: list[ChunkPolicy]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, obs: torch.Tensor, pixels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack([m(obs, pixels) for m in self.members]).mean(0)

    @torch.no_grad()
    def act(self, obs: np.ndarray, pixels: np.ndarray | None = None) -> np.ndarray:
        return self(torch.from_numpy(obs).float()[None], None if pixels is None else torch.from_numpy(pixels)[None])[0, 0].numpy()
