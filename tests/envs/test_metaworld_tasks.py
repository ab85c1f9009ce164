"""Every MetaWorld v3 task behind `mw/<name>`, not only the curated seven: experts from MetaWorld's own scripted
policies, subtasks reach -> manipulate from generic predicates, the mixed modes a generic task allows."""

import json
import sys
from pathlib import Path

import pytest

from robo_reward.cli import main
from robo_reward.data.lerobot_io import read_info

pytestmark = pytest.mark.metaworld
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))


def test_collect_a_task_outside_the_curated_seven(tmp_path, capsys):
    out = tmp_path / "window"
    assert main(["collect", "--task", "mw/window-open-v3", "--episodes", "2", "--quality", "mixed", "--image-size", "32",
                 "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert sum(printed["outcomes"].values()) == 2 and set(printed["modes"]) <= {"expert", "stall", "near_miss", "imposter"}
    info = read_info(out)
    assert info.subtasks == ("reach", "manipulate") and info.tasks == ("window open",)
    assert main(["collect", "--task", "mw/window-shut-v9", "--episodes", "1", "--out", str(tmp_path / "x")]) == 2
    assert "MetaWorld v3 has" in capsys.readouterr().err  # the unknown task is named with the real list


@pytest.mark.slow
def test_the_scripted_expert_solves_at_least_45_of_the_50_tasks():
    """Measured: 48 of 50. bin-picking and handle-pull-side fail at our 20 Hz control (MetaWorld's closed-loop
    policies acting on 4x repeated actions) and are solved 3/3 at its own 80 Hz or at 40 Hz."""
    from mw_expert_success import measure

    result = measure(seeds=3)
    assert result["tasks"] == 50 and result["solved"] >= 45, result["unsolved"]


def test_visual_shift_moves_metaworlds_cameras_lights_and_colours_not_its_layout():
    """`--visual-shift` on MetaWorld: the same seed gives the same layout (object and goal) and the same shifted scene
    every time; the fixed cameras' images change, more with every part of the shift than with one; the nominal
    scene comes back after a shifted episode in a shift of colours alone (cameras then stay as MetaWorld draws them)."""
    import numpy as np

    from robo_reward.envs import SimConfig, make_env

    nominal = make_env("mw/pick-place-v3", SimConfig(image_size=48))
    shifted = make_env("mw/pick-place-v3", SimConfig(image_size=48, visual_shift=True))
    colour = make_env("mw/pick-place-v3", SimConfig(image_size=48, visual_shift=True, shift_parts=("colour",)))
    try:
        a, b = nominal.reset(5), shifted.reset(5)
        np.testing.assert_array_equal(a.info.privileged, b.info.privileged)
        np.testing.assert_array_equal(b.obs.images["front"], shifted.reset(5).obs.images["front"])
        diff = {c: np.abs(a.obs.images[c].astype(int) - b.obs.images[c]).mean() for c in ("front", "side")}
        assert min(diff.values()) > 5.0, diff
        c = colour.reset(5)
        assert 0 < np.abs(a.obs.images["front"].astype(int) - c.obs.images["front"]).mean() < diff["front"]
        nominal_model, colour_model = nominal._env.model, colour._env.model
        cid = nominal_model.camera("corner").id
        np.testing.assert_array_equal(nominal_model.cam_pos[cid], colour_model.cam_pos[cid])
        moved = shifted._env.model.cam_pos[cid] - nominal_model.cam_pos[cid]
        assert 0.03 <= np.linalg.norm(moved) <= 0.06
    finally:
        for env in (nominal, shifted, colour):
            env.close()


def test_metaworlds_colour_shift_repaints_objects_and_table_not_the_robot():
    """The colour part follows the suite's: the table tinted, each object moved by one colour jitter (through its
    materials), the robot, floor and walls as rendered in training; a real arm is not repainted between uses."""
    import numpy as np

    from robo_reward.envs import SimConfig, make_env
    from robo_reward.envs.metaworld import object_geoms

    nominal = make_env("mw/button-press-v3", SimConfig(image_size=32, cameras=("front",)))
    colour = make_env("mw/button-press-v3", SimConfig(image_size=32, cameras=("front",), visual_shift=True,
                                                      shift_parts=("colour",)))
    try:
        nominal.reset(5), colour.reset(5)
        a, b = nominal._env.model, colour._env.model
        objects = {g for group in object_geoms(b) for g in group}
        assert objects and {b.body(b.geom_bodyid[g]).name for g in objects} >= {"button", "buttonbox"}
        others = [g for g in range(b.ngeom) if g not in objects]
        np.testing.assert_array_equal(a.geom_rgba[others], b.geom_rgba[others])  # robot links, floor, walls
        robot_materials = {int(b.geom_matid[g]) for g in others if b.geom_matid[g] >= 0} - {b.material("table_wood").id}
        np.testing.assert_array_equal(a.mat_rgba[sorted(robot_materials)], b.mat_rgba[sorted(robot_materials)])
        assert not np.array_equal(a.mat_rgba[b.material("table_wood").id], b.mat_rgba[b.material("table_wood").id])
        assert not np.array_equal(a.mat_rgba[b.material("btn_yellow").id], b.mat_rgba[b.material("btn_yellow").id])
    finally:
        nominal.close()
        colour.close()


def test_randomized_appearance_stays_inside_the_training_ranges_and_is_the_seeds():
    """`randomize_appearance` draws each episode's scene from the suite's training ranges: objects' colours move by
    at most 0.08 (the shift's 0.25), the cameras by at most ~1.7 cm and not turned, the robot as rendered; the same
    seed draws the same scene, another seed another one."""
    import numpy as np

    from robo_reward.envs import SimConfig, make_env
    from robo_reward.envs.metaworld import SHIFTED_CAMERAS, object_geoms

    cfg = SimConfig(image_size=32, cameras=("front",))
    envs = [make_env("mw/door-lock-v3", cfg), *(make_env("mw/door-lock-v3", SimConfig(image_size=32, cameras=("front",),
                                                                                      randomize_appearance=True)) for _ in range(2))]
    try:
        frames = [envs[0].reset(5), envs[1].reset(5), envs[2].reset(5)]
        a, b = envs[0]._env.model, envs[1]._env.model
        objects = sorted({g for group in object_geoms(b) for g in group})
        mats = sorted({int(b.geom_matid[g]) for g in objects if b.geom_matid[g] >= 0})
        moved = np.abs(b.mat_rgba[mats, :3] - a.mat_rgba[mats, :3])
        assert 0 < moved.max() <= 0.08 + 1e-6
        others = [g for g in range(b.ngeom) if g not in set(objects)]
        np.testing.assert_array_equal(a.geom_rgba[others], b.geom_rgba[others])
        for cam in SHIFTED_CAMERAS:
            cid = b.camera(cam).id
            assert 0 < np.linalg.norm(b.cam_pos[cid] - a.cam_pos[cid]) <= 0.01 * 3 ** 0.5 + 1e-9
            np.testing.assert_array_equal(a.cam_quat[cid], b.cam_quat[cid])
        np.testing.assert_array_equal(frames[1].obs.images["front"], frames[2].obs.images["front"])  # the seed's scene
        assert not np.array_equal(frames[0].obs.images["front"], frames[1].obs.images["front"])
        envs[2].reset(6)
        assert not np.array_equal(b.mat_rgba[mats], envs[2]._env.model.mat_rgba[mats])
    finally:
        for env in envs:
            env.close()
    with pytest.raises(ValueError, match="visual_shift and randomize_appearance"):
        make_env("mw/door-lock-v3", SimConfig(visual_shift=True, randomize_appearance=True))
    with pytest.raises(ValueError, match="randomize_appearance is for MetaWorld: suite task 'pick-place'"):
        make_env("pick-place", SimConfig(randomize_appearance=True))


def test_a_near_miss_freezes_just_before_the_experts_success():
    """`near_miss` on any MetaWorld task: the plain expert's success step comes from a shadow run of the same seed,
    and the near miss stops 2-4 steps short of it, holding still; physics then decides the outcome (seed 5001 of
    pick-place: the puck held short of the goal, a partial)."""
    import numpy as np

    from robo_reward.data.recording import record_episode
    from robo_reward.envs import SimConfig, make_env

    env = make_env("mw/pick-place-v3", SimConfig(image_size=32, cameras=("front",)))
    try:
        expert = record_episode(env, "expert", 5001)
        env.reset(5001)
        assert env.expert_success_step() == expert.length - 1  # the recorder keeps the reset frame too
        near = record_episode(env, "near_miss", 5001)
        assert near.outcome == "partial"
        frozen = near.actions[expert.length - 1:]  # well after the freeze: one held action to the horizon
        assert len(frozen) > 10 and np.all(frozen == frozen[0]) and np.all(frozen[0, :3] == 0.0)
        with pytest.raises(ValueError, match="reset with a seed"):
            env.reset()
            env.expert("near_miss")
    finally:
        env.close()


def test_collected_metaworld_successes_hold_their_end_and_their_labels_read_success(tmp_path):
    """MetaWorld's tasks complete on a single frame; `collect` records 10 steps past success (`--after-success`), and
    button-press's `reach` is reached before the press (6 cm never was: its reference point sits in the housing), so
    the labels of a recorded success meet Robo-Dopamine's completion rule themselves (they read failure before)."""
    from robo_reward.reward.evaluate import true_progress
    from robo_reward.reward.metrics import classify_completion

    out = tmp_path / "button"
    assert main(["collect", "--task", "mw/button-press-v3", "--episodes", "2", "--image-size", "32", "--cameras", "front",
                 "--out", str(out)]) == 0
    info = read_info(out)
    for ann in info.episodes:
        assert ann.outcome == "success"
        reach, press = ann.subtasks
        assert reach.end < press.end - 10  # reached before the press, and the press held for the tail
        assert classify_completion(true_progress(ann, list(info.subtasks))) == "success"
