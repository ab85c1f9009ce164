"""The MuJoCo task suite."""

from robo_reward.envs.tasks.base import MIXED_WEIGHTS, MODE_OUTCOME, Task, outcome_from_progress
from robo_reward.envs.tasks.drawer_stow import DrawerStow
from robo_reward.envs.tasks.peg_insert import PegInsert
from robo_reward.envs.tasks.pick_place import PickPlace

TASKS: dict[str, type[Task]] = {t.name: t for t in (PickPlace, PegInsert, DrawerStow)}

__all__ = ["MIXED_WEIGHTS", "MODE_OUTCOME", "TASKS", "Task", "outcome_from_progress"]
