"""Multi-view state encoder: one image backbone shared by every camera, a learned view embedding,
fused across views into one state vector. Backbones: `conv` (small, trains from scratch on a
CPU), `resnet18` (torchvision), `hf:<name-or-path>` (any Hugging Face vision model)."""

from __future__ import annotations

import torch
from torch import nn


class SpatialSoftmax(nn.Module):
    """Expected image coordinates of each channel's activation: keypoints that say *where* things
    are (the object, the gripper), which global pooling throws away."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        attn = torch.softmax(x.flatten(2), dim=-1).view(b, c, h, w)
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        ey = (attn.sum(3) * ys).sum(-1)
        ex = (attn.sum(2) * xs).sum(-1)
        return torch.cat([ex, ey], dim=-1)


class ConvBackbone(nn.Module):
    """16-32-64-64 channel conv net with spatial-softmax keypoints + average pooling."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        chans = (3, 16, 32, 64, 64)
        layers: list[nn.Module] = []
        for i in range(4):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, stride=2 if i < 3 else 1, padding=1),
                       nn.GroupNorm(8, chans[i + 1]), nn.SiLU()]
        self.net = nn.Sequential(*layers)
        self.keypoints = SpatialSoftmax()
        self.proj = nn.Linear(64 * 2 + 64, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.net(x)
        return self.proj(torch.cat([self.keypoints(f), f.mean(dim=(2, 3))], dim=-1))


class TorchvisionBackbone(nn.Module):
    def __init__(self, name: str, out_dim: int, weights: str | None) -> None:
        super().__init__()
        import torchvision

        net = getattr(torchvision.models, name)(weights=weights)
        feat = net.fc.in_features
        net.fc = nn.Identity()
        self.net = net
        self.proj = nn.Linear(feat, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.net(x))


class HFBackbone(nn.Module):
    """Any transformers vision model: weights from a local path or the hub when the user has one;
    `hf-config:<json>` builds a randomly initialised model from a config (offline tests)."""

    def __init__(self, spec: str, out_dim: int) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        if spec.startswith("hf-config:"):
            import json

            cfg = json.loads(spec[len("hf-config:"):])
            self.net = AutoModel.from_config(AutoConfig.for_model(**cfg))
        else:
            self.net = AutoModel.from_pretrained(spec[len("hf:"):])
        hidden = getattr(self.net.config, "hidden_size", None) or self.net.config.hidden_sizes[-1]
        self.proj = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(pixel_values=x)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state.mean(dim=1)
        return self.proj(pooled.flatten(1))


def make_backbone(name: str, out_dim: int, pretrained_weights: str | None = None) -> nn.Module:
    if name == "conv":
        return ConvBackbone(out_dim)
    if name in ("resnet18", "resnet34", "resnet50"):
        return TorchvisionBackbone(name, out_dim, pretrained_weights)
    if name.startswith(("hf:", "hf-config:")):
        return HFBackbone(name, out_dim)
    raise ValueError(f"unknown backbone {name!r}: use conv, resnet18/34/50, hf:<model> or hf-config:<json>")


class MultiViewEncoder(nn.Module):
    """uint8 frames [N, V, H, W, 3] + view mask [N, V] -> state embeddings [N, D]."""

    def __init__(self, backbone: str, n_views: int, dim: int) -> None:
        super().__init__()
        self.backbone = make_backbone(backbone, dim)
        self.view_embed = nn.Parameter(torch.zeros(n_views, dim))
        self.fuse = nn.Sequential(nn.LayerNorm(n_views * dim), nn.Linear(n_views * dim, dim), nn.SiLU(),
                                  nn.Linear(dim, dim))
        self.n_views = n_views

    def forward(self, frames: torch.Tensor, view_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.fuse_views(self.views(frames, view_mask))

    def views(self, frames: torch.Tensor, view_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Each camera's features before fusion [N, V, D] (zero for a masked view): they still say where
        things are in each image, which the fused vector, trained for progress alone, need not keep."""
        n, v = frames.shape[:2]
        if v != self.n_views:
            raise ValueError(f"encoder expects {self.n_views} views, got {v}")
        x = frames.flatten(0, 1).permute(0, 3, 1, 2).float().div(255.0).sub(0.5)
        feats = self.backbone(x).view(n, v, -1) + self.view_embed
        if view_mask is not None:
            feats = feats * view_mask.unsqueeze(-1).to(feats.dtype)
        return feats

    def fuse_views(self, feats: torch.Tensor) -> torch.Tensor:
        """[N, V, D] per-view features -> [N, D] state embedding."""
        return self.fuse(feats.flatten(1))
