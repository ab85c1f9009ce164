"""rosbag2 (sqlite3 and MCAP) -> LeRobot dataset: frames, joint states and commands recorded on a
profile's topics come back aligned; bad bags fail naming the bag and topic."""

import numpy as np
import pytest

from robo_reward.cli import main
from robo_reward.data.lerobot_io import DatasetError, load_episode, read_info
from robo_reward.data.rosbag_io import RosbagImportConfig, import_rosbag, write_bag
from robo_reward.envs import SimConfig, make_env
from robo_reward.ros.profiles import load_profile

TASK = "pick up the cube and place it in the bin"
SUBTASKS = ("reach", "grasp", "lift", "place")


@pytest.fixture(scope="module")
def recording():
    """20 steps of the sim arm under small random joint moves: what a robot would have published."""
    p = load_profile("sim_panda")
    env = make_env("pick-place", SimConfig(control="joint"))
    ts, rng = env.reset(3), np.random.default_rng(0)
    images, states, actions = {c: [] for c in p.cameras}, [], []
    for _ in range(20):
        a = np.append(ts.obs.state[:7] + rng.normal(0, 0.05, 7), rng.uniform(-1, 1))
        for c in images:
            images[c].append(ts.obs.images[c])
        states.append(ts.obs.state[:15])
        actions.append(a)
        ts = env.step(a)
    env.close()
    return p, {c: np.stack(v) for c, v in images.items()}, np.stack(states), np.stack(actions)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_rosbag_import_round_trip(recording, tmp_path, storage):
    p, images, states, actions = recording
    bags = [write_bag(tmp_path / f"bag{i}", p, images, states, actions, 10.0, storage=storage) for i in range(2)]
    out = tmp_path / "ds"
    assert main(["import-rosbag", "--bag", str(bags[0]), "--bag", str(bags[1]), "--profile", "sim_panda", "--out", str(out),
                 "--task", TASK, "--subtasks", ",".join(SUBTASKS)]) == 0
    info = read_info(out)
    assert len(info.episodes) == 2 and info.cameras == tuple(p.cameras) and info.fps == 10
    ep = load_episode(out, 1)
    assert ep.length == 20 and ep.task_text == TASK and [s.name for s in ep.subtasks] == list(SUBTASKS)
    np.testing.assert_allclose(ep.states, states, atol=1e-6)
    np.testing.assert_allclose(ep.actions, actions, atol=1e-6)  # the command sent after each frame
    for c in images:
        assert np.abs(ep.images[c].astype(float) - images[c]).mean() < 4.0
    assert "recorded trajectory commands" in (out / "README.md").read_text()


def test_rosbag_errors_name_the_bag_and_topic(recording, tmp_path):
    p, images, states, actions = recording
    bag = write_bag(tmp_path / "bag", p, images, states, actions, 10.0)
    cfg = dict(profile="ur5e", task=TASK, subtasks=SUBTASKS)
    with pytest.raises(DatasetError, match=r"bag: topics \['/cameras/front/image_raw', '/cameras/wrist/image_raw'\]|"
                                           r"lacks joints"):
        import_rosbag(RosbagImportConfig(bag=(str(bag),), out=tmp_path / "o1", **cfg), progress=False)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metadata.yaml").write_text("not: [a, rosbag")
    with pytest.raises(DatasetError, match=r"broken: cannot read the rosbag"):
        import_rosbag(RosbagImportConfig(bag=(str(tmp_path / "broken"),), out=tmp_path / "o2", profile="sim_panda",
                                         task=TASK, subtasks=SUBTASKS), progress=False)
    with pytest.raises(ValueError, match="--task is required"):
        import_rosbag(RosbagImportConfig(bag=(str(bag),), out=tmp_path / "o3", profile="sim_panda"), progress=False)
    assert not any((tmp_path / n).exists() for n in ("o1", "o2", "o3"))
