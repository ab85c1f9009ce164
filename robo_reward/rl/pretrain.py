"""Before going online: observation statistics from the demonstrations, behaviour cloning of the actor,
then critic updates that evaluate the clone without changing it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from robo_reward.config import write_json
from robo_reward.rl.config import RLConfig
from robo_reward.rl.replay import ReplayBuffer, sample_mixed
from robo_reward.rl.sac import SAC
from robo_reward.shaping import anneal_weight


def pretrain(learner: SAC, demos: ReplayBuffer, cfg: RLConfig, rng: np.random.Generator, device: torch.device,
              out: Path, source: dict, labels: np.ndarray | None = None) -> None:
    """Observation statistics from the demos, then BC of the actor (on `labels` when the executed
    actions were noisy, else on the buffer's actions), then critic updates on the demos that evaluate
    that actor without changing it (an untrained critic would pull it off the demos)."""
    obs = demos.obs[: demos.size]
    learner.set_normalization(obs)
    record: dict[str, float] = {}
    if cfg.pretrain.bc_steps:
        target = demos.action[: demos.size] if labels is None else labels
        pixels = demos.pixels[: demos.size] if demos.pixel_shape is not None else None
        record["bc_mse"] = learner.pretrain_bc(obs, target, cfg.pretrain.bc_steps, cfg.batch_size, pixels)
        if cfg.sac.ibrl or cfg.sac.residual > 0:
            learner.freeze_bc_actor()
    learner.excess_weight = anneal_weight(0, cfg.reward.delta_anneal)
    for _ in range(cfg.pretrain.critic_steps):
        record.update(learner.update(sample_mixed(None, demos, cfg.batch_size, rng, device), actor=False))
    write_json(out / "pretrain.json", {"demo_transitions": demos.size, **source, **record})
