"""Robot hardware profiles (hardware/<name>.yaml): joint names and limits, per-command step bounds,
topics, cameras and rates. A profile without limits is refused: no command is ever sent unclamped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from robo_reward.types import BoxSpec, CameraSpec, EnvSpec

HARDWARE_DIR = Path(__file__).resolve().parents[2] / "hardware"


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class HardwareProfile:
    name: str
    robot_type: str
    control_hz: float
    joint_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    max_step: np.ndarray  # largest change of a joint target per command (rad)
    home: np.ndarray
    gripper_joint: str
    gripper_topic: str
    joint_states_topic: str
    trajectory_topic: str
    cameras: dict[str, str]  # camera name -> image topic
    image_size: tuple[int, int]  # (height, width) the reward model expects
    stale_after_s: float
    operator_confirm_reset: bool
    kinematics: Path | None = None  # the arm's MJCF (joints in the profile's order, a `tcp` site): the IK bridge's model

    @property
    def dof(self) -> int:
        return len(self.joint_names)


def _require(doc: dict, path: str, where: Path):
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ProfileError(f"{where}: missing {path!r}")
        node = node[key]
    return node


def load_profile(name_or_path: str | Path) -> HardwareProfile:
    """A profile by name (hardware/<name>.yaml) or by path, validated."""
    path = Path(name_or_path)
    if not path.suffix:
        path = HARDWARE_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in HARDWARE_DIR.glob("*.yaml"))
        raise ProfileError(f"hardware profile {str(name_or_path)!r} not found (known: {known})")
    doc = yaml.safe_load(path.read_text()) or {}
    names = tuple(_require(doc, "joints.names", path))
    arrays = {}
    for key in ("lower", "upper", "max_step", "home"):
        arr = np.asarray(_require(doc, f"joints.{key}", path), dtype=np.float64)
        if arr.shape != (len(names),):
            raise ProfileError(f"{path}: joints.{key} has {arr.size} values for {len(names)} joints")
        arrays[key] = arr
    if np.any(arrays["lower"] >= arrays["upper"]):
        raise ProfileError(f"{path}: joints.lower must be below joints.upper for every joint")
    if np.any(arrays["max_step"] <= 0):
        raise ProfileError(f"{path}: joints.max_step must be positive")
    if np.any(arrays["home"] < arrays["lower"]) or np.any(arrays["home"] > arrays["upper"]):
        raise ProfileError(f"{path}: joints.home is outside the joint limits")
    cams = dict(_require(doc, "cameras", path))
    if not cams:
        raise ProfileError(f"{path}: no cameras")
    size = tuple(int(x) for x in doc.get("image_size", (96, 96)))
    kinematics = None
    if doc.get("kinematics"):  # relative to the profile, else to hardware/ (a shipped profile copied elsewhere)
        tried = [(where / str(doc["kinematics"])).resolve() for where in (path.parent, HARDWARE_DIR)]
        kinematics = next((k for k in tried if k.exists()), None)
        if kinematics is None:
            raise ProfileError(f"{path}: kinematics {doc['kinematics']!r} not found (looked at {[str(k) for k in tried]})")
    return HardwareProfile(
        name=str(doc.get("name", path.stem)), robot_type=str(doc.get("robot_type", path.stem)),
        control_hz=float(_require(doc, "control_hz", path)), joint_names=names, lower=arrays["lower"],
        upper=arrays["upper"], max_step=arrays["max_step"], home=arrays["home"],
        gripper_joint=str(_require(doc, "gripper.joint", path)), gripper_topic=str(_require(doc, "gripper.topic", path)),
        joint_states_topic=str(_require(doc, "topics.joint_states", path)),
        trajectory_topic=str(_require(doc, "topics.trajectory", path)), cameras={str(k): str(v) for k, v in cams.items()},
        image_size=(size[0], size[1]), stale_after_s=float(doc.get("stale_after_s", 0.5)),
        operator_confirm_reset=bool(doc.get("operator_confirm_reset", True)), kinematics=kinematics,
    )


def profile_spec(p: HardwareProfile, task_text: str, subtasks: tuple[str, ...], max_steps: int) -> EnvSpec:
    """The EnvSpec of a robot behind this profile: state = joint positions, joint velocities, gripper;
    action = joint targets + gripper command in [-1, 1]."""
    h, w = p.image_size
    lo, hi = p.lower.astype(np.float32), p.upper.astype(np.float32)
    return EnvSpec(
        name=f"ros/{p.name}", task_text=task_text, subtasks=tuple(subtasks),
        cameras=tuple(CameraSpec(c, h, w) for c in p.cameras),
        state=BoxSpec(np.concatenate([lo, -np.full(p.dof, 10.0, np.float32), [-1.0]]).astype(np.float32),
                      np.concatenate([hi, np.full(p.dof, 10.0, np.float32), [1.0]]).astype(np.float32),
                      tuple(f"{n}.pos" for n in p.joint_names) + tuple(f"{n}.vel" for n in p.joint_names) + ("gripper",)),
        action=BoxSpec(np.append(lo, -1.0).astype(np.float32), np.append(hi, 1.0).astype(np.float32),
                       tuple(f"{n}.target" for n in p.joint_names) + ("gripper",)),
        control_hz=p.control_hz, max_steps=max_steps, robot_type=p.robot_type,
    )
