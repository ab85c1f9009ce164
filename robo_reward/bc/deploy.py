"""A `robo-reward bc` policy on a robot (the ROS policy node's `bc:DIR`): the chunk policy trained in the suite's
end-effector space, run on an arm that takes joint targets through the IK bridge (`envs/ik_bridge.py`): the robot's
joint state becomes the suite's state (TCP by forward kinematics), the policy's end-effector step becomes joint
targets. What it reads of the cameras is what it was trained on (its GRM's features or its own frames)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from robo_reward.bc.policy import ChunkEnsemble, ChunkPolicy
from robo_reward.environment_loop import Action, RewardStep
from robo_reward.envs.ik_bridge import EE_ACTION, IKBridge
from robo_reward.envs.registry import task_text
from robo_reward.observation import ObservationPipeline, camera_union, reads_grm, reads_privileged
from robo_reward.reward.online import OnlineReward, RewardConfig
from robo_reward.types import Observation, TimeStep


def load_chunk_policy(policy_dir: Path) -> tuple[ChunkEnsemble, dict, dict]:
    """The cloned ensemble of a `bc` output folder, its policy.pt record and its summary.json."""
    policy_dir = Path(policy_dir)
    path = policy_dir / "policy.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: is {policy_dir} a `robo-reward bc` output folder?")
    record = torch.load(path, map_location="cpu", weights_only=False)
    shape = record.get("pixel_shape")
    members = [ChunkPolicy(record["obs_dim"], record["act_dim"], record["chunk"], pixel_shape=None if shape is None else tuple(shape))
               for _ in range(record["ensemble"])]
    policy = ChunkEnsemble(members)
    policy.load_state_dict(record["policy"])
    policy.eval()
    summary = policy_dir / "summary.json"
    if not summary.exists():
        raise FileNotFoundError(f"{summary} is missing: the policy's task and reward model are recorded there")
    return policy, record, json.loads(summary.read_text())


class BCPolicy:
    """A bc chunk policy on a joint-commanded robot: `act` takes the robot's TimeStep (joint positions, velocities,
    gripper width) and returns joint targets + gripper."""

    def __init__(self, policy_dir: Path, bridge: IKBridge) -> None:
        self.policy, record, summary = load_chunk_policy(policy_dir)
        self.dir, self.bridge = Path(policy_dir), bridge
        obs = record["obs"]
        if reads_privileged(obs):
            raise ValueError(f"{policy_dir}: trained on the simulator's object state (--obs privileged); a robot has none")
        if record["act_dim"] != EE_ACTION.dim:
            raise ValueError(f"{policy_dir}: {record['act_dim']}-d actions; the IK bridge takes end-effector actions "
                             f"({', '.join(EE_ACTION.names)})")
        shape = record.get("pixel_shape")
        self.pipeline = ObservationPipeline(obs, np.array(record["state_index"]), tuple(record.get("cameras", ())),
                                            0 if shape is None else int(shape[1]))
        self.reward = None
        if reads_grm(obs):
            model = summary["config"].get("reward_model")
            if not model:
                raise ValueError(f"{policy_dir}: reads a GRM's features but its summary.json names no reward_model")
            rcfg = RewardConfig(source=f"grm:{model}", shaping="none")
            from robo_reward.reward.checkpoint import load_checkpoint

            loaded = load_checkpoint(rcfg.model)[:2]
            self.reward = OnlineReward(rcfg, task_text(summary["task"]), "cpu", loaded=loaded)
        self.cameras = camera_union(() if self.reward is None else self.reward.cameras, self.pipeline.cameras)
        self.obs_dim = int(record["obs_dim"])
        self._first = True

    def reset(self, ts: TimeStep | None = None) -> None:
        self._first = True

    def act(self, ts: TimeStep, reading: RewardStep | None = None) -> Action:
        """`reading` is ignored: the policy reads its own reward model, as in training."""
        suite = dataclasses.replace(ts, obs=Observation(ts.obs.images, self.bridge.state(ts.obs.state), ts.obs.time))
        features = np.zeros(0, np.float32)
        if self.reward is not None:
            features = (self.reward.reset(suite) if self._first else self.reward.step(suite)).features
        self._first = False
        x = self.pipeline(suite, features)
        if x.shape != (self.obs_dim,):
            raise ValueError(f"{self.dir}: the policy was trained on {self.obs_dim} input values, the robot gives {x.shape[0]}")
        unit = self.policy.act(x, self.pipeline.pixels(suite))
        return Action(self.bridge.joint_targets(ts.obs.state[: self.bridge.dof], unit), unit)
