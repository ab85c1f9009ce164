"""RA-BC sample weights from per-frame progress (SARM paper, Eq. 8-9; shared REFERENCES.md).

r_i = φ(o_{t+Δ}) − φ(o_t) with Δ the action-chunk length (clamped at the episode's last frame);
μ = max(mean r, 0), σ = max(std r, ε) over the whole dataset; soft weight
w̃ = clip((r − (μ − 2σ)) / (4σ + ε), 0, 1); w = 1 if r > κ, w̃ if 0 <= r <= κ, 0 if r < 0.
The loss is Σ wℓ / Σ w. Reads the same parquet LeRobot's RA-BC reads (index, episode_index,
frame_index, progress_sparse), so the two give the same weights on the same frames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROGRESS_COLUMN = "progress_sparse"


@dataclass(frozen=True)
class RABCStats:
    mean: float
    std: float


class RABCWeighter:
    """Weights for global frame indices of one dataset."""

    def __init__(self, progress: pd.DataFrame, chunk: int, kappa: float = 0.01, eps: float = 1e-6) -> None:
        for col in ("index", "episode_index", PROGRESS_COLUMN):
            if col not in progress.columns:
                raise KeyError(f"progress table lacks column {col!r} (has {list(progress.columns)})")
        if progress[PROGRESS_COLUMN].isna().any():
            bad = progress[progress[PROGRESS_COLUMN].isna()].iloc[0]
            raise ValueError(f"NaN progress at episode {int(bad['episode_index'])}, index {int(bad['index'])}")
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.chunk, self.kappa, self.eps = chunk, kappa, eps
        df = progress.sort_values("index")
        self.index = df["index"].to_numpy(np.int64)
        self.progress = df[PROGRESS_COLUMN].to_numpy(np.float64)
        episodes = df["episode_index"].to_numpy(np.int64)
        self._pos = {int(i): k for k, i in enumerate(self.index)}
        # last position of each frame's episode, for the clamp at the episode end
        last = {}
        for k, e in enumerate(episodes):
            last[int(e)] = k
        self._end = np.array([last[int(e)] for e in episodes])
        all_r = self._deltas_at(np.arange(len(self.index)))
        self.stats = RABCStats(max(float(all_r.mean()), 0.0), max(float(all_r.std()), eps))

    @classmethod
    def from_parquet(cls, path: Path, chunk: int, kappa: float = 0.01) -> RABCWeighter:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"progress file not found: {path} (make one with `robo-reward score`)")
        return cls(pd.read_parquet(path), chunk, kappa)

    def _deltas_at(self, pos: np.ndarray) -> np.ndarray:
        future = np.minimum(pos + self.chunk, self._end[pos])
        return self.progress[future] - self.progress[pos]

    def positions(self, indices: np.ndarray) -> np.ndarray:
        try:
            return np.array([self._pos[int(i)] for i in indices])
        except KeyError as exc:
            raise KeyError(f"frame index {exc.args[0]} has no progress value: the progress file does not cover "
                           "this dataset's frames (score the same dataset)") from exc

    def weights(self, indices: np.ndarray) -> np.ndarray:
        """Raw weights in [0, 1] for global frame indices."""
        r = self._deltas_at(self.positions(indices))
        mu, sigma = self.stats.mean, self.stats.std
        soft = np.clip((r - (mu - 2 * sigma)) / (4 * sigma + self.eps), 0.0, 1.0)
        return np.where(r > self.kappa, 1.0, np.where(r >= 0, soft, 0.0))


def weighted_mean(losses, weights, eps: float = 1e-8):
    """Σ wℓ / Σ w (works for numpy arrays and torch tensors)."""
    return (losses * weights).sum() / (weights.sum() + eps)
