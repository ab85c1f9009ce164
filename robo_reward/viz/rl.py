"""The plot of an `rl` run: moving success (true, and the model fooled), episode returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_success(path: Path, success_rate: np.ndarray, fooled_rate: np.ndarray, returns: np.ndarray, success: np.ndarray,
                 window: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    if len(success):
        ax.plot(success_rate, label="true success")
        ax.plot(fooled_rate, label="model says success, simulator does not", color="tab:red")
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
