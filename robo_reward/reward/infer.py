"""Inference: per-frame progress from three perspectives, fused (Robo-Dopamine's multi-perspective
fusion), for whole episodes in one batched pass and for streaming use at control rate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
    spread: np.ndarray  # [3, T] std of the hop distribution behind each perspective (incremental, forward, backward)

    @property
    def uncertainty(self) -> np.ndarray:
        """[T] mean std of the three hop distributions."""
        return self.spread.mean(0)

    def perspective(self, name: str) -> np.ndarray:
        return self.value if name == "fused" else getattr(self, name)


def incremental_step(phi_prev: np.ndarray | float, h: np.ndarray | float) -> np.ndarray:
    """Φ_I(t) = Φ_I(t-1) + (1 - Φ_I(t-1))·H if H >= 0 else Φ_I(t-1) + Φ_I(t-1)·H; stays in [0, 1]."""
    return apply_hop(np.asarray(phi_prev, float), np.clip(np.asarray(h, float), -1.0, 1.0))


FUSIONS = ("kalman", "consistency", "mean")
DEFAULT_FUSION = "kalman"
# what StreamingScorer.last_embedding holds: the fused state embedding the heads read, every camera's features
# before fusion (V x D; where things are in each image), or the environment state (object and target positions)
# as the model's auxiliary head estimates it from those (needs a model trained with --env-state-weight), alone or
# after the per-view features
FEATURES = ("fused", "views", "estimate", "views+estimate")


@dataclass(frozen=True)
class KalmanParams:
    """Kalman fusion: Φ* moves by `gain` times the incremental chain's step, with process noise `q` per frame,
    and is corrected by the forward and backward estimates, each trusted by the inverse of its hop
    distribution's variance plus `r0`. The gain is below 1 because chained hops over-count (a near miss's chain
    climbs ~0.05 a frame while both anchors stay flat): at gain 1 the filter overshoots both anchors and touches
    "success" on failed episodes. The defaults were chosen on validation seeds no benchmark number comes from, as
    the best completion accuracy among the settings that never touch Φ* >= 0.95 on a failed validation episode
    (docs/BENCHMARKS.md, "Uncertainty-weighted fusion"; `scripts/fusion_sweep.py --kalman-grid`)."""

    q: float = 5e-5
    r0: float = 0.005
    gain: float = 0.85


def consistency_step(prev: float, phi_f: float, phi_b: float, d_inc: float, eps: float = CONSISTENCY_EPS) -> float:
    """Φ*_t = Φ*_{t-1} + (w/2)(Φ̄ - Φ*_{t-1} + ΔΦ_I), w = exp(-α Δ²), Δ = |Φ_B - Φ_F| / (Φ̄ + ε):
    moves toward the anchored estimates only as far as they agree with each other."""
    bar = (phi_f + phi_b) / 2.0
    w = float(np.exp(-CONSISTENCY_ALPHA * (abs(phi_b - phi_f) / (bar + eps)) ** 2))
    return float(np.clip(prev + (w / 2.0) * (bar - prev + d_inc), 0.0, 1.0))


@dataclass
class Fuser:
    """Fused Φ* of one episode, one frame at a time; whole-episode scoring and the streaming scorer share it.

    `kalman` (default): a one-dimensional Kalman filter whose motion model is (a damped) incremental chain's
    step and whose two measurements are the anchored estimates, each weighted by the inverse variance of the hop
    distribution behind it, so a confident anchor pulls harder and a chain that drifts (after a drop) is
    corrected. `consistency`: Robo-Dopamine's conservative update. `mean`: (Φ_I + Φ_F + Φ_B) / 3."""

    rule: str = DEFAULT_FUSION
    eps: float = CONSISTENCY_EPS
    kalman: KalmanParams = KalmanParams()
    value: float = field(default=0.0, init=False)  # Φ* after the last step
    var: float = field(default=0.0, init=False)  # its variance (kalman)
    prev_inc: float | None = field(default=None, init=False)  # the chain's previous value; None before the first frame

    def __post_init__(self) -> None:
        if self.rule not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.rule!r}")

    def step(self, phi_i: float, phi_f: float, phi_b: float, std_f: float, std_b: float) -> float:
        """Φ* at the next frame from the three perspectives and the anchors' hop std (read by `kalman` only)."""
        phi_f, phi_b = min(max(phi_f, 0.0), 1.0), min(max(phi_b, 0.0), 1.0)
        r_f, r_b = std_f**2 + self.kalman.r0, std_b**2 + self.kalman.r0
        first, d_inc = self.prev_inc is None, 0.0 if self.prev_inc is None else phi_i - self.prev_inc
        self.prev_inc = phi_i
        if self.rule == "mean":
            self.value = (phi_i + phi_f + phi_b) / 3.0
        elif self.rule == "consistency":
            self.value = (phi_f + phi_b) / 2.0 if first else consistency_step(self.value, phi_f, phi_b, d_inc, self.eps)
        elif first:
            self.var = 1.0 / (1.0 / r_f + 1.0 / r_b)
            self.value = self.var * (phi_f / r_f + phi_b / r_b)
        else:
            x, p = self.value + self.kalman.gain * d_inc, self.var + self.kalman.q
            for z, r in ((phi_f, r_f), (phi_b, r_b)):
                k = p / (p + r)
                x, p = x + k * (z - x), (1.0 - k) * p
            self.value, self.var = x, p
        self.value = min(max(self.value, 0.0), 1.0)
        return self.value


def fuse(phi_i: np.ndarray, phi_f: np.ndarray, phi_b: np.ndarray, fusion: str = DEFAULT_FUSION,
         eps: float = CONSISTENCY_EPS, std_f: np.ndarray | None = None, std_b: np.ndarray | None = None,
         kalman: KalmanParams = KalmanParams()) -> np.ndarray:
    """Φ* per frame from the three perspectives (rules: Fuser). `kalman` needs the anchors' hop std."""
    if fusion == "kalman" and (std_f is None or std_b is None):
        raise ValueError("kalman fusion weighs the anchored estimates by their hop std: pass std_f and std_b")
    zeros = np.zeros(len(phi_i))
    std_f, std_b = zeros if std_f is None else std_f, zeros if std_b is None else std_b
    fuser = Fuser(fusion, eps, kalman)
    return np.array([fuser.step(*map(float, v)) for v in zip(phi_i, phi_f, phi_b, std_f, std_b, strict=True)])


class Scorer:
    """Scores episodes with a trained GRM for one task."""

    def __init__(self, model: GRM, tasks: TaskTable, device: torch.device | str = "cpu", fusion: str = DEFAULT_FUSION) -> None:
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
        spread = np.concatenate([std[:2], std[2:].mean(0, keepdims=True)])
        fused = fuse(phi_i, phi_f, phi_b, self.fusion, std_f=spread[1], std_b=spread[2])
        stage_probs = self._stage_probs(z, z_start, task_id)
        return Progress(fused, phi_i, phi_f, phi_b, stage_probs.argmax(-1), stage_probs, spread)

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
    # what a policy reads (StreamingScorer's `features`: fused or per view); not part of the reading's equality
    features: np.ndarray | None = field(default=None, compare=False)


class StreamingScorer:
    """Online progress for a control loop: keeps the START state (first frame after reset), the
    task's GOAL states and the previous state; each step encodes one new multi-view frame and makes
    one batched head call. O(1) model calls and one device-to-host copy per control step.

    `cuda_graph=True` (CUDA only) records the steady-state step (encode + hop + stage heads) once
    and replays it: at batch 1 the GPU time is launch overhead, which a graph replay removes.
    `features` picks what `last_embedding` holds for a policy that reads it (FEATURES)."""

    def __init__(self, scorer: Scorer, task: str, cuda_graph: bool = False, features: str = "fused") -> None:
        if cuda_graph and scorer.device.type != "cuda":
            raise ValueError(f"cuda_graph needs a CUDA device; the scorer runs on {scorer.device}")
        if features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
        if "estimate" in features and not scorer.model.cfg.env_state_dim:
            raise ValueError(f"features {features!r} read the model's environment-state estimate; this model has no such "
                             "head (train it with train-reward --env-state-weight on data that records "
                             "observation.environment_state)")
        self.features = features
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
        cfg = self.s.model.cfg
        size = {"fused": cfg.dim, "views": cfg.dim * len(cfg.cameras), "estimate": cfg.env_state_dim,
                "views+estimate": cfg.dim * len(cfg.cameras) + cfg.env_state_dim}[self.features]
        self.last_embedding = np.zeros(size, np.float32)
        self._z_start: torch.Tensor | None = None
        self._z_prev: torch.Tensor | None = None
        self._phi_i = 0.0
        self._fuser = Fuser(self.s.fusion)

    def _forward(self, x: torch.Tensor, view_mask: torch.Tensor | None, z_prev: torch.Tensor | None,
                 z_start: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Device half of a step: (z [1, D], packed [hop E (2+K), hop std (2+K), stage logits, features])
        so that the host reads everything it needs in one copy. z_prev/z_start None: first frame."""
        m = self.s.model
        views = m.encode_views(x, view_mask)
        z = m.encoder.fuse_views(views)
        z_prev = z if z_prev is None else z_prev
        z_start = z if z_start is None else z_start
        k = len(self._goals)
        zp = torch.cat([z_prev, z_start, self._goals])
        out = m.hop(zp, z.expand(2 + k, -1), z_start.expand(2 + k, -1), self._goal_mean.expand(2 + k, -1),
                    self._text.expand(2 + k, -1))
        logits = m.stage_logits(z, z_start, self._text, self._mask)[0, self._stage_idx]
        feats = z[0] if self.features == "fused" else views[0].flatten()
        if "estimate" in self.features:
            estimate = m.env_state(views)[0]
            feats = estimate if self.features == "estimate" else torch.cat([feats, estimate])
        packed = torch.cat([out.expected.float(), out.std.float(), logits.float(), feats.float()])
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
        self._phi_i = phi_f if first else float(incremental_step(self._phi_i, h[0]))
        std_b = float(std[2:].mean())
        fused = self._fuser.step(self._phi_i, phi_f, phi_b, float(std[1]), std_b)
        stage = int(logits.argmax())
        return StreamStep(fused, self._phi_i, phi_f, phi_b, stage, self.names[stage],
                          float((std[0] + std[1] + std_b) / 3), self.last_embedding)


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
