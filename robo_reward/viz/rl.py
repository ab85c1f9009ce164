"""The plots of `rl` runs: one run's moving success (true, and the model fooled) and returns; a sweep's
median success curves with their spread."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_success(path: Path, success_rate: np.ndarray, fooled_rate: np.ndarray, returns: np.ndarray, success: np.ndarray,
                 window: int, intervention_rate: np.ndarray | None = None) -> None:
    """`intervention_rate`: the moving share of steps a person (or the expert standing in) chose, when any did."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    if len(success):
        ax.plot(success_rate, label="true success")
        ax.plot(fooled_rate, label="model says success, simulator does not", color="tab:red")
        if intervention_rate is not None:
            ax.plot(intervention_rate, label="steps taken over (intervention rate)", color="tab:purple", ls="--")
        ep = np.arange(len(success))
        ax2.scatter(ep, returns, c=np.where(success > 0, "tab:green", "tab:gray"), s=8)
        ax.legend(fontsize=7, loc="upper left")
    ax.set_ylabel(f"rate (moving, {window})")
    ax.set_ylim(-0.05, 1.05)
    ax2.set_ylabel("episode return (green: success)")
    ax2.set_xlabel("online episode")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_sweep(path: Path, curves: dict[str, np.ndarray], task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for m, c in curves.items():
        x = np.arange(1, c.shape[1] + 1)
        ax.plot(x, np.median(c, 0), label=f"{m} (median of {len(c)})")
        ax.fill_between(x, c.min(0), c.max(0), alpha=0.2)
    ax.set_xlabel("online episode")
    ax.set_ylabel("success (moving mean, 20)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"{task}: success vs episodes (band: min-max over seeds)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
