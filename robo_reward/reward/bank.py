"""Episodes decoded into memory with their labels, and the pair sampler that feeds GRM training.

Every query the model answers at inference has a counterpart here: incremental pairs (p, q) from
one episode, balanced over hop bins and time gaps; forward-anchored pairs (p = the episode's first
frame); backward-anchored pairs (p = a goal state of the task, Φ = 1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from robo_reward.data.annotations import frame_stage
from robo_reward.data.lerobot_io import DatasetError, load_episode, read_info
from robo_reward.reward.labels import hop_label, hop_to_bin, progress_labels, smoothed_bin_targets, subtask_shares


@dataclass(frozen=True)
class TaskEntry:
    text: str
    subtasks: tuple[str, ...]


@dataclass
class BankEpisode:
    dataset: str
    episode_index: int
    task_id: int
    frames: np.ndarray  # uint8 [T, V, H, W, 3]
    phi: np.ndarray  # float [T] progress labels
    stage: np.ndarray  # int [T] index into the global subtask vocabulary
    outcome: str
    mode: str

    @property
    def length(self) -> int:
        return len(self.phi)


@dataclass
class PairBatch:
    """A training batch over unique states: p/q/start/goal index into `frames`."""

    frames: torch.Tensor  # uint8 [U, V, H, W, 3]
    view_mask: torch.Tensor  # bool [U, V]
    p: torch.Tensor  # long [B]
    q: torch.Tensor
    start: torch.Tensor
    goal: torch.Tensor
    text: torch.Tensor  # float [B, 384]
    stage_mask: torch.Tensor  # bool [B, S]
    hop: torch.Tensor  # float [B]
    hop_target: torch.Tensor  # float [B, bins]
    stage: torch.Tensor  # long [B]

    def to(self, device: torch.device | str) -> PairBatch:
        return PairBatch(**{k: v.to(device, non_blocking=True) for k, v in self.__dict__.items()})


class EpisodeBank:
    """All episodes of one or more LeRobot datasets (annotated with SARM columns), in memory."""

    def __init__(self, roots: Sequence[Path], cameras: Sequence[str], label_scheme: str = "equal",
                 progress: bool = True, max_episodes: int | None = None) -> None:
        self.cameras = tuple(cameras)
        self.tasks: list[TaskEntry] = []
        self.subtasks: list[str] = []
        self.episodes: list[BankEpisode] = []
        for root in roots:
            info = read_info(root)
            missing = [c for c in self.cameras if c not in info.cameras]
            if missing:
                raise DatasetError(f"{root}: the model reads cameras {list(self.cameras)} but the dataset lacks {missing} "
                                   f"(it has {list(info.cameras)})")
            for name in info.subtasks:
                if name not in self.subtasks:
                    self.subtasks.append(name)
            props = _proportions(root) if label_scheme == "prior" else None
            shares = subtask_shares(info.subtasks, label_scheme, props)
            anns = info.episodes[:max_episodes] if max_episodes else info.episodes
            for ann in tqdm(anns, desc=f"load {Path(root).name}", disable=not progress, unit="ep"):
                ep = load_episode(root, ann.episode_index, self.cameras)
                task = TaskEntry(ep.task_text, info.subtasks)
                if task not in self.tasks:
                    self.tasks.append(task)
                frames = np.stack([ep.images[c] for c in self.cameras], axis=1)
                phi = progress_labels(ep.subtasks, info.subtasks, ep.length, ep.outcome == "success", shares)
                local = frame_stage(ep.subtasks, list(info.subtasks), ep.length)
                glob = np.array([self.subtasks.index(info.subtasks[k]) for k in local], dtype=np.int64)
                self.episodes.append(BankEpisode(str(root), ann.episode_index, self.tasks.index(task), frames, phi,
                                                 glob, ep.outcome, ep.mode))
        if not self.episodes:
            raise DatasetError("no episodes to train on")

    def goal_states(self, task_id: int, limit: int = 8) -> np.ndarray:
        """Last frames of successful episodes of a task: the GOAL references [K, V, H, W, 3]."""
        goals = [e.frames[-1] for e in self.episodes if e.task_id == task_id and e.outcome == "success"]
        if not goals:
            raise DatasetError(f"task {self.tasks[task_id].text!r} has no successful episode to take a goal reference from")
        return np.stack(goals[:limit])

    def stage_mask(self, task_id: int) -> np.ndarray:
        mask = np.zeros(len(self.subtasks), dtype=bool)
        for n in self.tasks[task_id].subtasks:
            mask[self.subtasks.index(n)] = True
        return mask


def _proportions(root: Path) -> dict[str, float]:
    import json

    path = Path(root) / "meta" / "temporal_proportions_sparse.json"
    if not path.exists():
        raise DatasetError(f"{path} is missing: needed for --label-scheme prior")
    return json.loads(path.read_text())


@dataclass(frozen=True)
class SamplerConfig:
    batch_size: int = 32
    hop_bins: int = 25
    zero_hop: float = 0.05  # share of near-identical pairs
    forward_share: float = 0.25  # queries anchored at the episode's first frame
    backward_share: float = 0.25  # queries anchored at a goal state
    swap_reference: float = 0.75  # START/GOAL taken from another episode of the task
    camera_dropout: float = 0.1
    tries: int = 24  # candidates per sample when balancing hop bins


class PairSampler:
    def __init__(self, bank: EpisodeBank, text_embeddings: np.ndarray, cfg: SamplerConfig, seed: int = 0) -> None:
        self.bank, self.cfg = bank, cfg
        self.rng = np.random.default_rng(seed)
        self.text = text_embeddings.astype(np.float32)
        self.by_task = {t: [i for i, e in enumerate(bank.episodes) if e.task_id == t] for t in range(len(bank.tasks))}
        self.success_by_task = {t: [i for i in ids if bank.episodes[i].outcome == "success"] for t, ids in self.by_task.items()}
        self.masks = np.stack([bank.stage_mask(t) for t in range(len(bank.tasks))])
        for t, ids in self.success_by_task.items():
            if not ids:
                raise DatasetError(f"task {bank.tasks[t].text!r} has no successful episode (needed for GOAL references)")

    def _pick_incremental(self, ep: BankEpisode) -> tuple[int, int]:
        cfg, rng, n = self.cfg, self.rng, ep.length
        if rng.random() < cfg.zero_hop or n < 2:
            p = int(rng.integers(n))
            return p, min(n - 1, p + int(rng.integers(0, 2)))
        want = int(rng.integers(cfg.hop_bins))
        best, best_err = (0, n - 1), 10**9
        for _ in range(cfg.tries):
            p = int(rng.integers(n))
            gap = int(np.exp(rng.uniform(0.0, np.log(n))))  # log-uniform time gaps
            q = int(np.clip(p + (gap if rng.random() < 0.5 else -gap), 0, n - 1))
            err = abs(int(hop_to_bin(hop_label(ep.phi[p], ep.phi[q]), cfg.hop_bins)) - want)
            if err < best_err:
                best, best_err = (p, q), err
                if err == 0:
                    break
        return best

    def sample(self) -> PairBatch:
        cfg, rng, bank = self.cfg, self.rng, self.bank
        states: list[np.ndarray] = []
        index: dict[tuple[int, int], int] = {}

        def state(e: int, t: int) -> int:
            key = (e, t)
            if key not in index:
                index[key] = len(states)
                states.append(bank.episodes[e].frames[t])
            return index[key]

        cols = {k: [] for k in ("p", "q", "start", "goal", "phi_p", "phi_q", "task", "stage")}
        for _ in range(cfg.batch_size):
            e = int(rng.integers(len(bank.episodes)))
            ep = bank.episodes[e]
            same_task = self.by_task[ep.task_id]
            start_e = int(rng.choice(same_task)) if rng.random() < cfg.swap_reference else e
            goals = [g for g in self.success_by_task[ep.task_id] if g != e] or self.success_by_task[ep.task_id]
            goal_e = int(rng.choice(goals))
            goal_t = bank.episodes[goal_e].length - 1
            kind = rng.random()
            q = int(rng.integers(ep.length))
            if kind < cfg.forward_share:
                p_idx, phi_p = state(e, 0), ep.phi[0]
            elif kind < cfg.forward_share + cfg.backward_share:
                p_idx, phi_p = state(goal_e, goal_t), 1.0
            else:
                p, q = self._pick_incremental(ep)
                p_idx, phi_p = state(e, p), ep.phi[p]
            cols["p"].append(p_idx)
            cols["q"].append(state(e, q))
            cols["start"].append(state(start_e, 0))
            cols["goal"].append(state(goal_e, goal_t))
            cols["phi_p"].append(phi_p)
            cols["phi_q"].append(ep.phi[q])
            cols["task"].append(ep.task_id)
            cols["stage"].append(ep.stage[q])
        frames = np.stack(states)
        v = frames.shape[1]
        mask = rng.random((len(states), v)) >= cfg.camera_dropout
        mask[~mask.any(axis=1), 0] = True  # never drop every view
        hop = hop_label(np.array(cols["phi_p"]), np.array(cols["phi_q"]))
        task = np.array(cols["task"])
        return PairBatch(
            frames=torch.from_numpy(frames), view_mask=torch.from_numpy(mask),
            p=torch.tensor(cols["p"]), q=torch.tensor(cols["q"]), start=torch.tensor(cols["start"]),
            goal=torch.tensor(cols["goal"]), text=torch.from_numpy(self.text[task]),
            stage_mask=torch.from_numpy(self.masks[task]), hop=torch.from_numpy(hop.astype(np.float32)),
            hop_target=torch.from_numpy(smoothed_bin_targets(hop, cfg.hop_bins).astype(np.float32)),
            stage=torch.tensor(cols["stage"]),
        )
