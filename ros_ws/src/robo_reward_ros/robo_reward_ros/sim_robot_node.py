"""A MuJoCo task from the suite exposed as a ROS 2 robot: camera images and joint states out, joint
trajectories (and a gripper command) in, a reset topic, success and status out. Every launch file
runs against it exactly as against a real arm.

`lockstep:=true` steps the simulator once per trajectory command (deterministic, for tests and
sim-to-ROS checks); otherwise it steps on a timer at the profile's control rate, holding the last
target."""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64, Float64MultiArray, Int64MultiArray
from trajectory_msgs.msg import JointTrajectory

from robo_reward.envs import SimConfig, make_env
from robo_reward.ros.messages import (
    RESET_TOPIC,
    STATUS_TOPIC,
    SUCCESS_TOPIC,
    image_msg,
    joint_state_msg,
    status_msg,
    trajectory_targets,
)
from robo_reward.ros.profiles import load_profile
from robo_reward_ros.common import RELIABLE_QOS, spin


class SimRobotNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_robot_node")
        task = self.declare_parameter("task", "pick-place").value
        self.profile = p = load_profile(self.declare_parameter("profile", "sim_panda").value)
        self.lockstep = bool(self.declare_parameter("lockstep", False).value)
        seed = int(self.declare_parameter("seed", 0).value)
        if p.dof != 7:
            raise ValueError(f"profile {p.name} has {p.dof} joints; the simulated arm has 7")
        self.env = make_env(task, SimConfig(image_size=p.image_size[0], cameras=tuple(p.cameras), control="joint",
                                            control_hz=p.control_hz))
        self.pub_images = {c: self.create_publisher(Image, topic, RELIABLE_QOS) for c, topic in p.cameras.items()}
        self.pub_joints = self.create_publisher(JointState, p.joint_states_topic, RELIABLE_QOS)
        self.pub_status = self.create_publisher(Float64MultiArray, STATUS_TOPIC, RELIABLE_QOS)
        self.pub_success = self.create_publisher(Bool, SUCCESS_TOPIC, RELIABLE_QOS)
        self.create_subscription(JointTrajectory, p.trajectory_topic, self.on_trajectory, RELIABLE_QOS)
        self.create_subscription(Float64, p.gripper_topic, self.on_gripper, RELIABLE_QOS)
        self.create_subscription(Int64MultiArray, RESET_TOPIC, self.on_reset, RELIABLE_QOS)
        self.episode, self.seed, self.next_seed, self.request = 0, seed, seed + 1, 0
        self.gripper = 1.0
        self.ts = self.env.reset(seed)
        self.target = self.ts.obs.state[:7].astype(np.float64)
        if not self.lockstep:
            self.create_timer(1.0 / p.control_hz, self.tick)
        self.get_logger().info(f"{task} as {p.name}: {len(p.cameras)} cameras at {p.control_hz:g} Hz, "
                               f"{'lockstep' if self.lockstep else 'free-running'}")
        self.publish()

    def on_gripper(self, msg: Float64) -> None:
        self.gripper = float(np.clip(msg.data, -1.0, 1.0))

    def on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            targets = trajectory_targets(msg, self.profile.joint_names)
        except ValueError as exc:
            self.get_logger().error(f"{self.profile.trajectory_topic}: ignored: {exc}")
            return
        unknown = [n for n in targets if n not in self.profile.joint_names and n != self.profile.gripper_joint]
        if unknown:
            self.get_logger().error(f"{self.profile.trajectory_topic}: ignored: unknown joints {unknown}")
            return
        for i, name in enumerate(self.profile.joint_names):
            if name in targets:
                self.target[i] = targets[name]
        if self.profile.gripper_joint in targets:
            self.gripper = float(np.clip(targets[self.profile.gripper_joint], -1.0, 1.0))
        if self.lockstep:
            self.tick()

    def on_reset(self, msg: Int64MultiArray) -> None:
        data = list(msg.data) or [-1]
        seed = int(data[0]) if data[0] >= 0 else self.next_seed
        self.seed, self.next_seed = seed, seed + 1
        self.request = int(data[1]) if len(data) > 1 else 0
        self.episode += 1
        self.ts = self.env.reset(seed)
        self.target = self.ts.obs.state[:7].astype(np.float64)
        self.publish()

    def tick(self) -> None:
        self.ts = self.env.step(np.concatenate([self.target, [self.gripper]]))
        self.publish()

    def publish(self) -> None:
        """Status first, then joint states and images, all with one stamp (they sync on it)."""
        ts, p = self.ts, self.profile
        stamp = self.get_clock().now().to_msg()
        info = ts.info
        self.pub_status.publish(status_msg(stamp, self.episode, self.seed, self.request, info.step, info.success, ts.terminated, ts.truncated,
                                           info.subtasks_completed, info.dense_reward, info.privileged))
        self.pub_success.publish(Bool(data=bool(info.success)))
        s = ts.obs.state
        self.pub_joints.publish(joint_state_msg(p.joint_names + (p.gripper_joint,), np.append(s[:7], s[14]),
                                                np.append(s[7:14], 0.0), stamp))
        for cam, pub in self.pub_images.items():
            pub.publish(image_msg(ts.obs.images[cam], stamp, cam))

    def destroy_node(self) -> None:
        self.env.close()
        super().destroy_node()


def main() -> None:
    spin(SimRobotNode)


if __name__ == "__main__":
    main()
