"""`robo-reward import-rosbag`: rosbag2 recordings (sqlite3 or MCAP, read with `rosbags`, no ROS
install) of a robot's camera and joint topics into a LeRobot dataset, one bag = one episode.

Topics and joint names come from the hardware profile. The streams are resampled onto a uniform
grid at the profile's control rate (or `--fps`) by zero-order hold: each frame takes, per topic, the
last message at or before its time. State = joint positions, velocities, gripper (as `RosRobotEnv`);
action = the last commanded trajectory target + gripper command, or, when the bag recorded no
commands, the next frame's joint positions (stated in the dataset card)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.data.annotations import validate_spans
from robo_reward.data.importer import equal_split
from robo_reward.data.lerobot_io import DatasetError, DatasetWriter, atomic_dir
from robo_reward.ros.convert import ImageError, compressed_to_rgb, image_to_rgb
from robo_reward.ros.profiles import HardwareProfile, load_profile, profile_spec
from robo_reward.types import SubtaskSpan

SUMMARY_FILE = "meta/robo_reward_import.json"


@dataclass(frozen=True)
class RosbagImportConfig:
    bag: tuple[str, ...] = field(metadata={"help": "rosbag2 folders, one episode each (comma-separated or repeated)"})
    profile: str = field(metadata={"help": "hardware profile naming the topics and joints (hardware/<name>.yaml)"})
    out: Path = field(metadata={"help": "output LeRobot dataset folder"})
    task: str = field(default="", metadata={"help": "task text (required)"})
    subtasks: tuple[str, ...] = field(default=(), metadata={"help": "subtask names: each episode split equally (required)"})
    outcome: str = field(default="success", metadata={"help": "outcome of every imported episode"})
    fps: float = field(default=0.0, metadata={"help": "frame rate (default: the profile's control rate)"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing output folder"})


@dataclass
class BagEpisode:
    images: dict[str, np.ndarray]
    states: np.ndarray
    actions: np.ndarray
    commanded: bool  # actions come from recorded commands


def _stamp(msg, fallback_ns: int) -> float:
    header = getattr(msg, "header", None)
    if header is not None and (header.stamp.sec or header.stamp.nanosec):
        return header.stamp.sec + 1e-9 * header.stamp.nanosec
    return fallback_ns * 1e-9


def _hold(times: np.ndarray, grid: np.ndarray, what: str) -> np.ndarray:
    """Index of the last message at or before each grid time."""
    idx = np.searchsorted(times, grid, side="right") - 1
    if idx[0] < 0:
        raise DatasetError(f"{what}: no message before the first frame")
    return idx


def read_bag(path: Path, profile: HardwareProfile, fps: float) -> BagEpisode:
    """Decode one bag into uniformly sampled frames, states and actions."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    p = profile
    cam_topics = {t: c for c, t in p.cameras.items()}
    cam_topics.update({t + "/compressed": c for c, t in p.cameras.items()})
    wanted = set(cam_topics) | {p.joint_states_topic, p.trajectory_topic, p.gripper_topic}
    streams: dict[str, list] = {}
    try:
        with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
            conns = [c for c in reader.connections if c.topic in wanted]
            have = {c.topic for c in conns}
            missing = [t for t in (*p.cameras.values(), p.joint_states_topic)
                       if t not in have and t + "/compressed" not in have]
            if missing:
                raise DatasetError(f"{path}: topics {missing} are not in the bag (it has {sorted(c.topic for c in reader.connections)})")
            for conn, ts_ns, raw in reader.messages(connections=conns):
                msg = reader.deserialize(raw, conn.msgtype)
                streams.setdefault(conn.topic, []).append((_stamp(msg, ts_ns), msg))
    except DatasetError:
        raise
    except Exception as exc:  # rosbags raises its own reader errors for damaged bags: name the bag
        raise DatasetError(f"{path}: cannot read the rosbag ({type(exc).__name__}: {exc})") from exc
    for msgs in streams.values():
        msgs.sort(key=lambda m: m[0])
    cams = {c: streams.get(t) or streams.get(t + "/compressed") for c, t in p.cameras.items()}
    joints = streams[p.joint_states_topic]
    start = max(m[0][0] for m in [*cams.values(), joints])
    end = min(m[-1][0] for m in [*cams.values(), joints])
    if end <= start:
        raise DatasetError(f"{path}: camera and joint-state recordings do not overlap in time")
    grid = start + np.arange(int(np.floor((end - start) * fps)) + 1) / fps
    images = {}
    for cam, msgs in cams.items():
        idx = _hold(np.array([m[0] for m in msgs]), grid, f"{path}: {p.cameras[cam]}")
        topic = p.cameras[cam]
        try:
            decoded = {i: (compressed_to_rgb if hasattr(msgs[i][1], "format") else image_to_rgb)(msgs[i][1], p.image_size, topic)
                       for i in np.unique(idx)}
        except ImageError as exc:
            raise DatasetError(f"{path}: {exc}") from exc
        images[cam] = np.stack([decoded[i] for i in idx])
    names = p.joint_names + (p.gripper_joint,)
    jidx = _hold(np.array([m[0] for m in joints]), grid, f"{path}: {p.joint_states_topic}")
    pos, vel = [], []
    for i in jidx:
        msg = joints[i][1]
        index = {n: k for k, n in enumerate(msg.name)}
        absent = [n for n in names if n not in index]
        if absent:
            raise DatasetError(f"{path}: {p.joint_states_topic} lacks joints {absent} (it has {list(msg.name)})")
        pos.append([msg.position[index[n]] for n in names])
        vel.append([msg.velocity[index[n]] if len(msg.velocity) == len(msg.name) else 0.0 for n in names])
    pos, vel = np.array(pos), np.array(vel)
    states = np.concatenate([pos[:, :-1], vel[:, :-1], pos[:, -1:]], axis=1).astype(np.float32)
    traj = streams.get(p.trajectory_topic)
    if traj:
        # the command issued after frame t (and before frame t+1) is frame t's action
        tidx = np.searchsorted(np.array([m[0] for m in traj]), grid + 1.0 / fps, side="left") - 1
        targets = []
        for k, i in enumerate(tidx):
            if i < 0:
                targets.append(pos[k, :-1])
                continue
            msg = traj[i][1]
            point = dict(zip(msg.joint_names, msg.points[-1].positions, strict=True))
            targets.append([point.get(n, pos[k, j]) for j, n in enumerate(p.joint_names)])
        grip_msgs = streams.get(p.gripper_topic)
        grip = np.zeros(len(grid))
        if grip_msgs:
            gidx = np.searchsorted(np.array([m[0] for m in grip_msgs]), grid + 1.0 / fps, side="left") - 1
            grip = np.array([grip_msgs[i][1].data if i >= 0 else 0.0 for i in gidx])
        actions = np.concatenate([np.array(targets), grip[:, None]], axis=1)
    else:
        nxt = np.concatenate([pos[1:], pos[-1:]])
        actions = np.concatenate([nxt[:, :-1], np.zeros((len(grid), 1))], axis=1)
    return BagEpisode(images, states, actions.astype(np.float32), bool(traj))


def import_rosbag(cfg: RosbagImportConfig, progress: bool = True) -> dict:
    if not cfg.task.strip():
        raise ValueError("--task is required (the task text of the recorded episodes)")
    if not cfg.subtasks:
        raise ValueError("--subtasks is required: each episode is split equally into them")
    profile = load_profile(cfg.profile)
    fps = cfg.fps or profile.control_hz
    spec = profile_spec(profile, cfg.task.strip(), tuple(cfg.subtasks), 0)
    start = time.perf_counter()
    frames, commanded = 0, []
    with atomic_dir(cfg.out, cfg.overwrite) as tmp:
        writer = DatasetWriter(tmp, spec)
        for bag in tqdm(cfg.bag, desc="import-rosbag", unit="bag", disable=not progress):
            ep = read_bag(Path(bag), profile, fps)
            n = len(ep.states)
            spans: tuple[SubtaskSpan, ...] = equal_split(n, cfg.subtasks, f"{bag}")
            validate_spans(spans, n, str(bag))
            for t in range(n):
                writer.add_frame({c: ep.images[c][t] for c in ep.images}, ep.states[t], ep.actions[t], spec.task_text)
            writer.end_episode(spans, cfg.outcome, "recorded", -1)
            frames += n
            commanded.append(ep.commanded)
        writer.finalize()
        action_source = ("recorded trajectory commands" if all(commanded) else
                         "next frame's joint positions (no commands recorded)" if not any(commanded) else "mixed")
        summary = run_record(cfg, episodes=len(cfg.bag), frames=frames, fps=fps, action_source=action_source,
                             annotation_source=f"equal split into {', '.join(cfg.subtasks)}",
                             seconds=round(time.perf_counter() - start, 2))
        write_json(tmp / SUMMARY_FILE, summary)
        (tmp / "README.md").write_text(
            f"# {Path(cfg.out).name}\n\nImported by `robo-reward import-rosbag` from {len(cfg.bag)} rosbag2 recording(s) "
            f"with profile `{profile.name}`.\n\n- task: {spec.task_text}\n- frames: {frames} at {fps:g} fps (zero-order hold)\n"
            f"- actions: {action_source}\n- subtask annotation: equal split into {', '.join(cfg.subtasks)}\n")
    return summary


def write_bag(path: Path, profile: HardwareProfile, images: dict[str, np.ndarray], states: np.ndarray,
              actions: np.ndarray, fps: float, t0_ns: int = 1_700_000_000_000_000_000, storage: str = "sqlite3") -> Path:
    """Record frames as a robot would publish them (for tests and examples): images, joint states and
    trajectory commands on the profile's topics, `states` as [q, qd, gripper]."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    T = ts.types
    p = profile
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(Path(path), version=9, storage_plugin=plugin) as w:
        cam_conn = {c: w.add_connection(t, "sensor_msgs/msg/Image", typestore=ts) for c, t in p.cameras.items()}
        joint_conn = w.add_connection(p.joint_states_topic, "sensor_msgs/msg/JointState", typestore=ts)
        traj_conn = w.add_connection(p.trajectory_topic, "trajectory_msgs/msg/JointTrajectory", typestore=ts)
        grip_conn = w.add_connection(p.gripper_topic, "std_msgs/msg/Float64", typestore=ts)
        for k in range(len(states)):
            ns = t0_ns + int(round(k * 1e9 / fps))
            header = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
                                              frame_id="")
            for c, conn in cam_conn.items():
                img = np.ascontiguousarray(images[c][k])
                msg = T["sensor_msgs/msg/Image"](header=header, height=img.shape[0], width=img.shape[1], encoding="rgb8",
                                                 is_bigendian=0, step=img.shape[1] * 3, data=img.reshape(-1))
                w.write(conn, ns, ts.serialize_cdr(msg, "sensor_msgs/msg/Image"))
            dof = p.dof
            js = T["sensor_msgs/msg/JointState"](header=header, name=list(p.joint_names) + [p.gripper_joint],
                                                 position=np.append(states[k, :dof], states[k, 2 * dof]).astype(np.float64),
                                                 velocity=np.append(states[k, dof:2 * dof], 0.0).astype(np.float64),
                                                 effort=np.zeros(0, np.float64))
            w.write(joint_conn, ns, ts.serialize_cdr(js, "sensor_msgs/msg/JointState"))
            point = T["trajectory_msgs/msg/JointTrajectoryPoint"](
                positions=actions[k, :dof].astype(np.float64), velocities=np.zeros(0), accelerations=np.zeros(0),
                effort=np.zeros(0), time_from_start=T["builtin_interfaces/msg/Duration"](sec=0, nanosec=int(1e9 / fps)))
            traj = T["trajectory_msgs/msg/JointTrajectory"](header=header, joint_names=list(p.joint_names), points=[point])
            w.write(traj_conn, ns + 1, ts.serialize_cdr(traj, "trajectory_msgs/msg/JointTrajectory"))
            w.write(grip_conn, ns + 1, ts.serialize_cdr(T["std_msgs/msg/Float64"](data=float(actions[k, -1])), "std_msgs/msg/Float64"))
    return Path(path)
