"""Building and reading the ROS 2 messages robo_reward exchanges (needs the ROS message wheels).

The simulator's status travels as std_msgs/Float64MultiArray with a fixed layout (STATUS_FIELDS,
then the privileged task state): the first two values are the stamp of the step's images and joint
states, so a status joins them in the approximate-time sync."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robo_reward.ros.convert import compressed_to_rgb, image_to_rgb, rgb_to_image_fields

STATUS_FIELDS = ("stamp_sec", "stamp_nanosec", "episode", "seed", "request", "step", "success", "terminated", "truncated",
                 "subtasks_completed", "dense_reward")
RESET_TOPIC = "/robo_reward/sim/reset"  # std_msgs/Int64MultiArray [seed (< 0: the node's next), request id (optional)]
STATUS_TOPIC = "/robo_reward/sim/status"
SUCCESS_TOPIC = "/robo_reward/success"  # std_msgs/Bool (the sim's physics; on a real arm: an operator or detector)
OPERATOR_TOPIC = "/robo_reward/operator_confirm"  # std_msgs/Bool: the scene is reset, go on
REWARD_TOPIC_PREFIX = "/robo_reward/reward"
INTERVENTION_TOPIC = "/robo_reward/intervention"  # sensor_msgs/JointState: a person's joint targets + gripper in [-1, 1]


def stamp_seconds(stamp) -> float:
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


@dataclass(frozen=True)
class SimStatus:
    stamp: float
    episode: int
    seed: int
    request: int  # id of the reset request this episode answers (0: none)
    step: int
    success: bool
    terminated: bool
    truncated: bool
    subtasks_completed: int
    dense_reward: float
    privileged: np.ndarray


def status_msg(stamp, episode: int, seed: int, request: int, step: int, success: bool, terminated: bool, truncated: bool,
               subtasks_completed: int, dense_reward: float, privileged: np.ndarray):
    from std_msgs.msg import Float64MultiArray

    msg = Float64MultiArray()
    msg.data = [float(stamp.sec), float(stamp.nanosec), float(episode), float(seed), float(request), float(step), float(success), float(terminated),
                float(truncated), float(subtasks_completed), float(dense_reward), *map(float, privileged)]
    return msg


def parse_status(msg) -> SimStatus:
    d = np.asarray(msg.data, dtype=np.float64)
    n = len(STATUS_FIELDS)
    if d.size < n:
        raise ValueError(f"{STATUS_TOPIC}: status has {d.size} values, expected at least {n}")
    return SimStatus(d[0] + 1e-9 * d[1], int(d[2]), int(d[3]), int(d[4]), int(d[5]), bool(d[6]), bool(d[7]), bool(d[8]),
                     int(d[9]), float(d[10]), d[n:].astype(np.float32))


def image_msg(img: np.ndarray, stamp, frame_id: str):
    from sensor_msgs.msg import Image

    msg = Image(**rgb_to_image_fields(img))
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def to_rgb(msg, expect_hw: tuple[int, int] | None, topic: str) -> np.ndarray:
    """Either image message type to RGB."""
    return compressed_to_rgb(msg, expect_hw, topic) if hasattr(msg, "format") else image_to_rgb(msg, expect_hw, topic)


def joint_state_msg(names, position, velocity, stamp):
    from sensor_msgs.msg import JointState

    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(names)
    msg.position = [float(x) for x in position]
    msg.velocity = [float(x) for x in velocity]
    return msg


def joint_positions(msg, names) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities of `names` (in that order) from a JointState; KeyError names a missing joint."""
    index = {n: i for i, n in enumerate(msg.name)}
    missing = [n for n in names if n not in index]
    if missing:
        raise KeyError(f"joint_states lack joints {missing} (they have {list(msg.name)})")
    pos = np.array([msg.position[index[n]] for n in names])
    vel = np.array([msg.velocity[index[n]] if len(msg.velocity) == len(msg.name) else 0.0 for n in names])
    return pos, vel


def intervention_command(msg, names) -> np.ndarray:
    """A person's command (joint targets, then the gripper in [-1, 1]) from a JointState: by name when it names
    its joints, else by position count. ValueError says what is wrong (the caller drops it and holds the arm)."""
    positions = np.asarray(msg.position, dtype=np.float64)
    if len(msg.name):
        if len(msg.name) != len(positions):
            raise ValueError(f"{len(msg.name)} joint names but {len(positions)} positions")
        index = {n: i for i, n in enumerate(msg.name)}
        missing = [n for n in names if n not in index]
        if missing:
            raise ValueError(f"no {missing} among the joints named {list(msg.name)}")
        positions = positions[[index[n] for n in names]]
    elif len(positions) != len(names):
        raise ValueError(f"{len(positions)} positions for {len(names)} joints ({', '.join(names)})")
    if not np.all(np.isfinite(positions)):
        raise ValueError(f"non-finite positions {positions.tolist()}")
    return positions


def trajectory_msg(names, positions, stamp, time_from_start_s: float):
    from builtin_interfaces.msg import Duration
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    msg = JointTrajectory()
    msg.header.stamp = stamp
    msg.joint_names = list(names)
    point = JointTrajectoryPoint()
    point.positions = [float(x) for x in positions]
    sec = int(time_from_start_s)
    point.time_from_start = Duration(sec=sec, nanosec=int((time_from_start_s - sec) * 1e9))
    msg.points = [point]
    return msg


def trajectory_targets(msg, names) -> dict[str, float]:
    """Joint name -> position of the trajectory's last point (the target it ends at)."""
    if not msg.points:
        raise ValueError("trajectory has no points")
    point = msg.points[-1]
    if len(point.positions) != len(msg.joint_names):
        raise ValueError(f"trajectory point has {len(point.positions)} positions for {len(msg.joint_names)} joints")
    return {n: float(p) for n, p in zip(msg.joint_names, point.positions, strict=True)}
