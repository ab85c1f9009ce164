"""Image-input policies (`--obs state+images`): the policy's encoder, its augmentation, the pipeline's frames,
replay rows with frames, the learner on pixels, and a tiny real run through the loop."""

import json

import numpy as np
import pytest
import torch

from robo_reward.observation import ObservationPipeline
from robo_reward.reward.policy_encoder import PixelEncoder, shift_augmentation
from robo_reward.rl.replay import ReplayBuffer, sample_mixed
from robo_reward.rl.sac import SAC, SACConfig
from robo_reward.types import Observation, StepInfo, TimeStep


def _frames(n: int, views: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, views, size, size, 3), dtype=np.uint8))


def test_encoder_shapes_and_named_mismatch():
    enc = PixelEncoder(views=2, size=32)
    out = enc(_frames(4, 2, 32))
    assert out.shape == (4, enc.out_dim) == (4, 128) and out.abs().max() <= 1.0  # tanh-bounded
    with pytest.raises(ValueError, match=r"reads 2 cameras at 32x32, got 3 at 32x32"):
        enc(_frames(1, 3, 32))
    with pytest.raises(ValueError, match=r"got 2 at 48x48"):
        enc(_frames(1, 2, 48))


def test_augmentation_shifts_each_image_by_at_most_its_pad_and_is_seeded():
    """DrQ's random shift: a lone bright pixel moves by at most ±size/16 in each axis, differently per image;
    the same generator seed gives the same shifts (a resumed run augments as the uninterrupted one)."""
    from robo_reward.reward.train import augment

    aug = shift_augmentation(32)
    assert aug.shift_px == 2 and shift_augmentation(64).shift_px == 4
    x = torch.zeros(64, 1, 32, 32, 3, dtype=torch.uint8)
    x[:, :, 16, 16] = 200
    y = augment(x, torch.Generator().manual_seed(0), aug)
    where = [np.argwhere(y[i, 0, :, :, 0].numpy() > 0)[0] for i in range(64)]
    moves = np.array(where) - 16
    assert np.abs(moves).max() <= 2 and len({tuple(m) for m in moves}) > 5
    np.testing.assert_array_equal(y, augment(x, torch.Generator().manual_seed(0), aug))


def _ts(images: dict[str, np.ndarray]) -> TimeStep:
    return TimeStep(Observation(images, np.arange(4, dtype=np.float32), 0.0), 0.0, False, False, StepInfo())


def test_pipeline_gives_resized_frames_and_names_a_missing_camera():
    pipe = ObservationPipeline("state+images", np.array([0, 2]), ("front", "wrist"), 32)
    frame = np.zeros((96, 96, 3), np.uint8)
    frame[:48] = 255  # top half white: area resizing keeps the top 16 rows white
    px = pipe.pixels(_ts({"front": frame, "wrist": frame, "side": frame}))
    assert px.shape == pipe.pixel_shape == (2, 32, 32, 3) and px.dtype == np.uint8
    assert (px[:, :16] == 255).all() and (px[:, 16:] == 0).all()
    assert pipe(_ts({"front": frame}), np.zeros(0)).tolist() == [0.0, 2.0]  # the vector: robot state only
    with pytest.raises(ValueError, match=r"reads cameras \['front', 'wrist'\]; the environment gives \['front', 'side'\]"):
        pipe.pixels(_ts({"front": frame, "side": frame}))
    with pytest.raises(ValueError, match="needs cameras and an image size"):
        ObservationPipeline("state+images")
    assert ObservationPipeline("privileged").pixels(_ts({})) is None


def test_replay_keeps_frames_through_save_and_load(tmp_path):
    shape = (2, 16, 16, 3)
    buf = ReplayBuffer(10, 3, 2, shape)
    px = _frames(4, 2, 16).numpy()
    for i in range(3):
        buf.add(np.full(3, i), np.zeros(2), 0.0, np.full(3, i + 1), False, pixels=px[i], next_pixels=px[i + 1])
    with pytest.raises(ValueError, match="keeps the policy's frames"):
        buf.add(np.zeros(3), np.zeros(2), 0.0, np.zeros(3), False)
    buf.save(tmp_path / "r.npz")
    again = ReplayBuffer(10, 3, 2, shape)
    again.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(again.next_pixels[:3], px[1:4])
    batch = sample_mixed(again, None, 5, np.random.default_rng(0), torch.device("cpu"))
    assert batch.pixels.shape == (5, *shape) and batch.pixels.dtype == torch.uint8
    with pytest.raises(ValueError, match="lack"):
        ReplayBuffer(10, 3, 2, (1, 16, 16, 3)).load(_vector_file(tmp_path))  # a vector run's rows


def _vector_file(tmp_path):
    buf = ReplayBuffer(4, 3, 2)
    buf.add(np.zeros(3), np.zeros(2), 0.0, np.zeros(3), False)
    buf.save(tmp_path / "v.npz")
    return tmp_path / "v.npz"


def _dot_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames with a bright dot left or right; the demonstrated action is -0.8 or +0.8 accordingly: only the
    image says which (the state vector is noise)."""
    rng = np.random.default_rng(seed)
    side = rng.integers(0, 2, n)
    px = np.zeros((n, 1, 32, 32, 3), np.uint8)
    for i, s in enumerate(side):
        c = 6 + 20 * s + rng.integers(-2, 3)
        px[i, 0, 12:18, c - 2:c + 3] = 255
    obs = rng.normal(size=(n, 2)).astype(np.float32)
    return obs, np.where(side[:, None] == 1, 0.8, -0.8).astype(np.float32), px


def test_kept_rows_carry_their_frames_into_the_demonstration_buffer():
    """What --successes.keep copies for an image policy: `take` of chosen online rows, frames included, appended
    after the demonstrations already there."""
    shape = (2, 16, 16, 3)
    online, demos = ReplayBuffer(10, 3, 2, shape), ReplayBuffer(10, 3, 2, shape)
    px = _frames(6, 2, 16).numpy()
    for i in range(5):
        online.add(np.full(3, i), np.zeros(2), 0.0, np.full(3, i + 1), False, pixels=px[i], next_pixels=px[i + 1])
    demos.add(np.zeros(3), np.zeros(2), 0.0, np.zeros(3), False, pixels=px[5], next_pixels=px[5])
    demos.extend(online.take(np.array([1, 3])))
    assert demos.size == 3
    np.testing.assert_array_equal(demos.obs[1:3, 0], [1, 3])
    np.testing.assert_array_equal(demos.pixels[1:3], px[[1, 3]])
    np.testing.assert_array_equal(demos.next_pixels[1:3], px[[2, 4]])


def test_clone_noise_reaches_an_image_policys_clones():
    """--clone-noise on the encoder's output in pixel cloning too: the same seed, frames and steps clone the same
    weights twice without it, and other weights with it."""
    obs, act, px = _dot_data(64)

    def cloned(noise: float) -> torch.Tensor:
        sac = SAC(2, 1, SACConfig(bc_ensemble=2, residual=0.05, clone_noise=noise), torch.device("cpu"), seed=0,
                  pixel_shape=(1, 32, 32, 3))
        sac.set_normalization(obs)
        sac.pretrain_bc(obs, act, steps=5, batch=16, pixels=px)
        return torch.cat([p.detach().flatten() for c in sac.clones for p in c.parameters()])

    plain = cloned(0.0)
    assert torch.equal(plain, cloned(0.0)) and not torch.allclose(plain, cloned(0.5))


def test_clones_learn_from_pixels_then_the_critics_train_the_encoder_and_the_clones_keep_theirs():
    cfg = SACConfig(init_alpha=0.01, max_std=0.5, residual=0.05, bc_ensemble=2)
    obs, act, px = _dot_data(256)
    sac = SAC(2, 1, cfg, torch.device("cpu"), seed=0, pixel_shape=(1, 32, 32, 3))
    sac.set_normalization(obs)
    mse = sac.pretrain_bc(obs, act, steps=150, batch=64, pixels=px)
    assert mse < 0.05  # chance (the mean action) would be 0.64
    sac.freeze_bc_actor()
    test_obs, test_act, test_px = _dot_data(32, seed=1)
    got = np.array([sac.act(o, True, p) for o, p in zip(test_obs, test_px)])
    assert np.mean(np.sign(got) == np.sign(test_act)) >= 0.9  # new frames: it reads the dot
    clone_before = {k: v.clone() for k, v in sac.clone_encoder.state_dict().items()}
    enc_before = {k: v.clone() for k, v in sac.encoder.state_dict().items()}
    buf = ReplayBuffer(300, 2, 1, (1, 32, 32, 3))
    for o, a, p in zip(obs, act, px):
        buf.add(o, a, 1.0, o, True, pixels=p, next_pixels=p)
    for _ in range(5):
        metrics = sac.update(sample_mixed(buf, None, 32, np.random.default_rng(0), torch.device("cpu")))
    assert np.isfinite(metrics["critic_loss"])
    assert any(not torch.equal(v, sac.encoder.state_dict()[k]) for k, v in enc_before.items())
    assert all(torch.equal(v, sac.clone_encoder.state_dict()[k]) for k, v in clone_before.items())
    restored = SAC(2, 1, cfg, torch.device("cpu"), seed=3, pixel_shape=(1, 32, 32, 3))
    restored.load_state_dict(sac.state_dict())
    np.testing.assert_allclose(restored.act(test_obs[0], True, test_px[0]), sac.act(test_obs[0], True, test_px[0]), atol=1e-6)
    with pytest.raises(ValueError, match=r"reads frames \(1, 32, 32, 3\), got None"):
        sac.act(test_obs[0], True)


FAST = dict(warmup_steps=30, batch_size=16, utd=1, checkpoint_every=1, demo_episodes=2, bc_init_steps=20,
            critic_pretrain_steps=5, bc_ensemble=2)


def test_a_tiny_image_run_trains_resumes_evaluates_and_deploys(tmp_path):
    """The real loop on the real simulator with camera frames as the policy's input: config.json records the
    frames' shape, the run resumes exactly, evaluating the clones first (--eval-clones) changes nothing in
    training, the deployed policy acts deterministically on the same frames."""
    from robo_reward.rl.config import rl_config
    from robo_reward.rl.deploy import RunPolicy
    from robo_reward.rl.loop import run_rl

    def run(out, episodes, resume=False, evaluate=False):
        run_rl(rl_config(task="pick-place", out=out, episodes=episodes, reward="sparse", obs="state+images",
                         eval_episodes=1 if evaluate else 0, eval_clones=evaluate, resume=resume,
                         **{"images.cameras": ("front", "wrist")}, **FAST), progress=False)
        return [{k: v for k, v in json.loads(x).items() if not k.endswith("_s")}
                for x in (out / "metrics.jsonl").read_text().splitlines()]

    whole = run(tmp_path / "whole", 2, evaluate=True)
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary["clones_eval_success_rate"] == json.loads((tmp_path / "whole" / "eval_clones.json").read_text())["success_rate"]
    record = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert record["pixel_shape"] == [2, 32, 32, 3] and record["config"]["images"] == {"cameras": ["front", "wrist"], "size": 32}
    assert all(np.isfinite(r["learner/critic_loss"]) for r in whole)
    run(tmp_path / "resumed", 1)
    assert run(tmp_path / "resumed", 2, resume=True) == whole
    assert json.loads((tmp_path / "whole" / "eval.json").read_text())["episodes"] == 1
    policy = RunPolicy(tmp_path / "whole")
    from robo_reward.envs import SimConfig, make_env

    env = make_env("pick-place", SimConfig(image_size=96, cameras=("front", "wrist")))
    ts = env.reset(7)
    a1, a2 = policy.act(ts), policy.act(ts)
    assert a1.unit.shape == (4,) and np.all(np.abs(a1.unit) <= 1.0)
    np.testing.assert_allclose(a1.unit, a2.unit)  # deterministic on the same frames
    env.close()


def test_an_image_run_names_a_camera_the_environment_lacks_before_any_step(tmp_path):
    from robo_reward.rl.config import rl_config
    from robo_reward.rl.loop import run_rl

    with pytest.raises(ValueError, match=r"unknown camera 'top' for task 'pick-place'; available: \['front', 'side', 'wrist'\]"):
        run_rl(rl_config(task="pick-place", out=tmp_path / "r", episodes=1, reward="sparse", obs="state+images",
                         **{"images.cameras": ("front", "top")}, **FAST), progress=False)
    assert not (tmp_path / "r" / "metrics.jsonl").exists()
