"""Core data types shared by environments, datasets, reward models and learners.

Frozen dataclasses with typed numpy arrays: the same types flow from the MuJoCo suite, the
MetaWorld adapter and (later) the ROS 2 robot, so downstream code never branches on the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CameraSpec:
    """One camera of an environment."""

    name: str
    height: int
    width: int


@dataclass(frozen=True)
class BoxSpec:
    """A bounded float32 vector (states and actions)."""

    low: np.ndarray
    high: np.ndarray
    names: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.low.shape)

    @property
    def dim(self) -> int:
        return int(self.low.shape[0])

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Values in these bounds mapped to [-1, 1] (the policies' action space), float32."""
        return (2 * (np.asarray(x) - self.low) / (self.high - self.low) - 1).astype(np.float32)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """A policy's [-1, 1] action in these bounds' units (the inverse of `to_unit`)."""
        return self.low + (np.asarray(u) + 1) * 0.5 * (self.high - self.low)

    def contains(self, x: np.ndarray, atol: float = 1e-6) -> bool:
        return bool(np.all(x >= self.low - atol) and np.all(x <= self.high + atol))

    def policy_index(self, velocities: bool = False) -> np.ndarray:
        """The entries a policy reads: all but joint velocities (`*.vel`) unless asked. Velocities are
        noisy to clone from (what they cost a clone is measured in docs/BENCHMARKS.md)."""
        if not self.names or velocities:
            return np.arange(self.dim)
        return np.array([i for i, n in enumerate(self.names) if not n.endswith(".vel")])


@dataclass(frozen=True)
class EnvSpec:
    """Everything a learner or dataset writer needs to know about an environment."""

    name: str
    task_text: str
    subtasks: tuple[str, ...]
    cameras: tuple[CameraSpec, ...]
    state: BoxSpec
    action: BoxSpec
    control_hz: float
    max_steps: int
    robot_type: str = "panda"

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)


@dataclass(frozen=True)
class Observation:
    """What a robot sees and feels at one instant."""

    images: dict[str, np.ndarray]  # camera -> uint8 HxWx3
    state: np.ndarray  # float32 [state_dim]
    time: float  # seconds since reset


@dataclass(frozen=True)
class StepInfo:
    """What an environment reports beside the observation. Typed, because the library reads these fields;
    None marks what an environment cannot know (a real arm has no object state and no dense reward)."""

    success: bool = False
    step: int = 0
    subtasks_completed: int = -1  # the subtasks physics says are done (-1: not known)
    dense_reward: float | None = None  # a simulator's shaped reward in [0, 1]
    privileged: np.ndarray | None = None  # float32 object/target state only a simulator knows


@dataclass(frozen=True)
class TimeStep:
    """One environment transition result. `terminated` is a true end (success or unrecoverable
    failure; do not bootstrap); `truncated` is the time limit (keep bootstrapping)."""

    obs: Observation
    reward: float
    terminated: bool
    truncated: bool
    info: StepInfo = field(default_factory=StepInfo)

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


OUTCOMES = ("success", "partial", "failure")
UNKNOWN_OUTCOME = "unknown"  # a dataset that records none (robo_reward.data.outcomes): nothing that needs one accepts it
# Robo-Dopamine's completion rule calls an episode partial when its mean progress is at least this; the
# outcome labels use the same line on the progress the completed subtasks are worth (equal shares)
PARTIAL_PROGRESS = 0.4


@dataclass(frozen=True)
class SubtaskSpan:
    """A subtask's [start, end] frame interval inside an episode (end inclusive)."""

    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Episode:
    """A recorded episode in memory: frames per camera, states, actions, subtask spans, outcome."""

    task: str
    task_text: str
    images: dict[str, np.ndarray]  # camera -> uint8 [T, H, W, 3]
    states: np.ndarray  # float32 [T, state_dim]
    actions: np.ndarray  # float32 [T, action_dim]
    subtasks: tuple[SubtaskSpan, ...]
    outcome: str  # one of OUTCOMES
    mode: str  # how it was produced: expert, stall, drop, near_miss, imposter, miss_grasp, ...
    seed: int
    fps: float
    # float32 [T, k]: object/target state a simulator knows and a robot does not (LeRobot's
    # observation.environment_state); None for recorded robots and imported data
    env_state: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.outcome not in (*OUTCOMES, UNKNOWN_OUTCOME):
            raise ValueError(f"episode outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        n = len(self.states)
        for cam, frames in self.images.items():
            if len(frames) != n:
                raise ValueError(f"camera {cam!r} has {len(frames)} frames but there are {n} states")
        if len(self.actions) != n:
            raise ValueError(f"{len(self.actions)} actions for {n} frames")
        if self.env_state is not None and len(self.env_state) != n:
            raise ValueError(f"{len(self.env_state)} environment states for {n} frames")

    @property
    def length(self) -> int:
        return int(len(self.states))
