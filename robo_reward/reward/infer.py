"""Inference: per-frame progress from three perspectives, fused (Robo-Dopamine's multi-perspective
fusion), for whole episodes in one batched pass and for streaming use at control rate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from robo_reward.reward.checkpoint import TaskTable
from robo_reward.reward.labels import apply_hop
from robo_reward.reward.model import GRM, as_numpy

PERSPECTIVES = ("incremental", "forward", "backward", "fused")
CONSISTENCY_ALPHA = 20.0
# Floor of the consistency rule's relative disagreement |Φ_B − Φ_F| / (Φ̄ + ε). At 1e-3, two small anchored
# estimates (0.03 and 0.00 after a drop) "disagree" by 200% and freeze Φ* wherever it was; 0.1 measures
# disagreement near zero in absolute terms, so Φ* follows a regression the anchors agree on (chosen on
# validation seeds, docs/BENCHMARKS.md "Progress that falls when the object is dropped").
CONSISTENCY_EPS = 0.1


@dataclass
class Progress:
    """Per-frame output of the reward model for one episode."""

    value: np.ndarray  # [T] fused Φ* in [0, 1]
    incremental: np.ndarray  # [T]
    forward: np.ndarray  # [T]
    backward: np.ndarray  # [T]
    stage: np.ndarray  # [T] index into the task's subtasks
    stage_probs: np.ndarray  # [T, S_task]
    uncertainty: np.ndarray  # [T] mean std of the three hop distributions

    def perspective(self, name: str) -> np.ndarray:
        return self.value if name == "fused" else getattr(self, name)


def incremental_step(phi_prev: np.ndarray | float, h: np.ndarray | float) -> np.ndarray:
    """Φ_I(t) = Φ_I(t-1) + (1 - Φ_I(t-1))·H if H >= 0 else Φ_I(t-1) + Φ_I(t-1)·H; stays in [0, 1]."""
    return apply_hop(np.asarray(phi_prev, float), np.clip(np.asarray(h, float), -1.0, 1.0))


FUSIONS = ("consistency", "mean")


def consistency_step(prev: float, phi_f: float, phi_b: float, d_inc: float, eps: float = CONSISTENCY_EPS) -> float:
    """Φ*_t = Φ*_{t-1} + (w/2)(Φ̄ - Φ*_{t-1} + ΔΦ_I), w = exp(-α Δ²), Δ = |Φ_B - Φ_F| / (Φ̄ + ε):
    moves toward the anchored estimates only as far as they agree with each other."""
    bar = (phi_f + phi_b) / 2.0
    w = float(np.exp(-CONSISTENCY_ALPHA * (abs(phi_b - phi_f) / (bar + eps)) ** 2))
    return float(np.clip(prev + (w / 2.0) * (bar - prev + d_inc), 0.0, 1.0))


def fuse(phi_i: np.ndarray, phi_f: np.ndarray, phi_b: np.ndarray, fusion: str = "consistency",
         eps: float = CONSISTENCY_EPS) -> np.ndarray:
    """`mean`: Φ* = (Φ_I + Φ_F + Φ_B) / 3. `consistency`: Robo-Dopamine's conservative update,
    started at the anchored mean of the first frame (the default: incremental drift cannot make a
    stalled robot look finished)."""
    phi_f, phi_b = np.clip(phi_f, 0, 1), np.clip(phi_b, 0, 1)
    if fusion == "mean":
        return np.clip((phi_i + phi_f + phi_b) / 3.0, 0.0, 1.0)
    if fusion != "consistency":
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    out = np.zeros(len(phi_i))
    out[0] = (phi_f[0] + phi_b[0]) / 2.0
    for t in range(1, len(phi_i)):
        out[t] = consistency_step(out[t - 1], phi_f[t], phi_b[t], phi_i[t] - phi_i[t - 1], eps)
    return np.clip(out, 0.0, 1.0)


class Scorer:
    """Scores episodes with a trained GRM for one task."""

    def __init__(self, model: GRM, tasks: TaskTable, device: torch.device | str = "cpu", fusion: str = "consistency") -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        self.model, self.tasks, self.device, self.fusion = model.eval(), tasks, torch.device(device), fusion
        self.cameras = model.cfg.cameras
        self._goal_cache: dict[int, torch.Tensor] = {}

    def _stack(self, images: dict[str, np.ndarray]) -> tuple[np.ndarray, torch.Tensor | None]:
        """[..., V, H, W, 3] in the model's camera order, and a view mask when a camera is absent
        (its frames are black and masked out, as under training-time camera dropout)."""
        present = [c for c in self.cameras if c in images]
        if not present:
            raise KeyError(f"the model reads cameras {list(self.cameras)}; frames have {sorted(images)}")
        if len(present) == len(self.cameras):
            return np.stack([images[c] for c in self.cameras], axis=-4), None
        blank = np.zeros_like(images[present[0]])
        frames = np.stack([images.get(c, blank) for c in self.cameras], axis=-4)
        return frames, torch.tensor([c in images for c in self.cameras], device=self.device)

    @torch.no_grad()
    def encode(self, frames: np.ndarray, view_mask: torch.Tensor | None = None, batch: int = 256) -> torch.Tensor:
        """uint8 [N, V, H, W, 3] -> [N, D]"""
        if not np.isfinite(frames).all():
            raise ValueError("frames contain non-finite values")
        parts = []
        for i in range(0, len(frames), batch):
            x = torch.from_numpy(frames[i : i + batch]).to(self.device)
            parts.append(self.model.encode(x, None if view_mask is None else view_mask.expand(len(x), -1)))
        return torch.cat(parts)

    def goal_embedding(self, task_id: int) -> torch.Tensor:
        if task_id not in self._goal_cache:
            self._goal_cache[task_id] = self.encode(self.tasks.goals[task_id])
        return self._goal_cache[task_id]

    @torch.no_grad()
    def score(self, images: dict[str, np.ndarray], task: str) -> Progress:
        """Whole-episode scoring: every frame encoded once; hop queries (t-1 -> t), (start -> t)
        and (goal_k -> t) for every goal reference k, batched into one head call."""
        task_id = self.tasks.index(task)
        frames, view_mask = self._stack(images)
        z = self.encode(frames, view_mask)
        t_len = len(z)
        goals = self.goal_embedding(task_id)
        k = len(goals)
        text = torch.from_numpy(self.tasks.embeddings[task_id]).to(self.device)[None].expand(t_len * (2 + k), -1)
        z_start = z[:1].expand(t_len, -1)
        z_goal = goals.mean(0, keepdim=True).expand(t_len, -1)
        prev = torch.cat([z[:1], z[:-1]])
        zp = torch.cat([prev, z_start, goals.repeat_interleave(t_len, 0)])
        zq = z.repeat(2 + k, 1)
        out = self.model.hop(zp, zq, z_start.repeat(2 + k, 1), z_goal.repeat(2 + k, 1), text)
        h = as_numpy(out.expected).reshape(2 + k, t_len)
        std = as_numpy(out.std).reshape(2 + k, t_len)
        phi_i = np.zeros(t_len)
        phi_f = np.clip(h[1], 0.0, 1.0)
        phi_i[0] = phi_f[0]
        for t in range(1, t_len):
            phi_i[t] = incremental_step(phi_i[t - 1], h[0, t])
        phi_b = np.clip(1.0 + h[2:].mean(0), 0.0, 1.0)
        fused = fuse(phi_i, phi_f, phi_b, self.fusion)
        stage_probs = self._stage_probs(z, z_start, task_id)
        return Progress(fused, phi_i, phi_f, phi_b, stage_probs.argmax(-1), stage_probs,
                        np.concatenate([std[:2], std[2:].mean(0, keepdims=True)]).mean(0))

    def _stage_probs(self, z: torch.Tensor, z_start: torch.Tensor, task_id: int) -> np.ndarray:
        names = self.tasks.subtasks[task_id]
        idx = torch.tensor([self.model.cfg.subtasks.index(n) for n in names], device=self.device)
        mask = torch.zeros(len(z), len(self.model.cfg.subtasks), dtype=torch.bool, device=self.device)
        mask[:, idx] = True
        text = torch.from_numpy(self.tasks.embeddings[task_id]).to(self.device)[None].expand(len(z), -1)
        logits = self.model.stage_logits(z, z_start, text, mask)[:, idx]
        return as_numpy(logits.softmax(-1))


@dataclass
class StreamStep:
    progress: float
    incremental: float
    forward: float
    backward: float
    stage: int
    stage_name: str
    uncertainty: float


class StreamingScorer:
    """Online progress for a control loop: keeps the START state (first frame after reset), the
    task's GOAL states and the previous state; each step encodes one new multi-view frame and makes
    one batched head call. O(1) model calls and one device-to-host copy per control step.

    `cuda_graph=True` (CUDA only) records the steady-state step (encode + hop + stage heads) once
    and replays it: at batch 1 the GPU time is launch overhead, which a graph replay removes."""

    def __init__(self, scorer: Scorer, task: str, cuda_graph: bool = False) -> None:
        if cuda_graph and scorer.device.type != "cuda":
            raise ValueError(f"cuda_graph needs a CUDA device; the scorer runs on {scorer.device}")
        self.s = scorer
        self.task_id = scorer.tasks.index(task)
        self.names = scorer.tasks.subtasks[self.task_id]
        m = scorer.model
        self._goals = scorer.goal_embedding(self.task_id)
        self._goal_mean = self._goals.mean(0, keepdim=True)
        self._text = torch.from_numpy(scorer.tasks.embeddings[self.task_id]).to(scorer.device)[None]
        self._stage_idx = torch.tensor([m.cfg.subtasks.index(n) for n in self.names], device=scorer.device)
        self._mask = torch.zeros(1, len(m.cfg.subtasks), dtype=torch.bool, device=scorer.device)
        self._mask[:, self._stage_idx] = True
        self.cuda_graph = cuda_graph
        self._graph: _GraphedStep | None = None
        self.reset_state()

    def reset_state(self) -> None:
        self.last_embedding = np.zeros(self.s.model.cfg.dim, np.float32)
        self._z_start: torch.Tensor | None = None
        self._z_prev: torch.Tensor | None = None
        self._phi_i = 0.0
        self._fused = 0.0

    def _forward(self, x: torch.Tensor, view_mask: torch.Tensor | None, z_prev: torch.Tensor | None,
                 z_start: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Device half of a step: (z [1, D], packed [hop E (2+K), hop std (2+K), stage logits, z])
        so that the host reads everything it needs in one copy. z_prev/z_start None: first frame."""
        m = self.s.model
        z = m.encode(x, view_mask)
        z_prev = z if z_prev is None else z_prev
        z_start = z if z_start is None else z_start
        k = len(self._goals)
        zp = torch.cat([z_prev, z_start, self._goals])
        out = m.hop(zp, z.expand(2 + k, -1), z_start.expand(2 + k, -1), self._goal_mean.expand(2 + k, -1),
                    self._text.expand(2 + k, -1))
        logits = m.stage_logits(z, z_start, self._text, self._mask)[0, self._stage_idx]
        packed = torch.cat([out.expected.float(), out.std.float(), logits.float(), z[0].float()])
        return z, packed

    @torch.no_grad()
    def step(self, images: dict[str, np.ndarray]) -> StreamStep:
        frames, view_mask = self.s._stack(images)
        x = torch.from_numpy(frames[None]).to(self.s.device, non_blocking=True)
        vm = None if view_mask is None else view_mask[None]
        first = self._z_start is None
        if self.cuda_graph and not first and vm is None:
            if self._graph is None:
                self._graph = _GraphedStep(self._forward, x, self._z_prev, self._z_start)
            z, packed = self._graph(x, self._z_prev, self._z_start)
        else:
            z, packed = self._forward(x, vm, self._z_prev, self._z_start)
        if first:
            self._z_start = z.clone()
        self._z_prev = z.clone()
        host = packed.cpu().numpy()
        k = len(self._goals)
        h, std = host[: 2 + k], host[2 + k : 2 * (2 + k)]
        logits = host[2 * (2 + k) : 2 * (2 + k) + len(self.names)]
        self.last_embedding = host[2 * (2 + k) + len(self.names):].copy()
        phi_f = float(np.clip(h[1], 0, 1))
        phi_b = float(np.clip(1.0 + h[2:].mean(), 0, 1))
        prev_i = self._phi_i
        self._phi_i = phi_f if first else float(incremental_step(self._phi_i, h[0]))
        if self.s.fusion == "mean":
            fused = float(np.clip((self._phi_i + phi_f + phi_b) / 3.0, 0.0, 1.0))
        elif first:
            fused = (phi_f + phi_b) / 2.0
        else:
            fused = consistency_step(self._fused, phi_f, phi_b, self._phi_i - prev_i)
        self._fused = fused
        stage = int(logits.argmax())
        return StreamStep(fused, self._phi_i, phi_f, phi_b, stage, self.names[stage],
                          float((std[0] + std[1] + std[2:].mean()) / 3))


class _GraphedStep:
    """One CUDA graph of StreamingScorer._forward at fixed shapes: inputs are copied into static
    buffers, the graph is replayed, outputs are the graph's static tensors (copy before reuse)."""

    def __init__(self, forward: Callable[..., tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor, z_prev: torch.Tensor, z_start: torch.Tensor) -> None:
        self.x, self.z_prev, self.z_start = x.clone(), z_prev.clone(), z_start.clone()
        fn = lambda: forward(self.x, None, self.z_prev, self.z_start)  # noqa: E731
        autocast = dict(device_type="cuda", enabled=torch.is_autocast_enabled("cuda"),
                        dtype=torch.get_autocast_dtype("cuda"), cache_enabled=False)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.autocast(**autocast):
            for _ in range(3):  # warm-up on a side stream, as torch.cuda.graph requires
                fn()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.autocast(**autocast):
            self.out = fn()

    def __call__(self, x: torch.Tensor, z_prev: torch.Tensor, z_start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.x.copy_(x)
        self.z_prev.copy_(z_prev)
        self.z_start.copy_(z_start)
        self.graph.replay()
        return self.out
