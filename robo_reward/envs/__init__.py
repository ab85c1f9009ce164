"""Environments behind one `Env` protocol: the MuJoCo task suite, the MetaWorld adapter, later ROS 2."""

import os

# Headless rendering must be chosen before mujoco is imported anywhere (EGL works without a GPU).
os.environ.setdefault("MUJOCO_GL", "egl")

from robo_reward.envs.base import Env  # noqa: E402
from robo_reward.envs.config import SimConfig  # noqa: E402
from robo_reward.envs.registry import available_tasks, make_env  # noqa: E402

__all__ = ["Env", "SimConfig", "available_tasks", "make_env"]
