"""Interventions, HIL-SERL's way: while a person (a teleop device, a leader arm) is active, their command
replaces the policy's, and the executed transitions go into the demonstration buffer as well as the online
one, so the next batches copy and value the correction. In the simulator a scripted expert that takes over
when the policy stalls stands in for the person; on a robot the command arrives on a ROS 2 topic
(`RosRobotEnv`'s intervention topic: joint targets + gripper as sensor_msgs/JointState)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from robo_reward.environment_loop import HOLD, INTERVENTION, Action, Policy, RewardStep
from robo_reward.types import TimeStep

INTERVENTION_SOURCES = ("none", "expert", "ros")
PROGRESS_MARGIN = 0.01  # the least rise of the simulator's progress that counts as progress


@dataclass(frozen=True)
class InterventionConfig:
    """Who may take over from the policy during online episodes."""

    source: str = field(default="none", metadata={
        "help": "none | expert (sim: the scripted expert takes over when the policy stalls, standing in for a person) "
                "| ros (a person's commands on the robot env's intervention topic)", "alias": "--intervene"})
    patience: int = field(default=15, metadata={
        "help": "expert: steps without progress (the simulator's subtasks and dense reward) before it takes over",
        "alias": "--intervene-patience"})
    hold: int = field(default=30, metadata={
        "help": "expert: most steps it keeps control; it hands back as soon as it completes the next subtask",
        "alias": "--intervene-hold"})

    reclone_every: int = field(default=10, metadata={
        "help": "episodes between re-cloning the frozen clones on the demonstrations and the interventions so far, when "
                "new interventions came in (HG-DAgger's use of them; 0: never, the interventions then only enter RLPD "
                "batches)", "alias": "--intervene-reclone-every"})
    reclone_steps: int = field(default=500, metadata={"help": "cloning steps per clone at each re-cloning",
                                                      "alias": "--intervene-reclone-steps"})

    def __post_init__(self) -> None:
        if self.reclone_every < 0 or self.reclone_steps < 1:
            raise ValueError(f"--intervene-reclone-every must be >= 0 and --intervene-reclone-steps >= 1, got "
                             f"{self.reclone_every} and {self.reclone_steps}")
        if self.source not in INTERVENTION_SOURCES:
            raise ValueError(f"--intervene.source must be one of {INTERVENTION_SOURCES}, got {self.source!r}")
        if self.patience < 1 or self.hold < 1:
            raise ValueError(f"--intervene.patience and --intervene.hold must be >= 1, got {self.patience} and {self.hold}")

    @property
    def on(self) -> bool:
        return self.source != "none"


class Intervention(Protocol):
    def reset(self, ts: TimeStep) -> None: ...

    def override(self, ts: TimeStep, reading: RewardStep, proposed: Action) -> Action | None:
        """The action to execute instead of the policy's `proposed` one, or None to let it act."""


class Intervened:
    """A policy a person may take over from: `Policy` protocol, so the loop and its observers are unchanged;
    the executed action's `by` says who chose it."""

    def __init__(self, policy: Policy, intervention: Intervention) -> None:
        self.policy, self.intervention = policy, intervention

    def reset(self, ts: TimeStep) -> None:
        self.policy.reset(ts)
        self.intervention.reset(ts)

    def act(self, ts: TimeStep, reading: RewardStep) -> Action:
        proposed = self.policy.act(ts, reading)
        taken = self.intervention.override(ts, reading, proposed)
        return proposed if taken is None else taken


def progress_of(ts: TimeStep) -> float:
    """The simulator's progress: subtasks done, then the dense reward within the next one."""
    info = ts.info
    if info.dense_reward is None or info.subtasks_completed < 0:
        raise ValueError("the expert stand-in watches the simulator's progress: this environment reports no subtasks or "
                         "dense reward (on a robot use --intervene.source ros)")
    return info.subtasks_completed + float(info.dense_reward)


class ExpertTakeover:
    """The scripted expert as the person: it watches the simulator's progress and, after `patience` steps
    without a rise of PROGRESS_MARGIN, takes over from the current state (a fresh expert script) until it
    completes the next subtask or `hold` steps pass, then hands back. A policy that stops stalling stops
    being taken over: the intervention rate falls as it learns."""

    def __init__(self, env, patience: int, hold: int) -> None:
        if not hasattr(env, "expert"):
            raise ValueError(f"{env.spec.name}: no scripted expert to stand in for a person (use --intervene.source ros)")
        self.env, self.patience, self.hold = env, patience, hold

    def reset(self, ts: TimeStep) -> None:
        self.best, self.rose_at, self.left, self.expert = progress_of(ts), ts.info.step, 0, None
        self.subtasks_at_takeover = ts.info.subtasks_completed

    def override(self, ts: TimeStep, reading: RewardStep, proposed: Action) -> Action | None:
        progress = progress_of(ts)
        if self.left and ts.info.subtasks_completed > self.subtasks_at_takeover:
            self.left = 0  # the correction is done: hand back
        if not self.left:
            if progress > self.best + PROGRESS_MARGIN:
                self.best, self.rose_at = progress, ts.info.step
            if ts.info.step - self.rose_at < self.patience:
                return None
            self.expert, self.left = self.env.expert("expert"), self.hold
            self.subtasks_at_takeover = ts.info.subtasks_completed
        self.left -= 1
        self.best, self.rose_at = max(self.best, progress), ts.info.step  # the policy's patience restarts at hand-back
        spec = self.env.spec.action
        unit = np.clip(spec.to_unit(self.expert.act(ts)), -1.0, 1.0).astype(np.float32)
        return Action(spec.from_unit(unit), unit, by=INTERVENTION)


class RosTakeover:
    """A person's commands on the robot env's intervention topic (`RosRobotEnv.teleop`): a fresh valid command
    replaces the policy's; a fresh refused one (wrong joint count, non-finite) holds the arm where it is."""

    def __init__(self, env) -> None:
        if not getattr(getattr(env, "cfg", None), "intervention_topic", None):
            raise ValueError(f"{env.spec.name}: --intervene.source ros needs a robot env that listens for interventions")
        self.env = env

    def reset(self, ts: TimeStep) -> None:
        pass

    def override(self, ts: TimeStep, reading: RewardStep, proposed: Action) -> Action | None:
        command = self.env.teleop()
        if command is None:
            return None
        spec = self.env.spec.action
        by = HOLD if command.action is None else INTERVENTION
        executed = self.env.hold_action() if command.action is None else command.action
        unit = np.clip(spec.to_unit(executed), -1.0, 1.0).astype(np.float32)
        return Action(np.asarray(executed, np.float64), unit, by=by)


def make_intervention(cfg: InterventionConfig, env) -> Intervention | None:
    if cfg.source == "expert":
        return ExpertTakeover(env, cfg.patience, cfg.hold)
    if cfg.source == "ros":
        return RosTakeover(env)
    return None


def intervened(policy: Policy, intervention: Intervention | None) -> Policy:
    """`policy` as is without an intervention source."""
    return policy if intervention is None else Intervened(policy, intervention)
