"""drawer-stow (long horizon): open the drawer, pick the cube, place it inside, close the drawer."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from robo_reward.envs.arm import ArmSim
from robo_reward.envs.tasks.base import CLOSE, OPEN, Motion, Task

OPEN_TRAVEL = 0.15  # how far the expert pulls the drawer (joint range is 0.18)
OPENED = -0.12  # drawer joint below this counts as open
CLOSED = -0.012  # and above this as closed
TRAY_HALF = np.array([0.08, 0.095])  # inside of the drawer tray, around the `tray` site (x is offset)
TRAY_X_CENTRE = -0.005
CUBE_HALF = 0.0175


class DrawerStow(Task):
    name = "drawer-stow"
    xml = "drawer_stow.xml"
    text = "open the drawer, put the cube inside and close the drawer"
    subtasks = ("open", "pick", "place", "close")
    max_steps = 200
    colored = (
        ("cube",),
        ("cab_top", "cab_left", "cab_right", "cab_back"),
        ("drawer_bottom", "drawer_front", "drawer_back", "drawer_l", "drawer_r"),
    )
    held, held_stages, rest_z = "cube", (2, 3), CUBE_HALF

    def initialize_episode(self, sim: ArmSim, rng: np.random.Generator) -> None:
        side = rng.choice([-1.0, 1.0])
        sim.model.body_pos[sim.model.body("cabinet").id] = [rng.uniform(0.6, 0.66), side * rng.uniform(0.06, 0.14), 0.0]
        cube = np.array([rng.uniform(0.32, 0.45), -side * rng.uniform(0.15, 0.25), CUBE_HALF])
        sim.set_free_body("cube", cube, yaw=rng.uniform(-0.4, 0.4))

    def _in_tray(self, sim: ArmSim) -> bool:
        rel = sim.body_pos("cube") - sim.site_pos("tray")
        inside_x = abs(rel[0] - 0.0) < TRAY_HALF[0] - 0.01
        return bool(inside_x and abs(rel[1]) < TRAY_HALF[1] - 0.01 and rel[2] < 0.04)

    def placed(self, sim: ArmSim) -> bool:
        return self._in_tray(sim)

    def subtask_done(self, sim: ArmSim, k: int) -> bool:
        if k == 0:
            return sim.joint_q("drawer") < OPENED
        if k == 1:
            return sim.grasped("cube") and sim.body_pos("cube")[2] > 0.06
        if k == 2:
            return self._in_tray(sim) and not sim.touching(("left_pad", "right_pad"), "cube")
        return self.success(sim)

    def success(self, sim: ArmSim) -> bool:
        return sim.joint_q("drawer") > CLOSED and self._in_tray(sim)

    def failed(self, sim: ArmSim) -> bool:
        return bool(sim.body_pos("cube")[2] < -0.05)

    def privileged(self, sim: ArmSim) -> np.ndarray:
        return np.concatenate([sim.body_pos("cube"), sim.site_pos("handle"), sim.site_pos("tray"),
                               [sim.joint_q("drawer"), float(sim.grasped("cube"))]])

    def dense_reward(self, sim: ArmSim) -> float:
        if self.success(sim):
            return 1.0
        opened = min(1.0, -sim.joint_q("drawer") / OPEN_TRAVEL)
        cube = sim.body_pos("cube")
        held = float(sim.grasped("cube"))
        near_tray = 1.0 - np.tanh(5.0 * np.linalg.norm(cube - sim.site_pos("tray")))
        placed = float(self._in_tray(sim))
        return float(np.clip(0.25 * opened + 0.15 * held + 0.25 * near_tray + 0.35 * placed * (1 - opened), 0.0, 1.0))

    def expert(self, sim: ArmSim, rng: np.random.Generator, mode: str) -> Iterator[np.ndarray]:
        mv = Motion(sim, rng, speed=rng.uniform(0.6, 1.0))
        handle0 = sim.site_pos("handle")
        phantom = np.array([0.0, 0.0, 0.0])
        if mode == "imposter":  # mimes the whole task a hand's width away from the handle and cube
            phantom = np.array([-0.06, 0.0, 0.05])
        # open: straddle the handle bar, close on it, pull
        handle = handle0 + phantom
        yield from mv.goto(handle + [0, 0, 0.07], OPEN, tol=0.01)
        yield from mv.goto(handle, OPEN, tol=0.005)
        yield from mv.hold(CLOSE, 4)
        speed, mv.speed = mv.speed, 0.5  # pull steadily
        yield from mv.goto(handle - [OPEN_TRAVEL, 0, 0], CLOSE, tol=0.01, max_steps=30)
        mv.speed = speed
        yield from mv.hold(OPEN, 3)
        yield from mv.goto(sim.tcp_pos + [0, 0, 0.08], OPEN, tol=0.01)
        # pick
        cube0 = sim.body_pos("cube") + (np.array([0.0, 0.12 * np.sign(sim.body_pos("cube")[1]), 0.0]) if mode == "imposter" else 0.0)
        grasp_at = cube0.copy()
        if mode == "miss_grasp":
            grasp_at = grasp_at + np.array([0.0, rng.choice([-1, 1]) * rng.uniform(0.04, 0.05), 0.0])
        yield from mv.goto(grasp_at + [0, 0, 0.09], OPEN, tol=0.01)
        yield from mv.goto(grasp_at + [0, 0, 0.002], OPEN, tol=0.005)
        yield from mv.hold(CLOSE, 5)
        yield from mv.goto(grasp_at + [0, 0, 0.14], CLOSE, tol=0.01)
        if mode in ("miss_grasp", "stall"):
            yield from mv.wander(CLOSE, 300)
            return
        # place: over the open part of the tray
        tray = sim.site_pos("tray") + phantom
        drop_at = tray + np.array([-0.04 + rng.uniform(-0.01, 0.01), rng.uniform(-0.04, 0.04), 0.1])
        if mode == "drop":
            yield from mv.goto(0.5 * (grasp_at + drop_at) + [0, 0, 0.05], CLOSE, tol=0.02)
            yield from mv.hold(OPEN, 4)
            yield from mv.wander(OPEN, 300)
            return
        yield from mv.goto(drop_at, CLOSE, tol=0.01)
        yield from mv.hold(OPEN, 4)
        yield from mv.goto(drop_at + [0, 0, 0.06], OPEN, tol=0.01)
        # close: push the handle bar back with the closed fingers
        handle = sim.site_pos("handle") + phantom
        yield from mv.goto(handle + [-0.03, 0, 0.07], CLOSE, tol=0.01)
        yield from mv.goto(handle + [-0.03, 0, 0.0], CLOSE, tol=0.006)
        # a near miss leaves the drawer a few centimetres short of closed
        stop_short = rng.uniform(0.045, 0.055) if mode == "near_miss" else -0.01
        mv.speed = 0.3 if mode == "near_miss" else 0.5
        yield from mv.goto(handle0 + phantom + [-0.012 - stop_short, 0, 0.0], CLOSE, tol=0.004, max_steps=40)
        yield from mv.goto(sim.tcp_pos + [-0.03, 0, 0.06], CLOSE, tol=0.01)
        yield from mv.hold(CLOSE, 300)
