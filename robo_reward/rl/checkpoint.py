"""The `rl` run checkpoint: learner, replay buffers and every generator, written atomically, with a
format version. A resumed run continues exactly as if it had never stopped (tests/rl/test_loop.py);
a checkpoint of another format is refused with the version it has and the one this code reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from robo_reward.fsutil import staging_dir, swap_in
from robo_reward.rl.replay import ReplayBuffer
from robo_reward.rl.sac import SAC

# 2: state.pt carries format_version, every generator (loop, learner, torch) and the full replay rows.
# 1: what runs before the redesign wrote (no version in state.pt): refused, rerun them with this code.
RL_CHECKPOINT_VERSION = 2


class CheckpointError(ValueError):
    pass


@dataclass(frozen=True)
class Progress:
    """Where a run stands: episodes done, environment steps taken, the loop's generator."""

    episode: int
    total_steps: int
    rng: np.random.Generator


def save_checkpoint(ckpt: Path, learner: SAC, online: ReplayBuffer, demos: ReplayBuffer | None, progress: Progress,
                    extra: dict | None = None) -> None:
    """Atomic: everything goes to a staging folder that then replaces the old checkpoint. `extra`: what else the
    run must find again on resume (the distributed learner's per-actor receipts)."""
    tmp = staging_dir(ckpt)
    torch.save({"format_version": RL_CHECKPOINT_VERSION, "learner": learner.state_dict(), "episode": progress.episode,
                "total_steps": progress.total_steps, "rng": progress.rng, "torch_rng": torch_rng(learner.device),
                "extra": extra or {}}, tmp / "state.pt")
    online.save(tmp / "online.npz")
    if demos is not None:
        demos.save(tmp / "demos.npz")
    swap_in(tmp, ckpt)


def read_state(ckpt: Path, device: torch.device) -> dict:
    """state.pt of a checkpoint folder, after checking its format."""
    path = Path(ckpt) / "state.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: is {Path(ckpt).parent} a `robo-reward rl` run folder?")
    state = torch.load(path, map_location=device, weights_only=False)
    version = state.get("format_version", 1)
    if version != RL_CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: RL checkpoint format {version}, this robo_reward reads {RL_CHECKPOINT_VERSION}: "
                              f"rerun the run with this version (or use the git revision in {Path(ckpt).parent / 'config.json'})")
    return state


def load_checkpoint(ckpt: Path, learner: SAC, online: ReplayBuffer, demos: ReplayBuffer | None) -> tuple[Progress, dict]:
    """Restore learner, buffers and generators; returns where the run stood and the checkpoint's `extra`."""
    state = read_state(ckpt, learner.device)
    learner.load_state_dict(state["learner"])
    set_torch_rng(state["torch_rng"], learner.device)
    online.load(Path(ckpt) / "online.npz")
    if demos is not None:
        demos.load(Path(ckpt) / "demos.npz")
    return Progress(state["episode"], state["total_steps"], state["rng"]), state.get("extra", {})


def torch_rng(device: torch.device) -> torch.Tensor:
    """The generator the actor samples its exploration noise from (the CPU one, or the device's)."""
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def set_torch_rng(state: torch.Tensor, device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state.cpu(), device)
    else:
        torch.set_rng_state(state.cpu())


def truncate_metrics(path: Path, episodes: int) -> None:
    """A killed run logged episodes after its last checkpoint; they are re-run on resume, so their
    rows go (else the resumed episodes would appear twice)."""
    if path.exists():
        rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["episode"] < episodes]
        path.write_text("".join(f"{line}\n" for line in rows))
