"""`RosRobotEnv`: the `Env` protocol over ROS 2 topics, so `robo-reward rl --env ros` runs the
unchanged loop against sim_robot_node or a real arm.

Observation = one approximate-time-synced set of camera images and joint states (plus the sim's
status). Action = joint targets + gripper in [-1, 1], clamped by the hardware profile's limits and
per-step bounds before it is published. Reset: in sim, a seed on the reset topic; on a real arm, a
clamped walk to the home pose, then a wait for the operator's confirmation."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from robo_reward.ros.messages import (
    OPERATOR_TOPIC,
    RESET_TOPIC,
    STATUS_TOPIC,
    SUCCESS_TOPIC,
    SimStatus,
    intervention_command,
    joint_positions,
    parse_status,
    stamp_seconds,
    to_rgb,
    trajectory_msg,
)
from robo_reward.ros.profiles import load_profile, profile_spec
from robo_reward.ros.safety import SafetyFilter
from robo_reward.ros.sync import ApproximateTimeSync, Synced
from robo_reward.types import Observation, StepInfo, TimeStep

HOME_TOLERANCE = 0.02  # rad


@dataclass(frozen=True)
class RosEnvConfig:
    profile: str = "sim_panda"
    sim: bool = True  # the robot is sim_robot_node (reset by seed, status from physics)
    lockstep: bool = True  # sim only: one simulator step per command
    timeout_s: float = 10.0  # longest wait for an observation
    operator_timeout_s: float = 600.0
    end_on_success: bool = True  # off: success (the sim's, or an operator's on the success topic) is only logged
    intervention_topic: str | None = None  # listen for a person's commands here (sensor_msgs/JointState)
    intervention_timeout_s: float = 0.3  # a command older than this no longer overrides the policy


@dataclass(frozen=True)
class TeleopCommand:
    """The latest command on the intervention topic: joint targets + gripper, or None when it was refused."""

    action: np.ndarray | None
    received: float  # time.monotonic() at arrival
    problem: str = ""


class RosRobotEnv:
    def __init__(self, task_text: str, subtasks: tuple[str, ...], max_steps: int, cfg: RosEnvConfig = RosEnvConfig(),
                 node_name: str = "robo_reward_env") -> None:
        import rclpy
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Bool, Float64, Float64MultiArray, Int64MultiArray
        from trajectory_msgs.msg import JointTrajectory

        from robo_reward.ros.qos import RELIABLE_QOS, SENSOR_QOS

        self.cfg = cfg
        self.profile = p = load_profile(cfg.profile)
        self.safety = SafetyFilter(p)
        self._own_rclpy = not rclpy.ok()
        if self._own_rclpy:
            rclpy.init()
        self._rclpy = rclpy
        self.node = rclpy.create_node(node_name)
        self.spec = profile_spec(p, task_text, subtasks, max_steps)
        qos = RELIABLE_QOS if cfg.sim and cfg.lockstep else SENSOR_QOS  # lockstep must not lose a frame
        streams = [*p.cameras, "joints"] + (["status"] if cfg.sim else [])
        # the sim stamps one step's messages identically: lockstep matches stamps exactly, so a set never
        # mixes two steps; real cameras and joint states only agree within half a control period
        self.sync = ApproximateTimeSync(streams, slop=0.0 if cfg.sim and cfg.lockstep else 0.5 / p.control_hz)
        self.latest: Synced | None = None
        self.success_flag = False
        self.operator_ok = False
        for cam, topic in p.cameras.items():
            self.node.create_subscription(Image, topic, lambda m, c=cam: self._add(c, stamp_seconds(m.header.stamp), m), qos)
        self.node.create_subscription(JointState, p.joint_states_topic,
                                      lambda m: self._add("joints", stamp_seconds(m.header.stamp), m), qos)
        if cfg.sim:
            self.node.create_subscription(Float64MultiArray, STATUS_TOPIC, self._on_status, RELIABLE_QOS)
        self.node.create_subscription(Bool, SUCCESS_TOPIC, lambda m: setattr(self, "success_flag", bool(m.data)), RELIABLE_QOS)
        self.node.create_subscription(Bool, OPERATOR_TOPIC, lambda m: setattr(self, "operator_ok", bool(m.data)), RELIABLE_QOS)
        self._teleop: TeleopCommand | None = None
        self.last_grip = 1.0  # the last gripper command sent (a hold keeps it)
        if cfg.intervention_topic:
            self.node.create_subscription(JointState, cfg.intervention_topic, self._on_intervention, RELIABLE_QOS)
        self.pub_traj = self.node.create_publisher(JointTrajectory, p.trajectory_topic, RELIABLE_QOS)
        self.pub_grip = self.node.create_publisher(Float64, p.gripper_topic, RELIABLE_QOS)
        self.pub_reset = self.node.create_publisher(Int64MultiArray, RESET_TOPIC, RELIABLE_QOS)
        self._Int64MultiArray, self._Float64 = Int64MultiArray, Float64
        self._rng = np.random.default_rng()
        self._step = 0
        self._wait_for_subscribers()

    # ----------------------------------------------------------------- plumbing
    def _add(self, stream: str, stamp: float, item) -> None:
        synced = self.sync.add(stream, stamp, item)
        if synced is not None:
            self.latest = synced

    def _on_status(self, msg) -> None:
        st = parse_status(msg)
        self._add("status", st.stamp, st)

    def _on_intervention(self, msg) -> None:
        p = self.profile
        try:
            self._teleop = TeleopCommand(intervention_command(msg, p.joint_names + (p.gripper_joint,)), time.monotonic())
        except ValueError as e:
            self._teleop = TeleopCommand(None, time.monotonic(), str(e))
            self.node.get_logger().warning(f"{self.cfg.intervention_topic}: command dropped, the arm holds: {e}",
                                           throttle_duration_sec=1.0)

    def teleop(self) -> TeleopCommand | None:
        """The person's command if one arrived within intervention_timeout_s (None: the policy acts). Without an
        intervention topic this is never called: `RosTakeover` checks for it."""
        t = self._teleop
        return t if t is not None and time.monotonic() - t.received <= self.cfg.intervention_timeout_s else None

    def hold_action(self) -> np.ndarray:
        """Stay where the arm is: the measured joint positions as targets, the gripper as last commanded."""
        if self.latest is None:
            raise RuntimeError("hold_action() before reset()")
        pos, _ = joint_positions(self.latest.items["joints"], self.profile.joint_names)
        return np.append(pos, self.last_grip)

    def _spin_until(self, done, timeout_s: float, what: str):
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                queued = {k: [round(m[0], 3) for m in q] for k, q in self.sync.queues.items()}
                last = self.latest.items.get("status") if self.latest is not None else None
                raise TimeoutError(f"{self.spec.name}: no {what} within {timeout_s:g} s (topics: "
                                   f"{list(self.profile.cameras.values())}, {self.profile.joint_states_topic}; last "
                                   f"complete set: {last}; waiting messages by stamp: {queued})")
            self._rclpy.spin_once(self.node, timeout_sec=0.01)
        return done()

    def _wait_for_subscribers(self) -> None:
        """Commands published before the robot's subscriptions match would be lost."""
        needed = [self.pub_traj] + ([self.pub_reset] if self.cfg.sim else [])
        self._spin_until(lambda: all(p.get_subscription_count() > 0 for p in needed), self.cfg.timeout_s,
                         f"subscriber on {self.profile.trajectory_topic}")

    def _wait_obs(self, accept, what: str) -> Synced:
        return self._spin_until(lambda: self.latest if self.latest is not None and accept(self.latest) else None,
                                self.cfg.timeout_s, what)

    def _timestep(self, synced: Synced, reward_from_status: bool = True) -> TimeStep:
        p = self.profile
        pos, vel = joint_positions(synced.items["joints"], p.joint_names + (p.gripper_joint,))
        images = {c: to_rgb(synced.items[c], p.image_size, p.cameras[c]) for c in p.cameras}
        state = np.concatenate([pos[:-1], vel[:-1], pos[-1:]]).astype(np.float32)
        obs = Observation(images, state, self._step / p.control_hz)
        if self.cfg.sim:
            st: SimStatus = synced.items["status"]
            info = StepInfo(success=st.success, step=st.step, subtasks_completed=st.subtasks_completed,
                            dense_reward=st.dense_reward, privileged=st.privileged)
            terminated = st.terminated and (self.cfg.end_on_success or not st.success)
            truncated = st.truncated or (not terminated and st.step >= self.spec.max_steps)  # (the sim's own, or past success)
            return TimeStep(obs, float(st.success), terminated, truncated, info)
        success = self.success_flag
        terminated = success and self.cfg.end_on_success
        truncated = not terminated and self._step >= self.spec.max_steps
        return TimeStep(obs, float(success), terminated, truncated, StepInfo(success=success, step=self._step))

    # ----------------------------------------------------------------- Env protocol
    def reset(self, seed: int | None = None) -> TimeStep:
        self._step = 0
        self.success_flag = False
        if self.cfg.sim:
            # a request id the sim echoes: a stale first frame (e.g. its start-up publish) never passes for ours
            request = int(self._rng.integers(1, 2**31))

            def fresh(s: Synced) -> bool:
                st = s.items["status"]
                return st.step == 0 and st.request == request

            self.pub_reset.publish(self._Int64MultiArray(data=[-1 if seed is None else int(seed), request]))
            synced = self._wait_obs(fresh, "observation after reset")
            return self._timestep(synced)
        self._go_home()
        self.operator_ok = False
        self.node.get_logger().info(f"at home: waiting for the operator to reset the scene (publish true on {OPERATOR_TOPIC})")
        self._spin_until(lambda: self.operator_ok, self.cfg.operator_timeout_s, "operator confirmation")
        return self._timestep(self._wait_obs(lambda s: True, "observation"))

    def _go_home(self) -> None:
        p = self.profile
        for _ in range(1000):
            synced = self._wait_obs(lambda s: True, "joint states")
            pos, _ = joint_positions(synced.items["joints"], p.joint_names)
            if np.max(np.abs(pos - p.home)) < HOME_TOLERANCE:
                return
            self._send(np.append(p.home, 1.0), pos)
            stamp = synced.stamp
            self._wait_obs(lambda s, t=stamp: s.stamp > t, "joint states while homing")
        raise RuntimeError(f"{p.name}: did not reach the home pose")

    def _send(self, action: np.ndarray, current: np.ndarray) -> None:
        p = self.profile
        target = self.safety.clamp(action[:-1], current).target
        grip = self.last_grip = float(np.clip(action[-1], -1.0, 1.0))
        self.pub_grip.publish(self._Float64(data=grip))
        names, positions = p.joint_names, target
        if self.cfg.sim:  # the sim takes the gripper inside the trajectory: one message, one step
            names, positions = names + (p.gripper_joint,), np.append(target, grip)
        self.pub_traj.publish(trajectory_msg(names, positions, self.node.get_clock().now().to_msg(), 1.0 / p.control_hz))

    def step(self, action: np.ndarray) -> TimeStep:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.spec.action.shape:
            raise ValueError(f"{self.spec.name}: action shape {action.shape}, expected {self.spec.action.shape}")
        if self.latest is None:
            raise RuntimeError("step() before reset()")
        p = self.profile
        prev = self.latest
        current, _ = joint_positions(prev.items["joints"], p.joint_names)
        self._send(action, current)
        self._step += 1
        if self.cfg.sim and self.cfg.lockstep:
            want = (prev.items["status"].episode, prev.items["status"].step + 1)
            synced = self._wait_obs(lambda s: (s.items["status"].episode, s.items["status"].step) == want,
                                    "observation after the command")
        else:
            time.sleep(max(0.0, 1.0 / p.control_hz - 0.002))
            synced = self._wait_obs(lambda s: s.stamp > prev.stamp, "fresh observation")
        return self._timestep(synced)

    def close(self) -> None:
        self.node.destroy_node()
        if self._own_rclpy and self._rclpy.ok():
            self._rclpy.shutdown()
