"""The demonstration buffer of `robo-reward rl`: scripted-expert rollouts in the simulator, or the
successful episodes of a LeRobot dataset (`--demos DIR`, e.g. teleoperation recorded on the robot).
Either way each transition is relabelled with the run's own reward pipeline and stored with actions
in the policy's [-1, 1] space; a dataset is checked against the environment before any training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robo_reward.environment_loop import Action, EnvironmentLoop, RewardSource, RewardStep
from robo_reward.rl.actor import ReplayWriter
from robo_reward.types import EnvSpec, Episode, Observation, StepInfo, TimeStep

ACTION_TOLERANCE = 1e-3  # of the normalised range: recorded actions may sit on the bound after float32 rounding


class DemoExpert:
    """The env's scripted expert in the policy's [-1, 1] space; with `noise` > 0 the executed action is the
    expert's plus Gaussian noise on the motion dims (DART, Laskey et al. 2017): a closed-loop expert then
    shows how to recover from the small errors a clone makes, while the buffer keeps the executed action
    so the critic's transitions stay true and the clean action is the label a clone copies. (The suite's
    experts are closed-loop only within each phase; measured on peg-insert, it did not help:
    docs/BENCHMARKS.md.)"""

    def __init__(self, env, noise: float, rng: np.random.Generator) -> None:
        self.env, self.noise, self.rng = env, noise, rng

    def reset(self, ts: TimeStep) -> None:
        self.expert = self.env.expert("expert")

    def act(self, ts: TimeStep, reading: RewardStep) -> Action:
        spec = self.env.spec.action
        clean = spec.to_unit(self.expert.act(ts))
        act = clean.copy()
        if self.noise > 0:
            act[:-1] = np.clip(act[:-1] + self.rng.normal(0.0, self.noise, len(act) - 1), -1.0, 1.0)  # the gripper stays clean
        return Action(spec.from_unit(act), act, clean)


def scripted_demos(env, episodes: int, seed: int, reward: RewardSource, writer: ReplayWriter, noise: float = 0.0) -> np.ndarray:
    """The env's scripted expert from seeds 10^7 + 1000·seed + k into the writer's buffer; returns the
    expert's own actions (policy space) for the transitions added, the labels behaviour cloning copies."""
    if not writer.keep_labels:
        raise ValueError("scripted_demos returns the clean labels: give it a ReplayWriter(..., keep_labels=True)")
    loop = EnvironmentLoop(env, DemoExpert(env, noise, np.random.default_rng(10_000_000 + seed)), reward, [writer])
    for k in range(episodes):
        loop.run_episode(10_000_000 + seed * 1000 + k, k)
    return np.asarray(writer.labels, np.float32).reshape(-1, env.spec.action.dim)


def check_episode(ep: Episode, spec: EnvSpec, where: str) -> np.ndarray:
    """The episode's actions in the policy's space, after checking its state and action layout
    against the environment's; errors name the dataset, episode and frame."""
    from robo_reward.data.lerobot_io import DatasetError  # lerobot_io loads PyAV: only when a dataset is used

    if ep.actions.shape[1] != spec.action.dim:
        raise DatasetError(f"{where}: {ep.actions.shape[1]}-d actions, {spec.name} takes {spec.action.dim} "
                           f"({', '.join(spec.action.names)})")
    if ep.states.shape[1] != spec.state.shape[0]:
        raise DatasetError(f"{where}: {ep.states.shape[1]}-d states, {spec.name} reports {spec.state.shape[0]} "
                           f"({', '.join(spec.state.names)})")
    for what, values in (("state", ep.states), ("action", ep.actions)):
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        if len(bad):
            raise DatasetError(f"{where}, frame {bad[0]}: non-finite {what}")
    action = spec.action.to_unit(ep.actions)
    outside = np.flatnonzero((np.abs(action) > 1 + ACTION_TOLERANCE).any(axis=1))
    if len(outside):
        t = outside[0]
        raise DatasetError(f"{where}, frame {t}: action {ep.actions[t].round(4).tolist()} is outside {spec.name}'s "
                           f"bounds [{spec.action.low.tolist()}, {spec.action.high.tolist()}]: recorded in another action space?")
    return action.clip(-1.0, 1.0)


def dataset_demos(root: Path, spec: EnvSpec, cameras: tuple[str, ...], reward: RewardSource, writer: ReplayWriter,
                  env_state_dim: int | None = None) -> dict:
    """The successful episodes of a LeRobot dataset as transitions (frame t, action t, frame t + 1), replayed
    through the same loop as a live run. The last frame of a successful episode is the success state: its
    transition terminates and pays r_gold. With `env_state_dim` (a policy on privileged state) every episode
    must carry the simulator's object state of that size (`collect` records it). Every episode is checked
    before the first one enters the buffer."""
    from robo_reward.data.lerobot_io import DatasetError, environment_state, load_episode, read_info

    info = read_info(root, annotated=False)
    info.require_outcomes("rl --demos (it learns from the successful episodes)")
    chosen = [a.episode_index for a in info.episodes if a.outcome == "success"]
    if not chosen:
        raise DatasetError(f"{root}: no successful episode to learn from ({len(info.episodes)} episodes)")
    episodes = []
    for idx in chosen:
        ep = load_episode(root, idx, cameras, annotated=False)
        if ep.length < 2:
            raise DatasetError(f"{root}: episode {idx} has {ep.length} frame(s), a transition needs 2")
        if env_state_dim is not None:
            environment_state(ep, env_state_dim, f"{root}: episode {idx}")
        episodes.append((ep, check_episode(ep, spec, f"{root}: episode {idx}")))
    before = writer.added
    for idx, (ep, action) in zip(chosen, episodes):
        replay = ReplayedEpisode(ep, cameras, spec)
        EnvironmentLoop(replay, RecordedActions(replay, action), reward, [writer]).run_episode(None, idx)
    return {"demo_dataset": str(root), "demo_episodes_used": len(chosen),
            "demo_episodes_skipped": len(info.episodes) - len(chosen), "demo_transitions_from_dataset": writer.added - before}


class ReplayedEpisode:
    """A recorded episode as an environment: `reset` gives frame 0, each step the next frame."""

    def __init__(self, ep: Episode, cameras: tuple[str, ...], spec: EnvSpec) -> None:
        self.ep, self.cameras, self.spec, self.t = ep, cameras, spec, 0

    def reset(self, seed: int | None = None) -> TimeStep:
        self.t = 0
        return self._frame(0)

    def step(self, action: np.ndarray) -> TimeStep:
        self.t += 1
        return self._frame(self.t)

    def _frame(self, t: int) -> TimeStep:
        """Frame t as the env would have returned it."""
        ep, last = self.ep, t == self.ep.length - 1
        info = StepInfo(success=last, step=t, privileged=None if ep.env_state is None else ep.env_state[t])
        return TimeStep(Observation({c: ep.images[c][t] for c in self.cameras}, ep.states[t], t / ep.fps), 0.0,
                        terminated=last, truncated=False, info=info)


class RecordedActions:
    """The policy that recorded a replayed episode: at frame t, the recorded action t (policy space)."""

    def __init__(self, replay: ReplayedEpisode, action: np.ndarray) -> None:
        self.replay, self.action = replay, action

    def reset(self, ts: TimeStep) -> None:
        pass

    def act(self, ts: TimeStep, reading: RewardStep) -> Action:
        return Action(self.action[self.replay.t], self.action[self.replay.t])
