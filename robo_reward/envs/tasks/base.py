"""Task definitions for the MuJoCo suite (physics-independent of the arm controller, in the
dm_control Physics/Task split): object placement, physical subtask predicates, success, a dense
reference reward, visual randomisation and a scripted expert with failure modes."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from robo_reward.envs.arm import ArmSim
from robo_reward.types import PARTIAL_PROGRESS

REST_TOL = 0.01  # an object's centre within this of its resting height lies on the table
EE_STEP = 0.05  # metres per control step at |action| = 1 (0.5 m/s at 10 Hz)
OPEN, CLOSE = -1.0, 1.0

# Which outcome each scripted mode is built to produce. The label written to a dataset is still
# judged from physics (see outcome_from_progress); tests check the two agree.
MODE_OUTCOME = {
    "expert": "success",
    "stall": "partial",
    "drop": "failure",  # the object ends back on the table: nothing achieved stands (Task.lost)
    "near_miss": "partial",
    "miss_grasp": "failure",
    "imposter": "failure",
}
MIXED_WEIGHTS = {"expert": 0.35, "stall": 0.1, "drop": 0.1, "near_miss": 0.15, "miss_grasp": 0.1, "imposter": 0.2}


def outcome_from_progress(success: bool, completed: int, n_subtasks: int) -> str:
    """success if the task's physical success holds at the end; partial if the subtasks completed on
    the way are worth at least PARTIAL_PROGRESS of the task in equal shares (the step-wise labels), so
    that the completion rule applied to the true progress gives the true outcome; failure otherwise.
    Four subtasks: two make a partial (one is 0.25); two subtasks (MetaWorld drawer-close): one (0.5)."""
    if n_subtasks < 1 or not 0 <= completed <= n_subtasks:
        raise ValueError(f"{completed} of {n_subtasks} subtasks completed")
    if success:
        return "success"
    return "partial" if completed / n_subtasks >= PARTIAL_PROGRESS else "failure"


# The parts of a visual shift and the Appearance fields each one moves.
SHIFT_PARTS: dict[str, tuple[str, ...]] = {"camera": ("camera_offset", "target_offset"),
                                           "light": ("light_scale", "light_offset"),
                                           "colour": ("table_tint", "color_jitter")}


@dataclass(frozen=True)
class Appearance:
    """Per-episode visual randomisation; `shift` draws from outside the training ranges."""

    light_scale: float
    light_offset: np.ndarray
    table_tint: np.ndarray
    color_jitter: float
    camera_offset: np.ndarray  # metres, applied to every fixed camera
    target_offset: np.ndarray  # metres, moves the point the fixed cameras look at

    @staticmethod
    def sample(rng: np.random.Generator, shift: bool, parts: tuple[str, ...] = tuple(SHIFT_PARTS)) -> Appearance:
        """With `shift`, only the `parts` named leave the training ranges (a diagnostic: which part of a
        shift a model fails on). The rest come from a child stream, so the episode's own draws (layout,
        expert) are those of the full shift with the same seed."""
        if shift and set(parts) != set(SHIFT_PARTS):
            unknown = sorted(set(parts) - set(SHIFT_PARTS))
            if unknown:
                raise ValueError(f"visual-shift parts {unknown} unknown; choose from {list(SHIFT_PARTS)}")
            shifted = Appearance.sample(rng, True)
            nominal = Appearance.sample(rng.spawn(1)[0], False)
            return replace(nominal, **{f: getattr(shifted, f) for p in parts for f in SHIFT_PARTS[p]})
        if not shift:
            return Appearance(
                light_scale=rng.uniform(0.75, 1.25),
                light_offset=rng.uniform(-0.15, 0.15, 3),
                table_tint=rng.uniform(0.85, 1.0, 3),
                color_jitter=0.08,
                camera_offset=rng.uniform(-0.01, 0.01, 3),
                target_offset=rng.uniform(-0.005, 0.005, 3),
            )
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        tdir = rng.normal(size=3)
        tdir /= np.linalg.norm(tdir)
        return Appearance(
            light_scale=rng.choice([rng.uniform(0.4, 0.6), rng.uniform(1.5, 1.8)]),
            light_offset=rng.uniform(-0.5, 0.5, 3),
            table_tint=rng.uniform(0.5, 1.0, 3),
            color_jitter=0.25,
            camera_offset=direction * rng.uniform(0.03, 0.06),
            target_offset=tdir * rng.uniform(0.02, 0.04),
        )


def apply_appearance(sim: ArmSim, app: Appearance, rng: np.random.Generator,
                     colored: tuple[tuple[str, ...], ...], base: dict[str, np.ndarray]) -> None:
    """Write an Appearance into the model: lights, table tint, object colours, camera placement."""
    m = sim.model
    for i, name in enumerate(("key", "fill")):
        lid = m.light(name).id
        m.light_diffuse[lid] = base[f"light_{name}"] * app.light_scale
        m.light_pos[lid] = base[f"light_pos_{name}"] + app.light_offset * (1 if i == 0 else -1)
    m.mat_rgba[m.material("table").id, :3] = app.table_tint
    for group in colored:
        jitter = rng.uniform(-app.color_jitter, app.color_jitter, 3)
        for g in group:
            m.geom_rgba[m.geom(g).id, :3] = np.clip(base[f"geom_{g}"] + jitter, 0.0, 1.0)
    for cam in ("front", "side"):
        m.cam_pos[m.camera(cam).id] = base[f"cam_{cam}"] + app.camera_offset
    m.body_pos[m.body("cam_target").id] = base["cam_target"] + app.target_offset


def snapshot_appearance(sim: ArmSim, colored: tuple[tuple[str, ...], ...]) -> dict[str, np.ndarray]:
    """The model's nominal appearance, so each episode randomises from the same base."""
    m = sim.model
    base = {}
    for name in ("key", "fill"):
        base[f"light_{name}"] = m.light_diffuse[m.light(name).id].copy()
        base[f"light_pos_{name}"] = m.light_pos[m.light(name).id].copy()
    for g in (g for group in colored for g in group):
        base[f"geom_{g}"] = m.geom_rgba[m.geom(g).id, :3].copy()
    for cam in ("front", "side"):
        base[f"cam_{cam}"] = m.cam_pos[m.camera(cam).id].copy()
    base["cam_target"] = m.body_pos[m.body("cam_target").id].copy()
    return base


class Task(abc.ABC):
    """A manipulation task of the suite."""

    name: str
    xml: str  # file under sim/tasks
    text: str  # natural-language instruction
    subtasks: tuple[str, ...]
    max_steps: int
    colored: tuple[tuple[str, ...], ...]  # geoms whose colours are randomised, one draw per group
    # The object the robot picks up, the completed-subtask counts [lo, hi) during which it belongs in the
    # hand, and its centre height resting on the table (see `lost`); None for a task without one.
    held: str | None = None
    held_stages: tuple[int, int] = (0, 0)
    rest_z: float = 0.0

    @abc.abstractmethod
    def initialize_episode(self, sim: ArmSim, rng: np.random.Generator) -> None:
        """Place objects (free joints, static bodies) for a new episode."""

    @abc.abstractmethod
    def subtask_done(self, sim: ArmSim, k: int) -> bool:
        """Physical predicate: subtask k is complete (checked only once k-1 is)."""

    @abc.abstractmethod
    def success(self, sim: ArmSim) -> bool: ...

    def failed(self, sim: ArmSim) -> bool:
        """Unrecoverable state (an object off the table). Ends the episode as terminated."""
        return False

    def placed(self, sim: ArmSim) -> bool:
        """The held object lies where the task wants it (a release there is progress, not a drop)."""
        return False

    def lost(self, sim: ArmSim, completed: int) -> bool:
        """The subtasks completed so far no longer stand: the object the robot had picked up lies on the
        table again, touched by neither pad and not where it belongs. A dropped cube looks like an untouched
        one, and a shaping potential should not remember history, so the env then counts the subtasks
        again from the first on the current scene."""
        lo, hi = self.held_stages
        if self.held is None or not lo <= completed < hi:
            return False
        return bool(sim.body_pos(self.held)[2] < self.rest_z + REST_TOL
                    and not sim.touching(("left_pad", "right_pad"), self.held) and not self.placed(sim))

    @abc.abstractmethod
    def privileged(self, sim: ArmSim) -> np.ndarray:
        """Object and target state a real robot would not observe directly (fast RL sweeps in sim)."""

    @abc.abstractmethod
    def dense_reward(self, sim: ArmSim) -> float:
        """The simulator's own staged dense reward in [0, 1] (a sanity reference for RL)."""

    def mode_outcome(self, mode: str) -> str:
        """The outcome `mode` is built to produce in this task (MODE_OUTCOME unless the task's physics differ)."""
        return MODE_OUTCOME[mode]

    @abc.abstractmethod
    def expert(self, sim: ArmSim, rng: np.random.Generator, mode: str) -> Iterator[np.ndarray]:
        """Scripted end-effector actions [dx, dy, dz, grip] for `mode` (see MODE_OUTCOME)."""


# ------------------------------------------------------------------- expert building blocks
Target = np.ndarray | Callable[[], np.ndarray]


@dataclass
class Motion:
    """Shared state of a scripted expert: the sim, its speed and its action noise."""

    sim: ArmSim
    rng: np.random.Generator
    speed: float = 1.0
    noise: float = 0.03

    def goto(self, target: Target, grip: float, tol: float = 0.006, max_steps: int = 40) -> Iterator[np.ndarray]:
        """Move the TCP to `target` (re-evaluated each step if callable) holding the gripper."""
        for _ in range(max_steps):
            goal = target() if callable(target) else target
            delta = goal - self.sim.tcp_pos
            if np.linalg.norm(delta) < tol:
                return
            cmd = np.clip(delta / EE_STEP, -self.speed, self.speed)
            cmd = cmd + self.rng.normal(0.0, self.noise, 3) * (np.linalg.norm(delta) > 0.03)
            yield np.concatenate([np.clip(cmd, -1.0, 1.0), [grip]])

    def hold(self, grip: float, steps: int) -> Iterator[np.ndarray]:
        for _ in range(steps):
            yield np.array([0.0, 0.0, 0.0, grip])

    def wander(self, grip: float, steps: int, scale: float = 0.15) -> Iterator[np.ndarray]:
        """A stalled robot: small aimless motions around where it is."""
        for _ in range(steps):
            yield np.concatenate([self.rng.normal(0.0, scale, 3).clip(-1, 1), [grip]])
