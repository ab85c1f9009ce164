"""MuJoCo physics for the Panda-kinematics arm: joint servos, a damped-least-squares IK for
end-effector control, contact queries and fast offscreen rendering of named cameras."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

ARM_JOINTS = tuple(f"joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("finger_left", "finger_right")
HOME_QPOS = np.array([0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853])
FINGER_OPEN = 0.04  # metres of travel per finger
FINGER_SQUEEZE = 0.005  # closed command overshoot (m): with the servo gain this sets the grasp force
# Gripper pointing down, fingers closing along world x (hand y axis = world x).
TCP_DOWN = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
IK_DAMPING = 1e-3
POSTURE_GAIN = 0.2
POSTURE_WEIGHTS = np.array([0.0, 0.0, 1.0, 0.0, 0.5, 0.0, 0.0])  # joints the null-space pull acts on
SIM_DIR = Path(__file__).resolve().parents[2] / "sim"


def sim_path(*parts: str) -> Path:
    """Path of a file under sim/ (scenes ship with the repository, nothing is downloaded)."""
    path = SIM_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"simulation asset not found: {path}")
    return path


class ArmSim:
    """One MuJoCo model + data of a task scene with the arm, and the helpers tasks and experts use."""

    def __init__(self, xml: Path, image_size: int = 96) -> None:
        self.model = mujoco.MjModel.from_xml_path(str(xml))
        self.model.vis.quality.shadowsize = 0
        self.model.vis.quality.offsamples = 0
        self.data = mujoco.MjData(self.model)
        self._ik_data = mujoco.MjData(self.model)
        m = self.model
        self.arm_qadr = np.array([m.jnt_qposadr[m.joint(j).id] for j in ARM_JOINTS])
        self.arm_vadr = np.array([m.jnt_dofadr[m.joint(j).id] for j in ARM_JOINTS])
        self.finger_qadr = np.array([m.jnt_qposadr[m.joint(j).id] for j in FINGER_JOINTS])
        self.arm_act = np.array([m.actuator(f"act{i}").id for i in range(1, 8)])
        self.finger_act = np.array([m.actuator("act_finger_left").id, m.actuator("act_finger_right").id])
        self.arm_low = m.jnt_range[[m.joint(j).id for j in ARM_JOINTS], 0].copy()
        self.arm_high = m.jnt_range[[m.joint(j).id for j in ARM_JOINTS], 1].copy()
        self.tcp_site = m.site("tcp").id
        self.pad_geoms = (m.geom("left_pad").id, m.geom("right_pad").id)
        self.image_size = image_size
        self._renderer: mujoco.Renderer | None = None
        self._jac_p = np.zeros((3, m.nv))
        self._jac_r = np.zeros((3, m.nv))

    # ---------------------------------------------------------------- state
    def reset_arm(self, qpos: np.ndarray = HOME_QPOS) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self.arm_qadr] = qpos
        self.data.qpos[self.finger_qadr] = FINGER_OPEN
        self.data.ctrl[self.arm_act] = qpos
        self.data.ctrl[self.finger_act] = FINGER_OPEN

    @property
    def arm_q(self) -> np.ndarray:
        return self.data.qpos[self.arm_qadr].copy()

    @property
    def arm_qd(self) -> np.ndarray:
        return self.data.qvel[self.arm_vadr].copy()

    @property
    def gripper_width(self) -> float:
        return float(self.data.qpos[self.finger_qadr].sum())

    @property
    def tcp_pos(self) -> np.ndarray:
        return self.data.site_xpos[self.tcp_site].copy()

    def body_pos(self, name: str) -> np.ndarray:
        return self.data.body(name).xpos.copy()

    def body_mat(self, name: str) -> np.ndarray:
        return self.data.body(name).xmat.reshape(3, 3).copy()

    def site_pos(self, name: str) -> np.ndarray:
        return self.data.site(name).xpos.copy()

    def joint_q(self, name: str) -> float:
        return float(self.data.joint(name).qpos[0])

    def set_free_body(self, joint: str, pos: np.ndarray, yaw: float = 0.0) -> None:
        adr = self.model.jnt_qposadr[self.model.joint(joint).id]
        self.data.qpos[adr : adr + 3] = pos
        self.data.qpos[adr + 3 : adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]

    def touching(self, geom_names: tuple[str, ...] | str, other: str | tuple[str, ...]) -> bool:
        """True if any geom of the first set is in contact with any geom of the second set."""
        a = {self.model.geom(g).id for g in ((geom_names,) if isinstance(geom_names, str) else geom_names)}
        b = {self.model.geom(g).id for g in ((other,) if isinstance(other, str) else other)}
        for i in range(self.data.ncon):
            c = self.data.contact[i]
            if (c.geom1 in a and c.geom2 in b) or (c.geom2 in a and c.geom1 in b):
                return True
        return False

    def grasped(self, geom: str) -> bool:
        """Both finger pads touch the geom: it is held, not merely bumped."""
        return self.touching("left_pad", geom) and self.touching("right_pad", geom)

    # ---------------------------------------------------------------- control
    def ik(self, target_pos: np.ndarray, target_mat: np.ndarray = TCP_DOWN, iters: int = 6) -> np.ndarray:
        """Damped least-squares IK for the TCP (position + orientation), seeded at the measured
        joints. The arm's one redundant degree of freedom is resolved by a small null-space pull of
        the upper-arm rotation (joint3) and the wrist (joint5) toward home, so the elbow neither
        drifts nor spins. Returns joint targets."""
        d = self._ik_data
        d.qpos[:] = self.data.qpos
        q = d.qpos[self.arm_qadr].copy()
        jac = np.zeros((6, 7))
        for _ in range(iters):
            err = self._pose_error(d, q, target_pos, target_mat, jac)
            if err[:3] @ err[:3] < 1e-7 and err[3:] @ err[3:] < 1e-5:
                break
            jjt = jac @ jac.T + IK_DAMPING * np.eye(6)
            q = np.clip(q + jac.T @ np.linalg.solve(jjt, err), self.arm_low, self.arm_high)
        self._pose_error(d, q, target_pos, target_mat, jac)
        null = np.eye(7) - np.linalg.pinv(jac) @ jac
        q = q + null @ (POSTURE_GAIN * POSTURE_WEIGHTS * (HOME_QPOS - q))
        return np.clip(q, self.arm_low, self.arm_high)

    def _pose_error(self, d: mujoco.MjData, q: np.ndarray, target_pos: np.ndarray, target_mat: np.ndarray,
                    jac: np.ndarray) -> np.ndarray:
        """TCP pose error at joints q; fills `jac` with the TCP Jacobian over the arm joints."""
        d.qpos[self.arm_qadr] = q
        mujoco.mj_kinematics(self.model, d)
        mujoco.mj_comPos(self.model, d)
        mat = d.site_xmat[self.tcp_site].reshape(3, 3)
        mujoco.mj_jacSite(self.model, d, self._jac_p, self._jac_r, self.tcp_site)
        jac[:3] = self._jac_p[:, self.arm_vadr]
        jac[3:] = self._jac_r[:, self.arm_vadr]
        err_p = target_pos - d.site_xpos[self.tcp_site]
        err_r = 0.5 * np.cross(mat.T, target_mat.T).sum(axis=0)
        return np.concatenate([err_p, err_r])

    def set_arm_targets(self, q: np.ndarray) -> None:
        self.data.ctrl[self.arm_act] = np.clip(q, self.arm_low, self.arm_high)

    def set_gripper(self, command: float) -> None:
        """command in [-1, 1]: -1 fully open, +1 closed. Closed aims past zero width so the
        (force-limited) fingers keep squeezing whatever they hold, like a real gripper's grasp force."""
        c = float(np.clip(command, -1.0, 1.0))
        self.data.ctrl[self.finger_act] = FINGER_OPEN * (1.0 - c) / 2.0 - FINGER_SQUEEZE * (c + 1.0) / 2.0

    def step(self, n: int) -> None:
        mujoco.mj_step(self.model, self.data, nstep=n)

    def forward(self) -> None:
        mujoco.mj_forward(self.model, self.data)

    # ---------------------------------------------------------------- rendering
    def render(self, cameras: tuple[str, ...]) -> dict[str, np.ndarray]:
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.image_size, self.image_size)
        out = {}
        for cam in cameras:
            self._renderer.update_scene(self.data, camera=cam)
            out[cam] = self._renderer.render().copy()
        return out

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
