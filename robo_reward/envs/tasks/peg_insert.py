"""peg-insert: insert the square peg into the block's hole (2.5 mm clearance per side)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from robo_reward.envs.arm import ArmSim
from robo_reward.envs.tasks.base import CLOSE, OPEN, Motion, Task

PEG_HALF_HEIGHT = 0.04
HOLE_TOP_Z = 0.06  # block top; the hole's floor is at 0.01
INSERT_DEPTH = 0.025  # peg bottom this far below the block top counts as seated
GRASP_BELOW_TOP = 0.012


class PegInsert(Task):
    name = "peg-insert"
    xml = "peg_insert.xml"
    text = "insert the peg into the hole"
    subtasks = ("reach", "grasp", "align", "insert")
    max_steps = 110
    colored = (("peg",), ("block_base", "block_n", "block_s", "block_e", "block_w"))
    held, held_stages, rest_z = "peg", (2, 4), PEG_HALF_HEIGHT

    def initialize_episode(self, sim: ArmSim, rng: np.random.Generator) -> None:
        side = rng.choice([-1.0, 1.0])
        peg = np.array([rng.uniform(0.42, 0.6), -side * rng.uniform(0.06, 0.18), PEG_HALF_HEIGHT])
        sim.set_free_body("peg", peg, yaw=rng.uniform(-0.05, 0.05))
        sim.model.body_pos[sim.model.body("block").id] = [rng.uniform(0.45, 0.6), side * rng.uniform(0.1, 0.18), 0.0]

    def _peg_bottom(self, sim: ArmSim) -> np.ndarray:
        return sim.body_pos("peg") - sim.body_mat("peg")[:, 2] * PEG_HALF_HEIGHT

    def _hole_offset(self, sim: ArmSim) -> np.ndarray:
        """Peg bottom relative to the centre of the hole's mouth."""
        return self._peg_bottom(sim) - sim.site_pos("hole")

    def subtask_done(self, sim: ArmSim, k: int) -> bool:
        peg = sim.body_pos("peg")
        if k == 0:
            grasp_point = peg + np.array([0.0, 0.0, PEG_HALF_HEIGHT - GRASP_BELOW_TOP])
            return bool(np.linalg.norm(sim.tcp_pos - grasp_point) < 0.03)
        if k == 1:
            return sim.grasped("peg")
        if k == 2:
            off = self._hole_offset(sim)
            return sim.grasped("peg") and bool(np.linalg.norm(off[:2]) < 0.012 and off[2] < 0.04)
        return self.success(sim)

    def success(self, sim: ArmSim) -> bool:
        off = self._hole_offset(sim)
        upright = sim.body_mat("peg")[2, 2] > 0.98
        return bool(upright and np.linalg.norm(off[:2]) < 0.006 and off[2] < -INSERT_DEPTH)

    def failed(self, sim: ArmSim) -> bool:
        return bool(sim.body_pos("peg")[2] < -0.05)

    def privileged(self, sim: ArmSim) -> np.ndarray:
        """Peg and hole positions, grasp flag, and the peg bottom's offset from the hole mouth (what
        success is judged on, and what the scripted expert steers by)."""
        return np.concatenate([sim.body_pos("peg"), sim.site_pos("hole"), [float(sim.grasped("peg"))],
                               self._hole_offset(sim)])

    def dense_reward(self, sim: ArmSim) -> float:
        if self.success(sim):
            return 1.0
        peg = sim.body_pos("peg")
        reach = 1.0 - np.tanh(5.0 * np.linalg.norm(sim.tcp_pos - peg))
        held = float(sim.grasped("peg"))
        off = self._hole_offset(sim)
        align = held * (1.0 - np.tanh(10.0 * np.linalg.norm(off[:2]) + 5.0 * max(off[2], 0.0)))
        return float(np.clip(0.2 * reach + 0.2 * held + 0.6 * align, 0.0, 1.0))

    def expert(self, sim: ArmSim, rng: np.random.Generator, mode: str) -> Iterator[np.ndarray]:
        mv = Motion(sim, rng, speed=rng.uniform(0.6, 1.0))
        peg0 = sim.body_pos("peg")
        hole = sim.site_pos("hole")
        if mode == "imposter":
            away = np.sign(peg0[1] - hole[1]) or 1.0
            peg0 = peg0 + np.array([rng.uniform(-0.05, 0.05), away * rng.uniform(0.11, 0.14), 0.0])
        grasp_at = peg0 + np.array([0.0, 0.0, PEG_HALF_HEIGHT - GRASP_BELOW_TOP])
        if mode == "miss_grasp":
            grasp_at = grasp_at + np.array([0.0, rng.choice([-1, 1]) * rng.uniform(0.04, 0.05), 0.0])
        if not (mode == "expert" and sim.grasped("peg")):  # taking over with the peg in hand: carry on from there
            yield from mv.goto(grasp_at + [0, 0, 0.08], OPEN, tol=0.01)
            yield from mv.goto(grasp_at, OPEN, tol=0.005)
            yield from mv.hold(CLOSE, 5)
        yield from mv.goto(grasp_at + [0, 0, 0.12], CLOSE, tol=0.01)
        if mode in ("miss_grasp", "stall"):
            yield from mv.wander(CLOSE, 200)
            return
        # half the near misses jam part-way down the hole, the other half land on the rim
        jam = mode == "near_miss" and rng.random() < 0.5
        rim = mode == "near_miss" and not jam
        xy_error = np.zeros(3)
        if rim:  # misaligned by millimetres: the peg lands on the hole's rim
            angle = rng.uniform(0, 2 * np.pi)
            xy_error = np.array([np.cos(angle), np.sin(angle), 0.0]) * rng.uniform(0.009, 0.011)
        nominal = np.array([0.0, 0.0, 2 * PEG_HALF_HEIGHT - GRASP_BELOW_TOP])
        if rim:  # aims once from where the peg sits now and never corrects
            nominal = sim.tcp_pos - self._peg_bottom(sim)

        def tcp_for(height: float) -> Callable[[], np.ndarray]:
            """TCP goal that puts the peg bottom `height` above the hole mouth, correcting for where
            the peg actually sits in the hand (the imposter has no peg: nominal offset)."""
            def goal() -> np.ndarray:
                in_hand = nominal if mode == "imposter" or rim else sim.tcp_pos - self._peg_bottom(sim)
                return hole + xy_error + in_hand + np.array([0.0, 0.0, height])
            return goal

        above = tcp_for(0.03)()
        if mode == "drop":
            yield from mv.goto(0.5 * (grasp_at + above) + [0, 0, 0.04], CLOSE, tol=0.02)
            yield from mv.hold(OPEN, 4)
            yield from mv.wander(OPEN, 200)
            return
        yield from mv.goto(tcp_for(0.03), CLOSE, tol=0.01)
        mv.speed, mv.noise = 0.3, 0.0
        if not rim:  # square up over the mouth before going down: descending only once aligned is what a
            # clone can copy from the state alone (descending while still 1 cm off put cloned pegs on the rim)
            yield from mv.goto(tcp_for(0.03), CLOSE, tol=0.0015, max_steps=20)
        yield from mv.goto(tcp_for(0.01), CLOSE, tol=0.0015, max_steps=20)  # fine alignment at the mouth
        if rim:  # presses on the rim and gives up, still holding the peg
            yield from mv.goto(tcp_for(0.0), CLOSE, tol=0.003, max_steps=10)
            yield from mv.hold(CLOSE, 200)
            return
        if jam:  # enters the hole but stops 6-14 mm down (seated is 25 mm), still holding the peg: a hard
            # negative that looks almost like success (RL policies produce it; the GRM once scored it >= 0.95)
            yield from mv.goto(tcp_for(-rng.uniform(0.006, 0.014)), CLOSE, tol=0.002, max_steps=30)
            yield from mv.hold(CLOSE, 200)
            return
        yield from mv.goto(tcp_for(-INSERT_DEPTH - 0.008), CLOSE, tol=0.003, max_steps=30)
        yield from mv.hold(OPEN, 200)
