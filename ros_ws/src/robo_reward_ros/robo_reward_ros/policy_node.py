"""Runs a policy at the control rate and commands the arm, safety first:
- control is disabled until enabled (parameter `enabled` or the `~/enable` SetBool service);
- every joint target is clamped to the profile's joint limits and per-step bound;
- a watchdog holds the current position when any camera or the joint states go stale;
- a policy whose action size differs from the robot's joints (+ gripper) refuses to start.
It publishes what it is doing on /robo_reward/policy_state (disabled | running | clamped | hold: ...).

Policies (each robo_reward's loop `Policy`: `reset(ts)`, `act(ts, reading) -> Action`): `rl:RUN_DIR` (a `robo-reward rl --env ros --obs state+grm` run: joint state + GRM features from
the cameras in, joint targets + gripper out), `replay:FILE.npy` (joint targets + gripper per step, e.g. a
recorded demonstration), `bc:POLICY_DIR` (a `robo-reward bc` end-effector chunk policy through the IK bridge:
the profile's `kinematics` turn joint states into its state and its steps into joint targets) and `hold`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Float64, String
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory

from robo_reward.environment_loop import Action
from robo_reward.ros.messages import joint_positions, to_rgb, trajectory_msg
from robo_reward.ros.profiles import HardwareProfile, load_profile
from robo_reward.ros.safety import SafetyFilter, Watchdog
from robo_reward.types import Observation, TimeStep
from robo_reward_ros.common import RELIABLE_QOS, SENSOR_QOS, spin

STATE_TOPIC = "/robo_reward/policy_state"


class ReplayPolicy:
    cameras: tuple[str, ...] = ()

    def __init__(self, path: Path, dof: int) -> None:
        actions = np.load(path)
        if actions.ndim != 2 or actions.shape[1] != dof + 1:
            raise ValueError(f"{path}: policy actions have shape {actions.shape}; the robot takes {dof} joints + gripper")
        if not np.all(np.isfinite(actions)):
            raise ValueError(f"{path}: non-finite actions")
        self.actions, self.t = actions, 0

    def reset(self, ts: TimeStep | None = None) -> None:
        self.t = 0

    def act(self, ts: TimeStep, reading=None) -> Action:
        a = self.actions[min(self.t, len(self.actions) - 1)]
        self.t += 1
        return Action(a)


class HoldPolicy:
    cameras: tuple[str, ...] = ()

    def __init__(self, dof: int) -> None:
        self.dof = dof

    def reset(self, ts: TimeStep | None = None) -> None:
        pass

    def act(self, ts: TimeStep, reading=None) -> Action:
        return Action(np.append(ts.obs.state[: self.dof], np.nan))  # NaN gripper: leave the gripper alone


def load_policy(spec: str, profile: HardwareProfile):
    dof, cameras = profile.dof, profile.cameras
    if spec == "hold":
        return HoldPolicy(dof)
    if spec.startswith("replay:"):
        return ReplayPolicy(Path(spec[len("replay:"):]), dof)
    if spec.startswith("rl:"):
        from robo_reward.rl.deploy import RLPolicy

        policy = RLPolicy(Path(spec[len("rl:"):]))
        if policy.action.dim != dof + 1:
            raise ValueError(f"{spec}: the policy's action size is {policy.action.dim}; the robot takes {dof} joints + gripper")
        check_cameras(spec, policy.cameras, cameras)
        return policy
    if spec.startswith("bc:"):
        if profile.kinematics is None:
            raise ValueError(f"{spec}: an end-effector policy needs the IK bridge; profile {profile.name} names no "
                             "kinematics (an MJCF of the arm)")
        from robo_reward.bc.deploy import BCPolicy
        from robo_reward.envs.ik_bridge import IKBridge

        bridge = IKBridge(profile.kinematics)
        if bridge.dof != dof:
            raise ValueError(f"{spec}: the kinematics {profile.kinematics} has {bridge.dof} arm joints, profile {profile.name} {dof}")
        policy = BCPolicy(Path(spec[len("bc:"):]), bridge)
        check_cameras(spec, policy.cameras, cameras)
        return policy
    raise ValueError(f"policy {spec!r}: use rl:RUN_DIR, bc:POLICY_DIR, replay:FILE.npy or hold")


def check_cameras(spec: str, reads: tuple[str, ...], cameras: dict[str, str]) -> None:
    missing = [c for c in reads if c not in cameras]
    if missing:
        raise ValueError(f"{spec}: the policy reads cameras {list(reads)} (its reward model's and its own); "
                         f"the profile has {list(cameras)} (no {missing})")


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("policy_node")
        self.profile = p = load_profile(self.declare_parameter("profile", "sim_panda").value)
        spec = self.declare_parameter("policy", "hold").value
        self.policy = load_policy(spec, p)
        self.enabled = bool(self.declare_parameter("enabled", False).value)
        compressed = bool(self.declare_parameter("compressed", False).value)
        self.safety = SafetyFilter(p)
        self.watchdog = Watchdog((*p.cameras, "joints"), p.stale_after_s)
        kind = CompressedImage if compressed else Image
        for cam, topic in p.cameras.items():
            self.create_subscription(kind, topic + ("/compressed" if compressed else ""),
                                     lambda m, c=cam: self.on_image(c, m), SENSOR_QOS)
        self.create_subscription(JointState, p.joint_states_topic, self.on_joints, SENSOR_QOS)
        self.pub_traj = self.create_publisher(JointTrajectory, p.trajectory_topic, RELIABLE_QOS)
        self.pub_grip = self.create_publisher(Float64, p.gripper_topic, RELIABLE_QOS)
        self.pub_state = self.create_publisher(String, STATE_TOPIC, RELIABLE_QOS)
        self.create_service(SetBool, "~/enable", self.on_enable)
        self.add_on_set_parameters_callback(self.on_params)
        self.current: np.ndarray | None = None
        self.velocity = np.zeros(p.dof)
        self.gripper = 0.0
        self.images: dict = {}
        self.state = ""
        self.create_timer(1.0 / p.control_hz, self.tick)
        self.get_logger().info(f"{spec} on {p.name} at {p.control_hz:g} Hz; control {'ENABLED' if self.enabled else 'disabled'}")

    def on_image(self, cam: str, msg) -> None:
        self.images[cam] = msg
        self.watchdog.feed(cam, time.monotonic())

    def on_joints(self, msg: JointState) -> None:
        try:
            self.current, self.velocity = joint_positions(msg, self.profile.joint_names)
            if self.profile.gripper_joint in msg.name:
                self.gripper = float(msg.position[list(msg.name).index(self.profile.gripper_joint)])
        except KeyError as exc:
            self.get_logger().error(f"{self.profile.joint_states_topic}: {exc}", throttle_duration_sec=2.0)
            return
        self.watchdog.feed("joints", time.monotonic())

    def on_enable(self, req, resp):
        if req.data and not self.enabled:
            self.policy.reset()
        self.enabled = bool(req.data)
        resp.success, resp.message = True, f"control {'enabled' if self.enabled else 'disabled'}"
        self.get_logger().warn(resp.message)
        return resp

    def on_params(self, params) -> SetParametersResult:
        for prm in params:
            if prm.name == "enabled":
                if prm.value and not self.enabled:
                    self.policy.reset()
                self.enabled = bool(prm.value)
                self.get_logger().warn(f"control {'enabled' if self.enabled else 'disabled'}")
        return SetParametersResult(successful=True)

    def _set_state(self, state: str) -> None:
        self.pub_state.publish(String(data=state))
        if state != self.state:
            if state.startswith("hold") or state == "clamped":
                self.get_logger().warn(state)
            else:
                self.get_logger().info(state)
            self.state = state

    def _command(self, joints: np.ndarray, grip: float | None) -> None:
        p = self.profile
        if grip is not None:
            self.pub_grip.publish(Float64(data=float(np.clip(grip, -1.0, 1.0))))
        self.pub_traj.publish(trajectory_msg(p.joint_names, joints, self.get_clock().now().to_msg(), 1.0 / p.control_hz))

    def tick(self) -> None:
        if self.current is None:
            self._set_state("hold: no joint states yet")
            return
        stale = self.watchdog.stale(time.monotonic())
        if stale:
            if self.enabled:
                self._command(self.current, None)  # hold where the arm is
            self._set_state(f"hold: stale {', '.join(stale)}")
            return
        if not self.enabled:
            self._set_state("disabled")
            return
        try:
            images = {c: to_rgb(self.images[c], self.profile.image_size, self.profile.cameras[c]) for c in self.policy.cameras}
            state = np.concatenate([self.current, self.velocity, [self.gripper]]).astype(np.float32)
            ts = TimeStep(Observation(images, state, 0.0), 0.0, False, False)
            action = np.asarray(self.policy.act(ts, None).env, dtype=np.float64)
            clamped = self.safety.clamp(action[:-1], self.current)
        except ValueError as exc:
            self._command(self.current, None)
            self._set_state(f"hold: {exc}")
            return
        self._command(clamped.target, float(action[-1]) if np.isfinite(action[-1]) else None)
        self._set_state("clamped" if clamped.clamped else "running")


def main() -> None:
    spin(PolicyNode)


if __name__ == "__main__":
    main()
