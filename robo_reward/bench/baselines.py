"""Per-frame baselines trained on the same encoder, data and budget as the GRM, for side-by-side
benchmarks: `regress` (a CNN progress regressor: no stages, no hops) and `sarm` (SARM-style stage
classification + within-stage τ; progress = P_{k-1} + share_k·τ with equal shares)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robo_reward.reward.bank import EpisodeBank
from robo_reward.reward.encoder import MultiViewEncoder
from robo_reward.reward.model import resize_frames
from robo_reward.reward.text import TEXT_DIM

KINDS = ("regress", "sarm")


class FrameBaseline(nn.Module):
    def __init__(self, kind: str, n_views: int, n_subtasks: int, image_size: int, dim: int = 128) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"baseline kind must be one of {KINDS}")
        self.kind, self.image_size = kind, image_size
        self.encoder = MultiViewEncoder("conv", n_views, dim)
        self.text = nn.Sequential(nn.Linear(TEXT_DIM, dim), nn.SiLU())
        out = 1 if kind == "regress" else n_subtasks + 1
        self.head = nn.Sequential(nn.Linear(2 * dim, 256), nn.SiLU(), nn.Linear(256, out))

    def forward(self, frames: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        if frames.shape[2] != self.image_size:
            frames = resize_frames(frames, self.image_size)
        return self.head(torch.cat([self.encoder(frames), self.text(text)], dim=-1))


@dataclass
class TaskStages:
    """Per task: indices of its subtasks in the global vocabulary and their cumulative shares."""

    index: np.ndarray
    cum: np.ndarray  # [K+1]


def _task_stages(bank: EpisodeBank) -> list[TaskStages]:
    out = []
    for t in bank.tasks:
        k = len(t.subtasks)
        out.append(TaskStages(np.array([bank.subtasks.index(n) for n in t.subtasks]), np.linspace(0, 1, k + 1)))
    return out


def train_baseline(kind: str, bank: EpisodeBank, text: np.ndarray, steps: int, batch_size: int, image_size: int,
                   seed: int = 0, lr: float = 3e-4) -> FrameBaseline:
    """Frames sampled uniformly over episodes; batch of `batch_size` x 4 frames to match the GRM's
    states per step."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = FrameBaseline(kind, len(bank.cameras), len(bank.subtasks), image_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    stages = _task_stages(bank)
    n = batch_size * 4
    for _ in range(steps):
        eps = rng.integers(len(bank.episodes), size=n)
        ts = [int(rng.integers(bank.episodes[e].length)) for e in eps]
        frames = torch.from_numpy(np.stack([bank.episodes[e].frames[t] for e, t in zip(eps, ts, strict=True)]))
        phi = torch.tensor([bank.episodes[e].phi[t] for e, t in zip(eps, ts, strict=True)], dtype=torch.float32)
        task = np.array([bank.episodes[e].task_id for e in eps])
        out = model(frames, torch.from_numpy(text[task]))
        if kind == "regress":
            loss = F.mse_loss(torch.sigmoid(out[:, 0]), phi)
        else:
            k_glob = torch.tensor([bank.episodes[e].stage[t] for e, t in zip(eps, ts, strict=True)])
            mask = torch.zeros(n, len(bank.subtasks), dtype=torch.bool)
            tau = torch.zeros(n)
            for i, (e, t) in enumerate(zip(eps, ts, strict=True)):
                st = stages[bank.episodes[e].task_id]
                mask[i, st.index] = True
                local = int(np.nonzero(st.index == int(k_glob[i]))[0][0])
                share = st.cum[local + 1] - st.cum[local]
                tau[i] = float(np.clip((bank.episodes[e].phi[t] - st.cum[local]) / share, 0, 1))
            logits = out[:, :-1].masked_fill(~mask, -1e4)
            loss = F.cross_entropy(logits, k_glob) + F.mse_loss(torch.sigmoid(out[:, -1]), tau)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def baseline_progress(model: FrameBaseline, frames: np.ndarray, text: np.ndarray, subtask_index: np.ndarray) -> np.ndarray:
    """Per-frame progress for one episode: frames uint8 [T, V, H, W, 3]; text [384]."""
    out = model(torch.from_numpy(frames), torch.from_numpy(text)[None].expand(len(frames), -1))
    if model.kind == "regress":
        return torch.sigmoid(out[:, 0]).numpy()
    logits = out[:, :-1][:, torch.from_numpy(subtask_index)]
    k = logits.argmax(-1).numpy()
    tau = torch.sigmoid(out[:, -1]).numpy()
    n = len(subtask_index)
    return np.clip((k + tau) / n, 0.0, 1.0)
