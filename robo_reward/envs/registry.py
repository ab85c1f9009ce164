"""Look environments up by name: suite tasks (`pick-place`) and MetaWorld tasks (`mw/<name>`)."""

from __future__ import annotations

from robo_reward.envs.base import Env
from robo_reward.envs.config import SimConfig
from robo_reward.envs.tasks import TASKS

METAWORLD_PREFIX = "mw/"
METAWORLD_TASKS = ("mw/pick-place-v3", "mw/button-press-v3", "mw/drawer-close-v3", "mw/door-open-v3",
                   "mw/coffee-button-v3", "mw/handle-press-side-v3", "mw/door-lock-v3")


def available_tasks() -> tuple[str, ...]:
    return tuple(TASKS) + METAWORLD_TASKS


def make_env(task: str, config: SimConfig | None = None) -> Env:
    config = config or SimConfig()
    if task in TASKS:
        from robo_reward.envs.suite import MujocoTaskEnv

        return MujocoTaskEnv(TASKS[task](), config)
    if task.startswith(METAWORLD_PREFIX):
        from robo_reward.envs.metaworld import MetaWorldEnv

        return MetaWorldEnv(task[len(METAWORLD_PREFIX):], config)
    raise ValueError(f"unknown task {task!r}; available: {', '.join(available_tasks())}")


def task_text(task: str) -> str:
    """The instruction a task's episodes are recorded and scored with."""
    probe = make_env(task, SimConfig(image_size=32, cameras=("front",)))
    try:
        return probe.spec.task_text
    finally:
        probe.close()
