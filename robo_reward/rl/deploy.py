"""A trained `robo-reward rl` policy outside the training loop: the same observation pipeline and online
reward (whose features it reads) as in training, the actor's action mapped back to the environment's
bounds. RLPolicy is what a robot runs (the ROS policy node); RunActor records a run's own episodes
(`collect --policy`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from robo_reward.config import config_from_dict
from robo_reward.environment_loop import Action, RewardStep
from robo_reward.observation import camera_union, reads_grm, reads_privileged
from robo_reward.reward.online import OnlineReward
from robo_reward.rl.checkpoint import read_state
from robo_reward.rl.config import RLConfig, policy_pipeline, reward_config
from robo_reward.rl.sac import SAC
from robo_reward.types import BoxSpec, TimeStep


def load_run(run_dir: Path, device: str = "cpu") -> tuple[RLConfig, dict, SAC]:
    """A run folder's resolved config, its config.json record and the learner from its checkpoint."""
    from robo_reward.device import resolve_device

    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{cfg_path} is missing: is {run_dir} a `robo-reward rl` run folder?")
    dev = resolve_device(device)
    state = read_state(run_dir / "checkpoint", dev)  # first: a run of an older format is named as such
    record = json.loads(cfg_path.read_text())
    cfg = config_from_dict(RLConfig, record["config"], str(cfg_path))
    pixel_shape = record.get("pixel_shape")
    learner = SAC(int(record["obs_dim"]), int(record["act_dim"]), cfg.sac, dev, pixel_shape=None if pixel_shape is None else tuple(pixel_shape))
    learner.load_state_dict(state["learner"])
    return cfg, record, learner


class RunPolicy:
    """A trained run's actor with the observation pipeline it was trained on; actions in the environment's
    units. It runs its own reward model when it reads the model's features (a privileged policy needs none)."""

    def __init__(self, run_dir: Path, device: str = "cpu", deterministic: bool = True) -> None:
        self.cfg, record, self.learner = load_run(run_dir, device)
        self.run_dir, self.deterministic = Path(run_dir), deterministic
        self.action = BoxSpec(np.array(record["action_low"]), np.array(record["action_high"]))
        self.obs_dim = int(record["obs_dim"])
        self.pipeline = policy_pipeline(self.cfg, np.array(record["state_index"]))
        rcfg = reward_config(self.cfg)
        self.reward = OnlineReward(rcfg if reads_grm(self.cfg.obs) else dataclasses.replace(rcfg, source="sparse"),
                                   record["task_text"], self.learner.device)
        # what it reads: its reward model's cameras and (an image policy) its own
        self.cameras = camera_union(self.reward.cameras, self.pipeline.cameras)
        self._first = True

    def reset(self, ts: TimeStep | None = None) -> None:
        self._first = True

    def act(self, ts: TimeStep, reading: RewardStep | None = None) -> Action:
        """`reading` is ignored: the policy reads its own reward model's features, as in training."""
        own = self.reward.reset(ts) if self._first else self.reward.step(ts)
        self._first = False
        obs = self.pipeline(ts, own.features)
        if obs.shape != (self.obs_dim,):
            raise ValueError(f"{self.run_dir}: the policy was trained on {self.obs_dim} observation values, "
                             f"{self.cfg.task} now gives {obs.shape[0]} (its observation changed: retrain it)")
        a = np.clip(self.learner.act(obs, self.deterministic, self.pipeline.pixels(ts)), -1, 1)
        return Action(self.action.from_unit(a), a)


class RLPolicy(RunPolicy):
    """On a robot (the ROS policy node): deterministic actions from raw state + camera frames."""

    def __init__(self, run_dir: Path, device: str = "cpu") -> None:
        super().__init__(run_dir, device, deterministic=True)
        if reads_privileged(self.cfg.obs):
            raise ValueError(f"{run_dir}: trained on privileged simulator state; a robot has none "
                             "(train with --obs state+grm --reward grm:<dir>)")


class RunActor(RunPolicy):
    """A trained run acting in its own simulator, as in training (privileged state allowed; stochastic
    actions by default): `collect --policy` records its episodes as on-policy data for the reward model."""

    def __init__(self, run_dir: Path, device: str = "cpu", deterministic: bool = False) -> None:
        super().__init__(run_dir, device, deterministic)


def collect_actor(cfg) -> RunActor:
    """The actor `collect --policy RUN` records (cfg: a data.collect.CollectConfig): the run's policy, its
    action noise seeded after loading (the same episodes on every call), checked against the task and cameras."""
    import torch

    actor = RunActor(cfg.policy, "cpu", cfg.deterministic)
    torch.manual_seed(cfg.seed)
    if actor.cfg.task != cfg.task:
        raise ValueError(f"--policy {cfg.policy} was trained on {actor.cfg.task!r}, not on --task {cfg.task!r}")
    missing = [c for c in actor.cameras if c not in cfg.cameras]
    if missing:
        raise ValueError(f"--policy {cfg.policy} reads cameras {list(actor.cameras)}; --cameras lacks {missing}")
    return actor
