"""pick-place: pick the cube up and drop it into the bin."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from robo_reward.envs.arm import ArmSim
from robo_reward.envs.tasks.base import CLOSE, OPEN, Motion, Task

BIN_INNER = 0.07  # half-width of the bin's inside
BIN_RIM_Z = 0.07
CUBE_HALF = 0.02


class PickPlace(Task):
    name = "pick-place"
    xml = "pick_place.xml"
    text = "pick up the cube and place it in the bin"
    # carry ends with the cube held over the bin, so a cube held there has one label (0.75) whether the episode goes on
    # to release it or not: with one `place` from the lift to the drop, the expert's frames before its release were
    # labelled ~0.9 and the reward model called a cube held over the bin and never let go a success. `pick` (grasped and
    # lifted) keeps four equal shares; with grasp and lift apart the held cube sat at 0.8, on the success rule's edge.
    subtasks = ("reach", "pick", "carry", "place")
    max_steps = 100
    colored = (("cube",), ("bin_floor", "bin_wall_n", "bin_wall_s", "bin_wall_e", "bin_wall_w"))
    held, held_stages, rest_z = "cube", (2, 4), CUBE_HALF

    def initialize_episode(self, sim: ArmSim, rng: np.random.Generator) -> None:
        side = rng.choice([-1.0, 1.0])  # which side the bin is on
        cube = np.array([rng.uniform(0.42, 0.6), -side * rng.uniform(0.06, 0.2), CUBE_HALF])
        sim.set_free_body("cube", cube, yaw=rng.uniform(-0.4, 0.4))
        sim.model.body_pos[sim.model.body("bin").id] = [rng.uniform(0.45, 0.6), side * rng.uniform(0.13, 0.2), 0.0]

    @staticmethod
    def _from_bin(sim: ArmSim) -> np.ndarray:
        return sim.body_pos("cube") - sim.body_pos("bin")

    def _in_bin(self, sim: ArmSim) -> bool:
        rel = self._from_bin(sim)
        return bool(np.all(np.abs(rel[:2]) < BIN_INNER - 0.005) and rel[2] < BIN_RIM_Z - 0.01)

    def _over_bin(self, sim: ArmSim) -> bool:
        """The cube inside the bin's walls seen from above, and clear of the rim: let go, it drops in."""
        rel = self._from_bin(sim)
        return bool(np.all(np.abs(rel[:2]) < BIN_INNER - 0.01) and rel[2] > BIN_RIM_Z + CUBE_HALF)

    def placed(self, sim: ArmSim) -> bool:
        return self._in_bin(sim)

    def mode_outcome(self, mode: str) -> str:
        # released over the rim, the cube tips onto the table outside the bin: back where it started
        return "failure" if mode == "near_miss" else super().mode_outcome(mode)

    def subtask_done(self, sim: ArmSim, k: int) -> bool:
        cube = sim.body_pos("cube")
        if k == 0:
            return bool(np.linalg.norm(sim.tcp_pos - cube) < 0.03)
        if k == 1:
            return sim.grasped("cube") and cube[2] > 0.08
        if k == 2:
            return sim.grasped("cube") and self._over_bin(sim)
        return self.success(sim)

    def success(self, sim: ArmSim) -> bool:
        return self._in_bin(sim) and not sim.touching(("left_pad", "right_pad"), "cube")

    def failed(self, sim: ArmSim) -> bool:
        return bool(sim.body_pos("cube")[2] < -0.05)

    def privileged(self, sim: ArmSim) -> np.ndarray:
        return np.concatenate([sim.body_pos("cube"), sim.body_pos("bin"), [float(sim.grasped("cube"))]])

    def dense_reward(self, sim: ArmSim) -> float:
        cube, bin_pos = sim.body_pos("cube"), sim.body_pos("bin")
        reach = 1.0 - np.tanh(5.0 * np.linalg.norm(sim.tcp_pos - cube))
        held = float(sim.grasped("cube"))
        above_bin = bin_pos + np.array([0.0, 0.0, 0.13])
        carry = held * (1.0 - np.tanh(5.0 * np.linalg.norm(cube - above_bin)))
        return float(np.clip(0.25 * reach + 0.25 * held + 0.5 * carry, 0.0, 1.0)) if not self.success(sim) else 1.0

    def expert(self, sim: ArmSim, rng: np.random.Generator, mode: str) -> Iterator[np.ndarray]:
        mv = Motion(sim, rng, speed=rng.uniform(0.6, 1.0))
        cube0 = sim.body_pos("cube")
        bin_pos = sim.body_pos("bin")
        if mode == "imposter":  # the motions of an expert around a phantom cube
            away = np.sign(cube0[1] - bin_pos[1]) or 1.0
            cube0 = cube0 + np.array([rng.uniform(-0.05, 0.05), away * rng.uniform(0.11, 0.14), 0.0])
        grasp_at = cube0 + np.array([0.0, 0.0, 0.0])
        if mode == "miss_grasp":
            grasp_at = cube0 + np.array([0.0, rng.choice([-1, 1]) * rng.uniform(0.045, 0.055), 0.0])
        if not (mode == "expert" and sim.grasped("cube")):  # taking over with the cube in hand: carry on from there
            yield from mv.goto(grasp_at + [0, 0, 0.1], OPEN, tol=0.01)
            yield from mv.goto(grasp_at + [0, 0, 0.003], OPEN, tol=0.006)
            yield from mv.hold(CLOSE, 5)
        yield from mv.goto(grasp_at + [0, 0, 0.15], CLOSE, tol=0.01)
        if mode == "stall" and rng.random() < 0.5:  # stalled before the release: the cube held over the bin, the
            # failure a policy's false success verdicts came from, so the scripted benchmarks contain it
            yield from mv.goto(bin_pos + np.array([rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), 0.13]), CLOSE, tol=0.01)
        if mode in ("miss_grasp", "stall"):
            yield from mv.wander(CLOSE, 200)
            return
        drop_at = bin_pos + np.array([rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02), 0.13])
        if mode == "near_miss":  # release over the rim: the cube lands on the edge and tips outside
            toward = np.sign(sim.body_pos("cube")[1] - bin_pos[1]) or 1.0
            drop_at = bin_pos + np.array([rng.uniform(-0.03, 0.03), toward * rng.uniform(0.088, 0.095), 0.11])
        if mode == "drop":  # the cube slips out halfway
            halfway = 0.5 * (grasp_at + drop_at) + np.array([0, 0, 0.02])
            yield from mv.goto(halfway, CLOSE, tol=0.02)
            yield from mv.hold(OPEN, 4)
            yield from mv.wander(OPEN, 200)
            return
        yield from mv.goto(drop_at, CLOSE, tol=0.01)
        yield from mv.hold(OPEN, 4)
        yield from mv.goto(drop_at + [0, 0, 0.05], OPEN, tol=0.01)
        yield from mv.hold(OPEN, 200)
