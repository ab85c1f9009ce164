"""Record episodes (a scripted expert, random actions or any `Policy`) from an environment into in-memory
`Episode`s, through the shared environment loop."""

from __future__ import annotations

import numpy as np

from robo_reward.data.annotations import spans_from_completion
from robo_reward.environment_loop import Action, EnvironmentLoop, Observer, Policy, RewardStep
from robo_reward.envs.tasks import MIXED_WEIGHTS, outcome_from_progress
from robo_reward.types import Episode, TimeStep


def choose_mode(quality: str, rng: np.random.Generator, supported: tuple[str, ...]) -> str:
    """`expert`: always the expert; `mixed`: a seeded draw from the mix, over the modes the
    environment's experts support."""
    if quality == "expert":
        return "expert"
    if quality == "mixed":
        modes = [m for m in MIXED_WEIGHTS if m in supported]
        p = np.array([MIXED_WEIGHTS[m] for m in modes])
        return str(rng.choice(modes, p=p / p.sum()))
    raise ValueError(f"quality must be 'expert' or 'mixed', got {quality!r}")


class RandomActor:
    """Uniform random actions in [-1, 1], what an `rl` run's warm-up does: the flailing states a learner
    starts from (and its accidental successes), which no scripted mode shows the reward model. Seeded once,
    as `collect --policy` seeds a policy's noise: the same episodes on every call."""

    def __init__(self, action_dim: int, seed: int) -> None:
        self.action_dim = action_dim
        self._rng = np.random.default_rng([seed, 11])

    def reset(self, ts: TimeStep) -> None:
        pass

    def act(self, ts: TimeStep, reading: RewardStep) -> Action:
        return Action(self._rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32))


class ExpertPolicy:
    """The env's scripted expert in one of its modes (expert, stall, drop, ...), acting in the env's units."""

    def __init__(self, env, mode: str) -> None:
        self.env, self.mode = env, mode

    def reset(self, ts: TimeStep) -> None:
        self.expert = self.env.expert(self.mode)

    def act(self, ts: TimeStep, reading: RewardStep) -> Action:
        return Action(self.expert.act(ts))


class Recorder(Observer):
    """Every frame of an episode with the action chosen there (the final frame's too: `act_on_last`),
    the robot state, the simulator's object state when the env reports one, the completed-subtask count."""

    def __init__(self, cameras: tuple[str, ...]) -> None:
        self.cameras = cameras

    def observe_first(self, ts: TimeStep, reading: RewardStep) -> None:
        self.frames: dict[str, list[np.ndarray]] = {c: [] for c in self.cameras}
        self.states, self.actions, self.completed, self.env_states = [], [], [], []
        self.pending = ts

    def observe(self, action: Action, ts: TimeStep, reading: RewardStep) -> None:
        self._add(self.pending, action)
        self.pending = ts

    def observe_last(self, action: Action, ts: TimeStep) -> None:
        self._add(ts, action)

    def _add(self, ts: TimeStep, action: Action) -> None:
        for cam, img in ts.obs.images.items():
            self.frames[cam].append(img)
        self.states.append(ts.obs.state)
        self.env_states.append(ts.info.privileged)
        self.actions.append(action.env)
        self.completed.append(ts.info.subtasks_completed)


def record_episode(env, mode: str, seed: int, actor: Policy | None = None) -> Episode:
    """Run the env's scripted expert in `mode` (or `actor`, e.g. a trained policy) from `reset(seed)` to the
    end of the episode.

    The outcome label and subtask spans come from the physical state the env reports, not from
    what the script or policy intended."""
    recorder = Recorder(env.spec.camera_names)
    end = EnvironmentLoop(env, actor or ExpertPolicy(env, mode), observers=[recorder], act_on_last=True).run_episode(seed)
    ts, r = end.last, recorder
    spans = spans_from_completion(np.array(r.completed), env.spec.subtasks)
    return Episode(
        task=env.spec.name,
        task_text=env.spec.task_text,
        images={c: np.stack(v) for c, v in r.frames.items()},
        states=np.stack(r.states).astype(np.float32),
        actions=np.stack(r.actions).astype(np.float32),
        subtasks=spans,
        outcome=outcome_from_progress(bool(ts.info.success), int(ts.info.subtasks_completed), len(env.spec.subtasks)),
        mode=mode,
        seed=seed,
        fps=env.spec.control_hz,
        env_state=None if r.env_states[0] is None else np.stack(r.env_states).astype(np.float32),
    )
