"""`MujocoTaskEnv`: a task of the suite behind the `Env` protocol, with end-effector-delta or
joint-position control, three cameras and physical subtask tracking."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from robo_reward.envs.arm import FINGER_OPEN, ArmSim, sim_path
from robo_reward.envs.config import SimConfig
from robo_reward.envs.tasks import MODE_OUTCOME, Task
from robo_reward.envs.tasks.base import EE_STEP, Appearance, apply_appearance, snapshot_appearance
from robo_reward.types import BoxSpec, CameraSpec, EnvSpec, Observation, StepInfo, TimeStep

PHYSICS_DT = 0.002
DEFAULT_HZ = 10.0
STATE_NAMES = (
    tuple(f"joint{i}.pos" for i in range(1, 8))
    + tuple(f"joint{i}.vel" for i in range(1, 8))
    + ("gripper.width", "tcp.x", "tcp.y", "tcp.z")
)
WORKSPACE_LOW = np.array([0.2, -0.45, 0.005])
WORKSPACE_HIGH = np.array([0.8, 0.45, 0.55])


def ee_joint_targets(sim: ArmSim, action: np.ndarray) -> np.ndarray:
    """Joint targets for an end-effector action [dx, dy, dz, ...] in [-1, 1] from the arm's current joints: the
    TCP moves EE_STEP metres per unit within the workspace, gripper pointing down (the suite's `ee` control and
    the IK bridge both use this)."""
    target = np.clip(sim.tcp_pos + np.asarray(action[:3]) * EE_STEP, WORKSPACE_LOW, WORKSPACE_HIGH)
    return sim.ik(target)


class MujocoTaskEnv:
    """One task of the MuJoCo suite. Reward is sparse (1 on success); the dense reference reward,
    success flag and subtask progress are in `info`."""

    def __init__(self, task: Task, config: SimConfig) -> None:
        config.validate()
        if config.randomize_appearance:
            raise ValueError(f"randomize_appearance is for MetaWorld: suite task {task.name!r} draws every episode's "
                             "appearance from the training ranges already")
        self.task = task
        self.config = config
        self.sim = ArmSim(sim_path("tasks", task.xml), image_size=config.image_size)
        known = {self.sim.model.camera(i).name for i in range(self.sim.model.ncam)}
        for cam in config.cameras:
            if cam not in known:
                raise ValueError(f"unknown camera {cam!r} for task {task.name!r}; available: {sorted(known)}")
        self._base_appearance = snapshot_appearance(self.sim, task.colored)
        control_hz = config.control_hz or DEFAULT_HZ
        self._substeps = round(1.0 / (control_hz * PHYSICS_DT))
        self._rng = np.random.default_rng()
        self._t = 0
        self.completed = 0  # subtasks completed so far, judged from physics
        self.spec = EnvSpec(
            name=task.name,
            task_text=task.text,
            subtasks=task.subtasks,
            cameras=tuple(CameraSpec(c, config.image_size, config.image_size) for c in config.cameras),
            state=self._state_space(),
            action=self._action_space(),
            control_hz=control_hz,
            max_steps=config.max_steps or task.max_steps,
        )

    # ----------------------------------------------------------------- spaces
    def _state_space(self) -> BoxSpec:
        s = self.sim
        # joint limits are soft in MuJoCo and the fingers squeeze past zero: small margins
        low = np.concatenate([s.arm_low - 0.05, -np.full(7, 10.0), [-0.02], WORKSPACE_LOW - 0.3]).astype(np.float32)
        high = np.concatenate([s.arm_high + 0.05, np.full(7, 10.0), [2 * FINGER_OPEN + 0.02], WORKSPACE_HIGH + 0.3]).astype(np.float32)
        return BoxSpec(low, high, STATE_NAMES)

    def _action_space(self) -> BoxSpec:
        if self.config.control == "ee":
            return BoxSpec(-np.ones(4, np.float32), np.ones(4, np.float32), ("ee.dx", "ee.dy", "ee.dz", "gripper"))
        low = np.concatenate([self.sim.arm_low, [-1.0]]).astype(np.float32)
        high = np.concatenate([self.sim.arm_high, [1.0]]).astype(np.float32)
        return BoxSpec(low, high, tuple(f"joint{i}.target" for i in range(1, 8)) + ("gripper",))

    # ----------------------------------------------------------------- Env protocol
    def reset(self, seed: int | None = None) -> TimeStep:
        self._rng = np.random.default_rng(seed)
        self.sim.reset_arm()
        self.task.initialize_episode(self.sim, self._rng)
        appearance = Appearance.sample(self._rng, self.config.visual_shift, self.config.shift_parts)
        apply_appearance(self.sim, appearance, self._rng, self.task.colored, self._base_appearance)
        self.sim.forward()
        self.sim.step(100)  # let objects settle on the table
        self._t = 0
        self._first_success: int | None = None
        self.completed = 0
        self._update_progress()
        return TimeStep(self._observe(), 0.0, False, False, self._info())

    def step(self, action: np.ndarray) -> TimeStep:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.spec.action.shape:
            raise ValueError(f"{self.spec.name}: action shape {action.shape}, expected {self.spec.action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"{self.spec.name}: non-finite action {action} at step {self._t}")
        action = np.clip(action, self.spec.action.low, self.spec.action.high)
        if self.config.control == "ee":
            self.sim.set_arm_targets(ee_joint_targets(self.sim, action))
        else:
            self.sim.set_arm_targets(action[:7])
        self.sim.set_gripper(action[-1])
        self.sim.step(self._substeps)
        self._t += 1
        self._update_progress()
        success = self.task.success(self.sim)
        if success:  # the task's end state implies its subtasks happened, however the policy got there (MetaWorld's rule)
            self.completed = len(self.task.subtasks)
        if success and self._first_success is None:
            self._first_success = self._t
        terminated = self.config.success_ends(self._first_success, self._t) or self.task.failed(self.sim)
        truncated = not terminated and self._t >= self.spec.max_steps
        return TimeStep(self._observe(), float(success), terminated, truncated, self._info())

    def close(self) -> None:
        self.sim.close()

    # ----------------------------------------------------------------- helpers
    def _update_progress(self) -> None:
        if self.task.lost(self.sim, self.completed):
            self.completed = 0
        while self.completed < len(self.task.subtasks) and self.task.subtask_done(self.sim, self.completed):
            self.completed += 1

    def _observe(self) -> Observation:
        s = self.sim
        state = np.concatenate([s.arm_q, s.arm_qd, [s.gripper_width], s.tcp_pos]).astype(np.float32)
        return Observation(images=s.render(self.config.cameras), state=state, time=self._t / self.spec.control_hz)

    def _info(self) -> StepInfo:
        return StepInfo(success=self.task.success(self.sim), step=self._t, subtasks_completed=self.completed,
                        dense_reward=self.task.dense_reward(self.sim),
                        privileged=self.task.privileged(self.sim).astype(np.float32))

    @property
    def expert_modes(self) -> tuple[str, ...]:
        return tuple(MODE_OUTCOME)

    def expert(self, mode: str = "expert") -> TaskExpert:
        """A scripted expert bound to this env's current episode (call after reset)."""
        if mode not in MODE_OUTCOME:
            raise ValueError(f"unknown expert mode {mode!r}; choose from {sorted(MODE_OUTCOME)}")
        if self.config.control != "ee":
            raise ValueError("scripted experts emit end-effector actions: use control='ee'")
        return TaskExpert(mode, self.task.expert(self.sim, self._rng, mode))


class TaskExpert:
    """Wraps a task's action generator as a policy; once the script ends it holds still."""

    def __init__(self, mode: str, script: Iterator[np.ndarray]) -> None:
        self.mode = mode
        self._script = script
        self._last_grip = -1.0

    def act(self, ts: TimeStep) -> np.ndarray:
        action = next(self._script, None)
        if action is None:
            return np.array([0.0, 0.0, 0.0, self._last_grip], dtype=np.float32)
        self._last_grip = float(action[-1])
        return np.asarray(action, dtype=np.float32)
