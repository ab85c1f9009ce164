"""Shared fixtures. Tests never touch the hub, and lerobot's caches stay inside the test's tmp dir."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _hf_home(tmp_path_factory):
    os.environ["HF_HOME"] = str(tmp_path_factory.mktemp("hf_home"))


@pytest.fixture(scope="session")
def mixed_dataset(tmp_path_factory):
    """A small collected pick-place dataset with every outcome (seeds chosen to cover them)."""
    from robo_reward.data.collect import CollectConfig, collect

    out = tmp_path_factory.mktemp("data") / "pick-place-mixed"
    summary = collect(CollectConfig(task="pick-place", out=out, episodes=8, quality="mixed", seed=100), progress=False)
    return out, summary


@pytest.fixture(scope="session")
def dataset_without_env_state(mixed_dataset, tmp_path_factory):
    """The first successful episode of the pick-place fixture, alone, written without
    observation.environment_state (as an imported or robot-recorded dataset is); `rl --demos` reads it too."""
    import dataclasses

    from robo_reward.data.lerobot_io import DatasetWriter, load_episode, read_info
    from robo_reward.envs import SimConfig, make_env

    root = mixed_dataset[0]
    ep = load_episode(root, next(a.episode_index for a in read_info(root).episodes if a.outcome == "success"))
    env = make_env("pick-place", SimConfig(image_size=ep.images["front"].shape[1]))
    out = tmp_path_factory.mktemp("bare") / "pick-place-no-env-state"
    writer = DatasetWriter(out, env.spec)
    writer.add(dataclasses.replace(ep, env_state=None))
    writer.finalize()
    env.close()
    return out


@pytest.fixture(scope="session")
def tiny_grm(mixed_dataset, tmp_path_factory):
    """A GRM trained for a few steps on the pick-place fixture (real training, tiny budget)."""
    from robo_reward.reward.train import TrainConfig, train

    root, _ = mixed_dataset
    out = tmp_path_factory.mktemp("tiny_grm") / "run"
    train(TrainConfig(data=(str(root),), out=out, steps=20, batch_size=8, image_size=32), progress=False)
    return out / "last"
