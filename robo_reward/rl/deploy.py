"""A trained `robo-reward rl` policy outside the training loop (e.g. in the ROS policy node): the same
observation pipeline (robot state + frozen GRM features from the streaming scorer), the actor's
deterministic action mapped back to the environment's action bounds."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from robo_reward.rl.loop import RewardSource, RLConfig, observation, reads_grm, reads_privileged, sac_config
from robo_reward.rl.sac import SAC
from robo_reward.types import BoxSpec, Observation, TimeStep


def load_run(run_dir: Path, device: str = "cpu") -> tuple[RLConfig, dict, SAC]:
    """A run folder's resolved config, its config.json record and the learner from its checkpoint."""
    from robo_reward.device import resolve_device

    run_dir = Path(run_dir)
    cfg_path, state_path = run_dir / "config.json", run_dir / "checkpoint" / "state.pt"
    for path in (cfg_path, state_path):
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: is {run_dir} a `robo-reward rl` run folder?")
    record = json.loads(cfg_path.read_text())
    names = {f.name for f in dataclasses.fields(RLConfig)}
    cfg = RLConfig(**{k: v for k, v in record["config"].items() if k in names})
    dev = resolve_device(device)
    learner = SAC(int(record["obs_dim"]), int(record["act_dim"]), sac_config(cfg), dev)
    learner.load_state_dict(torch.load(state_path, map_location=dev, weights_only=False)["learner"])
    return cfg, record, learner


class _RunPolicy:
    """A trained run's actor with the observation pipeline it was trained on (robot state + privileged
    state or frozen GRM features from the streaming scorer); actions in the environment's units."""

    def __init__(self, run_dir: Path, device: str = "cpu", deterministic: bool = True) -> None:
        self.cfg, record, self.learner = load_run(run_dir, device)
        self.run_dir, self.deterministic = Path(run_dir), deterministic
        self.action = BoxSpec(np.array(record["action_low"]), np.array(record["action_high"]))
        self.obs_dim, self.act_dim = int(record["obs_dim"]), int(record["act_dim"])
        self.device = self.learner.device
        self.keep = None if record.get("state_index") is None else np.array(record["state_index"])  # older runs: all
        # the GRM is only needed when the policy reads its features; a privileged policy reads simulator state
        rcfg = self.cfg if reads_grm(self.cfg.obs) else dataclasses.replace(self.cfg, reward="sparse")
        self.reward = RewardSource(rcfg, record["task_text"], self.device)
        self.cameras = self.reward.cameras if self.reward.stream is not None else ()
        self._first = True

    def _act(self, ts: TimeStep) -> np.ndarray:
        if self._first:
            self.reward.reset(ts)
            self._first = False
        else:
            self.reward.step(0.0, ts)
        obs = observation(self.cfg, ts, self.reward, self.keep)
        if obs.shape != (self.obs_dim,):
            raise ValueError(f"{self.run_dir}: the policy was trained on {self.obs_dim} observation values, "
                             f"{self.cfg.task} now gives {obs.shape[0]} (its observation changed: retrain it)")
        return self.action.from_unit(np.clip(self.learner.act(obs, self.deterministic), -1, 1))


class RLPolicy(_RunPolicy):
    """On a robot (the ROS policy node): deterministic actions from raw state + camera frames."""

    def __init__(self, run_dir: Path, device: str = "cpu") -> None:
        super().__init__(run_dir, device, deterministic=True)
        if reads_privileged(self.cfg.obs):
            raise ValueError(f"{run_dir}: trained on privileged simulator state; a robot has none "
                             "(train with --obs state+grm --reward grm:<dir>)")

    def reset(self) -> None:
        self._first = True

    def act(self, state: np.ndarray, images: dict[str, np.ndarray]) -> np.ndarray:
        """Action in the environment's units (joint targets + gripper for a ROS robot)."""
        return self._act(TimeStep(Observation(images, np.asarray(state, np.float32), 0.0), 0.0, False, False, {"success": False}))


class RunActor(_RunPolicy):
    """A trained run acting in its own simulator, as in training (privileged state allowed; stochastic
    actions by default): `collect --policy` records its episodes as on-policy data for the reward model.
    `episode(ts)` starts an episode; `act(ts)` then takes each timestep (the scripted experts' interface)."""

    def __init__(self, run_dir: Path, device: str = "cpu", deterministic: bool = False) -> None:
        super().__init__(run_dir, device, deterministic)

    def episode(self, ts: TimeStep) -> RunActor:
        self._first = True
        return self

    def act(self, ts: TimeStep) -> np.ndarray:
        return self._act(ts)
