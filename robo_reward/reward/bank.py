"""Episodes decoded into memory with their labels, and the pair sampler that feeds GRM training.

Every query the model answers at inference has a counterpart here: incremental pairs (p, q) from
one episode, balanced over hop bins and time gaps; forward-anchored pairs (p = the episode's first
frame); backward-anchored pairs (p = a goal state of the task, Φ = 1)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from robo_reward.data.annotations import frame_stage
from robo_reward.data.lerobot_io import DatasetError, read_info
from robo_reward.data.sources import load_as_model_cameras, match_cameras, resolve_dataset
from robo_reward.reward.labels import (
    hop_label,
    hop_to_bin,
    progress_labels,
    smoothed_bin_targets,
    subtask_shares,
)
from robo_reward.types import Episode


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
    views: np.ndarray  # bool [V]: which model cameras this dataset has (missing ones are black and masked)
    source: int  # index of the dataset it came from
    env_state: np.ndarray | None = None  # float32 [T, k]: observation.environment_state, when the dataset records it

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
    episode: torch.Tensor  # long [U]: which of the batch's episodes (0..K-1) each state comes from
    env_state: torch.Tensor  # float [U, k]: each state's recorded environment state (k = 0: none recorded)

    def to(self, device: torch.device | str) -> PairBatch:
        return PairBatch(**{k: v.to(device, non_blocking=True) for k, v in self.__dict__.items()})

    def pin_memory(self) -> PairBatch:
        """Page-locked copy (DataLoader's pin-memory thread calls this): the GPU copy can then overlap the step."""
        return PairBatch(**{k: v.pin_memory() for k, v in self.__dict__.items()})


class EpisodeBank:
    """All episodes of one or more LeRobot datasets (annotated with SARM columns), in memory.

    Datasets may differ in camera names (`camera_map` maps dataset camera -> model camera), in which
    cameras they have (a missing one is masked out, like camera dropout) and in image size (then every
    frame is stored at `image_size`)."""

    def __init__(self, roots: Sequence[Path | str], cameras: Sequence[str], label_scheme: str = "equal",
                 progress: bool = True, max_episodes: int | None = None, camera_map: dict[str, str] | None = None,
                 image_size: int = 96, outcome_from: str | None = None) -> None:
        self.cameras = tuple(cameras)
        self.outcome_sources: dict[str, str] = {}  # dataset -> where its outcomes come from (data.outcomes)
        self.label_scheme = label_scheme
        self.tasks: list[TaskEntry] = []
        self.subtasks: list[str] = []
        self.episodes: list[BankEpisode] = []
        self.roots: list[Path] = []
        if roots:
            self.add_datasets(roots, progress, max_episodes, camera_map, image_size, outcome_from)

    def add_datasets(self, roots: Sequence[Path | str], progress: bool = True, max_episodes: int | None = None,
                     camera_map: dict[str, str] | None = None, image_size: int = 96, outcome_from: str | None = None) -> None:
        roots = [resolve_dataset(r) for r in roots]
        infos = [read_info(r, outcome_from=outcome_from) for r in roots]
        for info in infos:
            info.require_outcomes("a reward model's labels")
            self.outcome_sources[str(info.root)] = info.outcome_source
        feeds = [match_cameras(info, self.cameras, camera_map or {}) for info in infos]
        fed = {c for feed in feeds for c, d in feed.items() if d is not None}
        fed |= {c for e in self.episodes for c, v in zip(self.cameras, e.views) if v}
        unfed = [c for c in self.cameras if c not in fed]
        if unfed:
            raise DatasetError(f"the model reads cameras {list(self.cameras)} but no dataset has {unfed} "
                               f"({'; '.join(f'{i.root}: {list(i.cameras)}' for i in infos)}); "
                               "drop them from --cameras or map one with --camera-map")
        shapes = {info.frame_shape[d][:2] for info, feed in zip(infos, feeds) for d in feed.values() if d is not None}
        # one stored frame size: what is already in the bank, else the data's if it agrees, else the model's
        size = self._stored_size() or (None if len(shapes) == 1 else (image_size, image_size))
        for root, info, feed in zip(roots, infos, feeds, strict=True):
            props = _proportions(root) if self.label_scheme == "prior" else None
            shares = subtask_shares(info.subtasks, self.label_scheme, props)
            anns = _first_episodes(info.episodes, max_episodes) if max_episodes else info.episodes
            for ann in tqdm(anns, desc=f"load {Path(root).name}", disable=not progress, unit="ep"):
                ep = replace(load_as_model_cameras(root, ann.episode_index, feed), outcome=ann.outcome)
                self.add_episode(ep, root, ann.episode_index, info.subtasks, shares, size)
        if not self.episodes:
            raise DatasetError(f"no episodes to train on in {[str(r) for r in roots]}")

    def _stored_size(self) -> tuple[int, int] | None:
        return tuple(self.episodes[0].frames.shape[2:4]) if self.episodes else None

    def add_episode(self, ep: Episode, root: Path | str, episode_index: int, task_subtasks: Sequence[str],
                    shares: np.ndarray, size: tuple[int, int] | None = None) -> BankEpisode:
        """Label one decoded episode (images keyed by model cameras; an absent one is masked) and keep
        it, resized to `size` or to what the bank already stores. Episodes from the same root share a
        `source` index (for per-dataset sampling weights)."""
        unknown = [c for c in ep.images if c not in self.cameras]
        if unknown:
            raise KeyError(f"{root}: episode {episode_index} has cameras {unknown} the model does not read {list(self.cameras)}")
        if str(root) not in map(str, self.roots):
            self.roots.append(Path(root))
        source = [str(r) for r in self.roots].index(str(root))
        for name in task_subtasks:
            if name not in self.subtasks:
                self.subtasks.append(name)
        task = TaskEntry(ep.task_text, tuple(task_subtasks))
        if task not in self.tasks:
            self.tasks.append(task)
        frames = _stack_views(ep.images, self.cameras, size or self._stored_size())
        phi = progress_labels(ep.subtasks, task_subtasks, ep.length, ep.outcome == "success", shares)
        local = frame_stage(ep.subtasks, list(task_subtasks), ep.length)
        glob = np.array([self.subtasks.index(task_subtasks[k]) for k in local], dtype=np.int64)
        views = np.array([c in ep.images for c in self.cameras])
        entry = BankEpisode(str(root), episode_index, self.tasks.index(task), frames, phi, glob, ep.outcome, ep.mode,
                            views, source, ep.env_state)
        self.episodes.append(entry)
        return entry

    def env_state_dim(self, strict: bool = False) -> int:
        """The size of the environment state every episode records; 0 if one records none or the sizes differ
        (several tasks), which `strict` names instead (the auxiliary head needs one size)."""
        dims = {e.env_state.shape[1] if e.env_state is not None else 0 for e in self.episodes}
        if len(dims) > 1 and 0 not in dims and strict:
            raise DatasetError(f"episodes record environment states of sizes {sorted(dims)}: one auxiliary head needs one size")
        return dims.pop() if len(dims) == 1 else 0

    def env_state_missing(self) -> list[str]:
        """Episodes without observation.environment_state, as `dataset: episode N`."""
        return [f"{e.dataset}: episode {e.episode_index}" for e in self.episodes if e.env_state is None]

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


def _first_episodes(anns: Sequence, k: int) -> list:
    """The first k episodes, with a successful one among them when the dataset has any (a task
    needs one for its GOAL references)."""
    chosen = list(anns[:k])
    if not any(a.outcome == "success" for a in chosen):
        success = next((a for a in anns if a.outcome == "success"), None)
        if success is not None:
            chosen[-1] = success
    return chosen


def _stack_views(images: dict[str, np.ndarray], cameras: Sequence[str], size: tuple[int, int] | None) -> np.ndarray:
    """[T, V, H, W, 3] in model-camera order, every view at `size` (H, W) when given; a camera the
    episode lacks is black."""
    present = dict(images)
    if size is not None:
        present = {c: v if v.shape[1:3] == tuple(size) else
                   np.stack([cv2.resize(f, size[::-1], interpolation=cv2.INTER_AREA) for f in v]) for c, v in present.items()}
    shape = next(iter(present.values())).shape
    return np.stack([present.get(c, np.zeros(shape, np.uint8)) for c in cameras], axis=1)


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
    dataset_weights: tuple[float, ...] = ()  # per dataset; () samples episodes uniformly
    cross_task: float = 0.0  # share of queries whose q is another task's frame (progress 0 under this task)


class PairSampler:
    def __init__(self, bank: EpisodeBank, text_embeddings: np.ndarray, cfg: SamplerConfig, seed: int = 0) -> None:
        if not bank.episodes:
            raise DatasetError("no episodes to train on")
        self.bank, self.cfg, self.seed = bank, cfg, seed
        self.rng = np.random.default_rng(seed)
        self.text = text_embeddings.astype(np.float32)
        self.by_task = {t: [i for i, e in enumerate(bank.episodes) if e.task_id == t] for t in range(len(bank.tasks))}
        self.success_by_task = {t: [i for i in ids if bank.episodes[i].outcome == "success"] for t, ids in self.by_task.items()}
        self.masks = np.stack([bank.stage_mask(t) for t in range(len(bank.tasks))])
        self.env_dim = bank.env_state_dim()
        self.other_tasks = {t: [i for i, e in enumerate(bank.episodes) if e.task_id != t] for t in range(len(bank.tasks))}
        self.by_source: list[list[int]] = []
        self.source_p: np.ndarray | None = None
        if cfg.dataset_weights:
            n = len(bank.roots)
            if len(cfg.dataset_weights) != n or min(cfg.dataset_weights) < 0 or sum(cfg.dataset_weights) <= 0:
                raise ValueError(f"dataset weights {list(cfg.dataset_weights)}: need {n} non-negative numbers, one per --data")
            self.by_source = [[i for i, e in enumerate(bank.episodes) if e.source == k] for k in range(n)]
            w = np.array(cfg.dataset_weights, dtype=float)
            self.source_p = w / w.sum()
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
        views: list[np.ndarray] = []
        source: list[int] = []
        env: list[np.ndarray] = []

        def state(e: int, t: int) -> int:
            key = (e, t)
            if key not in index:
                index[key] = len(states)
                states.append(bank.episodes[e].frames[t])
                views.append(bank.episodes[e].views)
                source.append(e)
                if self.env_dim:
                    env.append(bank.episodes[e].env_state[t])
            return index[key]

        cols = {k: [] for k in ("p", "q", "start", "goal", "phi_p", "phi_q", "task", "stage")}
        for _ in range(cfg.batch_size):
            if self.source_p is None:
                e = int(rng.integers(len(bank.episodes)))
            else:
                e = int(rng.choice(self.by_source[int(rng.choice(len(self.source_p), p=self.source_p))]))
            ep = bank.episodes[e]
            same_task = self.by_task[ep.task_id]
            start_e = int(rng.choice(same_task)) if rng.random() < cfg.swap_reference else e
            goals = [g for g in self.success_by_task[ep.task_id] if g != e] or self.success_by_task[ep.task_id]
            goal_e = int(rng.choice(goals))
            goal_t = bank.episodes[goal_e].length - 1
            kind = rng.random()
            q = int(rng.integers(ep.length))
            others = self.other_tasks[ep.task_id]
            if cfg.cross_task > 0 and others and rng.random() < cfg.cross_task:  # a foreign scene: no progress here
                o = int(rng.choice(others))
                q_idx, phi_q, stage = state(o, int(rng.integers(bank.episodes[o].length))), 0.0, ep.stage[0]
                kind = 0.0 if rng.random() < 0.5 else cfg.forward_share  # anchored at START or at GOAL
            else:
                q_idx, phi_q, stage = None, None, None
            if kind < cfg.forward_share:
                p_idx, phi_p = state(e, 0), ep.phi[0]
            elif kind < cfg.forward_share + cfg.backward_share:
                p_idx, phi_p = state(goal_e, goal_t), 1.0
            else:
                p, q = self._pick_incremental(ep)
                p_idx, phi_p = state(e, p), ep.phi[p]
            if q_idx is None:
                q_idx, phi_q, stage = state(e, q), ep.phi[q], ep.stage[q]
            cols["p"].append(p_idx)
            cols["q"].append(q_idx)
            cols["start"].append(state(start_e, 0))
            cols["goal"].append(state(goal_e, goal_t))
            cols["phi_p"].append(phi_p)
            cols["phi_q"].append(phi_q)
            cols["task"].append(ep.task_id)
            cols["stage"].append(stage)
        frames = np.stack(states)
        v = frames.shape[1]
        have = np.stack(views)
        mask = (rng.random((len(states), v)) >= cfg.camera_dropout) & have
        empty = np.nonzero(~mask.any(axis=1))[0]
        mask[empty, have[empty].argmax(axis=1)] = True  # never drop every view: keep the state's first one
        hop = hop_label(np.array(cols["phi_p"]), np.array(cols["phi_q"]))
        task = np.array(cols["task"])
        return PairBatch(
            frames=torch.from_numpy(frames), view_mask=torch.from_numpy(mask),
            p=torch.tensor(cols["p"]), q=torch.tensor(cols["q"]), start=torch.tensor(cols["start"]),
            goal=torch.tensor(cols["goal"]), text=torch.from_numpy(self.text[task]),
            stage_mask=torch.from_numpy(self.masks[task]), hop=torch.from_numpy(hop.astype(np.float32)),
            hop_target=torch.from_numpy(smoothed_bin_targets(hop, cfg.hop_bins).astype(np.float32)),
            stage=torch.tensor(cols["stage"]), episode=torch.from_numpy(np.unique(source, return_inverse=True)[1].astype(np.int64)),
            env_state=torch.from_numpy(np.asarray(env, np.float32).reshape(len(states), self.env_dim)),
        )


class _SamplerStream(torch.utils.data.IterableDataset):
    """Endless batches from one PairSampler; each DataLoader worker draws from its own stream."""

    def __init__(self, sampler: PairSampler) -> None:
        self.sampler = sampler

    def __iter__(self) -> Iterator[PairBatch]:
        info = torch.utils.data.get_worker_info()
        if info is not None:  # a forked copy of the sampler: give it a stream of its own
            self.sampler.rng = np.random.default_rng([self.sampler.seed, info.id + 1])
        while True:
            yield self.sampler.sample()


def pair_batches(sampler: PairSampler, workers: int = 0, pin_memory: bool = False) -> Iterator[PairBatch]:
    """Endless training batches. `workers` = 0 samples in this process (the same stream as calling
    `sampler.sample()`); more draw batches in that many forked worker processes, which share the bank's
    frames copy-on-write, while the main process trains: on a GPU the single-threaded sampler is most of
    each step. Batches then come round-robin from the workers' own seeded streams (reproducible for a
    given seed and worker count, not equal to the in-process stream)."""
    if workers < 0:
        raise ValueError(f"sampler workers must be >= 0, got {workers}")
    if workers == 0:
        while True:
            yield sampler.sample()
    loader = torch.utils.data.DataLoader(_SamplerStream(sampler), batch_size=None, num_workers=workers,
                                         pin_memory=pin_memory, prefetch_factor=2, multiprocessing_context="fork")
    yield from loader
