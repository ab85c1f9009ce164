"""Label maths (formulas: shared REFERENCES.md, Robo-Dopamine GRM and SARM).

Progress Φ per frame comes from subtask keyframes: each subtask owns a share of [0, 1] (an equal
share, Robo-Dopamine's step-wise discretization, or SARM's dataset prior ᾱ_k) and progress grows
linearly inside a completed subtask. A subtask the episode entered but never completed earns no
progress (Φ stays at the share completed so far), so stalls, near misses and imposters are
labelled by what physically happened, not by how busy the arm looked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from robo_reward.data.annotations import span_completed
from robo_reward.types import SubtaskSpan

EPS = 1e-6


def subtask_shares(names: Sequence[str], scheme: str, proportions: Mapping[str, float] | None = None) -> np.ndarray:
    """Share of progress per subtask: `equal` (1/N each) or `prior` (SARM temporal proportions)."""
    if scheme == "equal":
        return np.full(len(names), 1.0 / len(names))
    if scheme == "prior":
        if proportions is None:
            raise ValueError("label scheme 'prior' needs the dataset's temporal proportions")
        missing = [n for n in names if n not in proportions]
        if missing:
            raise KeyError(f"temporal proportions lack subtasks {missing}")
        shares = np.array([proportions[n] for n in names], dtype=float)
        return shares / shares.sum()
    raise ValueError(f"label scheme must be 'equal' or 'prior', got {scheme!r}")


def progress_labels(spans: Sequence[SubtaskSpan], names: Sequence[str], length: int, success: bool,
                    shares: np.ndarray) -> np.ndarray:
    """Per-frame Φ in [0, 1]. In a completed span [s, e] of subtask k, Φ(t) = P_{k-1} + share_k·(t-s+1)/(e-s+1)
    (so Φ reaches P_k on the completing frame); in an unfinished span (the last one, or one the robot
    lost its progress in: a drop) Φ = P_{k-1}, and the next span restarts from its own subtask's P.
    A successful episode's last span is complete by definition and ends at Φ = 1."""
    cum = np.concatenate([[0.0], np.cumsum(shares)])
    phi = np.zeros(length)
    for i, s in enumerate(spans):
        k = list(names).index(s.name)
        n = s.end - s.start + 1
        if span_completed(spans, i, names, success):
            phi[s.start : s.end + 1] = cum[k] + shares[k] * np.arange(1, n + 1) / n
        else:
            phi[s.start : s.end + 1] = cum[k]
    return np.clip(phi, 0.0, 1.0)


def hop_label(phi_p: np.ndarray | float, phi_q: np.ndarray | float) -> np.ndarray:
    """H(p, q) in [-1, 1]: the fraction of the remaining progress gained (q ahead of p) or of the
    achieved progress lost (q behind p)."""
    phi_p, phi_q = np.asarray(phi_p, float), np.asarray(phi_q, float)
    d = phi_q - phi_p
    forward = d / np.maximum(1.0 - phi_p, EPS)
    backward = d / np.maximum(phi_p, EPS)
    h = np.where(d >= 0, forward, backward)
    return np.clip(h, -1.0, 1.0)


def apply_hop(phi_p: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Inverse of hop_label: Φ_q from Φ_p and H (the incremental-perspective update)."""
    return np.where(h >= 0, phi_p + (1.0 - phi_p) * h, phi_p + phi_p * h)


def bin_centers(n_bins: int) -> np.ndarray:
    return np.linspace(-1.0, 1.0, n_bins)


def hop_to_bin(h: np.ndarray, n_bins: int) -> np.ndarray:
    return np.clip(np.rint((np.asarray(h) + 1.0) / 2.0 * (n_bins - 1)), 0, n_bins - 1).astype(np.int64)


def smoothed_bin_targets(h: np.ndarray, n_bins: int, sigma_bins: float = 0.75) -> np.ndarray:
    """Gaussian-smoothed target distribution over hop bins around the exact (continuous) hop."""
    pos = (np.asarray(h, float)[:, None] + 1.0) / 2.0 * (n_bins - 1)
    grid = np.arange(n_bins)[None, :]
    w = np.exp(-0.5 * ((grid - pos) / sigma_bins) ** 2)
    return w / w.sum(axis=1, keepdims=True)
