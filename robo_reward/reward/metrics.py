"""Evaluation metrics (definitions: shared REFERENCES.md): VOC, completion classification,
success-detection AUROC, stage accuracy. Pure numpy so baselines and tests share them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from robo_reward.types import OUTCOMES, PARTIAL_PROGRESS


def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    x = np.asarray(x, float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    return (sums / counts)[inv]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def voc(progress: np.ndarray) -> float:
    """Value-order correlation: Spearman between predicted progress and frame order."""
    return spearman(progress, np.arange(len(progress)))


def classify_completion(progress: np.ndarray) -> str:
    """Robo-Dopamine's rule: success if P_final > 0.8 and mean over the last third > 0.6;
    partial if the episode mean >= 0.4; failure otherwise."""
    p = np.asarray(progress, float)
    last_third = p[-max(1, len(p) // 3):]
    if p[-1] > 0.8 and last_third.mean() > 0.6:
        return "success"
    if p.mean() >= PARTIAL_PROGRESS:
        return "partial"
    return "failure"


def confusion(true: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, int]]:
    return {t: {p: int(sum(1 for a, b in zip(true, pred, strict=True) if a == t and b == p)) for p in OUTCOMES}
            for t in OUTCOMES}


def auroc(scores_pos: Sequence[float], scores_neg: Sequence[float]) -> float | None:
    """Probability that a positive scores above a negative (ties count half); None if a class is empty."""
    pos, neg = np.asarray(scores_pos, float), np.asarray(scores_neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return None
    ranks = rankdata(np.concatenate([pos, neg])) + 1.0
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))
