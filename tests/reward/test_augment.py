"""Image augmentation presets of train-reward: shapes and dtype kept, the strong preset really warps
and recolours, `basic` keeps its historical random stream (old runs stay reproducible)."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from robo_reward.reward.train import AUGMENTATIONS, TrainConfig, augment, train


def _frames(n=6, v=3, size=32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, v, size, size, 3), generator=g, dtype=torch.uint8)


@pytest.mark.parametrize("name", ["basic", "strong"])
def test_presets_keep_shape_and_dtype(name):
    x = _frames()
    y = augment(x, torch.Generator().manual_seed(1), AUGMENTATIONS[name])
    assert y.shape == x.shape and y.dtype == torch.uint8
    assert not torch.equal(x, y)


def test_basic_matches_the_original_shift_and_brightness():
    """The pre-preset implementation, inlined: same generator, same draws, same pixels."""
    x = _frames()
    n, v, h, w, c = x.shape
    g = torch.Generator().manual_seed(3)
    z = F.pad(x.flatten(0, 1).permute(0, 3, 1, 2).float(), (4, 4, 4, 4), mode="replicate")
    dx = torch.randint(0, 9, (n * v,), generator=g)
    dy = torch.randint(0, 9, (n * v,), generator=g)
    z = torch.stack([z[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n * v)])
    gain = 1.0 + 0.15 * (torch.rand(n, 1, 1, 1, 1, generator=g) - 0.5) * 2
    want = (z.view(n, v, c, h, w) * gain).clamp(0, 255).to(torch.uint8).permute(0, 1, 3, 4, 2)
    assert torch.equal(augment(x, torch.Generator().manual_seed(3), AUGMENTATIONS["basic"]), want)


def test_flip_mirrors_each_camera_of_each_state_on_its_own_draw():
    x = _frames(n=16, v=3)
    plain = replace(AUGMENTATIONS["basic"], shift_px=0, brightness=0.0)
    assert torch.equal(augment(x, torch.Generator().manual_seed(5), replace(plain, flip=1.0)), x.flip(3))  # width axis
    y = augment(x, torch.Generator().manual_seed(5), replace(plain, flip=0.5))
    mirrored = torch.tensor([[torch.equal(y[i, j], x[i, j].flip(1)) for j in range(3)] for i in range(16)])
    kept = torch.tensor([[torch.equal(y[i, j], x[i, j]) for j in range(3)] for i in range(16)])
    assert (mirrored ^ kept).all()  # every image either mirrored or untouched
    assert 10 < int(mirrored.sum()) < 38  # about half of 48, not all cameras of a state together
    assert (mirrored.any(1) & kept.any(1)).any()


def test_strong_warps_geometry():
    """A bright square moves or changes size under the affine warp, not only in brightness."""
    x = torch.zeros(8, 1, 32, 32, 3, dtype=torch.uint8)
    x[:, :, 12:20, 12:20] = 200
    y = augment(x, torch.Generator().manual_seed(0), AUGMENTATIONS["strong"])
    masks = y[..., 0] > 50
    assert len({tuple(m.nonzero().float().mean(0).round().tolist()) for m in masks.flatten(0, 1)}) > 1


def test_colour_mix_moves_hues_and_leaves_the_other_draws_alone():
    """`mix` is drawn last: with it vanishing, strong-colour's pixels are those of its gains alone; with it on,
    a pure green image gets red and blue in it (a gain per channel can never do that)."""
    x = _frames(size=16)
    wide = AUGMENTATIONS["strong-colour"]
    a = augment(x, torch.Generator().manual_seed(2), replace(wide, mix=0.0))
    b = augment(x, torch.Generator().manual_seed(2), replace(wide, mix=1e-6))
    assert (a.int() - b.int()).abs().max() <= 1
    green = torch.zeros(8, 3, 16, 16, 3, dtype=torch.uint8)
    green[..., 1] = 160
    plain = replace(AUGMENTATIONS["basic"], shift_px=0, brightness=0.0, mix=0.25)
    y = augment(green, torch.Generator().manual_seed(0), plain).float()
    assert y[..., 0].max() > 10 or y[..., 2].max() > 10
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 0], y[:, 2])  # one matrix for all cameras of a state
    assert not torch.equal(y[0], y[1])


def test_repaint_recolours_each_hue_on_its_own_and_leaves_greys_and_other_draws_alone():
    """`repaint` is drawn after everything else (vanishing, strong-repaint is strong-colour); grey pixels keep their
    value; a green and an orange patch of one image change by different colours (not one gain or matrix)."""
    x = _frames(size=16)
    a = augment(x, torch.Generator().manual_seed(4), AUGMENTATIONS["strong-colour"])
    b = augment(x, torch.Generator().manual_seed(4), replace(AUGMENTATIONS["strong-repaint"], repaint=1e-6))
    assert (a.int() - b.int()).abs().max() <= 1
    scene = torch.zeros(8, 2, 16, 16, 3, dtype=torch.uint8)
    scene[..., :8, :] = torch.tensor([90, 90, 90], dtype=torch.uint8)  # grey table / arm
    scene[..., 8:, :8, :] = torch.tensor([70, 150, 80], dtype=torch.uint8)  # green block, max - min = 80
    scene[..., 8:, 8:, :] = torch.tensor([180, 120, 70], dtype=torch.uint8)  # orange peg, max - min = 110
    only = replace(AUGMENTATIONS["basic"], shift_px=0, brightness=0.0, repaint=0.25)  # no pixel clips
    y = augment(scene, torch.Generator().manual_seed(0), only).int()
    assert torch.equal(y[..., :8, :, :], scene[..., :8, :, :].int())
    change = y - scene.int()
    green, orange = change[:, 0, 12, 2], change[:, 0, 12, 12]  # [8 states, RGB]
    assert green.abs().max() > 5 and orange.abs().max() > 5
    assert not torch.allclose(green.float() / 80, orange.float() / 110, atol=0.03)  # scaled by saturation, still unlike
    assert torch.equal(y[:, 0], y[:, 1]) and not torch.equal(y[0], y[1])  # one draw per state, shared by its cameras


def test_grey_turns_whole_states_to_luminance_and_leaves_other_draws_alone():
    x = _frames(n=32, size=8)
    a = augment(x, torch.Generator().manual_seed(6), AUGMENTATIONS["strong-colour"])
    b = augment(x, torch.Generator().manual_seed(6), replace(AUGMENTATIONS["strong-grey"], grey=1e-9))
    assert torch.equal(a, b)
    only = replace(AUGMENTATIONS["basic"], shift_px=0, brightness=0.0, grey=0.5)
    y = augment(x, torch.Generator().manual_seed(0), only).int()
    flat = (y[..., 0] == y[..., 1]).flatten(1).all(1) & (y[..., 1] == y[..., 2]).flatten(1).all(1)  # per state
    assert 5 < int(flat.sum()) < 27  # about half of the states, each with all its cameras
    lum = (x.float() @ torch.tensor([0.299, 0.587, 0.114])).to(torch.uint8).int()
    assert torch.equal(y[flat][..., 0], lum[flat]) and torch.equal(y[~flat], x[~flat].int())


def test_unknown_preset_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="--augment 'heavy'"):
        train(TrainConfig(data=("nowhere",), out=tmp_path, augment="heavy"), progress=False)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["basic", "strong"])
def test_augment_on_cuda_matches_cpu(name):
    """Training augments on the batch's device; the CPU generator's draws make the GPU pixels those of
    the CPU path (up to one grey level of float rounding in the warp)."""
    assert torch.cuda.is_available()
    x = _frames(size=64)
    cpu = augment(x, torch.Generator().manual_seed(5), AUGMENTATIONS[name])
    gpu = augment(x.cuda(), torch.Generator().manual_seed(5), AUGMENTATIONS[name])
    assert gpu.device.type == "cuda"
    diff = (gpu.cpu().int() - cpu.int()).abs()
    assert diff.max() <= 1 and (diff > 0).float().mean() < 0.01


def test_train_step_on_cpu_matches_augmenting_before_the_copy():
    """train_step now augments after moving the batch to the device; on a CPU that is the old order's
    computation exactly (same draws, same pixels, same weights after the step)."""
    from robo_reward.reward.bank import PairSampler, SamplerConfig
    from robo_reward.bench.reward import synthetic_bank
    from robo_reward.reward.model import GRM, ModelConfig
    from robo_reward.reward.train import train_step

    bank = synthetic_bank(episodes=2, length=12, image_size=32)
    text = torch.zeros(1, 384).numpy()
    batch = PairSampler(bank, text, SamplerConfig(batch_size=4), seed=0).sample()
    aug, cpu = AUGMENTATIONS["basic"], torch.device("cpu")
    nets = []
    for pre_augment in (False, True):
        torch.manual_seed(0)
        net = GRM(ModelConfig(cameras=("front", "side", "wrist"), image_size=32, subtasks=tuple(bank.subtasks)))
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(9)
        b = replace(batch, frames=augment(batch.frames, gen, aug)) if pre_augment else batch
        train_step(net, b, opt, gen, 0.5, None if pre_augment else aug, cpu)
        nets.append(net)
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(a, b)


def test_pipeline_throughput_times_both_orders():
    from robo_reward.bench.reward import pipeline_throughput, synthetic_bank

    bank = synthetic_bank(episodes=2, length=12, image_size=32)
    for where in ("device", "cpu"):
        r = pipeline_throughput(torch.device("cpu"), 4, where, 2, bank)
        assert r["augment_on"] == where and r["step_ms"] > r["sample_ms"] > 0 and r["frame_size"] == 32
    with pytest.raises(ValueError, match="augment_on must be"):
        pipeline_throughput(torch.device("cpu"), 4, "gpu", 1, bank)
