"""The IK bridge: end-effector policies (what `robo-reward bc` trains in the suite: [dx, dy, dz, gripper], gripper
pointing down) on an arm that takes joint targets (a ROS 2 robot, the policy node). The arm's own kinematics (the
MJCF a hardware profile names) turn the measured joints into the TCP position the policy's state carries (FK), and
each end-effector step into joint targets by the same damped-least-squares IK the simulator uses, seeded at the
measured joints: at the same joints it commands what the suite's `ee` control does (which reads the TCP one 2 ms
physics substep behind; the bridge reads it from the joints as reported)."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from robo_reward.envs.arm import ArmSim
from robo_reward.envs.suite import ee_joint_targets
from robo_reward.types import BoxSpec

EE_ACTION = BoxSpec(-np.ones(4, np.float32), np.ones(4, np.float32), ("ee.dx", "ee.dy", "ee.dz", "gripper"))


class IKBridge:
    """Kinematics of one arm (no scene, no rendering): `state` builds the suite's 18-value state from a joint-state
    reading, `joint_targets` maps an end-effector action to joint targets + gripper."""

    def __init__(self, xml: Path) -> None:
        self.sim = ArmSim(Path(xml))
        self.dof = len(self.sim.arm_qadr)

    def _at(self, q: np.ndarray) -> None:
        q = np.asarray(q, np.float64)
        if q.shape != (self.dof,) or not np.all(np.isfinite(q)):
            raise ValueError(f"IK bridge: joint positions {np.round(q, 4).tolist()} are not {self.dof} finite values")
        self.sim.data.qpos[self.sim.arm_qadr] = q
        mujoco.mj_kinematics(self.sim.model, self.sim.data)

    def tcp(self, q: np.ndarray) -> np.ndarray:
        """The TCP position at joints q (forward kinematics)."""
        self._at(q)
        return self.sim.tcp_pos

    def state(self, robot_state: np.ndarray) -> np.ndarray:
        """A robot's state (joint positions, joint velocities, gripper width: `profile_spec`'s layout) as the
        suite's (STATE_NAMES: the same, then the TCP position)."""
        s = np.asarray(robot_state, np.float32)
        if s.shape != (2 * self.dof + 1,):
            raise ValueError(f"IK bridge: robot state has {s.size} values, expected {2 * self.dof + 1} "
                             f"({self.dof} positions, {self.dof} velocities, gripper)")
        return np.concatenate([s, self.tcp(s[: self.dof])]).astype(np.float32)

    def joint_targets(self, q: np.ndarray, ee_action: np.ndarray) -> np.ndarray:
        """Joint targets (then the gripper command) for one end-effector step from joints q."""
        a = np.asarray(ee_action, np.float64)
        if a.shape != (4,) or not np.all(np.isfinite(a)):
            raise ValueError(f"IK bridge: end-effector action {np.round(a, 4).tolist()} is not 4 finite values")
        self._at(q)
        a = np.clip(a, -1.0, 1.0)
        return np.append(ee_joint_targets(self.sim, a), a[-1])
