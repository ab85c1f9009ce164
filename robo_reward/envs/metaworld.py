"""MetaWorld v3 tasks behind the same `Env` protocol: a peer benchmark we did not write.

Three of its cameras are exposed under the suite's names (front=corner, side=corner2,
wrist=gripperPOV) so datasets from both share keys; its scripted policies are the experts; subtasks
come from physical events MetaWorld reports (hand near the object, object grasped, task success).
MetaWorld runs at 80 Hz: each of our control steps repeats the action round(80 / control_hz) times.
MetaWorld renders every episode alike; `SimConfig.visual_shift` moves and turns its fixed cameras and
changes its lights and colours per episode (the suite's shifted ranges), for a reward model's test under
a scene it was not trained on; `SimConfig.randomize_appearance` draws them from the suite's training ranges
instead (training data, as the suite's own episodes always are)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import mujoco
import numpy as np

from robo_reward.envs.config import SimConfig
from robo_reward.envs.tasks.base import SHIFT_PARTS, Appearance
from robo_reward.types import BoxSpec, CameraSpec, EnvSpec, Observation, StepInfo, TimeStep

try:
    import metaworld.policies as mw_policies
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE
except ImportError as exc:  # fail here, with the fix, not later with a None
    raise ImportError("MetaWorld tasks need metaworld: run `pip install -e '.[metaworld]' && "
                      "pip install --no-deps metaworld==3.1.1` (or `make setup`)") from exc

CAMERA_MAP = {"front": "corner", "side": "corner2", "wrist": "gripperPOV"}
FLIPPED = {"corner", "corner2", "corner3", "corner4"}  # these render upside down
NATIVE_HZ = 80.0
DEFAULT_HZ = 20.0
Predicate = Callable[[dict], bool]
REACH_DISTANCE = 0.06  # metres between the hand and the object's reference point
MAX_STEPS = 60  # control steps per episode (3 s at 20 Hz)
SHIFTED_CAMERAS = ("corner", "corner2")  # the fixed ones we expose (gripperPOV rides on the arm)
CAMERA_TURN_DEG = (2.0, 5.0)  # a shifted camera also turns this much about a random axis
NOT_OBJECTS = ("base", "mocap", "tablelink", "RetainingWall")  # the Sawyer, its mocap target, the table, the walls
TABLE_MATERIALS = ("table_wood",)


@dataclass(frozen=True)
class MetaWorldTask:
    policy: str  # class name in metaworld.policies
    text: str
    subtasks: tuple[str, ...]
    predicates: tuple[Predicate, ...]  # one per subtask; the last is success
    max_steps: int = MAX_STEPS


def _near_within(distance: float) -> Predicate:
    """`reach`: the hand within `distance` of the object's reference point (MetaWorld's obs[4:7])."""
    return lambda info: bool(info["hand_to_object"] < distance)


_near = _near_within(REACH_DISTANCE)
# buttons: the reference point sits inside the button's housing, 6.4-7.5 cm (button-press) and 8.5 cm (coffee-button)
# from the hand at its closest while the expert presses (6 seeds each), so 6 cm was never reached and a success's
# labels spent all but its last frame in `reach`; door-lock's closest is 5.0-5.7 cm, reached a frame before the lock
_near_button = _near_within(0.09)
_near_coffee_button = _near_within(0.10)
_near_door_lock = _near_within(0.07)


def _grasped(info: dict) -> bool:
    return bool(info["grasp_success"])


def _success(info: dict) -> bool:
    return bool(info["success"])


TASKS = {
    "pick-place-v3": MetaWorldTask("SawyerPickPlaceV3Policy", "pick up the puck and move it to the goal",
                                   ("reach", "grasp", "place"), (_near, _grasped, _success)),
    "button-press-v3": MetaWorldTask("SawyerButtonPressV3Policy", "press the button",
                                     ("reach", "press"), (_near_button, _success)),
    "drawer-close-v3": MetaWorldTask("SawyerDrawerCloseV3Policy", "close the drawer",
                                     ("reach", "push"), (_near, _success)),
    "door-open-v3": MetaWorldTask("SawyerDoorOpenV3Policy", "open the door",
                                  ("reach", "open"), (_near, _success)),
    # button-press's cousin that uniform random actions solve in 3 of 40 episodes (button-press: 0 of 60): sparse
    # reward is slow here, not starved
    "coffee-button-v3": MetaWorldTask("SawyerCoffeeButtonV3Policy", "press the coffee machine's button",
                                      ("reach", "press"), (_near_coffee_button, _success)),
    # rarer still (uniform random actions: 2 and 3 of 100 episodes, coffee-button 11, button-press 0): where sparse
    # reward's first successes are scarce but do come
    "handle-press-side-v3": MetaWorldTask("SawyerHandlePressSideV3Policy", "press the handle down",
                                          ("reach", "press"), (_near, _success)),
    "door-lock-v3": MetaWorldTask("SawyerDoorLockV3Policy", "lock the door", ("reach", "lock"),
                                  (_near_door_lock, _success)),
}
EXPERT_MODES = ("expert", "stall", "near_miss", "imposter")  # drop has no generic MetaWorld form: not offered
NEAR_MISS_STEPS_SHORT = (2, 4)  # a near miss freezes this many control steps (drawn, inclusive) before the expert's success
GENERIC_MAX_STEPS = 125  # MetaWorld's own horizon (500 steps at 80 Hz) at our 20 Hz: some tasks need most of it


def task_for(name: str) -> MetaWorldTask:
    """A curated task as it is; any other v3 task with MetaWorld's own scripted policy (its ENV_POLICY_MAP) and two
    subtasks from generic predicates: reach (the hand within 6 cm of the object) and manipulate (MetaWorld's
    success). The task text is the task's name in words."""
    if name in TASKS:
        return TASKS[name]
    if name not in mw_policies.ENV_POLICY_MAP:
        raise ValueError(f"unknown MetaWorld task {name!r}; MetaWorld v3 has {', '.join(metaworld_task_names())}")
    return MetaWorldTask(mw_policies.ENV_POLICY_MAP[name].__name__, name.removesuffix("-v3").replace("-", " "),
                         ("reach", "manipulate"), (_near, _success), GENERIC_MAX_STEPS)


def make_raw_env(name: str):
    """MetaWorld's own goal-observable env for `name` (any v3 task, not only ours), set up as MetaWorldEnv uses it."""
    env = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[f"{name}-goal-observable"]()
    # MetaWorld draws the object's start from numpy's global generator unless `seeded_rand_vec` is set: without it
    # the seed passed to reset chose nothing and two resets with one seed started the drawer in different places
    env.seeded_rand_vec = True
    env.model.vis.quality.shadowsize = 0
    env.model.vis.quality.offsamples = 0
    return env


def reset_raw(env, seed: int | None) -> np.ndarray:
    """Reset a raw env with a fresh object layout drawn from `seed`; MetaWorld's observation."""
    env._freeze_rand_vec = False
    env.np_random = np.random.default_rng(seed)
    return env.reset()[0]


def object_geoms(model) -> list[list[int]]:
    """The geoms of each object in the scene (one list per body hanging from the world), the robot, the table and
    the room left out: what the suite's colour shift recolours, one jitter per object."""
    groups: dict[int, list[int]] = {}
    for g in range(model.ngeom):
        body = model.geom_bodyid[g]
        while body and model.body_parentid[body]:
            body = model.body_parentid[body]
        if body and model.body(body).name not in NOT_OBJECTS:
            groups.setdefault(int(body), []).append(g)
    return list(groups.values())


def nominal_appearance(model) -> dict[str, np.ndarray]:
    """What a visual shift starts from each episode: lights, material and geom colours, the fixed cameras' poses."""
    base = {"light_diffuse": model.light_diffuse.copy(), "light_pos": model.light_pos.copy(),
            "mat_rgba": model.mat_rgba.copy(), "geom_rgba": model.geom_rgba.copy()}
    for cam in SHIFTED_CAMERAS:
        base[f"pos_{cam}"] = model.cam_pos[model.camera(cam).id].copy()
        base[f"quat_{cam}"] = model.cam_quat[model.camera(cam).id].copy()
    return base


def apply_shift(model, base: dict[str, np.ndarray], rng: np.random.Generator, parts: tuple[str, ...],
                shift: bool = True) -> None:
    """One episode's scene, drawn from `rng` (the suite's Appearance ranges, applied as the suite applies them):
    lights scaled and moved; the table tinted (its wood texture kept) and each object's colours moved by one jitter
    per object; the fixed cameras moved (with `shift` 3-6 cm and turned 2-5 degrees; without, the training ranges:
    1 cm, no turn). The robot, the floor and the walls keep their colours: a real arm's scene changes between
    training and use, the arm is not repainted. Only `parts` (camera, light, colour) leave the nominal scene."""
    unknown = sorted(set(parts) - set(SHIFT_PARTS))
    if unknown:
        raise ValueError(f"visual-shift parts {unknown} unknown; choose from {list(SHIFT_PARTS)}")
    app = Appearance.sample(rng, shift)
    turns = {cam: (rng.normal(size=3), np.deg2rad(rng.uniform(*CAMERA_TURN_DEG))) for cam in SHIFTED_CAMERAS}
    groups = object_geoms(model)
    jitter = rng.uniform(-app.color_jitter, app.color_jitter, (len(groups), 3))
    for name in ("light_diffuse", "light_pos", "mat_rgba", "geom_rgba"):  # nominal first: a part left out stays so
        getattr(model, name)[:] = base[name]
    if "light" in parts:
        model.light_diffuse[:] = base["light_diffuse"] * app.light_scale
        model.light_pos[:] = base["light_pos"] + app.light_offset * np.where(np.arange(model.nlight) % 2, -1.0, 1.0)[:, None]
    if "colour" in parts:
        for name in TABLE_MATERIALS:
            mid = model.material(name).id
            model.mat_rgba[mid, :3] = np.clip(base["mat_rgba"][mid, :3] * app.table_tint, 0.0, 1.0)
        for geoms, moved in zip(groups, jitter, strict=True):
            for g in geoms:  # a geom with a material shows the material's colour: move that one
                mid = model.geom_matid[g]
                if mid >= 0:
                    model.mat_rgba[mid, :3] = np.clip(base["mat_rgba"][mid, :3] + moved, 0.0, 1.0)
                else:
                    model.geom_rgba[g, :3] = np.clip(base["geom_rgba"][g, :3] + moved, 0.0, 1.0)
    for cam in SHIFTED_CAMERAS:
        cid = model.camera(cam).id
        model.cam_pos[cid] = base[f"pos_{cam}"] + (app.camera_offset if "camera" in parts else 0.0)
        model.cam_quat[cid] = base[f"quat_{cam}"]
        if "camera" in parts and shift:
            axis, angle = turns[cam]
            turn = np.zeros(4)
            mujoco.mju_axisAngle2Quat(turn, axis / np.linalg.norm(axis), angle)
            mujoco.mju_mulQuat(model.cam_quat[cid], base[f"quat_{cam}"], turn)


def action_repeat(control_hz: float | None) -> int:
    """MetaWorld steps (80 Hz) per control step."""
    return max(1, round(NATIVE_HZ / (control_hz or DEFAULT_HZ)))


def metaworld_task_names() -> list[str]:
    """Every MetaWorld v3 task, ours or not."""
    return sorted(k.removesuffix("-goal-observable") for k in ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE)


class MetaWorldEnv:
    """A MetaWorld v3 task (goal observable) as an `Env`. Reward is sparse success; MetaWorld's own
    dense reward is in info["dense_reward"]."""

    def __init__(self, name: str, config: SimConfig) -> None:
        self.task = task_for(name)
        self._name = name
        self._seed: int | None = None
        for cam in config.cameras:
            if cam not in CAMERA_MAP:
                raise ValueError(f"unknown camera {cam!r} for MetaWorld; available: {sorted(CAMERA_MAP)}")
        config.validate()
        self.config = config
        self._env = make_raw_env(name)
        self._repeat = action_repeat(config.control_hz)
        self._renderer: mujoco.Renderer | None = None
        self._arm_qadr = np.array([self._env.model.jnt_qposadr[self._env.model.joint(f"right_j{i}").id] for i in range(7)])
        drawn = config.visual_shift or config.randomize_appearance
        self._nominal = nominal_appearance(self._env.model) if drawn else None
        self._obs = np.zeros(39)
        self._info: dict = {}
        self._t = 0
        self.completed = 0
        state_names = tuple(f"joint{i}.pos" for i in range(1, 8)) + ("hand.x", "hand.y", "hand.z", "gripper.open")
        self.spec = EnvSpec(
            name=f"mw/{name}", task_text=self.task.text, subtasks=self.task.subtasks,
            cameras=tuple(CameraSpec(c, config.image_size, config.image_size) for c in config.cameras),
            state=BoxSpec(np.full(11, -10.0, np.float32), np.full(11, 10.0, np.float32), state_names),
            action=BoxSpec(-np.ones(4, np.float32), np.ones(4, np.float32), ("ee.dx", "ee.dy", "ee.dz", "gripper")),
            control_hz=NATIVE_HZ / self._repeat, max_steps=config.max_steps or self.task.max_steps, robot_type="sawyer",
        )

    def reset(self, seed: int | None = None) -> TimeStep:
        self._seed = seed
        self._first_success: int | None = None
        self._rng = np.random.default_rng(None if seed is None else [seed, 1])
        if self._nominal is not None:  # before the reset, whose forward pass places the cameras; its own stream: the
            # layout and the expert's draws are the unshifted episode's
            shift = self.config.visual_shift
            apply_shift(self._env.model, self._nominal, np.random.default_rng(None if seed is None else [seed, 2]),
                        self.config.shift_parts if shift else tuple(SHIFT_PARTS), shift)
        self._obs = reset_raw(self._env, seed)
        self._t = 0
        self.completed = 0
        self._info = {"success": 0.0, "near_object": 0.0, "grasp_success": False, "unscaled_reward": 0.0}
        return TimeStep(self._observe(), 0.0, False, False, self._summary())

    def step(self, action: np.ndarray) -> TimeStep:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (4,) or not np.all(np.isfinite(action)):
            raise ValueError(f"{self.spec.name}: action must be 4 finite numbers, got {action}")
        for _ in range(self._repeat):
            self._obs, _, _, _, info = self._env.step(np.clip(action, -1.0, 1.0))
        self._info = {**info, "hand_to_object": float(np.linalg.norm(self._obs[0:3] - self._obs[4:7]))}
        self._t += 1
        success = _success(self._info)
        while self.completed < len(self.task.subtasks) and self.task.predicates[self.completed](self._info):
            self.completed += 1
        if success:  # the last subtask's event implies the earlier ones happened
            self.completed = len(self.task.subtasks)
        if success and self._first_success is None:
            self._first_success = self._t
        terminated = self.config.success_ends(self._first_success, self._t)
        truncated = not terminated and self._t >= self.spec.max_steps
        return TimeStep(self._observe(), float(success), terminated, truncated, self._summary())

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._env.close()

    def _summary(self) -> StepInfo:
        return StepInfo(success=_success(self._info), step=self._t, subtasks_completed=self.completed,
                        dense_reward=float(self._info.get("unscaled_reward", 0.0)) / 10.0,
                        privileged=np.concatenate([self._obs[4:11], self._obs[36:39]]).astype(np.float32))

    def _observe(self) -> Observation:
        env = self._env
        if self._renderer is None:
            self._renderer = mujoco.Renderer(env.model, self.config.image_size, self.config.image_size)
        images = {}
        for cam in self.config.cameras:
            self._renderer.update_scene(env.data, camera=CAMERA_MAP[cam])
            img = self._renderer.render()
            images[cam] = np.ascontiguousarray(img[::-1, ::-1] if CAMERA_MAP[cam] in FLIPPED else img)
        state = np.concatenate([env.data.qpos[self._arm_qadr], self._obs[:4]]).astype(np.float32)
        return Observation(images=images, state=state, time=self._t / self.spec.control_hz)

    def expert(self, mode: str = "expert") -> MetaWorldExpert:
        if mode not in EXPERT_MODES:
            raise ValueError(f"MetaWorld experts support modes {EXPERT_MODES}, not {mode!r}")
        return MetaWorldExpert(mode, getattr(mw_policies, self.task.policy)(), self, self._rng)

    @property
    def expert_modes(self) -> tuple[str, ...]:
        return EXPERT_MODES

    def expert_success_step(self) -> int | None:
        """The control step at which MetaWorld's plain expert succeeds from this episode's start, from a shadow
        run without rendering (same seeded layout, same action repeat); None if it does not within the horizon."""
        if self._seed is None:
            raise ValueError(f"{self.spec.name}: a near miss replays the expert from the episode's seed; reset with a seed")
        shadow = make_raw_env(self._name)
        try:
            obs = reset_raw(shadow, self._seed)
            policy = getattr(mw_policies, self.task.policy)()
            for t in range(self.spec.max_steps):
                action = np.clip(policy.get_action(obs), -1.0, 1.0)
                for _ in range(self._repeat):
                    obs, _, _, _, info = shadow.step(action)
                if _success(info):
                    return t + 1
            return None
        finally:
            shadow.close()

    @property
    def raw_observation(self) -> np.ndarray:
        return self._obs.copy()


class MetaWorldExpert:
    """MetaWorld's scripted policy; `stall` stops after the first subtask, `imposter` acts on an
    observation whose object is 15 cm away, so the arm performs the task on thin air. `near_miss` is the
    expert frozen (holding what it holds) 2–4 control steps before the plain expert would succeed from the
    same start, found by a shadow run: the button half pressed, the drawer almost shut, the puck held short
    of the goal, every task alike. Outcomes still come from physics: a freeze whose momentum carries the
    object home is labelled a success."""

    def __init__(self, mode: str, policy, env: MetaWorldEnv, rng: np.random.Generator) -> None:
        self.mode = mode
        self._policy = policy
        self._env = env
        self._rng = rng
        self._offset = np.array([rng.choice([-1.0, 1.0]) * 0.15, 0.0, 0.0])
        self._freeze_at: int | None = None
        if mode == "near_miss":
            success_step = env.expert_success_step()
            short = int(rng.integers(NEAR_MISS_STEPS_SHORT[0], NEAR_MISS_STEPS_SHORT[1] + 1))
            self._freeze_at = None if success_step is None else max(0, success_step - short)
        self._frozen: np.ndarray | None = None
        self._script: Iterator[np.ndarray] | None = None

    def act(self, ts: TimeStep) -> np.ndarray:
        if self._frozen is not None:
            return self._frozen
        obs = self._env.raw_observation
        if self.mode == "imposter":
            obs[4:7] += self._offset
        if self.mode == "stall" and self._env.completed >= 1:
            return np.concatenate([self._rng.normal(0.0, 0.15, 3).clip(-1, 1), [0.0]]).astype(np.float32)
        action = np.clip(self._policy.get_action(obs), -1.0, 1.0).astype(np.float32)
        if self._freeze_at is not None and ts.info.step >= self._freeze_at:
            self._frozen = np.array([0.0, 0.0, 0.0, action[3]], np.float32)  # stay put, keep the grip
            return self._frozen
        return action
