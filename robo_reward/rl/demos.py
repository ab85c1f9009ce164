"""The demonstration buffer of `robo-reward rl`: scripted-expert rollouts in the simulator, or the
successful episodes of a LeRobot dataset (`--demos DIR`, e.g. teleoperation recorded on the robot).
Either way each transition is relabelled with the run's own reward pipeline and stored with actions
in the policy's [-1, 1] space; a dataset is checked against the environment before any training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from robo_reward.rl.replay import ReplayBuffer
from robo_reward.types import EnvSpec, Episode, Observation, TimeStep

ACTION_TOLERANCE = 1e-3  # of the normalised range: recorded actions may sit on the bound after float32 rounding


def scripted_demos(env, episodes: int, seed: int, reward, observe: Callable[[TimeStep], np.ndarray],
                   demos: ReplayBuffer, noise: float = 0.0) -> np.ndarray:
    """The env's scripted expert from seeds 10^7 + 1000·seed + k; returns the expert's own actions
    (policy space) for the transitions added, the labels behaviour cloning should copy.

    With `noise` > 0 the executed action is the expert's plus Gaussian noise on the motion dims
    (DART, Laskey et al. 2017): a closed-loop expert then shows how to recover from the small errors
    a clone makes, while the buffer keeps the executed action so the critic's transitions stay true.
    (The suite's experts are closed-loop only within each phase; measured on peg-insert, it did not
    help: docs/BENCHMARKS.md.)"""
    rng = np.random.default_rng(10_000_000 + seed)
    labels = []
    for k in range(episodes):
        ts = env.reset(10_000_000 + seed * 1000 + k)
        phi = reward.reset(ts)
        expert = env.expert("expert")
        obs = observe(ts)
        while not ts.done:
            clean = env.spec.action.to_unit(expert.act(ts))
            act = clean.copy()
            if noise > 0:
                act[:-1] = np.clip(act[:-1] + rng.normal(0.0, noise, len(act) - 1), -1.0, 1.0)  # the gripper stays clean
            ts = env.step(env.spec.action.from_unit(act))
            bounds = reward.value_range(phi)
            sr, phi = reward.step(phi, ts)
            next_obs = observe(ts)
            demos.add(obs, act, sr.total, next_obs, ts.terminated, bounds, sr.excess)
            labels.append(clean)
            obs = next_obs
    return np.asarray(labels, np.float32).reshape(-1, env.spec.action.dim)


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


def dataset_demos(root: Path, spec: EnvSpec, cameras: tuple[str, ...], reward, observe: Callable[[TimeStep], np.ndarray],
                  demos: ReplayBuffer, env_state_dim: int | None = None) -> dict:
    """The successful episodes of a LeRobot dataset as transitions (frame t, action t, frame t + 1).
    The last frame of a successful episode is the success state: its transition terminates and pays
    r_gold. With `env_state_dim` (a policy on privileged state) every episode must carry the simulator's
    object state of that size (`collect` records it). Every episode is checked before the first one
    enters the buffer."""
    from robo_reward.data.lerobot_io import DatasetError, environment_state, load_episode, read_info

    info = read_info(root, annotated=False)
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
    added = 0
    for ep, action in episodes:
        ts = _frame(ep, cameras, 0)
        phi = reward.reset(ts)
        obs = observe(ts)
        for t in range(ep.length - 1):
            ts = _frame(ep, cameras, t + 1)
            bounds = reward.value_range(phi)
            sr, phi = reward.step(phi, ts)
            next_obs = observe(ts)
            demos.add(obs, action[t], sr.total, next_obs, ts.terminated, bounds, sr.excess)
            obs = next_obs
            added += 1
    return {"demo_dataset": str(root), "demo_episodes_used": len(chosen),
            "demo_episodes_skipped": len(info.episodes) - len(chosen), "demo_transitions_from_dataset": added}


def _frame(ep: Episode, cameras: tuple[str, ...], t: int) -> TimeStep:
    """Frame t of a recorded successful episode as the env would have returned it."""
    last = t == ep.length - 1
    info = {"success": last} if ep.env_state is None else {"success": last, "privileged": ep.env_state[t]}
    return TimeStep(Observation({c: ep.images[c][t] for c in cameras}, ep.states[t], t / ep.fps), 0.0,
                    terminated=last, truncated=False, info=info)
